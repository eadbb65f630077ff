/* The CPU a VM's guest sees, assembled before any vCPU exists: exit controls (exits.h), the
 * VM-wide CPUID (KVM's supported CPUID, a CPU template, the KVM PV features) and the topology
 * with its APIC ids. Then, per vCPU, what vcpu_create's generic CPUID cannot express (L3
 * domains, padded APIC ids) and the template's MSRs. See docs/epyc.md. */
#ifndef EMBER_CPU_MODEL_H
#define EMBER_CPU_MODEL_H

#include <linux/kvm.h>

#include "../arch/x86/cpu_template.h"
#include "../arch/x86/cpuid.h"
#include "../arch/x86/topology.h"
#include "error.h"
#include "exits.h"
#include "vm_config.h"

struct cpu_model {
	struct cpu_template tmpl;
	struct topology topo;
	struct exits_state exits;
	bool full_topology;   /* vCPUs need topology_apply_vcpu_cpuid after vcpu_create */
};

/* Configures exits on vm_fd, fetches KVM's CPUID into *cpuid (free() it) with the template and
 * PV features applied, and resolves the topology. Before the first KVM_CREATE_VCPU. */
int cpu_model_prepare(struct cpu_model *m, const struct vm_config *cfg, int kvm_fd, int vm_fd,
		      struct kvm_cpuid2 **cpuid, struct error *e);

/* What vcpu_create's cpuid_apply gets (struct cpuid_topology is the part of the topology it
 * knows about). */
void cpu_model_plain_topology(const struct cpu_model *m, struct cpuid_topology *out);

/* After vcpu_create(index): full-topology CPUID if needed, a check that KVM's APIC id for the
 * vCPU is the topology's, the template's MSR modifiers. */
int cpu_model_setup_vcpu(const struct cpu_model *m, const struct kvm_cpuid2 *cpuid, int vcpu_fd,
			 unsigned index, struct error *e);

void cpu_model_free(struct cpu_model *m);

#endif
