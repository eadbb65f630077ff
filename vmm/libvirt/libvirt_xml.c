/* libvirt_domain_parse: the <domain> element, its top-level settings (os, memory, features,
 * clock, life cycle, metadata), and the order the sections run in. */
#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt_xml.h"

/* Top-level elements that tell Ember nothing it must do. */
static const char *const harmless_top[] = {
	"name", "uuid", "title", "description", "metadata",
	"resource",               /* the cgroup partition a libvirt driver puts the process in */
	"perf",                   /* host perf events libvirt would collect */
	"iothreads", "iothreadids", /* threads disks may use: Ember has its own per queue */
	NULL,
};

/* Top-level elements a section below reads. */
static const char *const mapped_top[] = {
	"memory", "currentMemory", "memoryBacking", "vcpu", "vcpus", "cputune", "cpu", "numatune",
	"os", "features", "clock", "on_poweroff", "on_reboot", "on_crash", "pm", "devices",
	"seclabel", NULL,
};

static const struct {
	const char *name, *why;
} unsupported_top[] = {
	{ "maxMemory", "memory hotplug: Ember's guest RAM is fixed at boot" },
	{ "memtune", "cgroup memory limits: Ember does not set them" },
	{ "blkiotune", "cgroup I/O weights: Ember does not set them" },
	{ "sysinfo", "SMBIOS and fw_cfg data: Ember provides neither" },
	{ "genid", "VM generation ID device: Ember has none" },
	{ "launchSecurity", "confidential guests come from 'ember run --sev', docs/sev.md" },
	{ "on_lockfailure", "lock manager: Ember has none" },
	{ "keywrap", "s390 key wrapping" },
	{ "idmap", "container user namespaces" },
	{ "bootloader", "host-side boot loaders are Xen's" },
	{ "bootloader_args", "host-side boot loaders are Xen's" },
	{ "throttlegroups", "I/O throttling: Ember's disks have no throttle" },
};

static void top_level_others(struct lx *p, xmlNodePtr root)
{
	for (xmlNodePtr c = root->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (c->ns) {
			lx_issue(p, c, NULL, "a hypervisor-specific extension (namespace %s)",
				 c->ns->href ? (const char *)c->ns->href : "?");
			continue;
		}
		if (lx_name_in(c->name, harmless_top) || lx_name_in(c->name, mapped_top))
			continue;
		const char *why = "not supported by Ember";
		for (size_t i = 0; i < sizeof(unsupported_top) / sizeof(unsupported_top[0]); i++)
			if (strcmp((const char *)c->name, unsupported_top[i].name) == 0)
				why = unsupported_top[i].why;
		lx_issue(p, c, NULL, "%s", why);
	}
}

static int parse_root(struct lx *p, xmlNodePtr root)
{
	static const char *const types[] = { "kvm", "qemu", "test", NULL };
	if (!lx_attr_in(root, "type", types)) {
		char *type = lx_attr(root, "type");
		lx_issue_fatal(p, root, "type", "'%s' domains run on another hypervisor; Ember "
			       "runs kvm, qemu and test domains", type ? type : "");
		free(type);
	}
	xmlNodePtr name = lx_child(root, "name");
	p->d->name = name ? lx_text(name) : strdup("");
	if (!p->d->name)
		return error_set(p->e, "out of memory");
	return 0;
}

/* <metadata>: Ember's own elements (namespace LIBVIRT_EMBER_NS); other applications' metadata
 * is theirs. */
static void parse_metadata(struct lx *p)
{
	xmlNodePtr md = lx_find(p, "/domain/metadata");
	for (xmlNodePtr c = md ? md->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || !c->ns || !c->ns->href ||
		    strcmp((const char *)c->ns->href, LIBVIRT_EMBER_NS) != 0)
			continue;
		if (strcmp((const char *)c->name, "vsock") == 0) {
			xmlChar *uds = xmlGetNoNsProp(c, (const xmlChar *)"uds");
			if (uds) {
				xmlFree((xmlChar *)p->metadata_vsock_uds);
				p->metadata_vsock_uds = (const char *)uds;
			}
		} else {
			lx_issue(p, c, NULL, "Ember's metadata knows only <vsock uds=...>");
		}
	}
}

/* <memory>, <currentMemory>: guest RAM is <memory>; a smaller <currentMemory> is the balloon's
 * starting target (lx_finish), as libvirt's QEMU driver does. */
static int parse_memory(struct lx *p)
{
	xmlNodePtr mem = lx_find(p, "/domain/memory");
	if (!mem)
		return lx_invalid(p, xmlDocGetRootElement(p->doc), NULL,
				  "no <memory>: Ember needs the guest's RAM size");
	if (lx_size(p, mem, 1024, &p->memory) < 0)
		return -1;
	uint64_t rounded = (p->memory + 4095) & ~4095ULL; /* Ember maps whole 4 KiB pages */
	if (p->memory < VM_CONFIG_MIN_MEMORY || rounded > VM_CONFIG_MAX_MEMORY)
		return lx_invalid(p, mem, NULL, "%llu bytes is outside Ember's 2 MiB .. 1 TiB",
				  (unsigned long long)p->memory);
	p->d->cfg.mem_size = rounded;
	p->current_memory = p->memory;
	xmlNodePtr cur = lx_find(p, "/domain/currentMemory");
	if (cur) {
		if (lx_size(p, cur, 1024, &p->current_memory) < 0)
			return -1;
		if (p->current_memory > p->memory)
			return lx_invalid(p, cur, NULL, "larger than <memory>");
		p->current_memory_node = cur;
	}
	return 0;
}

static int set_string(struct lx *p, char **field, xmlNodePtr node)
{
	*field = lx_text(node);
	if (!*field)
		return error_set(p->e, "out of memory");
	return 0;
}

/* <os>: a direct kernel boot. */
static int parse_os(struct lx *p)
{
	static const char *const known[] = { "type", "kernel", "initrd", "cmdline", "boot",
					     "bootmenu", "bios", NULL };
	static const char *const arches[] = { "x86_64", NULL };
	xmlNodePtr os = lx_find(p, "/domain/os");
	xmlNodePtr root = xmlDocGetRootElement(p->doc);
	if (!os) {
		lx_issue_fatal(p, root, NULL, "no <os>: Ember boots a kernel given in <os><kernel>");
		return 0;
	}
	xmlNodePtr type = lx_child(os, "type");
	char *kind = type ? lx_text(type) : NULL;
	if (type && (!kind || strcmp(kind, "hvm") != 0))
		lx_issue_fatal(p, type, NULL, "'%s' guests: Ember runs hvm guests", kind ? kind : "");
	free(kind);
	if (type && !lx_attr_in(type, "arch", arches))
		lx_issue_fatal(p, type, "arch", "Ember runs x86_64 guests");
	char *firmware = lx_attr(os, "firmware");
	if (firmware)
		lx_issue_fatal(p, os, "firmware", "'%s' firmware: Ember boots <kernel> directly",
			       firmware);
	free(firmware);
	xmlNodePtr kernel = lx_child(os, "kernel");
	if (!kernel)
		lx_issue_fatal(p, os, NULL, "no <kernel>: Ember boots a kernel directly, no BIOS "
			       "or UEFI");
	else if (set_string(p, &p->d->kernel, kernel) < 0)
		return -1;
	else if (!p->d->kernel[0])
		lx_issue_fatal(p, kernel, NULL, "empty: Ember boots a kernel directly");
	xmlNodePtr initrd = lx_child(os, "initrd"), cmdline = lx_child(os, "cmdline");
	if (initrd && set_string(p, &p->d->initrd, initrd) < 0)
		return -1;
	if (cmdline && set_string(p, &p->d->cmdline, cmdline) < 0)
		return -1;
	p->d->cfg.kernel_path = p->d->kernel;
	p->d->cfg.initrd_path = p->d->initrd && p->d->initrd[0] ? p->d->initrd : NULL;
	lx_other_children(p, os, known, "firmware and boot loaders: Ember boots <kernel> directly");
	return 0;
}

/* <features>: what x86 guests get anyway is fine; the rest Ember does not offer. */
static void parse_features(struct lx *p)
{
	xmlNodePtr f = lx_find(p, "/domain/features");
	for (xmlNodePtr c = f ? f->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (lx_is(c, "acpi") || lx_is(c, "apic") || lx_is(c, "pae"))
			continue;
		if (lx_is(c, "hap") && !lx_attr_is(c, "state", "off"))
			continue;
		if ((lx_is(c, "vmport") || lx_is(c, "smm")) && lx_attr_is(c, "state", "off"))
			continue;
		if (lx_is(c, "ioapic") && !lx_attr_is(c, "driver", "qemu"))
			continue;
		lx_issue(p, c, NULL, "feature <%s> is not offered by Ember", (const char *)c->name);
	}
}

/* <clock>: Ember's RTC keeps UTC and guests always see kvmclock; tick policies do not matter
 * to a guest that has no lost ticks to catch up on. */
static void parse_clock(struct lx *p)
{
	static const char *const utc[] = { "utc", NULL };
	xmlNodePtr clock = lx_find(p, "/domain/clock");
	if (!clock)
		return;
	if (!lx_attr_in(clock, "offset", utc))
		lx_issue(p, clock, "offset", "Ember's RTC keeps UTC");
	for (xmlNodePtr t = clock->children; t; t = t->next) {
		if (t->type != XML_ELEMENT_NODE)
			continue;
		if (!lx_is(t, "timer")) {
			lx_issue(p, t, NULL, "not supported by Ember");
			continue;
		}
		if (lx_attr_is(t, "name", "rtc") || lx_attr_is(t, "name", "pit"))
			continue;
		if ((lx_attr_is(t, "name", "hpet") || lx_attr_is(t, "name", "hypervclock")) &&
		    lx_attr_is(t, "present", "no"))
			continue;
		if (lx_attr_is(t, "name", "kvmclock") && !lx_attr_is(t, "present", "no"))
			continue;
		lx_issue(p, t, NULL, "this timer setting is not offered by Ember");
	}
}

/* <on_poweroff>, <on_reboot>, <on_crash>: Ember ends when the guest powers off, resets or
 * panics (panic=1 reboots); restarting it is for whoever runs ember, as libvirtd would. */
static void parse_lifecycle(struct lx *p)
{
	static const struct {
		const char *xpath, *allowed[3];
	} events[] = {
		{ "/domain/on_poweroff", { "destroy", NULL } },
		{ "/domain/on_reboot", { "restart", "destroy", NULL } },
		{ "/domain/on_crash", { "destroy", "restart", NULL } },
	};
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		xmlNodePtr n = lx_find(p, events[i].xpath);
		char *action = n ? lx_text(n) : NULL;
		if (action && !lx_name_in((const xmlChar *)action, events[i].allowed))
			lx_issue(p, n, NULL, "'%s': Ember's process ends with the guest", action);
		free(action);
	}
}

/* <pm>: S3/S4 disabled is what Ember offers. */
static void parse_pm(struct lx *p)
{
	xmlNodePtr pm = lx_find(p, "/domain/pm");
	for (xmlNodePtr c = pm ? pm->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !lx_attr_is(c, "enabled", "no"))
			lx_issue(p, c, NULL, "guest suspend: Ember has no S3/S4");
}

/* <seclabel>: Ember applies no sVirt label; only type='none' asks for nothing. */
static void parse_seclabels(struct lx *p)
{
	xmlNodePtr root = xmlDocGetRootElement(p->doc);
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (lx_is(c, "seclabel") && !lx_attr_is(c, "type", "none"))
			lx_issue(p, c, NULL, "security labels (sVirt): Ember does not relabel or "
				 "confine the guest");
}

/* What needs more than one section: the balloon target, the default command line. */
static int finish(struct lx *p)
{
	struct vm_config *cfg = &p->d->cfg;
	if (p->current_memory < p->memory) {
		if (p->balloon_virtio)
			cfg->balloon.target_mib = (uint32_t)((p->memory - p->current_memory) >> 20);
		else
			lx_issue(p, p->current_memory_node, NULL, "below <memory> needs a virtio "
				 "<memballoon>; ignored, the guest gets all of <memory>");
	}
	if (p->d->cmdline)
		cfg->cmdline = p->d->cmdline;
	else if (cfg->console == VM_CONSOLE_VIRTIO)
		cfg->cmdline = VM_CONFIG_VIRTIO_CONSOLE_CMDLINE;
	return lx_map_vsock(p);
}

static int parse_sections(struct lx *p, xmlNodePtr root)
{
	if (parse_root(p, root) < 0)
		return -1;
	parse_metadata(p);
	if (parse_memory(p) < 0 || parse_os(p) < 0 || lx_parse_vcpu(p) < 0 ||
	    lx_parse_cputune(p) < 0 || lx_parse_cpu(p) < 0 || lx_parse_numatune(p) < 0 ||
	    lx_parse_memory_backing(p) < 0)
		return -1;
	parse_features(p);
	parse_clock(p);
	parse_lifecycle(p);
	parse_pm(p);
	parse_seclabels(p);
	if (lx_parse_devices(p) < 0)
		return -1;
	top_level_others(p, root);
	return finish(p);
}

static int read_document(struct lx *p, const char *xml, size_t len)
{
	if (len > LIBVIRT_XML_MAX_BYTES)
		return error_set(p->e, "%zu bytes of XML is more than a domain (limit %u)", len,
				 LIBVIRT_XML_MAX_BYTES);
	xmlResetLastError();
	/* No network, no entity expansion (XML_PARSE_NOENT stays off), no DTD loading. */
	p->doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!p->doc) {
		const xmlError *err = xmlGetLastError();
		char msg[160] = "empty document";
		if (err && err->message) {
			snprintf(msg, sizeof(msg), "%s", err->message);
			msg[strcspn(msg, "\n")] = '\0';
		}
		return error_set(p->e, "not well-formed XML (line %d: %s)", err ? err->line : 0,
				 msg);
	}
	if (p->doc->intSubset)
		return error_set(p->e, "a <!DOCTYPE> has no place in a libvirt domain");
	xmlNodePtr root = xmlDocGetRootElement(p->doc);
	if (!root || root->ns || strcmp((const char *)root->name, "domain") != 0)
		return error_set(p->e, "the root element is <%s>, not <domain>",
				 root ? (const char *)root->name : "");
	p->xpath = xmlXPathNewContext(p->doc);
	if (!p->xpath)
		return error_set(p->e, "out of memory");
	return 0;
}

int libvirt_domain_parse(struct libvirt_domain *d, const char *xml, size_t len,
			 const struct libvirt_parse_options *opt, struct error *e)
{
	static const struct libvirt_parse_options no_options;
	memset(d, 0, sizeof(*d));
	vm_config_defaults(&d->cfg);
	struct lx p = { .d = d, .opt = opt ? opt : &no_options, .e = e };
	int rc = read_document(&p, xml, len);
	if (rc == 0)
		rc = parse_sections(&p, xmlDocGetRootElement(p.doc));
	xmlFree((xmlChar *)p.metadata_vsock_uds);
	xmlXPathFreeContext(p.xpath);
	xmlFreeDoc(p.doc);
	if (rc == 0 && d->issues.out_of_memory)
		rc = error_set(e, "out of memory");
	return rc;
}

void libvirt_domain_free(struct libvirt_domain *d)
{
	free(d->name);
	free(d->kernel);
	free(d->initrd);
	free(d->cmdline);
	free(d->cpu_affinity);
	libvirt_issues_free(&d->issues);
	memset(d, 0, sizeof(*d));
}
