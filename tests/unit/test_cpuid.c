/* cpuid_normalize over synthetic host templates (an EPYC Genoa-like AMD table and an Intel one),
 * plus, when /dev/kvm can be opened, the KVM-facing side: cpuid_get_supported, cpuid_apply, and
 * the boot register state of regs.c running two tiny guests (64-bit and PVH 32-bit). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/regs.h"
#include "vmm/guest_mem.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static struct kvm_cpuid2 *table_new(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	cr_assert_not_null(c);
	return c;
}

static void add(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx, uint32_t flags, uint32_t eax,
		uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	cr_assert_lt(c->nent, CPUID_MAX_ENTRIES);
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = fn, .index = idx, .flags = flags,
		.eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
	};
}

static void add_kvm_leaves(struct kvm_cpuid2 *c)
{
	add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d); /* KVMKVMKVM */
	add(c, 0x40000001, 0, 0, 0x01007efb, 0, 0, 0);
}

/* What KVM_GET_SUPPORTED_CPUID could return on a 64-core EPYC 9554 (Genoa) host, with the host's
 * own topology (APIC id 0x3f, 128 threads) still in it. */
static struct kvm_cpuid2 *epyc_template(void)
{
	struct kvm_cpuid2 *c = table_new();
	add(c, 0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65); /* AuthenticAMD */
	add(c, 1, 0, 0, 0x00a10f11, 0x3f800800, 0x7ed8320b, 0x178bfbff);
	add(c, 0xb, 0, SIG, 1, 2, 0x0100, 0x3f);
	add(c, 0xb, 1, SIG, 7, 0x80, 0x0201, 0x3f);
	add(c, 0xb, 2, SIG, 0, 0, 0x0002, 0x3f);
	add_kvm_leaves(c);
	add(c, 0x80000000, 0, 0, 0x80000026, 0x68747541, 0x444d4163, 0x69746e65);
	add(c, 0x80000001, 0, 0, 0x00a10f11, 0, 0x75c237ff, 0x2fd3fbff);
	add(c, 0x80000008, 0, 0, 0x00003030, 0x111ef657, 0x0001707f, 0);
	add(c, 0x8000001d, 0, SIG, 0x00004121, 0x01c0003f, 0x0000003f, 0);  /* L1d, 2 threads */
	add(c, 0x8000001d, 1, SIG, 0x00004122, 0x01c0003f, 0x0000003f, 0);  /* L1i */
	add(c, 0x8000001d, 2, SIG, 0x00004143, 0x01c0003f, 0x000007ff, 2);  /* L2 */
	add(c, 0x8000001d, 3, SIG, 0x0003c163, 0x03c0003f, 0x00007fff, 1);  /* L3, 16 threads */
	add(c, 0x8000001d, 4, SIG, 0, 0, 0, 0);
	add(c, 0x8000001e, 0, 0, 0x3f, 0x0000011f, 0x00000000, 0);
	add(c, 0x80000026, 0, SIG, 1, 2, 0x0100, 0x3f);
	return c;
}

/* An Intel host table with leaf 4 caches and the PVM-style 0xB that has only a terminating
 * subleaf. */
static struct kvm_cpuid2 *intel_template(void)
{
	struct kvm_cpuid2 *c = table_new();
	add(c, 0, 0, 0, 0x1c, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	add(c, 1, 0, 0, 0x000c06f2, 0x01020800, 0x81202008, 0x0f8bfbff);
	add(c, 4, 0, SIG, 0x04000121, 0x02c0003f, 0x3f, 0);
	add(c, 4, 1, SIG, 0x04000122, 0x01c0003f, 0x3f, 0);
	add(c, 4, 2, SIG, 0x04000143, 0x03c0003f, 0x7ff, 0);
	add(c, 4, 3, SIG, 0x04004163, 0x04c0003f, 0x33fff, 0);
	add(c, 4, 4, SIG, 0, 0, 0, 0);
	add(c, 0xb, 0, SIG, 0, 0, 0, 1);
	add_kvm_leaves(c);
	add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(c, 0x80000008, 0, 0, 0x00003930, 0, 0, 0);
	return c;
}

static struct kvm_cpuid2 *normalized(struct kvm_cpuid2 *(*tmpl)(void), unsigned ncpus,
				     unsigned threads, unsigned cores, unsigned sockets, unsigned index)
{
	struct kvm_cpuid2 *c = tmpl();
	struct cpuid_topology t = { ncpus, threads, cores, sockets };
	cpuid_normalize(c, &t, index);
	return c;
}

static struct kvm_cpuid_entry2 *must_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);
	cr_assert_not_null(e, "leaf 0x%x.%u missing", fn, idx);
	return e;
}

static unsigned bits(uint32_t v, unsigned lo, unsigned hi)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static unsigned cache_sharing(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	return bits(must_find(c, fn, idx)->eax, 14, 25) + 1;
}

Test(cpuid_find, honours_significant_index)
{
	struct kvm_cpuid2 *c = epyc_template();
	cr_expect_eq(must_find(c, 0xb, 1)->eax, 7u);
	cr_expect_null(cpuid_find(c, 0xb, 7));
	/* Leaves without a significant index match whatever index is asked for. */
	cr_expect_eq(must_find(c, 1, 5)->function, 1u);
	cr_expect_null(cpuid_find(c, 0x12345678, 0));
	free(c);
}

Test(cpuid_normalize, one_vcpu)
{
	struct kvm_cpuid2 *c = normalized(epyc_template, 1, 1, 1, 1, 0);
	struct kvm_cpuid_entry2 *l1 = must_find(c, 1, 0);
	cr_expect_eq(bits(l1->ebx, 24, 31), 0u, "APIC id");
	cr_expect_eq(bits(l1->ebx, 16, 23), 1u, "logical count");
	cr_expect_eq(bits(l1->ebx, 8, 15), 8u, "CLFLUSH size kept");
	cr_expect(l1->ecx & (1u << 31), "hypervisor bit");
	cr_expect(l1->ecx & (1u << 21), "x2APIC bit");
	cr_expect_not(l1->ecx & (1u << 3), "MONITOR cleared");
	cr_expect_not(l1->edx & (1u << 28), "HTT clear for one logical CPU");
	cr_expect_not(must_find(c, 0x80000001, 0)->ecx & 2u, "CmpLegacy clear");
	struct kvm_cpuid_entry2 *sz = must_find(c, 0x80000008, 0);
	cr_expect_eq(bits(sz->ecx, 0, 7), 0u, "NC");
	cr_expect_eq(bits(sz->ecx, 12, 15), 0u, "ApicIdSize");
	cr_expect_eq(bits(sz->ecx, 16, 17), 1u, "PerfTscSize kept");
	cr_expect_eq(sz->eax, 0x3030u, "address sizes kept");
	cr_expect_eq(must_find(c, 0xb, 0)->ebx, 1u);
	cr_expect_eq(must_find(c, 0xb, 1)->ebx, 1u);
	cr_expect_eq(must_find(c, 0xb, 1)->eax, 0u);
	cr_expect_eq(must_find(c, 0x8000001e, 0)->ebx, 0u);
	cr_expect_eq(cache_sharing(c, 0x8000001d, 0), 1u);
	cr_expect_eq(cache_sharing(c, 0x8000001d, 3), 1u);
	free(c);
}

Test(cpuid_normalize, four_vcpus_apic_ids_and_topology)
{
	for (unsigned i = 0; i < 4; i++) {
		struct kvm_cpuid2 *c = normalized(epyc_template, 4, 1, 4, 1, i);
		struct kvm_cpuid_entry2 *l1 = must_find(c, 1, 0);
		cr_expect_eq(bits(l1->ebx, 24, 31), i, "vCPU %u APIC id", i);
		cr_expect_eq(bits(l1->ebx, 16, 23), 4u);
		cr_expect(l1->edx & (1u << 28), "HTT set for 4 logical CPUs");
		cr_expect(must_find(c, 0x80000001, 0)->ecx & 2u, "CmpLegacy");
		cr_expect(must_find(c, 0x80000001, 0)->ecx & (1u << 22), "TopologyExtensions kept");
		struct kvm_cpuid_entry2 *sz = must_find(c, 0x80000008, 0);
		cr_expect_eq(bits(sz->ecx, 0, 7), 3u, "NC");
		cr_expect_eq(bits(sz->ecx, 12, 15), 2u, "ApicIdSize");
		struct kvm_cpuid_entry2 *smt = must_find(c, 0xb, 0), *core = must_find(c, 0xb, 1);
		cr_expect_eq(smt->eax, 0u);
		cr_expect_eq(smt->ebx, 1u);
		cr_expect_eq(smt->ecx, 0x100u);
		cr_expect_eq(core->eax, 2u);
		cr_expect_eq(core->ebx, 4u);
		cr_expect_eq(core->ecx, 0x201u);
		cr_expect_eq(smt->edx, i);
		cr_expect_eq(core->edx, i);
		cr_expect_eq(must_find(c, 0xb, 2)->ecx, 2u, "terminating level");
		cr_expect_eq(must_find(c, 0xb, 2)->edx, i);
		struct kvm_cpuid_entry2 *ids = must_find(c, 0x8000001e, 0);
		cr_expect_eq(ids->eax, i, "extended APIC id");
		cr_expect_eq(ids->ebx, i, "core id, one thread per core");
		cr_expect_eq(ids->ecx, 0u, "node id");
		cr_expect_eq(cache_sharing(c, 0x8000001d, 0), 1u, "L1d per core");
		cr_expect_eq(cache_sharing(c, 0x8000001d, 2), 1u, "L2 per core");
		cr_expect_eq(cache_sharing(c, 0x8000001d, 3), 4u, "L3 per socket");
		cr_expect_eq(must_find(c, 0x8000001d, 3)->ecx, 0x7fffu, "cache sets kept");
		free(c);
	}
}

Test(cpuid_normalize, eight_vcpus_two_threads_per_core)
{
	for (unsigned i = 0; i < 8; i++) {
		struct kvm_cpuid2 *c = normalized(epyc_template, 8, 2, 4, 1, i);
		cr_expect_eq(bits(must_find(c, 1, 0)->ebx, 24, 31), i);
		cr_expect_eq(bits(must_find(c, 1, 0)->ebx, 16, 23), 8u);
		struct kvm_cpuid_entry2 *sz = must_find(c, 0x80000008, 0);
		cr_expect_eq(bits(sz->ecx, 0, 7), 7u, "NC");
		cr_expect_eq(bits(sz->ecx, 12, 15), 3u, "ApicIdSize");
		struct kvm_cpuid_entry2 *smt = must_find(c, 0xb, 0), *core = must_find(c, 0xb, 1);
		cr_expect_eq(smt->eax, 1u, "SMT shift");
		cr_expect_eq(smt->ebx, 2u, "threads per core");
		cr_expect_eq(core->eax, 3u, "core shift");
		cr_expect_eq(core->ebx, 8u, "logical per package");
		struct kvm_cpuid_entry2 *ids = must_find(c, 0x8000001e, 0);
		cr_expect_eq(ids->eax, i);
		cr_expect_eq(bits(ids->ebx, 0, 7), i / 2, "vCPU %u core id", i);
		cr_expect_eq(bits(ids->ebx, 8, 15), 1u, "threads per core - 1");
		cr_expect_eq(ids->ecx, 0u);
		cr_expect_eq(cache_sharing(c, 0x8000001d, 0), 2u, "L1d shared by the SMT siblings");
		cr_expect_eq(cache_sharing(c, 0x8000001d, 1), 2u, "L1i");
		cr_expect_eq(cache_sharing(c, 0x8000001d, 2), 2u, "L2");
		cr_expect_eq(cache_sharing(c, 0x8000001d, 3), 8u, "L3");
		free(c);
	}
}

Test(cpuid_normalize, two_sockets)
{
	/* 8 vCPUs: 2 sockets x 2 cores x 2 threads; vCPU 6 = socket 1, core 1, thread 0. */
	struct kvm_cpuid2 *c = normalized(epyc_template, 8, 2, 2, 2, 6);
	cr_expect_eq(bits(must_find(c, 1, 0)->ebx, 16, 23), 4u, "logical per package");
	cr_expect_eq(bits(must_find(c, 0x80000008, 0)->ecx, 0, 7), 3u, "NC per package");
	cr_expect_eq(must_find(c, 0xb, 1)->eax, 2u, "package shift");
	struct kvm_cpuid_entry2 *ids = must_find(c, 0x8000001e, 0);
	cr_expect_eq(ids->eax, 6u);
	cr_expect_eq(bits(ids->ebx, 0, 7), 1u, "core within package");
	cr_expect_eq(ids->ecx, 1u, "one node per package");
	cr_expect_eq(cache_sharing(c, 0x8000001d, 3), 4u, "L3 per socket");
	free(c);
}

Test(cpuid_normalize, default_topology_fields)
{
	/* Zeroed threads/cores/sockets mean 1 thread, all vCPUs in one socket. */
	struct kvm_cpuid2 *c = normalized(epyc_template, 4, 0, 0, 0, 3);
	cr_expect_eq(bits(must_find(c, 1, 0)->ebx, 16, 23), 4u);
	cr_expect_eq(must_find(c, 0xb, 1)->ebx, 4u);
	cr_expect_eq(bits(must_find(c, 0x8000001e, 0)->ebx, 0, 7), 3u);
	free(c);
}

Test(cpuid_normalize, kvm_leaves_untouched)
{
	struct kvm_cpuid2 *c = normalized(epyc_template, 8, 2, 4, 1, 5);
	struct kvm_cpuid_entry2 *sig = must_find(c, 0x40000000, 0);
	char name[13];
	memcpy(name, &sig->ebx, 4);
	memcpy(name + 4, &sig->ecx, 4);
	memcpy(name + 8, &sig->edx, 4);
	name[12] = '\0';
	cr_expect_str_eq(name, "KVMKVMKVM");
	cr_expect_eq(sig->eax, 0x40000001u);
	cr_expect_eq(must_find(c, 0x40000001, 0)->eax, 0x01007efbu, "kvmclock etc. kept");
	free(c);
}

Test(cpuid_normalize, amd_extended_topology_leaf_hidden)
{
	struct kvm_cpuid2 *c = normalized(epyc_template, 4, 1, 4, 1, 1);
	struct kvm_cpuid_entry2 *e = must_find(c, 0x80000026, 0);
	cr_expect_eq(bits(e->ecx, 8, 15), 0u, "host CCX/socket levels must not leak");
	free(c);
}

Test(cpuid_normalize, intel_leaf4_and_missing_0xb_levels)
{
	struct kvm_cpuid2 *c = normalized(intel_template, 8, 2, 4, 1, 5);
	struct kvm_cpuid_entry2 *l1 = must_find(c, 1, 0);
	cr_expect_eq(bits(l1->ebx, 24, 31), 5u);
	cr_expect_not(l1->ecx & (1u << 3), "MONITOR cleared");
	cr_expect(l1->edx & (1u << 28), "HTT");
	static const unsigned type_level[4] = { 0x21, 0x22, 0x43, 0x63 };
	for (unsigned sub = 0; sub < 4; sub++) {
		struct kvm_cpuid_entry2 *e = must_find(c, 4, sub);
		unsigned level = bits(e->eax, 5, 7);
		cr_expect_eq(bits(e->eax, 26, 31), 3u, "cores per package - 1 (subleaf %u)", sub);
		cr_expect_eq(bits(e->eax, 14, 25), level == 3 ? 7u : 1u, "sharing (subleaf %u)", sub);
		cr_expect_eq(bits(e->eax, 0, 7), type_level[sub], "type/level kept");
	}
	cr_expect_eq(must_find(c, 4, 4)->eax, 0u, "null cache leaf untouched");
	/* KVM under PVM offers 0xB with a single invalid level: SMT and core levels are added. */
	struct kvm_cpuid_entry2 *smt = must_find(c, 0xb, 0), *core = must_find(c, 0xb, 1);
	cr_expect_eq(smt->ecx, 0x100u);
	cr_expect_eq(smt->eax, 1u);
	cr_expect_eq(core->ecx, 0x201u);
	cr_expect_eq(core->eax, 3u);
	cr_expect_eq(core->edx, 5u);
	cr_expect(core->flags & SIG);
	cr_expect_eq(must_find(c, 0xb, 2)->ecx, 0x2u);
	cr_expect_eq(must_find(c, 0x80000008, 0)->ecx, 0u, "AMD-only fields untouched on Intel");
	free(c);
}

Test(cpuid_normalize, odd_core_count_keeps_apic_space)
{
	/* 3 cores need 2 APIC id bits; leaf 1's count must round up to cover them. */
	struct kvm_cpuid2 *c = normalized(epyc_template, 6, 2, 3, 1, 4);
	unsigned count = bits(must_find(c, 1, 0)->ebx, 16, 23);
	cr_expect_geq(count, 6u);
	cr_expect_eq(must_find(c, 0xb, 1)->eax, 3u, "1 SMT bit + 2 core bits");
	cr_expect_eq(bits(must_find(c, 0x80000008, 0)->ecx, 0, 7), 5u, "NC counts real threads");
	cr_expect_eq(bits(must_find(c, 0x80000008, 0)->ecx, 12, 15), 3u, "ApicIdSize");
	free(c);
}

/* ---- real KVM (skipped when /dev/kvm cannot be opened) ---- */

static int open_kvm_or_skip(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("cannot open /dev/kvm: %s", strerror(errno));
	return fd;
}

Test(cpuid_kvm, get_supported_has_leaf_0)
{
	int kvm = open_kvm_or_skip();
	struct kvm_cpuid2 *c = NULL;
	struct error e;
	cr_assert_eq(cpuid_get_supported(kvm, &c, &e), 0, "%s", e.msg);
	cr_assert_gt(c->nent, 1u);
	struct kvm_cpuid_entry2 *l0 = cpuid_find(c, 0, 0);
	cr_assert_not_null(l0, "leaf 0 missing");
	cr_expect_geq(l0->eax, 1u, "max basic leaf");
	cr_expect_not_null(cpuid_find(c, 0x40000000, 0), "KVM signature leaf");
	free(c);
	close(kvm);
}

Test(cpuid_kvm, apply_accepted_by_kvm)
{
	int kvm = open_kvm_or_skip();
	struct kvm_cpuid2 *tmpl = NULL;
	struct error e;
	cr_assert_eq(cpuid_get_supported(kvm, &tmpl, &e), 0, "%s", e.msg);
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0, "KVM_CREATE_VM: %s", strerror(errno));
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 1UL);
	cr_assert_geq(vcpu, 0, "KVM_CREATE_VCPU: %s", strerror(errno));
	struct cpuid_topology t = { 4, 2, 2, 1 };
	cr_assert_eq(cpuid_apply(vcpu, tmpl, &t, 1, &e), 0, "%s", e.msg);

	struct kvm_cpuid2 *got = table_new();
	got->nent = CPUID_MAX_ENTRIES;
	cr_assert_eq(ioctl(vcpu, KVM_GET_CPUID2, got), 0, "KVM_GET_CPUID2: %s", strerror(errno));
	struct kvm_cpuid_entry2 *l1 = cpuid_find(got, 1, 0);
	cr_assert_not_null(l1);
	cr_expect_eq(bits(l1->ebx, 24, 31), 1u, "APIC id of vCPU 1");
	cr_expect(l1->ecx & (1u << 31), "hypervisor bit");
	struct kvm_cpuid_entry2 *core = cpuid_find(got, 0xb, 1);
	if (cpuid_find(tmpl, 0xb, 0)) {
		cr_assert_not_null(core, "0xB core level");
		cr_expect_eq(core->ebx, 4u);
	}
	free(got);
	free(tmpl);
	close(vcpu);
	close(vm);
	close(kvm);
}

/* Tiny guests: each reports over `out` what it finds, reloads CS and data selectors from the
 * boot GDT, and reads a GDT descriptor back through the (identity-mapped) data segment. */
#define GUEST_ENTRY 0x100000ULL
#define GUEST_BOOT_ARG 0x7000ULL
#define GUEST_STACK 0x1f000ULL

extern const uint8_t guest64_start[], guest64_end[], guest32_start[], guest32_end[];
__asm__(".pushsection .rodata\n"
	".code64\n"
	"guest64_start:\n"
	"  mov %esi, %eax\n  out %eax, $0x10\n"
	"  mov %ds, %eax\n   out %eax, $0x11\n"
	"  pushq $0x10\n"
	"  lea 1f(%rip), %rax\n  push %rax\n  lretq\n"
	"1: mov %cs, %eax\n  out %eax, $0x12\n"
	"  mov $0x18, %eax\n  mov %eax, %ds\n  mov %eax, %ss\n"
	"  mov 0x5014, %eax\n  out %eax, $0x13\n"
	"2: jmp 2b\n"
	"guest64_end:\n"
	".code32\n"
	"guest32_start:\n"
	"  mov %ebx, %eax\n  out %eax, $0x10\n"
	"  mov %ds, %eax\n   out %eax, $0x11\n"
	"  ljmp $0x08, $(3f - guest32_start + 0x100000)\n"
	"3: mov %cs, %eax\n  out %eax, $0x12\n"
	"  mov $0x18, %eax\n  mov %eax, %ds\n  mov %eax, %ss\n"
	"  mov 0x500c, %eax\n  out %eax, $0x13\n"
	"4: jmp 4b\n"
	"guest32_end:\n"
	".code64\n"
	".popsection\n");

struct guest_run {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	struct guest_mem gm;
	uint32_t port_value[4]; /* ports 0x10..0x13 */
};

static void guest_boot(struct guest_run *g, enum boot_mode mode, const uint8_t *code, size_t len)
{
	struct error e;
	g->kvm = open_kvm_or_skip();
	g->vm = ioctl(g->kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(g->vm, 0, "KVM_CREATE_VM: %s", strerror(errno));
	cr_assert_eq(guest_mem_init(&g->gm, 64 << 20, &e), 0, "%s", e.msg);
	cr_assert_eq(guest_mem_register(&g->gm, g->vm, &e), 0, "%s", e.msg);
	cr_assert_eq(ioctl(g->vm, KVM_CREATE_IRQCHIP, 0), 0, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	cr_assert_eq(regs_write_boot_tables(&g->gm, &e), 0, "%s", e.msg);
	cr_assert_eq(guest_mem_write(&g->gm, GUEST_ENTRY, code, len, &e), 0, "%s", e.msg);
	g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0UL);
	cr_assert_geq(g->vcpu, 0, "KVM_CREATE_VCPU: %s", strerror(errno));
	struct kvm_cpuid2 *tmpl = NULL;
	struct cpuid_topology t = { 1, 1, 1, 1 };
	cr_assert_eq(cpuid_get_supported(g->kvm, &tmpl, &e), 0, "%s", e.msg);
	cr_assert_eq(cpuid_apply(g->vcpu, tmpl, &t, 0, &e), 0, "%s", e.msg);
	free(tmpl);
	cr_assert_eq(regs_setup_common(g->vcpu, &e), 0, "%s", e.msg);
	struct boot_info bi = { .mode = mode, .entry = GUEST_ENTRY, .boot_arg = GUEST_BOOT_ARG };
	cr_assert_eq(regs_setup_bsp(g->vcpu, &bi, &e), 0, "%s", e.msg);

	struct kvm_regs r;
	cr_assert_eq(ioctl(g->vcpu, KVM_GET_REGS, &r), 0);
	r.rsp = GUEST_STACK;
	cr_assert_eq(ioctl(g->vcpu, KVM_SET_REGS, &r), 0);

	int size = ioctl(g->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	g->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
	cr_assert_neq(g->run, MAP_FAILED);
	for (int exits = 0; exits < 100; exits++) {
		cr_assert_eq(ioctl(g->vcpu, KVM_RUN, 0), 0, "KVM_RUN: %s", strerror(errno));
		if (g->run->exit_reason != KVM_EXIT_IO) {
			regs_dump(g->vcpu, stderr);
			cr_assert_fail("unexpected exit %u", g->run->exit_reason);
		}
		uint16_t port = g->run->io.port;
		cr_assert(port >= 0x10 && port <= 0x13, "out to port 0x%x", port);
		memcpy(&g->port_value[port - 0x10], (uint8_t *)g->run + g->run->io.data_offset, 4);
		if (port == 0x13)
			return;
	}
	cr_assert_fail("guest did not finish");
}

static void guest_end(struct guest_run *g)
{
	guest_mem_destroy(&g->gm);
	close(g->vcpu);
	close(g->vm);
	close(g->kvm);
}

Test(regs_kvm, linux64_boot_state)
{
	struct guest_run g;
	guest_boot(&g, BOOT_LINUX64, guest64_start, (size_t)(guest64_end - guest64_start));
	cr_expect_eq(g.port_value[0], (uint32_t)GUEST_BOOT_ARG, "RSI = zero page");
	cr_expect_eq(g.port_value[1], 0x18u, "DS = __BOOT_DS");
	cr_expect_eq(g.port_value[2], 0x10u, "CS = __BOOT_CS after far return");
	cr_expect_eq(g.port_value[3], 0x00af9b00u, "64-bit code descriptor read through DS");
	struct kvm_sregs sr;
	cr_assert_eq(ioctl(g.vcpu, KVM_GET_SREGS, &sr), 0);
	cr_expect(sr.cs.l && !sr.cs.db, "long-mode CS");
	cr_expect(sr.efer & (1u << 10), "EFER.LMA");
	cr_expect_eq(sr.cr3, (unsigned long long)LAYOUT_PAGE_TABLES);
	guest_end(&g);
}

Test(regs_kvm, pvh32_boot_state)
{
	struct guest_run g;
	guest_boot(&g, BOOT_PVH32, guest32_start, (size_t)(guest32_end - guest32_start));
	cr_expect_eq(g.port_value[0], (uint32_t)GUEST_BOOT_ARG, "EBX = start_info");
	cr_expect_eq(g.port_value[1], 0x18u, "DS flat data");
	cr_expect_eq(g.port_value[2], 0x08u, "CS 32-bit flat after far jump");
	cr_expect_eq(g.port_value[3], 0x00cf9b00u, "32-bit code descriptor read through DS");
	struct kvm_sregs sr;
	cr_assert_eq(ioctl(g.vcpu, KVM_GET_SREGS, &sr), 0);
	cr_expect_not(sr.cr0 & (1u << 31), "paging off");
	cr_expect(sr.cs.db && !sr.cs.l);
	guest_end(&g);
}

Test(regs_kvm, common_msrs_fpu_lapic)
{
	struct error e;
	int kvm = open_kvm_or_skip();
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	cr_assert_eq(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	cr_assert_geq(vcpu, 0);
	cr_assert_eq(regs_setup_common(vcpu, &e), 0, "%s", e.msg);

	struct { struct kvm_msrs hdr; struct kvm_msr_entry ent[2]; } m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 2;
	m.ent[0].index = 0x277;
	m.ent[1].index = 0x1a0;
	cr_assert_eq(ioctl(vcpu, KVM_GET_MSRS, &m), 2);
	cr_expect_eq(m.ent[0].data, 0x0007040600070406ull, "PAT");
	cr_expect(m.ent[1].data & 1, "fast strings enabled");

	struct kvm_fpu fpu;
	cr_assert_eq(ioctl(vcpu, KVM_GET_FPU, &fpu), 0);
	cr_expect_eq(fpu.fcw, 0x37f);
	/* KVM_GET_FPU does not report MXCSR; the XSAVE legacy area does (offset 24). */
	struct kvm_xsave xs;
	if (ioctl(vcpu, KVM_GET_XSAVE, &xs) == 0) {
		uint32_t mxcsr;
		memcpy(&mxcsr, (uint8_t *)xs.region + 24, 4);
		cr_expect_eq(mxcsr, 0x1f80u, "MXCSR");
	}

	struct kvm_lapic_state s;
	cr_assert_eq(ioctl(vcpu, KVM_GET_LAPIC, &s), 0);
	uint32_t lint0, lint1;
	memcpy(&lint0, &s.regs[0x350], 4);
	memcpy(&lint1, &s.regs[0x360], 4);
	cr_expect_eq(lint0 & 0x700, 0x700u, "LINT0 ExtINT");
	cr_expect_eq(lint1 & 0x700, 0x400u, "LINT1 NMI");
	close(vcpu);
	close(vm);
	close(kvm);
}
