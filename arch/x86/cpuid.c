/* The CPUID a guest sees. KVM_GET_SUPPORTED_CPUID gives what the host and KVM can offer; that
 * template is then made consistent with the vCPU's place in the VM's topology.
 *
 * APIC ids and every topology leaf come from topology.c (the MADT uses the same ids). With
 * power-of-two thread/core counts the APIC id of vCPU `index` is `index`; other counts leave
 * holes the guest simply never sees. */
#include "cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "topology.h"

/* Sizes of a kvm_cpuid2 holding n entries. */
#define CPUID2_SIZE(n) (sizeof(struct kvm_cpuid2) + (size_t)(n) * sizeof(struct kvm_cpuid_entry2))
/* KVM's own table limit has been 256 for a long time; allow it to grow a few times. */
#define CPUID_GROW_LIMIT (CPUID_MAX_ENTRIES * 16)

/* Leaf 1 ECX */
#define CPUID1_ECX_MONITOR      (1u << 3)
#define CPUID1_ECX_X2APIC       (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_HYPERVISOR   (1u << 31)

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *ent = &c->entries[i];
		if (ent->function == function &&
		    (!(ent->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || ent->index == index))
			return ent;
	}
	return NULL;
}

/* The non-topology bits of leaf 1. */
static void fix_leaf1_features(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *ent = cpuid_find(c, 1, 0);
	if (!ent)
		return;
	ent->ecx |= CPUID1_ECX_HYPERVISOR;
	/* KVM emulates the x2APIC, and the TSC-deadline timer, in its in-kernel LAPIC whatever the
	 * host has (KVM_CAP_TSC_DEADLINE_TIMER); Ember always uses the in-kernel LAPIC. */
	ent->ecx |= CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE;
	/* MONITOR/MWAIT exit to KVM, which treats them as NOPs: a guest idling in MWAIT would spin. */
	ent->ecx &= ~CPUID1_ECX_MONITOR;
}

/* `c` must have room for CPUID_MAX_ENTRIES entries: topology leaves may be appended. */
void cpuid_normalize(struct kvm_cpuid2 *c, const struct cpuid_topology *topo, unsigned index)
{
	struct topology t = {
		.ncpus = topo->ncpus, .sockets = topo->sockets,
		.cores_per_socket = topo->cores_per_socket, .threads_per_core = topo->threads_per_core,
	};
	topology_layout(&t, 0);
	fix_leaf1_features(c);
	topology_write_cpuid(c, &t, index);
	/* The KVM leaves 0x40000000 (signature, max leaf) and 0x40000001 (kvmclock, PV EOI, ...)
	 * are kept exactly as the template has them (vmm/exits.c decides the PV features). */
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
