/* The CPUID leaves that describe a topology (see topology.h): APIC ids, logical counts, cache
 * sharing, extended topology. Pure functions over a kvm_cpuid2, plus the per-vCPU KVM_SET_CPUID2
 * of a full topology. */
#include "topology.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpuid.h"

/* Leaf 1 */
#define CPUID1_EDX_HTT          (1u << 28)
/* Leaf 0x80000001 ECX */
#define CPUID81_ECX_CMP_LEGACY  (1u << 1)
#define CPUID81_ECX_TOPOEXT     (1u << 22)
/* Extended topology levels (0xB/0x1F ECX[15:8]; 0x80000026 uses its own numbering). */
#define LEVEL_INVALID 0
#define LEVEL_SMT     1
#define LEVEL_CORE    2
#define AMD_LEVEL_CORE    1
#define AMD_LEVEL_COMPLEX 2
#define AMD_LEVEL_DIE     3
#define AMD_LEVEL_SOCKET  4

#define VENDOR_EBX_AMD   0x68747541u  /* "Auth" */
#define VENDOR_EBX_HYGON 0x6f677948u  /* "Hygo" */
#define XAPIC_MAX_ID     255

/* Bits needed to number n distinct things (0 for n <= 1). */
static unsigned order_of(unsigned n)
{
	unsigned bits = 0;
	while (bits < 32 && (1ull << bits) < n)
		bits++;
	return bits;
}

static bool has_function(const struct kvm_cpuid2 *c, uint32_t function)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			return true;
	return false;
}

/* Returns the entry for (function, index), appending a zeroed one when absent; NULL when the
 * table (room for CPUID_MAX_ENTRIES) is full. */
static struct kvm_cpuid_entry2 *ensure_entry(struct kvm_cpuid2 *c, uint32_t function,
					     uint32_t index, bool indexed)
{
	struct kvm_cpuid_entry2 *ent = cpuid_find(c, function, index);
	if (ent)
		return ent;
	if (c->nent >= CPUID_MAX_ENTRIES)
		return NULL;
	ent = &c->entries[c->nent++];
	memset(ent, 0, sizeof(*ent));
	ent->function = function;
	ent->index = index;
	ent->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	return ent;
}

/* Raises the maximum leaf of the range `function` belongs to (0 or 0x80000000) to `function`. */
static void raise_max_leaf(struct kvm_cpuid2 *c, uint32_t function)
{
	struct kvm_cpuid_entry2 *max = cpuid_find(c, function & 0x80000000u, 0);
	if (max && max->eax < function)
		max->eax = function;
}

static bool vendor_is_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *leaf0 = cpuid_find(c, 0, 0);
	return leaf0 && (leaf0->ebx == VENDOR_EBX_AMD || leaf0->ebx == VENDOR_EBX_HYGON);
}

unsigned topology_min_l3_id_bits(const struct kvm_cpuid2 *c)
{
	struct kvm_cpuid2 *cc = (struct kvm_cpuid2 *)c; /* cpuid_find does not write */
	struct kvm_cpuid_entry2 *leaf0 = cpuid_find(cc, 0, 0), *leaf1 = cpuid_find(cc, 1, 0);
	if (!leaf0 || !leaf1)
		return 0;
	unsigned base = (leaf1->eax >> 8) & 0xf;
	unsigned family = base + (base == 0xf ? (leaf1->eax >> 20) & 0xff : 0);
	unsigned model = ((leaf1->eax >> 4) & 0xf) | (((leaf1->eax >> 16) & 0xf) << 4);
	/* Linux's cacheinfo_amd_init_llc_id / cacheinfo_hygon_init_llc_id: "Core complex ID is
	 * ApicId[3]" for these parts, whatever CPUID 0x8000001D says. */
	if (leaf0->ebx == VENDOR_EBX_HYGON)
		return 3;
	if (leaf0->ebx == VENDOR_EBX_AMD && family == 0x17 && model <= 0x1f)
		return 3;
	return 0;
}

struct vcpu_view {
	const struct topology *t;
	struct topology_place p;
	unsigned per_package;   /* logical processors in a socket */
	unsigned l3_span_bits;  /* APIC id bits of an L3 domain */
};

static void write_leaf1(struct kvm_cpuid2 *c, const struct vcpu_view *v)
{
	struct kvm_cpuid_entry2 *ent = cpuid_find(c, 1, 0);
	if (!ent)
		return;
	/* The logical count must cover a package's APIC id space (rounded to a power of two) or
	 * the guest decodes package ids wrongly. */
	unsigned count = v->per_package;
	if (order_of(count) < v->t->package_shift)
		count = 1u << v->t->package_shift;
	if (count > 255)
		count = 255;
	ent->ebx &= 0x0000ffffu; /* keep CLFLUSH line size and brand index */
	ent->ebx |= (v->p.apic_id & 0xffu) << 24 | count << 16;
	if (v->per_package > 1)
		ent->edx |= CPUID1_EDX_HTT;
	else
		ent->edx &= ~CPUID1_EDX_HTT;
}

/* Cache sharing in leaf 4 and 0x8000001D (EAX[25:14], "logical processors sharing - 1"): the
 * APIC id span of the sharing domain, which is what guests shift or divide APIC ids by. */
static uint32_t cache_sharing_field(const struct vcpu_view *v, uint32_t eax)
{
	unsigned level = (eax >> 5) & 7;
	unsigned bits = level >= 3 ? v->l3_span_bits : v->t->smt_bits;
	uint32_t sharing = (1u << bits) - 1;
	return sharing > 0xfff ? 0xfff : sharing;
}

static void write_cache_leaves(struct kvm_cpuid2 *c, uint32_t function, const struct vcpu_view *v)
{
	/* Leaf 4 EAX[31:26]: addressable core ids in the package - 1. */
	uint32_t cores_field = (1u << (v->t->package_shift - v->t->smt_bits)) - 1;
	if (cores_field > 63)
		cores_field = 63;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function != function || (ent->eax & 0x1f) == 0)
			continue;
		uint32_t sharing = cache_sharing_field(v, ent->eax);
		ent->eax &= ~(0xfffu << 14);
		ent->eax |= sharing << 14;
		if (function == 4) {
			ent->eax &= ~(0x3fu << 26);
			ent->eax |= cores_field << 26;
		}
	}
}

/* Extended topology (0xB, and 0x1F): subleaf 0 the SMT level, 1 the core level (everything up
 * to the package), the rest invalid; EDX always the x2APIC id. Written when the template has
 * the leaf, and added when some APIC id needs more than 8 bits (the only place a guest can read
 * such an id from). */
static void write_ext_topology(struct kvm_cpuid2 *c, uint32_t function, const struct vcpu_view *v,
			       bool needed)
{
	if (!has_function(c, function)) {
		if (!needed)
			return;
		raise_max_leaf(c, function);
	}
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			c->entries[i].flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	struct kvm_cpuid_entry2 *smt = ensure_entry(c, function, 0, true);
	struct kvm_cpuid_entry2 *core = ensure_entry(c, function, 1, true);
	ensure_entry(c, function, 2, true); /* the terminating invalid level */
	if (smt)
		*smt = (struct kvm_cpuid_entry2){ .function = function, .index = 0,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = v->t->smt_bits,
			.ebx = v->t->threads_per_core & 0xffff, .ecx = 0 | LEVEL_SMT << 8,
			.edx = v->p.apic_id };
	if (core)
		*core = (struct kvm_cpuid_entry2){ .function = function, .index = 1,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = v->t->package_shift,
			.ebx = v->per_package & 0xffff, .ecx = 1 | LEVEL_CORE << 8,
			.edx = v->p.apic_id };
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function != function || ent->index < 2)
			continue;
		ent->eax = ent->ebx = 0;
		ent->ecx = (ent->index & 0xff) | LEVEL_INVALID << 8;
		ent->edx = v->p.apic_id;
	}
}

/* AMD extended CPU topology (0x80000026, Zen 4 on): core, complex (L3), die and socket levels.
 * Only when some APIC id needs more than 8 bits; otherwise hidden (level type 0 in subleaf 0
 * sends guests to 0xB/0x8000001E), so the host's CCX/CCD/socket layout never leaks. */
static void write_amd_ext_topology(struct kvm_cpuid2 *c, const struct vcpu_view *v, bool needed)
{
	const uint32_t fn = 0x80000026;
	if (!needed) {
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == fn)
				c->entries[i].eax = c->entries[i].ebx = c->entries[i].ecx =
					c->entries[i].edx = 0;
		return;
	}
	raise_max_leaf(c, fn);
	const struct topology *t = v->t;
	const struct { unsigned shift, count, type; } levels[] = {
		{ t->smt_bits, t->threads_per_core, AMD_LEVEL_CORE },
		{ v->l3_span_bits, t->threads_per_core * t->cores_per_l3, AMD_LEVEL_COMPLEX },
		{ t->package_shift, v->per_package, AMD_LEVEL_DIE },
		{ t->package_shift, v->per_package, AMD_LEVEL_SOCKET },
		{ 0, 0, 0 },
	};
	for (uint32_t sub = 0; sub < sizeof(levels) / sizeof(levels[0]); sub++) {
		struct kvm_cpuid_entry2 *ent = ensure_entry(c, fn, sub, true);
		if (!ent)
			return;
		ent->flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		ent->eax = levels[sub].shift & 0x1f;
		ent->ebx = levels[sub].count & 0xffff;
		ent->ecx = sub | levels[sub].type << 8;
		ent->edx = v->p.apic_id;
	}
}

/* AMD: TopologyExtensions is always offered. It only enumerates CPUID leaves that KVM answers
 * from this table, so it needs nothing from the host; without it Linux guests cannot see SMT
 * siblings on AMD (KVM hides it when the host lacks it, as under QEMU TCG). */
static void write_amd(struct kvm_cpuid2 *c, const struct vcpu_view *v, bool wide_ids)
{
	const struct topology *t = v->t;
	struct kvm_cpuid_entry2 *ext1 = cpuid_find(c, 0x80000001, 0);
	if (!ext1 || !cpuid_find(c, 0x80000000, 0))
		return;
	if (v->per_package > 1)
		ext1->ecx |= CPUID81_ECX_CMP_LEGACY; /* leaf 1's HTT and count describe cores too */
	else
		ext1->ecx &= ~CPUID81_ECX_CMP_LEGACY;

	struct kvm_cpuid_entry2 *sizes = cpuid_find(c, 0x80000008, 0);
	if (sizes) {
		uint32_t nc = (v->per_package > 256 ? 256 : v->per_package) - 1;
		uint32_t apic_id_size = t->package_shift > 15 ? 15 : t->package_shift;
		sizes->ecx &= ~0xf0ffu; /* NC [7:0], ApicIdSize [15:12]; keep PerfTscSize */
		sizes->ecx |= nc | apic_id_size << 12;
	}

	raise_max_leaf(c, 0x8000001e);
	struct kvm_cpuid_entry2 *ids = ensure_entry(c, 0x8000001e, 0, false);
	if (ids) {
		ext1->ecx |= CPUID81_ECX_TOPOEXT;
		uint32_t core_mask = (1u << (t->package_shift - t->smt_bits)) - 1;
		ids->eax = v->p.apic_id;
		ids->ebx = ((v->p.apic_id >> t->smt_bits) & core_mask & 0xff) |
			   ((t->threads_per_core - 1) & 0xff) << 8;
		ids->ecx = v->p.package & 0xff; /* node id; one node per socket */
		ids->edx = 0;
	} else {
		ext1->ecx &= ~CPUID81_ECX_TOPOEXT;
	}
	write_cache_leaves(c, 0x8000001d, v);
	write_amd_ext_topology(c, v, wide_ids);
}

void topology_write_cpuid(struct kvm_cpuid2 *c, const struct topology *t, unsigned index)
{
	struct vcpu_view v = { .t = t };
	topology_place(t, index, &v.p);
	v.per_package = t->threads_per_core * t->cores_per_socket;
	v.l3_span_bits = t->smt_bits + t->core_bits;
	bool wide_ids = topology_apic_id(t, t->ncpus - 1) > XAPIC_MAX_ID;

	write_leaf1(c, &v);
	write_cache_leaves(c, 4, &v);
	write_ext_topology(c, 0xb, &v, wide_ids);
	write_ext_topology(c, 0x1f, &v, false);
	if (vendor_is_amd(c))
		write_amd(c, &v, wide_ids);
}

int topology_apply_vcpu_cpuid(int vcpu_fd, const struct kvm_cpuid2 *tmpl, const struct topology *t,
			      unsigned index, struct error *e)
{
	uint32_t cap = tmpl->nent > CPUID_MAX_ENTRIES ? tmpl->nent : CPUID_MAX_ENTRIES;
	size_t size = sizeof(struct kvm_cpuid2) + (size_t)cap * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, size);
	if (!c)
		return error_set(e, "out of memory for CPUID");
	memcpy(c, tmpl, sizeof(*tmpl) + (size_t)tmpl->nent * sizeof(tmpl->entries[0]));
	/* cpuid_normalize for everything that is not topology, then the whole topology. */
	struct cpuid_topology plain = { .ncpus = t->ncpus, .threads_per_core = t->threads_per_core,
					.cores_per_socket = t->cores_per_socket, .sockets = t->sockets };
	cpuid_normalize(c, &plain, index);
	topology_write_cpuid(c, t, index);
	int rc = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	uint32_t nent = c->nent;
	free(c);
	if (rc < 0)
		return error_errno(e, "KVM_SET_CPUID2 (%u entries)", nent);
	return 0;
}
