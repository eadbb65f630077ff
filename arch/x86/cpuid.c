/* The CPUID a guest sees. KVM_GET_SUPPORTED_CPUID gives what the host and KVM can offer; that
 * template is then made consistent with the vCPU's place in the VM's topology.
 *
 * APIC ids: the APIC id of vCPU `index` is `index` (the MADT uses the same numbering). The id is
 * decoded as [package | core | thread] with field widths rounded up to powers of two
 * (Intel SDM vol. 3A 10.12 "Hierarchical mapping of shared resources"; AMD APM vol. 3 appendix E
 * "Obtaining processor information via CPUID"). With power-of-two thread/core counts that
 * decoding agrees with a plain index; other counts leave holes the guest simply never sees. */
#include "cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Sizes of a kvm_cpuid2 holding n entries. */
#define CPUID2_SIZE(n) (sizeof(struct kvm_cpuid2) + (size_t)(n) * sizeof(struct kvm_cpuid_entry2))
/* KVM's own table limit has been 256 for a long time; allow it to grow a few times. */
#define CPUID_GROW_LIMIT (CPUID_MAX_ENTRIES * 16)

/* Leaf 1 */
#define CPUID1_ECX_MONITOR    (1u << 3)
#define CPUID1_ECX_X2APIC     (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID1_EDX_HTT        (1u << 28)
/* Leaf 0x80000001 */
#define CPUID81_ECX_CMP_LEGACY (1u << 1)
#define CPUID81_ECX_TOPOEXT    (1u << 22)
/* Extended topology (0xB / 0x1F) level types, ECX[15:8]. */
#define TOPO_LEVEL_INVALID 0
#define TOPO_LEVEL_SMT     1
#define TOPO_LEVEL_CORE    2

/* "AuthenticAMD" and "HygonGenuine" as leaf 0 EBX. */
#define VENDOR_EBX_AMD   0x68747541u
#define VENDOR_EBX_HYGON 0x6f677948u

struct topo_geom {
	unsigned threads;      /* per core */
	unsigned cores;        /* per package */
	unsigned per_package;  /* logical processors per package */
	unsigned smt_bits;     /* APIC id bits for the thread */
	unsigned core_bits;    /* APIC id bits for the core */
	uint32_t apic_id;
	unsigned thread_id, core_id, package_id;
};

/* Bits needed to number n distinct things (0 for n <= 1). */
static unsigned order_of(unsigned n)
{
	unsigned bits = 0;
	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void topo_resolve(const struct cpuid_topology *topo, unsigned index, struct topo_geom *g)
{
	unsigned ncpus = topo->ncpus ? topo->ncpus : 1;
	unsigned sockets = topo->sockets ? topo->sockets : 1;
	g->threads = topo->threads_per_core ? topo->threads_per_core : 1;
	g->cores = topo->cores_per_socket;
	if (!g->cores)
		g->cores = (ncpus + g->threads * sockets - 1) / (g->threads * sockets);
	if (!g->cores)
		g->cores = 1;
	g->per_package = g->threads * g->cores;
	g->smt_bits = order_of(g->threads);
	g->core_bits = order_of(g->cores);
	g->apic_id = index;
	g->thread_id = index & ((1u << g->smt_bits) - 1);
	g->core_id = (index >> g->smt_bits) & ((1u << g->core_bits) - 1);
	g->package_id = index >> (g->smt_bits + g->core_bits);
}

static bool entry_matches(const struct kvm_cpuid_entry2 *ent, uint32_t function, uint32_t index)
{
	if (ent->function != function)
		return false;
	return !(ent->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || ent->index == index;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (entry_matches(&c->entries[i], function, index))
			return &c->entries[i];
	return NULL;
}

static bool has_function(const struct kvm_cpuid2 *c, uint32_t function)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			return true;
	return false;
}

/* Returns subleaf `index` of an indexed function, appending it when absent (c has room for
 * CPUID_MAX_ENTRIES entries; see cpuid_normalize). NULL when the table is full. */
static struct kvm_cpuid_entry2 *ensure_subleaf(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
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
	ent->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	return ent;
}

static bool vendor_is_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *leaf0 = cpuid_find(c, 0, 0);
	return leaf0 && (leaf0->ebx == VENDOR_EBX_AMD || leaf0->ebx == VENDOR_EBX_HYGON);
}

/* Leaf 1's "logical processors per package" must round up (to a power of two) to at least the
 * APIC id space of a package, or the guest would decode package ids wrongly. */
static unsigned leaf1_logical_count(const struct topo_geom *g)
{
	unsigned count = g->per_package;
	if (order_of(count) < g->smt_bits + g->core_bits)
		count = 1u << (g->smt_bits + g->core_bits);
	return count > 255 ? 255 : count;
}

static void fix_leaf1(struct kvm_cpuid2 *c, const struct topo_geom *g)
{
	struct kvm_cpuid_entry2 *ent = cpuid_find(c, 1, 0);
	if (!ent)
		return;
	ent->ebx &= 0x0000ffffu; /* keep CLFLUSH line size and brand index */
	ent->ebx |= (g->apic_id & 0xffu) << 24;
	ent->ebx |= leaf1_logical_count(g) << 16;
	ent->ecx |= CPUID1_ECX_HYPERVISOR;
	/* KVM emulates the x2APIC, and the TSC-deadline timer, in its in-kernel LAPIC whatever the
	 * host has (KVM_CAP_TSC_DEADLINE_TIMER); Ember always uses the in-kernel LAPIC. */
	ent->ecx |= CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE;
	/* MONITOR/MWAIT exit to KVM, which treats them as NOPs: a guest idling in MWAIT would spin. */
	ent->ecx &= ~CPUID1_ECX_MONITOR;
	if (g->per_package > 1)
		ent->edx |= CPUID1_EDX_HTT;
	else
		ent->edx &= ~CPUID1_EDX_HTT;
}

/* Intel deterministic cache parameters (leaf 4): the sharing fields count addressable ids. */
static void fix_leaf4(struct kvm_cpuid2 *c, const struct topo_geom *g)
{
	uint32_t cores_field = (1u << g->core_bits) - 1;
	if (cores_field > 63)
		cores_field = 63;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function != 4 || (ent->eax & 0x1f) == 0)
			continue;
		unsigned level = (ent->eax >> 5) & 7;
		uint32_t sharing = level >= 3 ? (1u << (g->smt_bits + g->core_bits)) - 1
					      : (1u << g->smt_bits) - 1;
		if (sharing > 0xfff)
			sharing = 0xfff;
		ent->eax &= ~((0x3fu << 26) | (0xfffu << 14));
		ent->eax |= (cores_field << 26) | (sharing << 14);
	}
}

/* Extended topology (0xB, and its v2 0x1F): subleaf 0 the SMT level, 1 the core level, the rest
 * invalid; EDX always the x2APIC id. Only when the template has the leaf at all. */
static void fix_ext_topology(struct kvm_cpuid2 *c, uint32_t function, const struct topo_geom *g)
{
	if (!has_function(c, function))
		return;
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			c->entries[i].flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	struct kvm_cpuid_entry2 *smt = ensure_subleaf(c, function, 0);
	struct kvm_cpuid_entry2 *core = ensure_subleaf(c, function, 1);
	ensure_subleaf(c, function, 2); /* the terminating invalid level */
	if (smt) {
		smt->eax = g->smt_bits;
		smt->ebx = g->threads & 0xffff;
		smt->ecx = 0 | (TOPO_LEVEL_SMT << 8);
		smt->edx = g->apic_id;
	}
	if (core) {
		core->eax = g->smt_bits + g->core_bits;
		core->ebx = g->per_package & 0xffff;
		core->ecx = 1 | (TOPO_LEVEL_CORE << 8);
		core->edx = g->apic_id;
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function != function || ent->index < 2)
			continue;
		ent->eax = ent->ebx = 0;
		ent->ecx = (ent->index & 0xff) | (TOPO_LEVEL_INVALID << 8);
		ent->edx = g->apic_id;
	}
}

/* AMD's extended topology leaf 0x80000026 describes the host's CCX/CCD/socket layout, which
 * Ember does not model: level type 0 in subleaf 0 makes guests fall back to 0xB. */
static void hide_amd_ext_topology(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function == 0x80000026)
			ent->eax = ent->ebx = ent->ecx = ent->edx = 0;
	}
}

/* AMD cache topology (0x8000001D): NumSharingCache-1 in EAX[25:14]; L1/L2 belong to a core,
 * L3 to the whole package (Ember does not split a socket into CCXs). */
static void fix_amd_caches(struct kvm_cpuid2 *c, const struct topo_geom *g)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function != 0x8000001d || (ent->eax & 0x1f) == 0)
			continue;
		unsigned level = (ent->eax >> 5) & 7;
		uint32_t sharing = (level >= 3 ? g->per_package : g->threads) - 1;
		ent->eax &= ~(0xfffu << 14);
		ent->eax |= (sharing & 0xfff) << 14;
	}
}

static void fix_amd(struct kvm_cpuid2 *c, const struct topo_geom *g)
{
	struct kvm_cpuid_entry2 *ext1 = cpuid_find(c, 0x80000001, 0);
	struct kvm_cpuid_entry2 *ids = cpuid_find(c, 0x8000001e, 0);
	bool topoext = ext1 && (ext1->ecx & CPUID81_ECX_TOPOEXT);

	if (ext1) {
		/* CmpLegacy: leaf 1's HTT/logical count describe cores (AMD APM vol. 3, E.4.1). */
		if (g->per_package > 1)
			ext1->ecx |= CPUID81_ECX_CMP_LEGACY;
		else
			ext1->ecx &= ~CPUID81_ECX_CMP_LEGACY;
		/* Advertising TopologyExtensions without leaf 0x8000001E would give every vCPU the
		 * same (zero) core id. */
		if (topoext && !ids) {
			ext1->ecx &= ~CPUID81_ECX_TOPOEXT;
			topoext = false;
		}
	}

	struct kvm_cpuid_entry2 *sizes = cpuid_find(c, 0x80000008, 0);
	if (sizes) {
		uint32_t nc = (g->per_package - 1) & 0xff;
		uint32_t apic_id_size = (g->smt_bits + g->core_bits) & 0xf;
		sizes->ecx &= ~0xf0ffu; /* NC [7:0], ApicIdSize [15:12]; keep PerfTscSize */
		sizes->ecx |= nc | (apic_id_size << 12);
	}

	if (ids) {
		if (topoext) {
			ids->eax = g->apic_id;
			ids->ebx = (g->core_id & 0xff) | (((g->threads - 1) & 0xff) << 8);
			/* One node per package; NodesPerProcessor-1 = 0. */
			ids->ecx = g->package_id & 0xff;
			ids->edx = 0;
		} else {
			ids->eax = ids->ebx = ids->ecx = ids->edx = 0;
		}
	}
	fix_amd_caches(c, g);
	hide_amd_ext_topology(c);
}

/* `c` must have room for CPUID_MAX_ENTRIES entries: missing subleaves of the extended topology
 * leaves are appended (KVM may report 0xB with only a terminating subleaf). */
void cpuid_normalize(struct kvm_cpuid2 *c, const struct cpuid_topology *topo, unsigned index)
{
	struct topo_geom g;
	topo_resolve(topo, index, &g);
	fix_leaf1(c, &g);
	fix_leaf4(c, &g);
	fix_ext_topology(c, 0xb, &g);
	fix_ext_topology(c, 0x1f, &g);
	if (vendor_is_amd(c))
		fix_amd(c, &g);
	/* The KVM leaves 0x40000000 (signature, max leaf) and 0x40000001 (kvmclock, PV EOI, ...)
	 * are kept exactly as KVM offers them. */
}

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *e)
{
	*out = NULL;
	for (uint32_t n = CPUID_MAX_ENTRIES; n <= CPUID_GROW_LIMIT; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, CPUID2_SIZE(n));
		if (!c)
			return error_set(e, "out of memory for %u CPUID entries", n);
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			return 0;
		}
		int err = errno;
		free(c);
		if (err != E2BIG) {
			errno = err;
			return error_errno(e, "KVM_GET_SUPPORTED_CPUID");
		}
	}
	return error_set(e, "KVM_GET_SUPPORTED_CPUID: more than %u entries", CPUID_GROW_LIMIT);
}

int cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *tmpl, const struct cpuid_topology *topo,
		unsigned index, struct error *e)
{
	uint32_t cap = tmpl->nent > CPUID_MAX_ENTRIES ? tmpl->nent : CPUID_MAX_ENTRIES;
	struct kvm_cpuid2 *c = calloc(1, CPUID2_SIZE(cap));
	if (!c)
		return error_set(e, "out of memory for CPUID");
	memcpy(c, tmpl, CPUID2_SIZE(tmpl->nent));
	cpuid_normalize(c, topo, index);
	int rc = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	uint32_t nent = c->nent;
	free(c);
	if (rc < 0)
		return error_errno(e, "KVM_SET_CPUID2 (%u entries)", nent);
	return 0;
}
