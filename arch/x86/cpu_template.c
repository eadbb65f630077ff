#include "cpu_template.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpuid.h"

#define TEMPLATE_FILE_MAX (1u << 20)   /* a template is a few KiB; refuse anything huge */
#define VENDOR_EBX_AMD 0x68747541u     /* "Auth" of AuthenticAMD */

/* ---- Built-in EPYC templates ----
 *
 * For each feature register: the bits a generation has (AMD PPRs for family 19h models 01h and
 * 11h, family 1Ah model 02h; cross-checked against KVM's CPUID support). Everything else in that
 * register is hidden, including features that later generations add, so a guest started on a
 * newer host keeps running after it moves to an older one. `quiet`: bits not worth a warning
 * when the host lacks them (set by Ember or KVM themselves, or depending on KVM's version). */
struct feature_mask {
	uint32_t leaf, subleaf;
	enum cpuid_reg reg;
	uint32_t allow, quiet;
};

#define M(leaf, sub, reg, allow, quiet) { leaf, sub, CPUID_REG_##reg, allow, quiet }

/* Registers the three generations show alike. */
#define COMMON_MASKS                                                                              \
	M(0x1, 0, ECX, 0xfffa320b, 0x89200008),  /* SSE3..AVX, F16C, RDRAND, PCID, MOVBE, x2APIC */  \
	M(0x1, 0, EDX, 0x178bfbff, 0x10000000),  /* FPU..SSE2 as on every EPYC; HTT from topology */ \
	M(0x7, 1, EDX, 0x00000000, 0),           /* nothing in 7.1 EDX on EPYC */                   \
	M(0xd, 0, EDX, 0x00000000, 0),           /* no XCR0 bits above 31 */                        \
	M(0xd, 1, EAX, 0x0000000f, 0),           /* XSAVEOPT, XSAVEC, XGETBV1, XSAVES */             \
	M(0xd, 1, ECX, 0x00001800, 0x00001800),  /* CET user/supervisor state (XSS) */              \
	M(0x80000001, 0, ECX, 0x00c003f7, 0x00c00006), /* LAHF..OSVW, SVM, TopoExt, PerfCtrCore */  \
	M(0x80000001, 0, EDX, 0x2fd3fbff, 0),    /* SYSCALL, NX, MmxExt, FFXSR, 1G pages, RDTSCP, LM */ \
	M(0x80000008, 0, EBX, 0x3302d207, 0x3302d002) /* CLZERO, XSAVEERPTR, WBNOINVD, IBPB, IBRS, \
	                                               STIBP(+always on), SSBD, VIRT_SSBD, PSFD, BTC_NO */

static const struct feature_mask milan_masks[] = {
	COMMON_MASKS,
	/* FSGSBASE, TSC_ADJUST, BMI1, AVX2, SMEP, BMI2, ERMS, INVPCID, RDSEED, ADX, SMAP,
	 * CLFLUSHOPT, CLWB, SHA */
	M(0x7, 0, EBX, 0x219c07ab, 0),
	/* UMIP, PKU, OSPKE, CET_SS, VAES, VPCLMULQDQ, RDPID */
	M(0x7, 0, ECX, 0x0040069c, 0x00000090),
	/* FSRM; SPEC_CTRL, STIBP, ARCH_CAPABILITIES, SSBD as KVM reports them */
	M(0x7, 0, EDX, 0xac000010, 0xac000000),
	M(0x7, 1, EAX, 0x00000000, 0),
	/* x87, SSE, AVX, PKRU state */
	M(0xd, 0, EAX, 0x00000207, 0x00000200),
	/* NoNestedDataBp, LFENCE serializing, null selector clears base, no SMM_CTL (KVM's own) */
	M(0x80000021, 0, EAX, 0x00000245, 0x00000245),
};

static const struct feature_mask genoa_masks[] = {
	COMMON_MASKS,
	/* Milan's + AVX512F, AVX512DQ, AVX512_IFMA, AVX512CD, AVX512BW, AVX512VL */
	M(0x7, 0, EBX, 0xf1bf07ab, 0),
	/* Milan's + AVX512_VBMI, AVX512_VBMI2, GFNI, AVX512_VNNI, AVX512_BITALG,
	 * AVX512_VPOPCNTDQ, LA57 */
	M(0x7, 0, ECX, 0x00415fde, 0x00000090),
	M(0x7, 0, EDX, 0xac000010, 0xac000000),
	/* AVX512_BF16 */
	M(0x7, 1, EAX, 0x00000020, 0),
	/* + opmask, ZMM_Hi256, Hi16_ZMM state */
	M(0xd, 0, EAX, 0x000002e7, 0x00000200),
	/* + Automatic IBRS */
	M(0x80000021, 0, EAX, 0x00000345, 0x00000245),
};

static const struct feature_mask turin_masks[] = {
	COMMON_MASKS,
	M(0x7, 0, EBX, 0xf1bf07ab, 0),
	/* Genoa's + MOVDIRI, MOVDIR64B */
	M(0x7, 0, ECX, 0x18415fde, 0x00000090),
	/* Genoa's + AVX512_VP2INTERSECT */
	M(0x7, 0, EDX, 0xac000110, 0xac000000),
	/* AVX-VNNI, AVX512_BF16 */
	M(0x7, 1, EAX, 0x00000030, 0),
	M(0xd, 0, EAX, 0x000002e7, 0x00000200),
	/* Genoa's + SBPB, IBPB_BRTYPE, SRSO_USER_KERNEL_NO */
	M(0x80000021, 0, EAX, 0x58000345, 0x58000245),
};

struct builtin_template {
	const char *name;
	uint32_t signature;     /* leaf 1 / 0x80000001 EAX: family, model, stepping */
	const struct feature_mask *masks;
	unsigned nmasks;
};

#define BUILTIN(name, sig, masks) { name, sig, masks, sizeof(masks) / sizeof(masks[0]) }
static const struct builtin_template builtins[] = {
	BUILTIN("epyc-milan", 0x00a00f11, milan_masks),  /* family 19h model 01h */
	BUILTIN("epyc-genoa", 0x00a10f11, genoa_masks),  /* family 19h model 11h */
	BUILTIN("epyc-turin", 0x00b00f21, turin_masks),  /* family 1Ah model 02h */
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

const char *const *cpu_template_builtin_names(void)
{
	static const char *const names[] = { "epyc-milan", "epyc-genoa", "epyc-turin", NULL };
	return names;
}

static bool leaf_has_subleaves(uint32_t leaf)
{
	return leaf == 0x7 || leaf == 0xd;
}

static int load_builtin(const struct builtin_template *b, struct cpu_template *t, struct error *e)
{
	t->cpuid = calloc(b->nmasks + 2, sizeof(*t->cpuid));
	if (!t->cpuid)
		return error_set(e, "out of memory");
	snprintf(t->name, sizeof(t->name), "%s", b->name);
	t->amd_only = true;
	for (unsigned i = 0; i < b->nmasks; i++) {
		const struct feature_mask *m = &b->masks[i];
		t->cpuid[t->ncpuid++] = (struct cpu_template_cpuid){
			.leaf = m->leaf, .subleaf = m->subleaf, .reg = m->reg, .keep = m->allow,
			.flags = leaf_has_subleaves(m->leaf) ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.expect = m->allow & ~m->quiet };
	}
	/* The signature; bits 31:28 and 15:14 are reserved and kept. */
	const uint32_t reserved = 0xf000c000u;
	t->cpuid[t->ncpuid++] = (struct cpu_template_cpuid){ .leaf = 1, .reg = CPUID_REG_EAX,
		.keep = reserved, .set = b->signature & ~reserved };
	t->cpuid[t->ncpuid++] = (struct cpu_template_cpuid){ .leaf = 0x80000001,
		.reg = CPUID_REG_EAX, .keep = reserved, .set = b->signature & ~reserved };
	return 0;
}

/* ---- Firecracker's JSON format ---- */

/* "0x1a" or "26", at most max. */
static int parse_number_string(json_object *o, const char *where, uint64_t max, uint64_t *out,
			       struct error *e)
{
	if (!json_object_is_type(o, json_type_string))
		return error_set(e, "%s: expected a string holding a number", where);
	const char *s = json_object_get_string(o);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end != '\0' || *s == '-')
		return error_set(e, "%s: '%.32s' is not a number", where, s);
	if (v > max)
		return error_set(e, "%s: %s is out of range (max 0x%llx)", where, s,
				 (unsigned long long)max);
	*out = v;
	return 0;
}

/* "0b" then exactly `width` of 0/1/x, '_' as a separator; most significant bit first. */
static int parse_bitmap(json_object *o, const char *where, unsigned width, uint64_t *keep,
			uint64_t *set, struct error *e)
{
	if (!json_object_is_type(o, json_type_string))
		return error_set(e, "%s: expected a \"0b...\" string", where);
	const char *s = json_object_get_string(o);
	if (strncmp(s, "0b", 2) != 0)
		return error_set(e, "%s: '%.40s' does not start with 0b", where, s);
	unsigned n = 0;
	*keep = *set = 0;
	for (const char *p = s + 2; *p; p++) {
		if (*p == '_')
			continue;
		if (*p != '0' && *p != '1' && *p != 'x')
			return error_set(e, "%s: '%c' is not 0, 1, x or _", where, *p);
		if (++n > width)
			break;
		*keep <<= 1;
		*set <<= 1;
		if (*p == 'x')
			*keep |= 1;
		else if (*p == '1')
			*set |= 1;
	}
	if (n > width)
		return error_set(e, "%s: more than %u bits", where, width);
	if (n < width)
		return error_set(e, "%s: %u bits, needs exactly %u", where, n, width);
	return 0;
}

static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

static int expect_array(json_object *o, const char *where, struct error *e)
{
	if (!json_object_is_type(o, json_type_array))
		return error_set(e, "%s: expected an array", where);
	return 0;
}

static int parse_register(json_object *o, const char *where, enum cpuid_reg *reg, struct error *e)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };
	const char *s = json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "";
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*reg = (enum cpuid_reg)i;
			return 0;
		}
	return error_set(e, "%s: register must be eax, ebx, ecx or edx", where);
}

/* Registers made of feature flags: forcing a bit the host lacks there is worth a warning
 * (elsewhere set bits are values: a signature, a cache size). */
static bool is_feature_register(uint32_t leaf, enum cpuid_reg reg)
{
	switch (leaf) {
	case 0x1: return reg == CPUID_REG_ECX || reg == CPUID_REG_EDX;
	case 0x7: return true;
	case 0xd: return reg == CPUID_REG_EAX;
	case 0x80000001: return reg == CPUID_REG_ECX || reg == CPUID_REG_EDX;
	case 0x80000008: return reg == CPUID_REG_EBX;
	case 0x80000021: return reg == CPUID_REG_EAX;
	default: return false;
	}
}

static int parse_cpuid_leaf(json_object *leaf, const char *where, struct cpu_template *t,
			    size_t room, struct error *e)
{
	char w[160];
	uint64_t fn, sub;
	json_object *flags = member(leaf, "flags"), *mods = member(leaf, "modifiers");
	json_object *jleaf = member(leaf, "leaf"), *jsub = member(leaf, "subleaf");
	if (!jleaf || !jsub)
		return error_set(e, "%s: needs \"leaf\" and \"subleaf\"", where);
	snprintf(w, sizeof(w), "%s.leaf", where);
	if (parse_number_string(jleaf, w, UINT32_MAX, &fn, e) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.subleaf", where);
	if (parse_number_string(jsub, w, UINT32_MAX, &sub, e) < 0)
		return -1;
	if (flags && !json_object_is_type(flags, json_type_int))
		return error_set(e, "%s.flags: expected an integer", where);
	snprintf(w, sizeof(w), "%s.modifiers", where);
	if (!mods || expect_array(mods, w, e) < 0)
		return error_set(e, "%s: needs a \"modifiers\" array", where);
	for (size_t i = 0; i < json_object_array_length(mods); i++) {
		json_object *m = json_object_array_get_idx(mods, i);
		struct cpu_template_cpuid c = { .leaf = (uint32_t)fn, .subleaf = (uint32_t)sub,
			.flags = flags ? (uint32_t)json_object_get_int(flags) : 0 };
		uint64_t keep, set;
		snprintf(w, sizeof(w), "%s.modifiers[%zu]", where, i);
		if (!json_object_is_type(m, json_type_object))
			return error_set(e, "%s: expected an object", w);
		if (parse_register(member(m, "register"), w, &c.reg, e) < 0)
			return -1;
		snprintf(w, sizeof(w), "%s.modifiers[%zu].bitmap", where, i);
		if (parse_bitmap(member(m, "bitmap"), w, 32, &keep, &set, e) < 0)
			return -1;
		c.keep = (uint32_t)keep;
		c.set = (uint32_t)set;
		c.expect = is_feature_register(c.leaf, c.reg) ? c.set : 0;
		if (t->ncpuid >= room)
			return error_set(e, "%s: too many modifiers", where);
		t->cpuid[t->ncpuid++] = c;
	}
	return 0;
}

static size_t count_cpuid_modifiers(json_object *arr)
{
	size_t n = 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *mods = member(json_object_array_get_idx(arr, i), "modifiers");
		if (mods && json_object_is_type(mods, json_type_array))
			n += json_object_array_length(mods);
	}
	return n;
}

static int parse_cpuid_modifiers(json_object *arr, struct cpu_template *t, struct error *e)
{
	if (expect_array(arr, "cpuid_modifiers", e) < 0)
		return -1;
	size_t room = count_cpuid_modifiers(arr);
	t->cpuid = calloc(room ? room : 1, sizeof(*t->cpuid));
	if (!t->cpuid)
		return error_set(e, "out of memory");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		char where[64];
		snprintf(where, sizeof(where), "cpuid_modifiers[%zu]", i);
		json_object *leaf = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(leaf, json_type_object))
			return error_set(e, "%s: expected an object", where);
		if (parse_cpuid_leaf(leaf, where, t, room, e) < 0)
			return -1;
	}
	return 0;
}

static int parse_msr_modifiers(json_object *arr, struct cpu_template *t, struct error *e)
{
	if (expect_array(arr, "msr_modifiers", e) < 0)
		return -1;
	size_t n = json_object_array_length(arr);
	t->msr = calloc(n ? n : 1, sizeof(*t->msr));
	if (!t->msr)
		return error_set(e, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char w[64];
		uint64_t addr;
		json_object *m = json_object_array_get_idx(arr, i);
		snprintf(w, sizeof(w), "msr_modifiers[%zu].addr", i);
		if (!json_object_is_type(m, json_type_object) || !member(m, "addr"))
			return error_set(e, "msr_modifiers[%zu]: needs \"addr\" and \"bitmap\"", i);
		if (parse_number_string(member(m, "addr"), w, UINT32_MAX, &addr, e) < 0)
			return -1;
		struct cpu_template_msr *msr = &t->msr[t->nmsr++];
		msr->index = (uint32_t)addr;
		snprintf(w, sizeof(w), "msr_modifiers[%zu].bitmap", i);
		if (parse_bitmap(member(m, "bitmap"), w, 64, &msr->keep, &msr->set, e) < 0)
			return -1;
	}
	return 0;
}

/* "171" requires KVM capability 171; "!172" removes one from Firecracker's own required list,
 * which Ember does not have, so it is accepted and ignored. */
static int parse_kvm_caps(json_object *arr, struct cpu_template *t, struct error *e)
{
	if (expect_array(arr, "kvm_capabilities", e) < 0)
		return -1;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		char w[64];
		uint64_t cap;
		json_object *o = json_object_array_get_idx(arr, i);
		snprintf(w, sizeof(w), "kvm_capabilities[%zu]", i);
		const char *s = json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "";
		if (s[0] == '!')
			continue;
		if (parse_number_string(o, w, 100000, &cap, e) < 0)
			return -1;
		if (t->nkvm_caps >= CPU_TEMPLATE_MAX_KVM_CAPS)
			return error_set(e, "%s: more than %d capabilities", w, CPU_TEMPLATE_MAX_KVM_CAPS);
		t->kvm_caps[t->nkvm_caps++] = (int)cap;
	}
	return 0;
}

static int parse_top_level(json_object *root, struct cpu_template *t, struct error *e)
{
	json_object_object_foreach(root, key, val) {
		if (strcmp(key, "cpuid_modifiers") == 0) {
			if (parse_cpuid_modifiers(val, t, e) < 0)
				return -1;
		} else if (strcmp(key, "msr_modifiers") == 0) {
			if (parse_msr_modifiers(val, t, e) < 0)
				return -1;
		} else if (strcmp(key, "kvm_capabilities") == 0) {
			if (parse_kvm_caps(val, t, e) < 0)
				return -1;
		} else if (strcmp(key, "vcpu_features") == 0 || strcmp(key, "reg_modifiers") == 0) {
			if (!json_object_is_type(val, json_type_array) || json_object_array_length(val))
				return error_set(e, "%s is for aarch64 hosts", key);
		} else {
			return error_set(e, "unknown key \"%s\" (cpuid_modifiers, msr_modifiers, "
					    "kvm_capabilities)", key);
		}
	}
	return 0;
}

int cpu_template_parse_json(const char *text, const char *origin, struct cpu_template *t,
			    struct error *e)
{
	memset(t, 0, sizeof(*t));
	const char *base = strrchr(origin, '/');
	snprintf(t->name, sizeof(t->name), "%s", base ? base + 1 : origin);
	enum json_tokener_error jerr;
	json_object *root = json_tokener_parse_verbose(text, &jerr);
	int rc;
	if (!root)
		rc = error_set(e, "not JSON: %s", json_tokener_error_desc(jerr));
	else if (!json_object_is_type(root, json_type_object))
		rc = error_set(e, "expected a JSON object");
	else
		rc = parse_top_level(root, t, e);
	json_object_put(root);
	if (rc < 0) {
		cpu_template_free(t);
		return error_prefix(e, "CPU template %s", origin);
	}
	return 0;
}

static int read_file(const char *path, char **out, struct error *e)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return error_errno(e, "--cpu-template: cannot open %s", path);
	char *buf = malloc(TEMPLATE_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, TEMPLATE_FILE_MAX + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf)
		return error_set(e, "out of memory");
	if (bad || n > TEMPLATE_FILE_MAX) {
		free(buf);
		return error_set(e, "--cpu-template: %s is %s", path,
				 bad ? "unreadable" : "larger than 1 MiB");
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int cpu_template_load(const char *name, struct cpu_template *t, struct error *e)
{
	memset(t, 0, sizeof(*t));
	if (strcmp(name, "host") == 0) {
		snprintf(t->name, sizeof(t->name), "host");
		return 0;
	}
	for (unsigned i = 0; i < NBUILTINS; i++)
		if (strcmp(name, builtins[i].name) == 0)
			return load_builtin(&builtins[i], t, e);
	if (!strchr(name, '/') && !strstr(name, ".json"))
		return error_set(e, "--cpu-template: '%s' is not host, epyc-milan, epyc-genoa, "
				    "epyc-turin or a .json file", name);
	char *text = NULL;
	if (read_file(name, &text, e) < 0)
		return -1;
	int rc = cpu_template_parse_json(text, name, t, e);
	free(text);
	return rc;
}

void cpu_template_free(struct cpu_template *t)
{
	free(t->cpuid);
	free(t->msr);
	t->cpuid = NULL;
	t->msr = NULL;
	t->ncpuid = t->nmsr = 0;
}

/* ---- Applying ---- */

static uint32_t *reg_of(struct kvm_cpuid_entry2 *ent, enum cpuid_reg reg)
{
	switch (reg) {
	case CPUID_REG_EAX: return &ent->eax;
	case CPUID_REG_EBX: return &ent->ebx;
	case CPUID_REG_ECX: return &ent->ecx;
	default: return &ent->edx;
	}
}

static const char *reg_name(enum cpuid_reg reg)
{
	static const char *const names[] = { "EAX", "EBX", "ECX", "EDX" };
	return names[reg & 3];
}

int cpu_template_check_host(const struct cpu_template *t, const struct kvm_cpuid2 *supported,
			    int kvm_fd, struct error *e)
{
	struct kvm_cpuid_entry2 *leaf0 = cpuid_find((struct kvm_cpuid2 *)supported, 0, 0);
	if (t->amd_only && (!leaf0 || leaf0->ebx != VENDOR_EBX_AMD)) {
		char vendor[13] = "unknown";
		if (leaf0) {
			memcpy(vendor, &leaf0->ebx, 4);
			memcpy(vendor + 4, &leaf0->edx, 4);
			memcpy(vendor + 8, &leaf0->ecx, 4);
			vendor[12] = '\0';
		}
		return error_set(e, "--cpu-template %s needs an AMD host (this one is %s)", t->name,
				 vendor);
	}
	for (unsigned i = 0; i < t->nkvm_caps; i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, t->kvm_caps[i]) <= 0)
			return error_set(e, "CPU template %s needs KVM capability %d, which this host "
					    "lacks", t->name, t->kvm_caps[i]);
	return 0;
}

int cpu_template_apply_cpuid(const struct cpu_template *t, struct kvm_cpuid2 *c, struct error *e)
{
	for (unsigned i = 0; i < t->ncpuid; i++) {
		const struct cpu_template_cpuid *m = &t->cpuid[i];
		struct kvm_cpuid_entry2 *ent = cpuid_find(c, m->leaf, m->subleaf);
		if (!ent) {
			if (!m->set)
				continue; /* clearing bits of an absent leaf changes nothing */
			if (c->nent >= CPUID_MAX_ENTRIES)
				return error_set(e, "CPU template %s: CPUID table full at leaf 0x%x", t->name,
						 m->leaf);
			ent = &c->entries[c->nent++];
			*ent = (struct kvm_cpuid_entry2){ .function = m->leaf, .index = m->subleaf,
							  .flags = m->flags };
		}
		uint32_t *r = reg_of(ent, m->reg);
		*r = (*r & m->keep) | m->set;
	}
	return 0;
}

unsigned cpu_template_missing(const struct cpu_template *t, const struct kvm_cpuid2 *supported,
			      char *buf, size_t size)
{
	unsigned count = 0;
	size_t used = 0;
	if (size)
		buf[0] = '\0';
	for (unsigned i = 0; i < t->ncpuid; i++) {
		const struct cpu_template_cpuid *m = &t->cpuid[i];
		struct kvm_cpuid_entry2 *ent = cpuid_find((struct kvm_cpuid2 *)supported, m->leaf,
							  m->subleaf);
		uint32_t lacking = m->expect & ~(ent ? *reg_of(ent, m->reg) : 0);
		if (!lacking)
			continue;
		count += (unsigned)__builtin_popcount(lacking);
		if (used < size) {
			int n = snprintf(buf + used, size - used, "%s0x%x.%u %s 0x%08x", used ? ", " : "",
					 m->leaf, m->subleaf, reg_name(m->reg), lacking);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	return count;
}

int cpu_template_apply_msrs(const struct cpu_template *t, int vcpu_fd, struct error *e)
{
	for (unsigned i = 0; i < t->nmsr; i++) {
		const struct cpu_template_msr *m = &t->msr[i];
		struct { struct kvm_msrs hdr; struct kvm_msr_entry ent; } one;
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.ent.index = m->index;
		if (ioctl(vcpu_fd, KVM_GET_MSRS, &one) != 1)
			return error_set(e, "CPU template %s: KVM cannot read MSR 0x%x", t->name,
					 m->index);
		one.ent.data = (one.ent.data & m->keep) | m->set;
		if (ioctl(vcpu_fd, KVM_SET_MSRS, &one) != 1)
			return error_set(e, "CPU template %s: KVM refuses MSR 0x%x = 0x%llx", t->name,
					 m->index, (unsigned long long)one.ent.data);
	}
	return 0;
}
