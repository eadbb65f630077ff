/* Which guest instructions leave the guest, and what the guest is told about it.
 *
 * --dedicated-cores: each vCPU owns a host core, so a halted or spinning vCPU wastes nothing by
 * staying in guest mode. HLT, PAUSE and MWAIT then no longer exit (KVM_CAP_X86_DISABLE_EXITS,
 * only the bits this host allows, before any vCPU exists), the guest gets KVM_HINTS_REALTIME and
 * loses PV_UNHALT (a vCPU halted in guest mode cannot be woken by the PV kick hypercall).
 * --halt-poll-ns: how long KVM polls before putting a halted vCPU to sleep (KVM_CAP_HALT_POLL).
 * The KVM paravirtual features a guest sees (CPUID 0x40000001) are also decided here. */
#ifndef EMBER_EXITS_H
#define EMBER_EXITS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define EXITS_HALT_POLL_DEFAULT (-1LL)  /* leave KVM's module default */
#define EXITS_HALT_POLL_MAX_NS  (100LL * 1000 * 1000)

struct exits_config {
	bool dedicated_cores;
	long long halt_poll_ns;      /* EXITS_HALT_POLL_DEFAULT or 0..EXITS_HALT_POLL_MAX_NS */
};

struct exits_state {
	uint32_t allowed;            /* KVM_X86_DISABLE_EXITS_* this host allows */
	uint32_t disabled;           /* ... and what Ember disabled */
	bool dedicated_cores;
	long long halt_poll_ns;      /* what was set, or EXITS_HALT_POLL_DEFAULT */
};

/* Applies cfg to the VM. Must run before the first KVM_CREATE_VCPU. */
int exits_configure(int vm_fd, const struct exits_config *cfg, struct exits_state *st,
		    struct error *e);

/* KVM's paravirtual leaf 0x40000001 for this VM: only features that need nothing from Ember
 * (kvmclock, async PF, steal time, PV EOI, PV unhalt, PV TLB flush, PV send-IPI, poll control,
 * PV sched yield), minus PV_UNHALT when HLT stays in the guest; REALTIME hint with dedicated
 * cores. `c` is the VM-wide CPUID template. */
void exits_pv_cpuid(struct kvm_cpuid2 *c, const struct exits_state *st);

/* "hlt,pause" style list of the disabled exits ("none"). */
void exits_describe(uint32_t mask, char *buf, unsigned size);

#endif
