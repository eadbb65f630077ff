/* The CPUID a guest sees: KVM_GET_SUPPORTED_CPUID, normalized per vCPU (hypervisor bit, topology
 * consistent with the vCPU count, x2APIC, APIC ids, KVM paravirtual leaves). */
#ifndef EMBER_X86_CPUID_H
#define EMBER_X86_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include "../../vmm/error.h"

#define CPUID_MAX_ENTRIES 256

struct cpuid_topology {
	unsigned ncpus;             /* vCPUs in the VM, 1..1024 */
	unsigned threads_per_core;  /* default 1 */
	unsigned cores_per_socket;  /* default ncpus */
	unsigned sockets;           /* default 1 */
};

/* Allocates a kvm_cpuid2 (free() it) holding what KVM supports. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *e);

/* Pure function over a template copy: rewrites `c` in place for vCPU `index` (its APIC id
 * comes from arch/x86/topology.c).
 * It may append missing topology subleaves (0xB/0x1F), so `c` must have room for
 * CPUID_MAX_ENTRIES entries. Unit-testable without KVM. */
void cpuid_normalize(struct kvm_cpuid2 *c, const struct cpuid_topology *topo, unsigned index);

/* Finds an entry (NULL if absent). */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index);

/* Copies `tmpl`, normalizes it for vCPU index, and KVM_SET_CPUID2 on vcpu_fd. */
int cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *tmpl, const struct cpuid_topology *topo,
		unsigned index, struct error *e);

#endif
