/* <devices>: the dispatcher, disks (--disk) and interfaces (--net). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt_xml.h"

/* Devices Ember has no equivalent of, with why. */
static const struct {
	const char *name, *why;
} unsupported_devices[] = {
	{ "graphics", "Ember has no display" },
	{ "video", "Ember has no display adapter" },
	{ "sound", "Ember has no sound card" },
	{ "audio", "Ember has no sound card" },
	{ "hostdev", "device assignment: Ember has no VFIO" },
	{ "redirdev", "USB redirection: Ember has no USB" },
	{ "redirfilter", "USB redirection: Ember has no USB" },
	{ "hub", "Ember has no USB" },
	{ "smartcard", "Ember has no smartcard reader" },
	{ "channel", "host-guest channels for agents and spice: Ember has vsock instead" },
	{ "parallel", "Ember has no parallel port" },
	{ "filesystem", "shared folders: Ember has no virtiofs or 9p" },
	{ "shmem", "shared memory devices: Ember has none" },
	{ "memory", "memory hotplug: Ember's guest RAM is fixed at boot" },
	{ "watchdog", "Ember has no watchdog" },
	{ "panic", "Ember has no pvpanic device; panic=1 reboots, and Ember exits" },
	{ "tpm", "Ember has no TPM" },
	{ "iommu", "Ember has no IOMMU" },
	{ "lease", "lock leases: Ember has no lock manager" },
	{ "nvram", "Ember has no NVRAM device" },
	{ "crypto", "Ember has no crypto device" },
	{ "pstore", "Ember has no pstore device" },
	{ "input", "Ember's only input device is the i8042 keyboard" },
	{ "controller", "Ember has only its own PCI root bus" },
};

static const char *unsupported_why(const xmlNode *node)
{
	for (size_t i = 0; i < sizeof(unsupported_devices) / sizeof(unsupported_devices[0]); i++)
		if (strcmp((const char *)node->name, unsupported_devices[i].name) == 0)
			return unsupported_devices[i].why;
	return "not supported by Ember";
}

/* Children of a disk Ember reads, or that ask nothing of it. */
static const char *const disk_children[] = {
	"driver", "source", "target", "readonly", "serial", "shareable", "address", "alias",
	"boot", "backingStore", NULL,
};

/* A field that did not fit: the value is wrong for Ember in itself (not something to ignore). */
static int copy_field(struct lx *p, xmlNodePtr node, const char *attr, const char *value,
		      char *dst, size_t size)
{
	if (strlen(value) >= size)
		return lx_invalid(p, node, attr, "'%.40s...' is longer than Ember's %zu characters",
				  value, size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* <disk type device>, <target bus>, <driver type>: whether Ember can have this disk at all. */
static bool disk_kind_ok(struct lx *p, xmlNodePtr disk)
{
	static const char *const types[] = { "file", "block", NULL };
	static const char *const devices[] = { "disk", NULL };
	static const char *const formats[] = { "raw", NULL };
	bool ok = true;
	if (!lx_attr_in(disk, "type", types)) { /* no type: libvirt's default, a file */
		lx_issue(p, disk, "type", "Ember's disks are files or block devices; the disk is "
			 "left out");
		ok = false;
	}
	if (!lx_attr_in(disk, "device", devices)) {
		lx_issue(p, disk, "device", "Ember has virtio-blk disks only, no CD-ROM, floppy or "
			 "SCSI LUN; the disk is left out");
		ok = false;
	}
	xmlNodePtr driver = lx_child(disk, "driver"), target = lx_child(disk, "target");
	if (driver && !lx_attr_in(driver, "type", formats)) {
		lx_issue(p, driver, "type", "Ember reads raw images only; the disk is left out");
		ok = false;
	}
	char *bus = target ? lx_attr(target, "bus") : NULL, *dev = target ? lx_attr(target, "dev")
									   : NULL;
	/* No bus: libvirt derives it from the name, "vd*" being virtio. */
	bool virtio = bus ? strcmp(bus, "virtio") == 0 : dev && strncmp(dev, "vd", 2) == 0;
	if (!virtio) {
		lx_issue(p, target ? target : disk, bus ? "bus" : NULL, "Ember's disks are "
			 "virtio: bus='virtio'; the disk is left out");
		ok = false;
	}
	free(bus);
	free(dev);
	if (lx_child(disk, "encryption")) {
		lx_issue(p, lx_child(disk, "encryption"), NULL, "Ember does not decrypt images; the "
			 "disk is left out");
		ok = false;
	}
	if (lx_child(disk, "transient")) {
		lx_issue(p, lx_child(disk, "transient"), NULL, "Ember would write to the image; the "
			 "disk is left out");
		ok = false;
	}
	return ok;
}

/* <driver> attributes beyond type: cache='none' is O_DIRECT, queues the virtqueue count. */
static int disk_driver(struct lx *p, xmlNodePtr driver, struct virtio_blk_options *o)
{
	static const char *const caches[] = { "none", "writeback", "default", NULL };
	/* Ember passes a writable disk's discards to the image (unmap); with ignore the guest
	 * sees the same device, only the host frees the space. */
	static const char *const discards[] = { "ignore", "unmap", NULL };
	static const char *const errors[] = { "report", NULL };
	static const char *const off[] = { "off", NULL };
	unsigned long long queues;
	if (lx_uint_attr(p, driver, "queues", 1, VIRTIO_BLK_MAX_QUEUES, 1, &queues) < 0)
		return -1;
	o->queues = (unsigned)queues;
	o->direct = lx_attr_is(driver, "cache", "none");
	if (!lx_attr_in(driver, "cache", caches))
		lx_issue(p, driver, "cache", "Ember's caching is the host page cache, writeback, or "
			 "O_DIRECT, none");
	if (!lx_attr_in(driver, "discard", discards))
		lx_issue(p, driver, "discard", "not supported by Ember");
	if (!lx_attr_in(driver, "error_policy", errors) || !lx_attr_in(driver, "rerror_policy",
									errors))
		lx_issue(p, driver, NULL, "I/O errors: Ember reports them to the guest");
	if (!lx_attr_in(driver, "detect_zeroes", off) || !lx_attr_in(driver, "copy_on_read", off))
		lx_issue(p, driver, NULL, "detect_zeroes, copy_on_read: not supported by Ember");
	return 0;
}

static int disk_source(struct lx *p, xmlNodePtr disk, struct virtio_blk_options *o, bool *ok)
{
	xmlNodePtr source = lx_child(disk, "source");
	const char *attr = lx_attr_is(disk, "type", "block") ? "dev" : "file";
	char *path = source ? lx_attr(source, attr) : NULL;
	if (!path || !path[0]) {
		lx_issue(p, source ? source : disk, source ? attr : NULL, "an empty drive: Ember's "
			 "disks have an image; the disk is left out");
		free(path);
		*ok = false;
		return 0;
	}
	int rc = copy_field(p, source, attr, path, o->path, sizeof(o->path));
	free(path);
	static const char *const nothing[] = { NULL };
	if (rc == 0)
		lx_other_children(p, source, nothing, "not supported by Ember");
	return rc;
}

static int map_disk(struct lx *p, xmlNodePtr disk)
{
	struct vm_config *cfg = &p->d->cfg;
	struct virtio_blk_options o = { .queues = 1 };
	bool ok = disk_kind_ok(p, disk);
	if (ok && disk_source(p, disk, &o, &ok) < 0)
		return -1;
	if (!ok)
		return 0; /* what is inside a disk left out does not matter */
	xmlNodePtr driver = lx_child(disk, "driver"), serial = lx_child(disk, "serial");
	if (driver && disk_driver(p, driver, &o) < 0)
		return -1;
	o.readonly = lx_child(disk, "readonly") != NULL;
	if (serial) {
		char *text = lx_text(serial);
		int rc = text ? copy_field(p, serial, NULL, text, o.serial, sizeof(o.serial))
			      : error_set(p->e, "out of memory");
		free(text);
		if (rc < 0)
			return -1;
	}
	xmlNodePtr backing = lx_child(disk, "backingStore");
	if (backing && xmlFirstElementChild(backing))
		lx_issue(p, backing, NULL, "backing chains: Ember reads raw images only");
	lx_other_children(p, disk, disk_children, "not supported by Ember");
	if (cfg->ndisks >= VIRTIO_BLK_MAX_DISKS)
		return lx_invalid(p, disk, NULL, "more than Ember's %d disks", VIRTIO_BLK_MAX_DISKS);
	cfg->disks[cfg->ndisks++] = o;
	return 0;
}

/* Children of an interface Ember reads, or that ask nothing of it. */
static const char *const interface_children[] = {
	"target", "mac", "model", "mtu", "driver", "link", "address", "alias", "boot", "rom",
	NULL,
};

static bool interface_kind_ok(struct lx *p, xmlNodePtr nic, xmlNodePtr target)
{
	static const char *const models[] = { "virtio", "virtio-transitional",
					      "virtio-non-transitional", NULL };
	bool ok = true;
	if (!lx_attr_is(nic, "type", "ethernet")) {
		lx_issue(p, nic, "type", "Ember's network devices sit on a host TAP: type='ethernet' "
			 "with <target dev>; the interface is left out");
		ok = false;
	}
	xmlNodePtr model = lx_child(nic, "model");
	if (!model || !lx_attr_in(model, "type", models) || !lx_has_attr(model, "type")) {
		lx_issue(p, model ? model : nic, model ? "type" : NULL, "Ember's network devices "
			 "are virtio: <model type='virtio'/>; the interface is left out");
		ok = false;
	}
	char *dev = target ? lx_attr(target, "dev") : NULL;
	if (ok && (!dev || !dev[0])) {
		lx_issue(p, target ? target : nic, target ? "dev" : NULL, "Ember needs the TAP's "
			 "name: <target dev='tap0'/>; the interface is left out");
		ok = false;
	}
	free(dev);
	return ok;
}

static int interface_fields(struct lx *p, xmlNodePtr nic, xmlNodePtr target,
			    struct net_options *o)
{
	struct error e;
	char *dev = lx_attr(target, "dev");
	int rc = copy_field(p, target, "dev", dev, o->tap, sizeof(o->tap));
	if (rc == 0 && net_tap_name_check(o->tap, &e) < 0)
		rc = lx_invalid(p, target, "dev", "%s", e.msg);
	free(dev);
	xmlNodePtr mac = lx_child(nic, "mac"), mtu = lx_child(nic, "mtu");
	char *address = mac ? lx_attr(mac, "address") : NULL;
	if (rc == 0 && address) {
		if (net_mac_parse(address, o->mac, &e) < 0)
			rc = lx_invalid(p, mac, "address", "%s", e.msg);
		o->mac_set = true;
	}
	free(address);
	unsigned long long size;
	if (rc == 0 && mtu && (rc = lx_uint_attr(p, mtu, "size", NET_MIN_MTU, NET_MAX_MTU, 0,
						 &size)) == 0)
		o->mtu = (uint16_t)size;
	return rc;
}

static int map_interface(struct lx *p, xmlNodePtr nic)
{
	struct vm_config *cfg = &p->d->cfg;
	xmlNodePtr target = lx_child(nic, "target"), driver = lx_child(nic, "driver"),
		   link = lx_child(nic, "link");
	if (!interface_kind_ok(p, nic, target))
		return 0; /* what is inside an interface left out does not matter */
	struct net_options o = { .id = "" };
	if (interface_fields(p, nic, target, &o) < 0)
		return -1;
	unsigned long long queues;
	if (driver && lx_uint_attr(p, driver, "queues", 1, 1 << 16, 1, &queues) < 0)
		return -1;
	if (driver && queues > 1)
		lx_issue(p, driver, "queues", "multiqueue: Ember's virtio-net has one queue pair");
	if (link && lx_attr_is(link, "state", "down"))
		lx_issue(p, link, "state", "Ember's links are always up");
	lx_other_children(p, nic, interface_children, "not supported by Ember");
	if (cfg->nnets >= NET_MAX_DEVICES)
		return lx_invalid(p, nic, NULL, "more than Ember's %d interfaces", NET_MAX_DEVICES);
	snprintf(o.id, sizeof(o.id), "net%u", cfg->nnets);
	struct error e;
	cfg->nets[cfg->nnets] = o;
	if (net_options_check_list(cfg->nets, cfg->nnets + 1, &e) < 0)
		return lx_invalid(p, nic, NULL, "%s", e.msg);
	cfg->nnets++;
	return 0;
}

static int map_device(struct lx *p, xmlNodePtr dev, unsigned *serials, unsigned *virtio_consoles)
{
	if (lx_is(dev, "disk"))
		return map_disk(p, dev);
	if (lx_is(dev, "interface"))
		return map_interface(p, dev);
	if (lx_is(dev, "serial"))
		return lx_serial(p, dev, serials);
	if (lx_is(dev, "console"))
		return lx_console(p, dev, virtio_consoles);
	if (lx_is(dev, "rng"))
		return lx_rng(p, dev);
	if (lx_is(dev, "memballoon"))
		return lx_memballoon(p, dev);
	if (lx_is(dev, "vsock")) {
		if (p->vsock_node)
			return lx_invalid(p, dev, NULL, "a second <vsock>");
		p->vsock_node = dev; /* mapped by lx_map_vsock once the metadata is read */
		return 0;
	}
	if (lx_is(dev, "emulator") || lx_harmless_device(dev))
		return 0;
	lx_issue(p, dev, NULL, "%s", dev->ns ? "a hypervisor-specific extension"
					     : unsupported_why(dev));
	return 0;
}

int lx_parse_devices(struct lx *p)
{
	xmlNodePtr devices = lx_find(p, "/domain/devices");
	unsigned serials = 0, virtio_consoles = 0;
	for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && map_device(p, c, &serials, &virtio_consoles) < 0)
			return -1;
	return 0;
}
