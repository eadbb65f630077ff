/* arch/x86/cpu_template.c: the built-in EPYC templates over Genoa/Turin/L1 tables, Firecracker's
 * JSON format (the real T2A template from /work/shared and broken documents), and, where
 * /dev/kvm opens, that KVM takes the result (CPUID and MSR modifiers). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/cpu_template.h"
#include "cpuid_fixtures.h"

#define LEAF7_EBX_AVX2     (1u << 5)
#define LEAF7_EBX_AVX512F  (1u << 16)
#define LEAF7_EBX_AVX512VL (1u << 31)
#define LEAF7_EBX_SHA      (1u << 29)
#define LEAF7_ECX_GFNI     (1u << 8)
#define LEAF7_ECX_VAES     (1u << 9)
#define LEAF7_ECX_LA57     (1u << 16)
#define LEAF7_ECX_MOVDIRI  (1u << 27)
#define LEAF7_EDX_VP2INTERSECT (1u << 8)
#define LEAF71_EAX_AVX_VNNI (1u << 4)
#define LEAF71_EAX_BF16     (1u << 5)

static struct cpu_template loaded(const char *name)
{
	struct cpu_template t;
	struct error e;
	cr_assert_eq(cpu_template_load(name, &t, &e), 0, "%s", e.msg);
	return t;
}

static void apply(const struct cpu_template *t, struct kvm_cpuid2 *c)
{
	struct error e;
	cr_assert_eq(cpu_template_apply_cpuid(t, c, &e), 0, "%s", e.msg);
}

static unsigned family_of(uint32_t eax)
{
	return bits(eax, 8, 11) + (bits(eax, 8, 11) == 0xf ? bits(eax, 20, 27) : 0);
}

static unsigned model_of(uint32_t eax)
{
	return bits(eax, 4, 7) | bits(eax, 16, 19) << 4;
}

Test(cpu_template_builtin, names)
{
	const char *const *n = cpu_template_builtin_names();
	cr_expect_str_eq(n[0], "epyc-milan");
	cr_expect_str_eq(n[1], "epyc-genoa");
	cr_expect_str_eq(n[2], "epyc-turin");
	cr_expect_null(n[3]);
	struct cpu_template t = loaded("host");
	cr_expect_eq(t.ncpuid + t.nmsr, 0u, "host changes nothing");
	cpu_template_free(&t);
}

Test(cpu_template_builtin, milan_on_genoa_hides_zen4)
{
	struct cpu_template t = loaded("epyc-milan");
	struct kvm_cpuid2 *c = epyc_table(false);
	apply(&t, c);
	struct kvm_cpuid_entry2 *l7 = must_find(c, 7, 0);
	cr_expect_not(l7->ebx & LEAF7_EBX_AVX512F, "AVX-512 hidden");
	cr_expect_not(l7->ebx & LEAF7_EBX_AVX512VL);
	cr_expect_not(l7->ecx & (LEAF7_ECX_GFNI | LEAF7_ECX_LA57), "GFNI, LA57 hidden");
	cr_expect(l7->ebx & LEAF7_EBX_AVX2, "AVX2 kept");
	cr_expect(l7->ebx & LEAF7_EBX_SHA, "SHA kept");
	cr_expect(l7->ecx & LEAF7_ECX_VAES, "VAES kept (Zen 3 has it)");
	cr_expect_eq(must_find(c, 7, 1)->eax, 0u, "BF16 hidden");
	cr_expect_eq(must_find(c, 0xd, 0)->eax, 0x207u, "no AVX-512 XSAVE state");
	cr_expect_not(must_find(c, 0x80000021, 0)->eax & (1u << 8), "AutoIBRS hidden");
	uint32_t sig = must_find(c, 1, 0)->eax;
	cr_expect_eq(family_of(sig), 0x19u);
	cr_expect_eq(model_of(sig), 0x01u);
	cr_expect_eq(must_find(c, 0x80000001, 0)->eax, sig, "both signature leaves agree");
	cr_expect_eq(must_find(c, 1, 0)->ebx, 0x3f800800u, "APIC id etc. left to normalization");
	char buf[256];
	cr_expect_eq(cpu_template_missing(&t, c, buf, sizeof(buf)), 0u, "Genoa has all of Milan: %s",
		     buf);
	cpu_template_free(&t);
	free(c);
}

Test(cpu_template_builtin, genoa_on_turin_hides_zen5)
{
	struct cpu_template t = loaded("epyc-genoa");
	struct kvm_cpuid2 *c = epyc_table(true);
	apply(&t, c);
	struct kvm_cpuid_entry2 *l7 = must_find(c, 7, 0);
	cr_expect(l7->ebx & LEAF7_EBX_AVX512F, "AVX-512 kept");
	cr_expect_not(l7->ecx & LEAF7_ECX_MOVDIRI, "MOVDIRI hidden");
	cr_expect_not(l7->edx & LEAF7_EDX_VP2INTERSECT, "VP2INTERSECT hidden");
	cr_expect_not(must_find(c, 7, 1)->eax & LEAF71_EAX_AVX_VNNI, "AVX-VNNI hidden");
	cr_expect(must_find(c, 7, 1)->eax & LEAF71_EAX_BF16, "BF16 kept");
	cr_expect_eq(must_find(c, 0x80000021, 0)->eax, 0x345u, "Zen 5 speculation bits hidden");
	cr_expect_eq(family_of(must_find(c, 1, 0)->eax), 0x19u);
	cr_expect_eq(model_of(must_find(c, 1, 0)->eax), 0x11u);
	cpu_template_free(&t);
	free(c);

	/* Turin on Turin keeps everything and says family 1Ah. */
	t = loaded("epyc-turin");
	c = epyc_table(true);
	struct kvm_cpuid2 *orig = epyc_table(true);
	apply(&t, c);
	cr_expect_eq(must_find(c, 7, 0)->ecx, must_find(orig, 7, 0)->ecx);
	cr_expect_eq(must_find(c, 7, 1)->eax, 0x30u);
	cr_expect_eq(family_of(must_find(c, 1, 0)->eax), 0x1au);
	cpu_template_free(&t);
	free(c);
	free(orig);
}

Test(cpu_template_builtin, newer_template_on_older_host_reports_what_is_missing)
{
	struct cpu_template t = loaded("epyc-genoa");
	struct kvm_cpuid2 *c = l1_epyc_table();
	char buf[256];
	unsigned n = cpu_template_missing(&t, c, buf, sizeof(buf));
	cr_expect_gt(n, 10u, "the L1's EPYC model lacks AVX-512 and more");
	cr_expect(strstr(buf, "0x7.0 EBX"), "%s", buf);
	apply(&t, c);
	cr_expect_not(must_find(c, 7, 0)->ebx & LEAF7_EBX_AVX512F, "a template never adds features");
	cpu_template_free(&t);
	free(c);
}

Test(cpu_template_builtin, refused_on_intel)
{
	struct cpu_template t = loaded("epyc-turin");
	struct kvm_cpuid2 *c = intel_table();
	struct error e;
	cr_expect_eq(cpu_template_check_host(&t, c, -1, &e), -1);
	cr_expect(strstr(e.msg, "needs an AMD host (this one is GenuineIntel)"), "%s", e.msg);
	cpu_template_free(&t);
	free(c);
}

/* ---- Firecracker JSON ---- */

static char *shared_path(const char *rel)
{
	static char path[512];
	const char *root = getenv("EMBER_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/../shared/firecracker-api/%s", root ? root : ".", rel);
	return path;
}

Test(cpu_template_json, firecrackers_t2a)
{
	const char *path = shared_path("cpu-templates/T2A.json");
	if (access(path, R_OK) != 0)
		cr_skip_test("%s not readable (set EMBER_SOURCE_ROOT)", path);
	struct cpu_template t = loaded(path);
	cr_expect_str_eq(t.name, "T2A.json");
	cr_expect_eq(t.nmsr, 0u);
	cr_assert_eq(t.ncpuid, 11u, "6 leaves, 11 register modifiers");
	/* leaf 1 EAX "0bxxxx000000000011xx00011011110010" */
	cr_expect_eq(t.cpuid[0].leaf, 1u);
	cr_expect_eq(t.cpuid[0].reg, CPUID_REG_EAX);
	cr_expect_eq(t.cpuid[0].keep, 0xf000c000u);
	cr_expect_eq(t.cpuid[0].set, 0x000306f2u);
	struct kvm_cpuid2 *c = epyc_table(false);
	apply(&t, c);
	cr_expect_eq(must_find(c, 1, 0)->eax, 0x000306f2u);
	/* leaf 7 EBX "0b00000000000x000000x00x1xxxx0x0xx": AVX-512 gone, ERMS forced on. */
	uint32_t ebx = must_find(c, 7, 0)->ebx;
	cr_expect_eq(ebx, (0xf1bf07abu & 0x001025ebu) | 0x200u);
	cr_expect_not(ebx & LEAF7_EBX_AVX512F);
	cpu_template_free(&t);
	free(c);
}

static void expect_json_error(const char *json, const char *needle)
{
	struct cpu_template t;
	struct error e = { "" };
	cr_expect_eq(cpu_template_parse_json(json, "t.json", &t, &e), -1, "accepted: %s", json);
	cr_expect(strstr(e.msg, needle), "'%s' lacks '%s'", e.msg, needle);
	cr_expect(strstr(e.msg, "CPU template t.json"), "%s", e.msg);
}

#define ONE_LEAF(body) "{\"cpuid_modifiers\":[{\"leaf\":\"0x7\",\"subleaf\":\"0\",\"flags\":1," body "}]}"

Test(cpu_template_json, broken_documents)
{
	expect_json_error("{", "not JSON");
	expect_json_error("[]", "expected a JSON object");
	expect_json_error("{\"cpu_modifiers\":[]}", "unknown key \"cpu_modifiers\"");
	expect_json_error("{\"cpuid_modifiers\":{}}", "cpuid_modifiers: expected an array");
	expect_json_error("{\"cpuid_modifiers\":[{\"leaf\":7,\"subleaf\":\"0\",\"modifiers\":[]}]}",
			  "cpuid_modifiers[0].leaf: expected a string");
	expect_json_error("{\"cpuid_modifiers\":[{\"leaf\":\"0x7\",\"modifiers\":[]}]}",
			  "needs \"leaf\" and \"subleaf\"");
	expect_json_error(ONE_LEAF("\"modifiers\":[{\"register\":\"rax\",\"bitmap\":\"0b1\"}]"),
			  "register must be eax");
	expect_json_error(ONE_LEAF("\"modifiers\":[{\"register\":\"ebx\",\"bitmap\":\"0b101\"}]"),
			  "modifiers[0].bitmap: 3 bits, needs exactly 32");
	expect_json_error(ONE_LEAF("\"modifiers\":[{\"register\":\"ebx\",\"bitmap\":"
				   "\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1\"}]"), "more than 32 bits");
	expect_json_error(ONE_LEAF("\"modifiers\":[{\"register\":\"ebx\",\"bitmap\":"
				   "\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx2\"}]"), "'2' is not 0, 1, x");
	expect_json_error("{\"msr_modifiers\":[{\"addr\":\"0x1a0\",\"bitmap\":\"0b1\"}]}",
			  "msr_modifiers[0].bitmap: 1 bits, needs exactly 64");
	expect_json_error("{\"msr_modifiers\":[{\"addr\":\"-1\",\"bitmap\":\"0b1\"}]}",
			  "is not a number");
	expect_json_error("{\"reg_modifiers\":[{\"addr\":\"0x1\",\"bitmap\":\"0b1\"}]}",
			  "aarch64");
	expect_json_error("{\"kvm_capabilities\":[\"abc\"]}", "kvm_capabilities[0]");
}

Test(cpu_template_json, msrs_capabilities_and_separators)
{
	const char *json =
		"{\"kvm_capabilities\":[\"171\",\"!172\"],\"vcpu_features\":[],"
		"\"cpuid_modifiers\":[{\"leaf\":\"0x80000001\",\"subleaf\":\"0x0\",\"flags\":0,"
		"\"modifiers\":[{\"register\":\"ecx\",\"bitmap\":"
		"\"0bxxxx_xxxx_xxxx_xxxx_xxxx_xxxx_xxxx_x0xx\"}]}],"
		"\"msr_modifiers\":[{\"addr\":\"0x1a0\",\"bitmap\":"
		"\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0\"}]}";
	struct cpu_template t;
	struct error e;
	cr_assert_eq(cpu_template_parse_json(json, "dir/x.json", &t, &e), 0, "%s", e.msg);
	cr_expect_str_eq(t.name, "x.json");
	cr_expect_eq(t.nkvm_caps, 1u, "\"!172\" is ignored");
	cr_expect_eq(t.kvm_caps[0], 171);
	cr_assert_eq(t.ncpuid, 1u);
	cr_expect_eq(t.cpuid[0].keep, ~4u, "'_' separates, bit 2 cleared");
	cr_assert_eq(t.nmsr, 1u);
	cr_expect_eq(t.msr[0].index, 0x1a0u);
	cr_expect_eq(t.msr[0].keep, ~1ull);
	cpu_template_free(&t);
}

Test(cpu_template_json, absent_leaves_are_added_only_to_set_bits)
{
	const char *json =
		"{\"cpuid_modifiers\":["
		"{\"leaf\":\"0x12\",\"subleaf\":\"0x1\",\"flags\":1,\"modifiers\":[{\"register\":"
		"\"eax\",\"bitmap\":\"0b0000000000000000000000000000000x\"}]},"
		"{\"leaf\":\"0x13\",\"subleaf\":\"0x2\",\"flags\":1,\"modifiers\":[{\"register\":"
		"\"edx\",\"bitmap\":\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1x\"}]}]}";
	struct cpu_template t;
	struct error e;
	cr_assert_eq(cpu_template_parse_json(json, "t.json", &t, &e), 0, "%s", e.msg);
	struct kvm_cpuid2 *c = intel_table();
	uint32_t before = c->nent;
	apply(&t, c);
	cr_expect_null(cpuid_find(c, 0x12, 1), "clearing bits of nothing adds nothing");
	struct kvm_cpuid_entry2 *added = must_find(c, 0x13, 2);
	cr_expect_eq(added->edx, 2u);
	cr_expect_eq(added->flags, (uint32_t)SIG);
	cr_expect_eq(c->nent, before + 1);
	cpu_template_free(&t);
	free(c);
}

Test(cpu_template_load, names_files_and_errors)
{
	struct cpu_template t;
	struct error e;
	cr_expect_eq(cpu_template_load("epyc-rome", &t, &e), -1);
	cr_expect(strstr(e.msg, "'epyc-rome' is not host, epyc-milan"), "%s", e.msg);
	cr_expect_eq(cpu_template_load("/nonexistent/t.json", &t, &e), -1);
	cr_expect(strstr(e.msg, "cannot open /nonexistent/t.json"), "%s", e.msg);
}

/* ---- KVM ---- */

static int open_kvm_or_skip(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("cannot open /dev/kvm: %s", strerror(errno));
	return fd;
}

Test(cpu_template_kvm, cpuid_and_msr_modifiers_reach_the_vcpu)
{
	int kvm = open_kvm_or_skip();
	struct kvm_cpuid2 *c = NULL;
	struct error e;
	cr_assert_eq(cpuid_get_supported(kvm, &c, &e), 0, "%s", e.msg);
	/* Hide AVX2 (7.0 EBX bit 5); clear IA32_MISC_ENABLE fast strings (bit 0). */
	const char *json =
		"{\"cpuid_modifiers\":[{\"leaf\":\"0x7\",\"subleaf\":\"0x0\",\"flags\":1,"
		"\"modifiers\":[{\"register\":\"ebx\",\"bitmap\":"
		"\"0bxxxxxxxxxxxxxxxxxxxxxxxxxx0xxxxx\"}]}],"
		"\"msr_modifiers\":[{\"addr\":\"0x1a0\",\"bitmap\":"
		"\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0\"}]}";
	struct cpu_template t;
	cr_assert_eq(cpu_template_parse_json(json, "t.json", &t, &e), 0, "%s", e.msg);
	cr_assert_eq(cpu_template_check_host(&t, c, kvm, &e), 0, "%s", e.msg);
	apply(&t, c);
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	cr_assert_geq(vcpu, 0);
	struct cpuid_topology topo = { 1, 1, 1, 1 };
	cr_assert_eq(cpuid_apply(vcpu, c, &topo, 0, &e), 0, "%s", e.msg);
	struct { struct kvm_msrs hdr; struct kvm_msr_entry ent; } m = { .hdr.nmsrs = 1 };
	m.ent.index = 0x1a0;
	m.ent.data = 1; /* fast strings on, as regs.c leaves it */
	cr_assert_eq(ioctl(vcpu, KVM_SET_MSRS, &m), 1);
	cr_assert_eq(cpu_template_apply_msrs(&t, vcpu, &e), 0, "%s", e.msg);
	cr_assert_eq(ioctl(vcpu, KVM_GET_MSRS, &m), 1);
	cr_expect_eq(m.ent.data & 1, 0u, "fast strings cleared by the template");

	struct kvm_cpuid2 *got = table_new();
	got->nent = CPUID_MAX_ENTRIES;
	cr_assert_eq(ioctl(vcpu, KVM_GET_CPUID2, got), 0, "%s", strerror(errno));
	/* PVM's KVM_GET_CPUID2 reports host values for leaf 7, not what was set. */
	struct kvm_cpuid_entry2 *l7 = cpuid_find(got, 7, 0);
	if (l7 && access("/sys/module/kvm_pvm", F_OK) != 0)
		cr_expect_not(l7->ebx & LEAF7_EBX_AVX2, "AVX2 hidden from the vCPU");

	struct cpu_template bad = { .name = "t", .nmsr = 1,
		.msr = &(struct cpu_template_msr){ .index = 0x12345678, .keep = ~0ull } };
	cr_expect_eq(cpu_template_apply_msrs(&bad, vcpu, &e), -1);
	cr_expect(strstr(e.msg, "cannot read MSR 0x12345678"), "%s", e.msg);
	struct cpu_template needs = { .name = "t", .nkvm_caps = 1, .kvm_caps = { 99999 } };
	cr_expect_eq(cpu_template_check_host(&needs, c, kvm, &e), -1);
	cr_expect(strstr(e.msg, "needs KVM capability 99999"), "%s", e.msg);
	cpu_template_free(&t);
	free(got);
	free(c);
	close(vcpu);
	close(vm);
	close(kvm);
}
