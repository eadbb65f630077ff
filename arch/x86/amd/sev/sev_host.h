/* Can this host run a confidential VM of a given mode? Checked before any VM exists, so that
 * `ember run --sev MODE` on a host without it fails at once with one line naming what is missing
 * (KVM's VM type, kvm_amd's parameter, /dev/sev) and what would provide it. */
#ifndef EMBER_SEV_HOST_H
#define EMBER_SEV_HOST_H

#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_kvm_ops.h"
#include "sev_launch_plan.h"

/* 0 when KVM offers the mode's VM type, kvm_amd has it enabled and /dev/sev opens; else -1
 * with e naming the first thing missing, then the others. */
int sev_host_check(const struct sev_kvm_ops *ops, enum sev_mode mode, struct error *e);

/* `ember run --sev MODE [--sev-policy P]` on the real host (/dev/kvm open as kvm_fd): checks
 * the policy (0: the mode's default) and the host, prefixing messages with "--sev MODE: ".
 * 0: the launch may start (sev_vm.h). */
int sev_run_check(int kvm_fd, enum sev_mode mode, uint64_t policy, struct error *e);

#endif
