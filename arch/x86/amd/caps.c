/* `ember caps [--json]`: what this host offers a VMM, and what each missing piece costs.
 *
 * Human output: one aligned "name: value — note" line per item. Exit status 0, or 1 when
 * /dev/kvm cannot be opened (everything else is still reported), 2 for a bad option.
 *
 * JSON output (--json): one object, schema "ember-caps/1" (also in docs/caps-schema.md):
 * {
 *   "schema": "ember-caps/1",
 *   "cpu": { "vendor": str, "brand": str, "family": int, "model": int, "stepping": int,
 *            "epyc_generation": str|null, "brand_says_epyc": bool,
 *            "hypervisor": bool, "svm": bool, "vmx": bool,
 *            "l3": null | { "domains": int, "cores_per_l3": int, "threads_per_core": int,
 *                           "uniform": bool } },     // what --topology host-ccx copies
 *   "kvm": { "available": bool, "error": str|null, "module": str|null, "api_version": int|null,
 *            "caps": { "<KVM_CAP_NAME>": int, ... },      // KVM_CHECK_EXTENSION result, 0 = absent
 *            "vm_types": { "mask": int|null, "default": bool, "sw_protected": bool,
 *                          "sev": bool, "sev_es": bool, "snp": bool },
 *            "guest_memfd": bool },
 *   "kvm_amd": { "loaded": bool, "npt": bool|null, "avic": bool|null, "sev": bool|null,
 *                "sev_es": bool|null, "sev_snp": bool|null },   // null: parameter absent
 *   "sev": { "dev_sev": bool,
 *            "cpuid_8000001f": null | { "sme": bool, "sev": bool, "sev_es": bool, "sev_snp": bool,
 *                                       "c_bit": int, "phys_addr_reduction": int,
 *                                       "max_asids": int, "min_sev_asid": int } },
 *   "supervisor_mode": "native" | "emulated",    // "emulated": PVM (/sys/module/kvm_pvm)
 *   "memory": { "thp": str|null, "shmem_thp": str|null,    // shmem: --memory-backing memfd
 *               "hugepages": [ { "size_kb": int, "total": int, "free": int } ],  // -1: unreadable
 *               "numa_nodes": null | [ { "node": int, "hugepages": [ ...as above ] } ] },
 *   "missing": [ { "feature": str, "detail": str, "cost": str } ]
 * }
 */
#include "caps.h"

#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../topology.h"

/* Newer than the linux-libc-dev 6.1 headers. */
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#define VM_TYPE_DEFAULT      0
#define VM_TYPE_SW_PROTECTED 1
#define VM_TYPE_SEV          2
#define VM_TYPE_SEV_ES       3
#define VM_TYPE_SNP          4

#define LABEL_WIDTH 28
#define MAX_HUGEPAGE_SIZES 8
#define PVM_MODULE "/sys/module/kvm_pvm"

struct caps_out {
	bool json;
	json_object *root;
	json_object *missing;
};

/* What later sections need to know about earlier ones. */
struct host_facts {
	bool amd, svm;
	bool kvm_ok;
	int vm_types;          /* -1: unknown (no KVM or no KVM_CAP_VM_TYPES) */
	bool sev_cpu[3];       /* CPUID 0x8000001F: SEV, SEV-ES, SEV-SNP */
	int kvm_amd_sev[3];    /* kvm_amd parameters sev, sev_es, sev_snp: 1, 0, -1 absent */
	bool kvm_amd_loaded;
};

static void say(struct caps_out *o, const char *name, const char *note, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct caps_out *o, const char *name, const char *note, const char *fmt, ...)
{
	if (o->json)
		return;
	char label[64];
	snprintf(label, sizeof(label), "%s:", name);
	printf("%-*s ", LABEL_WIDTH, label);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (note && *note)
		printf(" — %s", note);
	putchar('\n');
}

/* A feature Ember could use but cannot here: one line "feature: absent (detail) — cost". */
static void missing(struct caps_out *o, const char *feature, const char *detail, const char *cost)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "feature", json_object_new_string(feature));
	json_object_object_add(m, "detail", json_object_new_string(detail));
	json_object_object_add(m, "cost", json_object_new_string(cost));
	json_object_array_add(o->missing, m);
	say(o, feature, cost, "absent (%s)", detail);
}

static json_object *json_tristate(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v);
}

/* ---- sysfs helpers ---- */

static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *ok = fgets(buf, (int)size, f);
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static long long read_number(const char *path)
{
	char buf[64];
	if (read_line(path, buf, sizeof(buf)) < 0)
		return -1;
	char *end;
	long long v = strtoll(buf, &end, 10);
	return end == buf ? -1 : v;
}

/* Module parameter as a tristate: 1 ("Y"/"1"), 0 ("N"/"0"), -1 when absent. */
static int read_param(const char *module, const char *param)
{
	char path[256], buf[32];
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module, param);
	if (read_line(path, buf, sizeof(buf)) < 0)
		return -1;
	return buf[0] == 'Y' || buf[0] == 'y' || (buf[0] >= '1' && buf[0] <= '9');
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- host CPU ---- */

static void cpuid_vendor(char out[13])
{
	unsigned a, b, c, d;
	__cpuid(0, a, b, c, d);
	memcpy(out, &b, 4);
	memcpy(out + 4, &d, 4);
	memcpy(out + 8, &c, 4);
	out[12] = '\0';
}

static void cpuid_brand(char out[49])
{
	unsigned max = __get_cpuid_max(0x80000000, NULL);
	out[0] = '\0';
	if (max < 0x80000004)
		return;
	for (unsigned i = 0; i < 3; i++) {
		unsigned r[4];
		__cpuid(0x80000002 + i, r[0], r[1], r[2], r[3]);
		memcpy(out + 16 * i, r, 16);
	}
	out[48] = '\0';
	char *s = out;
	while (*s == ' ')
		s++;
	memmove(out, s, strlen(s) + 1);
}

static bool ext_leaf(unsigned leaf, unsigned *a, unsigned *b, unsigned *c, unsigned *d)
{
	return __get_cpuid_max(0x80000000, NULL) >= leaf && __get_cpuid(leaf, a, b, c, d);
}

/* EPYC generations by family/model (AMD revision guides; model ranges per server core). */
static const char *epyc_generation(unsigned family, unsigned model)
{
	if (family == 0x17 && model <= 0x0f)
		return "Zen 1 (Naples)";
	if (family == 0x17 && model >= 0x30 && model <= 0x3f)
		return "Zen 2 (Rome)";
	if (family == 0x19 && model <= 0x0f)
		return "Zen 3 (Milan)";
	if (family == 0x19 && model >= 0x10 && model <= 0x1f)
		return "Zen 4 (Genoa)";
	if (family == 0x19 && model >= 0xa0 && model <= 0xaf)
		return "Zen 4c (Bergamo/Siena)";
	if (family == 0x1a && model <= 0x1f)
		return "Zen 5 (Turin)";
	return NULL;
}

/* The host's L3 domains (CCXs on EPYC): what --topology host-ccx shapes guests like. */
static void report_l3(struct caps_out *o, json_object *cpu)
{
	struct host_l3 l3;
	struct error e;
	if (topology_scan_host_l3("/sys/devices/system/cpu", &l3, &e) < 0) {
		json_object_object_add(cpu, "l3", NULL);
		say(o, "L3 domains", "--topology host-ccx cannot work here", "unknown (%s)", e.msg);
		return;
	}
	json_object *j = json_object_new_object();
	json_object_object_add(j, "domains", json_object_new_int((int)l3.domains));
	json_object_object_add(j, "cores_per_l3", json_object_new_int((int)l3.cores_per_l3));
	json_object_object_add(j, "threads_per_core", json_object_new_int((int)l3.threads_per_core));
	json_object_object_add(j, "uniform", json_object_new_boolean(l3.uniform));
	json_object_object_add(cpu, "l3", j);
	say(o, "L3 domains", l3.uniform ? "--topology host-ccx copies this shape" :
		"domains differ in size; host-ccx copies the first",
	    "%u x (%u cores x %u threads)", l3.domains, l3.cores_per_l3, l3.threads_per_core);
}

static void report_cpu(struct caps_out *o, struct host_facts *h)
{
	char vendor[13], brand[49];
	unsigned a, b, c, d;
	cpuid_vendor(vendor);
	cpuid_brand(brand);
	__cpuid(1, a, b, c, d);
	unsigned stepping = a & 0xf, base_model = (a >> 4) & 0xf, base_family = (a >> 8) & 0xf;
	unsigned family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
	unsigned model = (base_family == 0xf || base_family == 6) ? (((a >> 16) & 0xf) << 4) | base_model
								 : base_model;
	bool hypervisor = c & (1u << 31), vmx = c & (1u << 5);
	unsigned ea = 0, eb = 0, ec = 0, ed = 0;
	h->amd = strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0;
	h->svm = ext_leaf(0x80000001, &ea, &eb, &ec, &ed) && (ec & (1u << 2));
	const char *gen = h->amd ? epyc_generation(family, model) : NULL;
	bool says_epyc = strstr(brand, "EPYC") != NULL;

	json_object *j = json_object_new_object();
	json_object_object_add(j, "vendor", json_object_new_string(vendor));
	json_object_object_add(j, "brand", json_object_new_string(brand));
	json_object_object_add(j, "family", json_object_new_int((int)family));
	json_object_object_add(j, "model", json_object_new_int((int)model));
	json_object_object_add(j, "stepping", json_object_new_int((int)stepping));
	json_object_object_add(j, "epyc_generation", gen ? json_object_new_string(gen) : NULL);
	json_object_object_add(j, "brand_says_epyc", json_object_new_boolean(says_epyc));
	json_object_object_add(j, "hypervisor", json_object_new_boolean(hypervisor));
	json_object_object_add(j, "svm", json_object_new_boolean(h->svm));
	json_object_object_add(j, "vmx", json_object_new_boolean(vmx));
	json_object_object_add(o->root, "cpu", j);
	report_l3(o, j);

	say(o, "CPU vendor", NULL, "%s", vendor);
	say(o, "CPU", brand[0] ? brand : NULL, "family 0x%x model 0x%x stepping %u", family, model,
	    stepping);
	if (gen)
		say(o, "EPYC generation", says_epyc ? NULL : "brand string does not say EPYC", "%s", gen);
	else if (h->amd)
		say(o, "EPYC generation", "EPYC-specific tuning uses generic defaults",
		    "unknown (AMD family 0x%x model 0x%x)", family, model);
	else
		say(o, "EPYC generation", "EPYC-specific tuning does not apply", "not an EPYC");
	say(o, "host hypervisor bit", hypervisor ? "Ember runs nested: every exit costs more" : NULL,
	    "%s", hypervisor ? "set" : "clear");
	if (h->svm)
		say(o, "SVM", NULL, "present");
	else
		missing(o, "SVM", h->amd ? "CPUID 0x80000001 ECX[2] clear" : "not an AMD CPU",
			"no AMD-V: NPT, AVIC and SEV are unavailable");
	if (!h->amd && vmx)
		say(o, "VMX", NULL, "present");
	else if (!h->amd)
		say(o, "VMX", caps_supervisor_emulated() ? "PVM does not need it"
						  : "no Intel VT-x: kvm_intel cannot run",
		    "absent");
}

/* ---- KVM ---- */

struct kvm_cap_info {
	int cap;
	const char *name;
	bool numeric;       /* print the value, not yes/no */
	const char *cost;   /* when absent */
};

static const struct kvm_cap_info kvm_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", false, "Ember cannot map guest RAM" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", false, "Ember needs the in-kernel LAPIC/IOAPIC" },
	{ KVM_CAP_SPLIT_IRQCHIP, "KVM_CAP_SPLIT_IRQCHIP", false,
	  "no userspace-IOAPIC mode (not used by default)" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", false,
	  "every virtio notification is a full exit to userspace" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", false, "each device interrupt needs a KVM_IRQ_LINE ioctl" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", false,
	  "Intel VMX cannot emulate real mode without it" },
	{ KVM_CAP_X86_DISABLE_EXITS, "KVM_CAP_X86_DISABLE_EXITS", true,
	  "dedicated vCPUs cannot idle/spin without HLT/PAUSE exits" },
	{ KVM_CAP_HALT_POLL, "KVM_CAP_HALT_POLL", false, "halt polling cannot be tuned per VM" },
	{ KVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD", false, "no per-VM/vCPU KVM statistics" },
	{ KVM_CAP_NR_VCPUS, "KVM_CAP_NR_VCPUS", true, "recommended vCPU limit unknown" },
	{ KVM_CAP_MAX_VCPUS, "KVM_CAP_MAX_VCPUS", true, "vCPU limit unknown" },
};
#define KVM_CAP_COUNT (sizeof(kvm_caps) / sizeof(kvm_caps[0]))

static const char *kvm_module(void)
{
	if (path_exists("/sys/module/kvm_pvm"))
		return "kvm_pvm";
	if (path_exists("/sys/module/kvm_amd"))
		return "kvm_amd";
	if (path_exists("/sys/module/kvm_intel"))
		return "kvm_intel";
	return NULL;
}

static void format_disable_exits(int mask, char *buf, size_t size)
{
	static const char *names[] = { "mwait", "hlt", "pause", "cstate" };
	buf[0] = '\0';
	for (unsigned i = 0; i < 4; i++) {
		if (!(mask & (1 << i)))
			continue;
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", len ? "," : "", names[i]);
	}
}

static void report_kvm_caps(struct caps_out *o, int kvm_fd, json_object *caps)
{
	for (size_t i = 0; i < KVM_CAP_COUNT; i++) {
		const struct kvm_cap_info *ci = &kvm_caps[i];
		int v = ioctl(kvm_fd, KVM_CHECK_EXTENSION, ci->cap);
		if (v < 0)
			v = 0;
		json_object_object_add(caps, ci->name, json_object_new_int(v));
		if (v <= 0) {
			missing(o, ci->name, "KVM_CHECK_EXTENSION returns 0", ci->cost);
		} else if (ci->cap == KVM_CAP_X86_DISABLE_EXITS) {
			char names[64];
			format_disable_exits(v, names, sizeof(names));
			say(o, ci->name, names, "0x%x", (unsigned)v);
		} else if (ci->numeric) {
			say(o, ci->name, NULL, "%d", v);
		} else {
			say(o, ci->name, NULL, "yes");
		}
	}
}

/* Adds "vm_types" to kvm (mask <= 0: unknown) and lists the supported names into list. */
static void vm_types_json(json_object *kvm, int mask, char *list, size_t size)
{
	static const struct { int bit; const char *name; } types[] = {
		{ VM_TYPE_DEFAULT, "default" }, { VM_TYPE_SW_PROTECTED, "sw_protected" },
		{ VM_TYPE_SEV, "sev" }, { VM_TYPE_SEV_ES, "sev_es" }, { VM_TYPE_SNP, "snp" },
	};
	json_object *vt = json_object_new_object();
	json_object_object_add(vt, "mask", mask > 0 ? json_object_new_int(mask) : NULL);
	list[0] = '\0';
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		bool has = mask > 0 && (mask & (1 << types[i].bit));
		json_object_object_add(vt, types[i].name, json_object_new_boolean(has));
		if (has) {
			size_t len = strlen(list);
			snprintf(list + len, size - len, "%s%s", len ? ", " : "", types[i].name);
		}
	}
	json_object_object_add(kvm, "vm_types", vt);
}

static void report_vm_types(struct caps_out *o, int kvm_fd, struct host_facts *h, json_object *kvm)
{
	int mask = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	char list[96];
	h->vm_types = mask > 0 ? mask : -1;
	vm_types_json(kvm, mask, list, sizeof(list));
	if (mask > 0)
		say(o, "KVM_CAP_VM_TYPES", NULL, "0x%x (%s)", (unsigned)mask, list);
	else
		missing(o, "KVM_CAP_VM_TYPES", "KVM older than 6.10",
			"only the default VM type; no SEV-ES/SNP VM types");

	int memfd = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD);
	json_object_object_add(kvm, "guest_memfd", json_object_new_boolean(memfd > 0));
	if (memfd > 0)
		say(o, "KVM_CAP_GUEST_MEMFD", NULL, "yes");
	else
		missing(o, "KVM_CAP_GUEST_MEMFD", "KVM_CHECK_EXTENSION returns 0",
			"no private (guest_memfd) memory: SEV-SNP guests cannot run");
}

/* Returns false when /dev/kvm cannot be opened. */
static bool report_kvm(struct caps_out *o, struct host_facts *h)
{
	json_object *kvm = json_object_new_object();
	json_object_object_add(o->root, "kvm", kvm);
	const char *module = kvm_module();
	json_object_object_add(kvm, "module", module ? json_object_new_string(module) : NULL);
	h->vm_types = -1;

	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	json_object_object_add(kvm, "available", json_object_new_boolean(fd >= 0));
	if (fd < 0) {
		char err[160];
		snprintf(err, sizeof(err), "cannot open /dev/kvm: %s", strerror(errno));
		json_object_object_add(kvm, "error", json_object_new_string(err));
		json_object_object_add(kvm, "api_version", NULL);
		json_object_object_add(kvm, "caps", json_object_new_object());
		char list[96];
		vm_types_json(kvm, 0, list, sizeof(list));
		json_object_object_add(kvm, "guest_memfd", json_object_new_boolean(false));
		say(o, "KVM", "no VM can run", "unavailable (%s)", err);
		json_object *m = json_object_new_object();
		json_object_object_add(m, "feature", json_object_new_string("KVM"));
		json_object_object_add(m, "detail", json_object_new_string(err));
		json_object_object_add(m, "cost", json_object_new_string("no VM can run"));
		json_object_array_add(o->missing, m);
		return false;
	}
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	json_object_object_add(kvm, "error", NULL);
	json_object_object_add(kvm, "api_version", json_object_new_int(api));
	say(o, "KVM", module, "available (API %d)", api);

	json_object *caps = json_object_new_object();
	json_object_object_add(kvm, "caps", caps);
	report_kvm_caps(o, fd, caps);
	report_vm_types(o, fd, h, kvm);
	close(fd);
	h->kvm_ok = true;
	return true;
}

/* ---- AMD virtualization: kvm_amd, SEV ---- */

static void report_kvm_amd(struct caps_out *o, struct host_facts *h)
{
	json_object *j = json_object_new_object();
	json_object_object_add(o->root, "kvm_amd", j);
	h->kvm_amd_loaded = path_exists("/sys/module/kvm_amd");
	json_object_object_add(j, "loaded", json_object_new_boolean(h->kvm_amd_loaded));
	int npt = read_param("kvm_amd", "npt"), avic = read_param("kvm_amd", "avic");
	static const char *sev_params[3] = { "sev", "sev_es", "sev_snp" };
	for (int i = 0; i < 3; i++)
		h->kvm_amd_sev[i] = read_param("kvm_amd", sev_params[i]);
	json_object_object_add(j, "npt", json_tristate(npt));
	json_object_object_add(j, "avic", json_tristate(avic));
	for (int i = 0; i < 3; i++)
		json_object_object_add(j, sev_params[i], json_tristate(h->kvm_amd_sev[i]));

	if (!h->kvm_amd_loaded) {
		if (h->amd)
			missing(o, "kvm_amd", "module not loaded", "no SVM-based KVM on this AMD host");
		else
			say(o, "kvm_amd", "not an AMD host", "not loaded");
		return;
	}
	say(o, "kvm_amd", NULL, "loaded");
	if (npt > 0)
		say(o, "NPT", NULL, "enabled");
	else
		missing(o, "NPT", npt == 0 ? "kvm_amd npt=N" : "no npt parameter",
			"shadow paging: guest page-table writes exit to KVM; memory-heavy guests much slower");
	if (avic > 0)
		say(o, "AVIC", NULL, "enabled");
	else
		missing(o, "AVIC", avic == 0 ? "kvm_amd avic=N" : "no avic parameter",
			"interrupts and IPIs to running vCPUs cause VM exits");
	for (int i = 0; i < 3; i++) {
		char label[32];
		snprintf(label, sizeof(label), "kvm_amd.%s", sev_params[i]);
		say(o, label, NULL, "%s",
		    h->kvm_amd_sev[i] < 0 ? "absent" : h->kvm_amd_sev[i] ? "Y" : "N");
	}
}

static json_object *report_cpuid_8000001f(struct caps_out *o, struct host_facts *h)
{
	unsigned a, b, c, d;
	if (!h->amd || !ext_leaf(0x8000001f, &a, &b, &c, &d)) {
		say(o, "CPUID 0x8000001F", h->amd ? "CPU has no memory encryption" : NULL, "absent");
		return NULL;
	}
	h->sev_cpu[0] = a & (1u << 1);
	h->sev_cpu[1] = a & (1u << 3);
	h->sev_cpu[2] = a & (1u << 4);
	json_object *j = json_object_new_object();
	json_object_object_add(j, "sme", json_object_new_boolean(a & 1));
	json_object_object_add(j, "sev", json_object_new_boolean(h->sev_cpu[0]));
	json_object_object_add(j, "sev_es", json_object_new_boolean(h->sev_cpu[1]));
	json_object_object_add(j, "sev_snp", json_object_new_boolean(h->sev_cpu[2]));
	json_object_object_add(j, "c_bit", json_object_new_int((int)(b & 0x3f)));
	json_object_object_add(j, "phys_addr_reduction", json_object_new_int((int)((b >> 6) & 0x3f)));
	json_object_object_add(j, "max_asids", json_object_new_int((int)c));
	json_object_object_add(j, "min_sev_asid", json_object_new_int((int)d));
	char flags[48] = "";
	static const char *names[4] = { "SME", "SEV", "SEV-ES", "SEV-SNP" };
	bool has[4] = { a & 1, h->sev_cpu[0], h->sev_cpu[1], h->sev_cpu[2] };
	for (int i = 0; i < 4; i++) {
		size_t len = strlen(flags);
		if (has[i])
			snprintf(flags + len, sizeof(flags) - len, "%s%s", len ? " " : "", names[i]);
	}
	say(o, "CPUID 0x8000001F", NULL, "%s%sC-bit %u, %u ASIDs (SEV from ASID %u)", flags,
	    flags[0] ? ", " : "", b & 0x3f, c, d);
	return j;
}

/* SEV, SEV-ES, SEV-SNP: usable when the CPU, kvm_amd and KVM's VM types all agree. */
static void report_sev_types(struct caps_out *o, const struct host_facts *h)
{
	static const char *names[3] = { "SEV", "SEV-ES", "SEV-SNP" };
	static const char *params[3] = { "sev", "sev_es", "sev_snp" };
	static const char *type_names[3] = { "SEV", "SEV_ES", "SNP" };
	static const int type_bits[3] = { VM_TYPE_SEV, VM_TYPE_SEV_ES, VM_TYPE_SNP };
	static const char *costs[3] = {
		"encrypted-memory guests unavailable",
		"guests with encrypted register state unavailable",
		"confidential VMs unavailable",
	};
	for (int i = 0; i < 3; i++) {
		char detail[96];
		if (!h->svm)
			snprintf(detail, sizeof(detail), "no SVM");
		else if (!h->sev_cpu[i])
			snprintf(detail, sizeof(detail), "CPU does not report %s", names[i]);
		else if (h->kvm_amd_sev[i] <= 0)
			snprintf(detail, sizeof(detail), "kvm_amd %s=%s", params[i],
				 h->kvm_amd_sev[i] == 0 ? "N" : "absent");
		else if (!h->kvm_ok)
			snprintf(detail, sizeof(detail), "KVM unavailable");
		else if (h->vm_types < 0 || !(h->vm_types & (1 << type_bits[i])))
			snprintf(detail, sizeof(detail), "KVM_CAP_VM_TYPES lacks %s", type_names[i]);
		else {
			say(o, names[i], NULL, "available");
			continue;
		}
		missing(o, names[i], detail, costs[i]);
	}
}

static void report_sev(struct caps_out *o, struct host_facts *h)
{
	json_object *j = json_object_new_object();
	json_object_object_add(o->root, "sev", j);
	bool dev = path_exists("/dev/sev");
	json_object_object_add(j, "dev_sev", json_object_new_boolean(dev));
	if (dev)
		say(o, "/dev/sev", NULL, "present");
	else
		say(o, "/dev/sev", "no SEV firmware (PSP) interface", "absent");
	json_object_object_add(j, "cpuid_8000001f", report_cpuid_8000001f(o, h));
	report_sev_types(o, h);
}

/* ---- supervisor mode (PVM) ---- */

bool caps_supervisor_emulated(void)
{
	return path_exists(PVM_MODULE);
}

static void report_supervisor(struct caps_out *o)
{
	bool emulated = caps_supervisor_emulated();
	json_object_object_add(o->root, "supervisor_mode",
			       json_object_new_string(emulated ? "emulated" : "native"));
	if (emulated)
		say(o, "guest supervisor mode", "Linux guests boot very slowly; use nested tests",
		    "emulated (PVM: " PVM_MODULE ")");
	else
		say(o, "guest supervisor mode", NULL, "native (hardware virtualization)");
}

/* ---- memory: THP, hugetlb pools ---- */

/* The [selected] word of a sysfs mode file, "" if unreadable. */
static void read_mode(const char *path, char *mode, size_t size)
{
	char buf[128];
	mode[0] = '\0';
	if (read_line(path, buf, sizeof(buf)) == 0) {
		char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;
		if (l && r && (size_t)(r - l - 1) < size) {
			memcpy(mode, l + 1, (size_t)(r - l - 1));
			mode[r - l - 1] = '\0';
		}
	}
}

static void report_shmem_thp(struct caps_out *o, json_object *mem)
{
	char mode[32];
	read_mode("/sys/kernel/mm/transparent_hugepage/shmem_enabled", mode, sizeof(mode));
	json_object_object_add(mem, "shmem_thp", mode[0] ? json_object_new_string(mode) : NULL);
	bool refused = !mode[0] || strcmp(mode, "never") == 0 || strcmp(mode, "deny") == 0;
	say(o, "THP for shmem", refused ? "--memory-backing memfd gets 4 KiB pages" : NULL, "%s",
	    mode[0] ? mode : "unknown");
}

static void report_thp(struct caps_out *o, json_object *mem)
{
	char mode[32];
	read_mode("/sys/kernel/mm/transparent_hugepage/enabled", mode, sizeof(mode));
	json_object_object_add(mem, "thp", mode[0] ? json_object_new_string(mode) : NULL);
	if (!mode[0])
		missing(o, "THP", "no /sys/kernel/mm/transparent_hugepage",
			"guest RAM uses 4 KiB host pages: more TLB misses and NPT walks");
	else if (strcmp(mode, "never") == 0)
		missing(o, "THP", "transparent_hugepage=never",
			"guest RAM uses 4 KiB host pages: more TLB misses and NPT walks");
	else
		say(o, "THP", strcmp(mode, "madvise") == 0 ? "Ember madvises guest RAM" : NULL, "%s",
		    mode);
	report_shmem_thp(o, mem);
}

static int compare_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
	return x < y ? -1 : x > y;
}

/* Pool sizes (kB) found under dir ("hugepages-<N>kB" entries), sorted. */
static unsigned hugepage_sizes(const char *dir, unsigned long long *sizes)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *ent;
	while ((ent = readdir(d)) && n < MAX_HUGEPAGE_SIZES) {
		unsigned long long kb;
		char tail[4];
		if (sscanf(ent->d_name, "hugepages-%llu%3s", &kb, tail) == 2 && strcmp(tail, "kB") == 0)
			sizes[n++] = kb;
	}
	closedir(d);
	qsort(sizes, n, sizeof(sizes[0]), compare_ull);
	return n;
}

/* Reports every pool under dir; `who` prefixes the labels ("" or "node0 "). */
static json_object *report_pools(struct caps_out *o, const char *dir, const char *who,
				 long long *total_pages)
{
	json_object *arr = json_object_new_array();
	unsigned long long sizes[MAX_HUGEPAGE_SIZES];
	unsigned n = hugepage_sizes(dir, sizes);
	for (unsigned i = 0; i < n; i++) {
		char path[512], label[64];
		snprintf(path, sizeof(path), "%s/hugepages-%llukB/nr_hugepages", dir, sizes[i]);
		long long total = read_number(path);
		snprintf(path, sizeof(path), "%s/hugepages-%llukB/free_hugepages", dir, sizes[i]);
		long long free_pages = read_number(path);
		json_object *p = json_object_new_object();
		json_object_object_add(p, "size_kb", json_object_new_int64((int64_t)sizes[i]));
		json_object_object_add(p, "total", json_object_new_int64(total));
		json_object_object_add(p, "free", json_object_new_int64(free_pages));
		json_object_array_add(arr, p);
		if (total > 0)
			*total_pages += total;
		if (sizes[i] >= 1024 * 1024)
			snprintf(label, sizeof(label), "%shugepages %lluG", who, sizes[i] / (1024 * 1024));
		else
			snprintf(label, sizeof(label), "%shugepages %lluM", who, sizes[i] / 1024);
		say(o, label, NULL, "%lld total, %lld free", total, free_pages);
	}
	return arr;
}

static int compare_node_names(const void *a, const void *b)
{
	return atoi(*(char *const *)a + 4) - atoi(*(char *const *)b + 4);
}

static json_object *report_numa(struct caps_out *o)
{
	DIR *d = opendir("/sys/devices/system/node");
	if (!d)
		return NULL;
	char *names[256];
	unsigned n = 0;
	struct dirent *ent;
	while ((ent = readdir(d)) && n < 256) {
		unsigned node;
		char extra;
		if (sscanf(ent->d_name, "node%u%c", &node, &extra) == 1 &&
		    (names[n] = strdup(ent->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), compare_node_names);
	json_object *arr = json_object_new_array();
	for (unsigned i = 0; i < n; i++) {
		char dir[320], who[32];
		long long unused = 0;
		snprintf(dir, sizeof(dir), "/sys/devices/system/node/%s/hugepages", names[i]);
		snprintf(who, sizeof(who), "%s ", names[i]);
		json_object *node = json_object_new_object();
		json_object_object_add(node, "node", json_object_new_int(atoi(names[i] + 4)));
		json_object_object_add(node, "hugepages", report_pools(o, dir, who, &unused));
		json_object_array_add(arr, node);
		free(names[i]);
	}
	return arr;
}

static void report_memory(struct caps_out *o)
{
	json_object *mem = json_object_new_object();
	json_object_object_add(o->root, "memory", mem);
	report_thp(o, mem);
	long long reserved = 0;
	json_object_object_add(mem, "hugepages",
			       report_pools(o, "/sys/kernel/mm/hugepages", "", &reserved));
	if (reserved == 0)
		missing(o, "hugetlb pages", "no pool has pages reserved",
			"guest RAM cannot be backed by hugetlbfs until nr_hugepages is raised");
	json_object_object_add(mem, "numa_nodes", report_numa(o));
}

/* ---- entry point ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: ember caps [--json]\n"
		   "  Reports the host's CPU, KVM capabilities, AMD SVM/SEV support, PVM and memory\n"
		   "  (THP, hugetlb pools), naming what each missing feature costs.\n"
		   "  --json   one JSON object (schema: docs/caps-schema.md)\n");
}

int caps_main(int argc, char **argv)
{
	struct caps_out o = { .json = false };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o.json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "ember caps: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	o.root = json_object_new_object();
	o.missing = json_object_new_array();
	json_object_object_add(o.root, "schema", json_object_new_string("ember-caps/1"));

	struct host_facts h = { .vm_types = -1, .kvm_amd_sev = { -1, -1, -1 } };
	report_cpu(&o, &h);
	bool kvm_ok = report_kvm(&o, &h);
	report_kvm_amd(&o, &h);
	report_sev(&o, &h);
	report_supervisor(&o);
	report_memory(&o);

	json_object_object_add(o.root, "missing", o.missing);
	if (o.json)
		printf("%s\n", json_object_to_json_string_ext(o.root, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o.root);
	return kvm_ok ? 0 : 1;
}
