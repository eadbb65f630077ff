/* SEV-SNP at run time: the guest turns pages private or shared (OVMF and Linux share pages for
 * DMA, the GHCB, firmware tables), and Ember follows with KVM_SET_MEMORY_ATTRIBUTES. Requests
 * arrive two ways: KVM_EXIT_HYPERCALL with KVM_HC_MAP_GPA_RANGE (the guest's page-state-change
 * requests, which KVM forwards once sev_launch_init enabled them) and KVM_EXIT_MEMORY_FAULT (the
 * guest touched a page in the other state). Every range comes from the guest: it must be whole
 * pages of guest RAM, or it is refused. */
#ifndef EMBER_SEV_CONVERT_H
#define EMBER_SEV_CONVERT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_launch.h"

/* KVM_EXIT_MEMORY_FAULT (Linux 6.8+): KVM_RUN returns -1 with errno EFAULT and this exit reason;
 * Debian 12's <linux/kvm.h> predates it, so Ember reads kvm_run's exit union through its own
 * view of the struct. */
#define SEV_KVM_EXIT_MEMORY_FAULT 39
#define SEV_KVM_MEMORY_EXIT_FLAG_PRIVATE (1ull << 3)

struct sev_kvm_memory_fault {
	uint64_t flags;
	uint64_t gpa;
	uint64_t size;
};

/* The kvm_run exit union's memory_fault member. */
const struct sev_kvm_memory_fault *sev_kvm_run_memory_fault(const struct kvm_run *run);

/* Makes [gpa, gpa+size) private or shared: checks all of it is whole pages of registered guest
 * RAM (nothing changes otherwise), sets the attribute, and frees the side no longer used. Returns
 * 0, or -1 with e naming the bad range or the failed ioctl. */
int sev_convert_range(struct sev_launch *l, uint64_t gpa, uint64_t size, bool to_private,
		      struct error *e);

/* Outcome of a guest request. */
enum sev_convert_result {
	SEV_CONVERT_DONE = 0,	 /* converted; the vCPU may re-enter */
	SEV_CONVERT_REFUSED = 1, /* the guest's request was bad: it was told (e says why) */
	SEV_CONVERT_FATAL = -1,	 /* the host failed (e says how): stop the VM */
};

/* KVM_EXIT_HYPERCALL: KVM_HC_MAP_GPA_RANGE(gpa, npages, attributes). Sets run->hypercall.ret
 * (0, or -KVM_EINVAL for a refused range) before the vCPU re-enters. Any other hypercall is fatal:
 * KVM forwards only the ones Ember enabled. */
enum sev_convert_result sev_handle_hypercall(struct sev_launch *l, struct kvm_run *run,
					     struct error *e);

/* KVM_EXIT_MEMORY_FAULT: converts the faulting range to what the guest accessed it as. KVM only
 * reports ranges inside memslots, so a bad range is fatal here. */
enum sev_convert_result sev_handle_memory_fault(struct sev_launch *l, const struct kvm_run *run,
						struct error *e);

#endif
