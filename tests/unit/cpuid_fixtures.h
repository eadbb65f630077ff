/* CPUID tables for the topology and CPU template tests: what KVM_GET_SUPPORTED_CPUID returned in
 * the nested L1 VM (QEMU TCG, "EPYC" model: family 17h model 01h, no TopologyExtensions), an EPYC
 * Genoa-like and a Turin-like host, and an Intel host. */
#ifndef EMBER_TEST_CPUID_FIXTURES_H
#define EMBER_TEST_CPUID_FIXTURES_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "arch/x86/cpuid.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static inline struct kvm_cpuid2 *table_new(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	cr_assert_not_null(c);
	return c;
}

static inline void add(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx, uint32_t flags,
		       uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	cr_assert_lt(c->nent, CPUID_MAX_ENTRIES);
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = fn, .index = idx, .flags = flags,
		.eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
	};
}

static inline struct kvm_cpuid_entry2 *must_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);
	cr_assert_not_null(e, "leaf 0x%x.%u missing", fn, idx);
	return e;
}

static inline unsigned bits(uint32_t v, unsigned lo, unsigned hi)
{
	return (v >> lo) & (uint32_t)((1ull << (hi - lo + 1)) - 1);
}

/* KVM_GET_SUPPORTED_CPUID inside the nested L1 (tests/nested), all-zero leaves left out. */
static inline struct kvm_cpuid2 *l1_epyc_table(void)
{
	struct kvm_cpuid2 *c = table_new();
	add(c, 0x00000000, 0, 0, 0x0000000d, 0x68747541, 0x444d4163, 0x69746e65);
	add(c, 0x00000001, 0, 0, 0x00800f12, 0x00020800, 0x76f83203, 0x078bfbfd);
	add(c, 0x00000004, 0, SIG, 0, 0, 0, 0);
	add(c, 0x00000006, 0, 0, 0x00000004, 0, 0, 0);
	add(c, 0x00000007, 0, SIG, 0x00000000, 0x009801ab, 0x00000000, 0x20000000);
	add(c, 0x0000000b, 0, SIG, 0, 0, 0, 0);
	add(c, 0x0000000d, 0, SIG, 0x00000007, 0x00000340, 0x00000340, 0x00000000);
	add(c, 0x0000000d, 1, SIG, 0x00000005, 0, 0, 0);
	add(c, 0x0000000d, 2, SIG, 0x00000100, 0x00000240, 0, 0);
	add(c, 0x80000000, 0, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65);
	add(c, 0x80000001, 0, 0, 0x00800f12, 0x00000000, 0x00000077, 0x2dd3fbfd);
	add(c, 0x80000006, 0, 0, 0x00000000, 0x42004200, 0x02006140, 0x00408140);
	add(c, 0x80000008, 0, 0, 0x00003028, 0x02000000, 0x00001001, 0x00000000);
	add(c, 0x8000000a, 0, 0, 0x00000001, 0x00000008, 0x00000000, 0x10000021);
	add(c, 0x8000001d, 0, SIG, 0x00000121, 0x01c0003f, 0x0000003f, 0x00000001);
	add(c, 0x8000001d, 1, SIG, 0x00000122, 0x00c0003f, 0x000000ff, 0x00000001);
	add(c, 0x8000001d, 2, SIG, 0x00000043, 0x01c0003f, 0x000003ff, 0x00000000);
	add(c, 0x8000001d, 3, SIG, 0x00004163, 0x03c0003f, 0x00001fff, 0x00000006);
	add(c, 0x8000001d, 4, SIG, 0, 0, 0, 0);
	add(c, 0x8000001e, 0, 0, 0, 0, 0, 0);
	add(c, 0x80000021, 0, 0, 0x00000204, 0, 0, 0);
	add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d);
	add(c, 0x40000001, 0, 0, 0x01007efb, 0, 0, 0);
	return c;
}

/* An EPYC 9004 (Genoa, family 19h model 11h) host as KVM reports it: AVX-512, GFNI, LA57,
 * BF16, AutoIBRS; host topology (APIC id 0x3f) still in it. `turin` adds Zen 5's AVX-VNNI,
 * MOVDIRI, MOVDIR64B, VP2INTERSECT and family 1Ah. */
static inline struct kvm_cpuid2 *epyc_table(bool turin)
{
	struct kvm_cpuid2 *c = table_new();
	add(c, 0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65);
	add(c, 1, 0, 0, turin ? 0x00b00f21 : 0x00a10f11, 0x3f800800, 0x7efa320b, 0x178bfbff);
	add(c, 7, 0, SIG, 1, 0xf1bf07ab, turin ? 0x18415fde : 0x00415fde,
	    turin ? 0xac000110 : 0xac000010);
	add(c, 7, 1, SIG, turin ? 0x30 : 0x20, 0, 0, 0);
	add(c, 0xb, 0, SIG, 1, 2, 0x0100, 0x3f);
	add(c, 0xb, 1, SIG, 7, 0x80, 0x0201, 0x3f);
	add(c, 0xb, 2, SIG, 0, 0, 0x0002, 0x3f);
	add(c, 0xd, 0, SIG, 0x2e7, 0x980, 0x988, 0);
	add(c, 0xd, 1, SIG, 0xf, 0, 0, 0);
	add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d);
	add(c, 0x40000001, 0, 0, 0x01007efb, 0, 0, 0);
	add(c, 0x80000000, 0, 0, 0x80000026, 0x68747541, 0x444d4163, 0x69746e65);
	add(c, 0x80000001, 0, 0, turin ? 0x00b00f21 : 0x00a10f11, 0, 0x75c237ff, 0x2fd3fbff);
	add(c, 0x80000008, 0, 0, 0x00003030, 0x111ef657, 0x0001707f, 0);
	add(c, 0x8000001d, 0, SIG, 0x00004121, 0x01c0003f, 0x0000003f, 0);
	add(c, 0x8000001d, 1, SIG, 0x00004122, 0x01c0003f, 0x0000003f, 0);
	add(c, 0x8000001d, 2, SIG, 0x00004143, 0x01c0003f, 0x000007ff, 2);
	add(c, 0x8000001d, 3, SIG, 0x0003c163, 0x03c0003f, 0x00007fff, 1);
	add(c, 0x8000001d, 4, SIG, 0, 0, 0, 0);
	add(c, 0x8000001e, 0, 0, 0x3f, 0x0000011f, 0, 0);
	add(c, 0x80000021, 0, 0, turin ? 0x58000345 : 0x00000345, 0, 0, 0);
	add(c, 0x80000026, 0, SIG, 1, 2, 0x0100, 0x3f);
	return c;
}

static inline struct kvm_cpuid2 *intel_table(void)
{
	struct kvm_cpuid2 *c = table_new();
	add(c, 0, 0, 0, 0x1c, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	add(c, 1, 0, 0, 0x000c06f2, 0x01020800, 0x81202008, 0x0f8bfbff);
	add(c, 4, 0, SIG, 0x04000121, 0x02c0003f, 0x3f, 0);
	add(c, 4, 1, SIG, 0x04000122, 0x01c0003f, 0x3f, 0);
	add(c, 4, 2, SIG, 0x04000143, 0x03c0003f, 0x7ff, 0);
	add(c, 4, 3, SIG, 0x04004163, 0x04c0003f, 0x33fff, 0);
	add(c, 4, 4, SIG, 0, 0, 0, 0);
	add(c, 7, 0, SIG, 0, 0x219c07ab, 0, 0);
	add(c, 0xb, 0, SIG, 0, 0, 0, 1);
	add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d);
	add(c, 0x40000001, 0, 0, 0x01007efb, 0, 0, 0);
	add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(c, 0x80000008, 0, 0, 0x00003930, 0, 0, 0);
	return c;
}

#endif
