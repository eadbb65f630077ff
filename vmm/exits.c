#include "exits.h"

#include <asm/kvm_para.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../arch/x86/cpuid.h"

#define KVM_CPUID_FEATURES_LEAF 0x40000001

/* Exits --dedicated-cores asks for (not CSTATE: that one is about C-state residency MSRs). */
#define DEDICATED_EXITS (KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE | \
			 KVM_X86_DISABLE_EXITS_MWAIT)

/* PV features that work with KVM alone. Left out: MSI_EXT_DEST_ID (KVM's IOAPIC has 8-bit
 * destinations), HC_MAP_GPA_RANGE (an SEV guest would report encryption changes for migration
 * with it; SNP's page-state changes reach Ember as that hypercall's exit without the bit:
 * vmm/vm_sev.c) and MIGRATION_CONTROL (an MSR for userspace). */
#define PV_FEATURES_OFFERED                                                                  \
	(1u << KVM_FEATURE_CLOCKSOURCE | 1u << KVM_FEATURE_NOP_IO_DELAY |                    \
	 1u << KVM_FEATURE_CLOCKSOURCE2 | 1u << KVM_FEATURE_ASYNC_PF |                       \
	 1u << KVM_FEATURE_STEAL_TIME | 1u << KVM_FEATURE_PV_EOI |                           \
	 1u << KVM_FEATURE_PV_UNHALT | 1u << KVM_FEATURE_PV_TLB_FLUSH |                      \
	 1u << KVM_FEATURE_ASYNC_PF_VMEXIT | 1u << KVM_FEATURE_PV_SEND_IPI |                 \
	 1u << KVM_FEATURE_POLL_CONTROL | 1u << KVM_FEATURE_PV_SCHED_YIELD |                 \
	 1u << KVM_FEATURE_ASYNC_PF_INT | 1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT)

static int disable_exits(int vm_fd, struct exits_state *st, struct error *e)
{
	int allowed = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DISABLE_EXITS);
	st->allowed = allowed > 0 ? (uint32_t)allowed : 0;
	uint32_t mask = st->allowed & DEDICATED_EXITS;
	if (!mask)
		return 0; /* nothing this host lets us disable: dedicated cores still pin and hint */
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_DISABLE_EXITS, .args = { mask } };
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return error_errno(e, "KVM_CAP_X86_DISABLE_EXITS 0x%x", mask);
	st->disabled = mask;
	return 0;
}

static int set_halt_poll(int vm_fd, long long ns, struct error *e)
{
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_HALT_POLL) <= 0)
		return error_set(e, "--halt-poll-ns: this KVM has no per-VM halt polling "
				    "(KVM_CAP_HALT_POLL)");
	struct kvm_enable_cap cap = { .cap = KVM_CAP_HALT_POLL, .args = { (uint64_t)ns } };
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return error_errno(e, "KVM_CAP_HALT_POLL %lld ns", ns);
	return 0;
}

int exits_configure(int vm_fd, const struct exits_config *cfg, struct exits_state *st,
		    struct error *e)
{
	memset(st, 0, sizeof(*st));
	st->dedicated_cores = cfg->dedicated_cores;
	st->halt_poll_ns = EXITS_HALT_POLL_DEFAULT;
	if (cfg->dedicated_cores && disable_exits(vm_fd, st, e) < 0)
		return -1;
	if (cfg->halt_poll_ns != EXITS_HALT_POLL_DEFAULT) {
		if (set_halt_poll(vm_fd, cfg->halt_poll_ns, e) < 0)
			return -1;
		st->halt_poll_ns = cfg->halt_poll_ns;
	}
	return 0;
}

void exits_pv_cpuid(struct kvm_cpuid2 *c, const struct exits_state *st)
{
	struct kvm_cpuid_entry2 *ent = cpuid_find(c, KVM_CPUID_FEATURES_LEAF, 0);
	if (!ent)
		return;
	ent->eax &= PV_FEATURES_OFFERED;
	/* A PV spinlock waiter halts and is woken by KVM_HC_KICK_CPU; with HLT not exiting, the
	 * halt happens in guest mode and the kick never reaches it. */
	if (st->disabled & KVM_X86_DISABLE_EXITS_HLT)
		ent->eax &= ~(1u << KVM_FEATURE_PV_UNHALT);
	/* Never-preempted vCPUs: the guest may spin instead of yielding (native qspinlocks, no
	 * PV TLB flush/sched yield, the haltpoll cpuidle driver). */
	if (st->dedicated_cores)
		ent->edx |= 1u << KVM_HINTS_REALTIME;
	else
		ent->edx &= ~(1u << KVM_HINTS_REALTIME);
}

void exits_describe(uint32_t mask, char *buf, unsigned size)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ KVM_X86_DISABLE_EXITS_HLT, "hlt" }, { KVM_X86_DISABLE_EXITS_PAUSE, "pause" },
		{ KVM_X86_DISABLE_EXITS_MWAIT, "mwait" }, { KVM_X86_DISABLE_EXITS_CSTATE, "cstate" },
	};
	unsigned used = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(mask & names[i].bit) || used >= size)
			continue;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", names[i].name);
		used += n > 0 ? (unsigned)n : 0;
	}
	if (!buf[0])
		snprintf(buf, size, "none");
}
