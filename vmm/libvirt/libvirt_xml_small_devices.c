/* Consoles (COM1, virtio-console), virtio-rng, virtio-balloon, virtio-vsock, and the devices
 * libvirt adds to every domain by itself. */
#include <stdlib.h>
#include <string.h>

#include "libvirt_xml.h"

static const char *const virtio_models[] = { "virtio", "virtio-transitional",
					     "virtio-non-transitional", NULL };

/* pty and stdio both mean Ember's own stdin/stdout (no type: libvirt's default, pty). */
static void check_stdio_type(struct lx *p, xmlNodePtr node)
{
	static const char *const types[] = { "pty", "stdio", NULL };
	if (!lx_attr_in(node, "type", types))
		lx_issue(p, node, "type", "Ember's consoles are its stdin/stdout (pty or stdio)");
}

int lx_serial(struct lx *p, xmlNodePtr node, unsigned *count)
{
	static const char *const known[] = { "source", "target", "alias", "address", NULL };
	static const char *const isa[] = { "isa-serial", NULL };
	static const char *const port0[] = { "0", NULL };
	if (++*count > 1) {
		lx_issue(p, node, NULL, "Ember has one serial port (COM1); this one is left out");
		return 0;
	}
	check_stdio_type(p, node);
	xmlNodePtr target = lx_child(node, "target");
	xmlNodePtr model = target ? lx_child(target, "model") : NULL;
	if (target && (!lx_attr_in(target, "type", isa) || !lx_attr_in(target, "port", port0) ||
		       (model && !lx_attr_in(model, "name", isa))))
		lx_issue(p, target, NULL, "Ember's serial port is an ISA 16550A at COM1 (port 0)");
	lx_other_children(p, node, known, "not supported by Ember");
	return 0;
}

int lx_console(struct lx *p, xmlNodePtr node, unsigned *virtio_count)
{
	static const char *const known[] = { "source", "target", "alias", "address", NULL };
	static const char *const serial[] = { "serial", NULL };
	check_stdio_type(p, node);
	xmlNodePtr target = lx_child(node, "target");
	if (target && lx_attr_is(target, "type", "virtio")) {
		if (++*virtio_count > 1)
			lx_issue(p, node, NULL, "Ember has one virtio console (hvc0); this one is "
				 "left out");
		else
			p->d->cfg.console = VM_CONSOLE_VIRTIO;
	} else if (target && !lx_attr_in(target, "type", serial)) {
		lx_issue(p, target, "type", "Ember's consoles are COM1 and one virtio console");
	}
	lx_other_children(p, node, known, "not supported by Ember");
	return 0;
}

/* <rng model='virtio'>: Ember's virtio-rng reads getrandom(), i.e. the kernel's urandom pool. */
int lx_rng(struct lx *p, xmlNodePtr node)
{
	static const char *const known[] = { "backend", "rate", "address", "alias", NULL };
	static const char *const sources[] = { "", "/dev/urandom", "/dev/random", NULL };
	if (!lx_attr_in(node, "model", virtio_models) || !lx_has_attr(node, "model")) {
		lx_issue(p, node, "model", "Ember's rng is virtio; it is left out");
		return 0;
	}
	xmlNodePtr backend = lx_child(node, "backend");
	char *source = backend ? lx_text(backend) : NULL;
	bool ok = !backend || lx_attr_is(backend, "model", "builtin") ||
		  (lx_attr_is(backend, "model", "random") && source &&
		   lx_name_in((const xmlChar *)source, sources));
	free(source);
	if (!ok) {
		lx_issue(p, backend, NULL, "Ember's rng reads the host kernel's random pool with "
			 "getrandom, no other backend; it is left out");
		return 0;
	}
	xmlNodePtr rate = lx_child(node, "rate");
	if (rate)
		lx_issue(p, rate, NULL, "Ember's rng has no rate limit");
	lx_other_children(p, node, known, "not supported by Ember");
	p->d->cfg.rng = true;
	return 0;
}

/* <memballoon model='virtio'>: Ember's virtio-balloon; its target comes from <currentMemory>. */
int lx_memballoon(struct lx *p, xmlNodePtr node)
{
	static const char *const known[] = { "stats", "address", "alias", NULL };
	if (lx_attr_is(node, "model", "none"))
		return 0;
	if (!lx_attr_in(node, "model", virtio_models) || !lx_has_attr(node, "model")) {
		lx_issue(p, node, "model", "Ember's balloon is virtio; it is left out");
		return 0;
	}
	struct balloon_options *b = &p->d->cfg.balloon;
	b->enabled = true;
	b->deflate_on_oom = lx_attr_is(node, "autodeflate", "on");
	b->free_page_reporting = lx_attr_is(node, "freePageReporting", "on");
	xmlNodePtr stats = lx_child(node, "stats");
	unsigned long long period = 0;
	if (stats && lx_uint_attr(p, stats, "period", 0, UINT32_MAX, 0, &period) < 0)
		return -1;
	b->stats_interval_s = (uint32_t)period;
	p->balloon_virtio = true;
	lx_other_children(p, node, known, "not supported by Ember");
	return 0;
}

/* The vsock's host side: libvirt has none of its own (QEMU uses vhost-vsock), so the Unix
 * socket comes from --vsock-uds or <ember:vsock uds=...> in <metadata>. */
static const char *vsock_uds(const struct lx *p)
{
	if (p->opt->vsock_uds)
		return p->opt->vsock_uds;
	return p->metadata_vsock_uds;
}

int lx_map_vsock(struct lx *p)
{
	static const char *const known[] = { "cid", "address", "alias", NULL };
	xmlNodePtr node = p->vsock_node;
	if (!node)
		return 0;
	if (!lx_attr_in(node, "model", virtio_models)) {
		lx_issue(p, node, "model", "Ember's vsock is virtio; it is left out");
		return 0;
	}
	lx_other_children(p, node, known, "not supported by Ember");
	xmlNodePtr cid = lx_child(node, "cid");
	if (!cid || lx_attr_is(cid, "auto", "yes") || !lx_has_attr(cid, "address")) {
		lx_issue(p, cid ? cid : node, NULL, "Ember needs a fixed context id: <cid "
			 "auto='no' address='N'/>; the vsock is left out");
		return 0;
	}
	unsigned long long id;
	if (lx_uint_attr(p, cid, "address", VSOCK_MIN_GUEST_CID, VSOCK_MAX_GUEST_CID, 0, &id) < 0)
		return -1;
	const char *uds = vsock_uds(p);
	if (!uds || !uds[0]) {
		lx_issue(p, node, NULL, "no host socket: add <ember:vsock xmlns:ember='%s' "
			 "uds='PATH'/> to <metadata> or pass --vsock-uds PATH; the vsock is left "
			 "out", LIBVIRT_EMBER_NS);
		return 0;
	}
	struct vsock_options *v = &p->d->cfg.vsock;
	if (strlen(uds) > VSOCK_UDS_PATH_MAX)
		return lx_invalid(p, node, NULL, "the host socket path '%.40s...' is longer than "
				  "%d characters", uds, VSOCK_UDS_PATH_MAX);
	memset(v, 0, sizeof(*v));
	v->enabled = true;
	strcpy(v->id, "vsock0");
	v->guest_cid = (uint32_t)id;
	strcpy(v->uds_path, uds);
	return 0;
}

/* Devices libvirt puts in every domain by itself, or settings that ask for nothing: the PCI
 * root and its ports, the default USB, SATA and IDE controllers (any USB, SATA or IDE device on
 * them is refused on its own), PS/2 mouse and keyboard, q35's built-in iTCO watchdog, and
 * "no video" / "no audio". */
bool lx_harmless_device(const xmlNode *node)
{
	static const char *const controllers[] = { "pci", "usb", "sata", "ide", "fdc",
						   "virtio-serial", NULL };
	static const char *const inputs[] = { "mouse", "keyboard", NULL };
	static const char *const ps2[] = { "ps2", NULL };
	if (lx_is(node, "controller"))
		return lx_attr_in(node, "type", controllers) && lx_has_attr(node, "type");
	if (lx_is(node, "input"))
		return lx_attr_in(node, "type", inputs) && lx_attr_in(node, "bus", ps2);
	if (lx_is(node, "watchdog"))
		return lx_attr_is(node, "model", "itco");
	if (lx_is(node, "video")) {
		xmlNodePtr model = lx_child(node, "model");
		return model && lx_attr_is(model, "type", "none");
	}
	if (lx_is(node, "audio"))
		return lx_attr_is(node, "type", "none");
	return false;
}
