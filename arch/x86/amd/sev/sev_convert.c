#include "sev_convert.h"

#include <asm/kvm_para.h>
#include <errno.h>
#include <linux/kvm_para.h>
#include <stddef.h>

#include "sev_kvm_uapi.h"
#include "sev_launch_internal.h"

/* KVM_HC_MAP_GPA_RANGE's attributes: a page-size hint in bits 0-3 (4K, 2M, 1G) and the wanted
 * state in bit 4 (Documentation/virt/kvm/x86/hypercalls.rst). */
#define MAP_GPA_PAGE_SIZE_MASK 0xfull
#define MAP_GPA_PAGE_SIZE_MAX KVM_MAP_GPA_RANGE_PAGE_SZ_1G
#define MAP_GPA_KNOWN (MAP_GPA_PAGE_SIZE_MASK | KVM_MAP_GPA_RANGE_ENCRYPTED)

const struct sev_kvm_memory_fault *sev_kvm_run_memory_fault(const struct kvm_run *run)
{
	return (const struct sev_kvm_memory_fault *)((const uint8_t *)run +
						     offsetof(struct kvm_run, hypercall));
}

/* Every byte of [gpa, end) must be in some slot; slots may be adjacent. */
static int check_range(struct sev_launch *l, uint64_t gpa, uint64_t size, struct error *e)
{
	unsigned long long g = gpa, s = size;
	if (!size || gpa % SEV_PAGE_SIZE || size % SEV_PAGE_SIZE)
		return error_set(e, "range 0x%llx+0x%llx is not whole pages", g, s);
	if (gpa + size < gpa)
		return error_set(e, "range 0x%llx+0x%llx wraps around", g, s);
	for (uint64_t at = gpa; at < gpa + size;) {
		struct sev_mem_slot *slot = sev_launch_slot_for(l, at, 1);
		if (!slot)
			return error_set(e, "range 0x%llx+0x%llx is not all guest RAM (0x%llx is not)",
					 g, s, (unsigned long long)at);
		at = slot->gpa + slot->size;
	}
	return 0;
}

static void discard(struct sev_launch *l, struct sev_mem_slot *slot, uint64_t gpa, uint64_t len,
		    bool to_private)
{
	uint64_t offset = gpa - slot->gpa;
	/* Best effort: a page left behind wastes memory but is never seen by the other side. */
	if (to_private)
		l->ops.discard_shared(l->ops.ctx, slot->host + offset, len);
	else
		l->ops.discard_private(l->ops.ctx, slot->gmem_fd, offset, len);
}

int sev_convert_range(struct sev_launch *l, uint64_t gpa, uint64_t size, bool to_private,
		      struct error *e)
{
	if (l->cfg.mode != SEV_MODE_SNP || l->stage != SEV_STAGE_FINISHED)
		return error_set(e, "private/shared conversions need a running SNP guest");
	if (check_range(l, gpa, size, e) < 0)
		return -1;
	struct sev_kvm_memory_attributes attrs = {
		.address = gpa, .size = size,
		.attributes = to_private ? SEV_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	if (l->ops.vm_ioctl(l->ops.ctx, SEV_KVM_SET_MEMORY_ATTRIBUTES, &attrs) < 0)
		return error_errno(e, "KVM_SET_MEMORY_ATTRIBUTES (0x%llx+0x%llx %s)",
				   (unsigned long long)gpa, (unsigned long long)size,
				   to_private ? "private" : "shared");
	for (uint64_t at = gpa; at < gpa + size;) {
		struct sev_mem_slot *slot = sev_launch_slot_for(l, at, 1);
		uint64_t end = slot->gpa + slot->size < gpa + size ? slot->gpa + slot->size
								    : gpa + size;
		discard(l, slot, at, end - at, to_private);
		at = end;
	}
	return 0;
}

enum sev_convert_result sev_handle_hypercall(struct sev_launch *l, struct kvm_run *run,
					     struct error *e)
{
	if (run->hypercall.nr != KVM_HC_MAP_GPA_RANGE) {
		error_set(e, "unexpected hypercall %llu from the guest",
			  (unsigned long long)run->hypercall.nr);
		return SEV_CONVERT_FATAL;
	}
	uint64_t gpa = run->hypercall.args[0], npages = run->hypercall.args[1];
	uint64_t attrs = run->hypercall.args[2];
	bool to_private = attrs & KVM_MAP_GPA_RANGE_ENCRYPTED;
	run->hypercall.ret = (uint64_t)-KVM_EINVAL;
	if ((attrs & ~MAP_GPA_KNOWN) || (attrs & MAP_GPA_PAGE_SIZE_MASK) > MAP_GPA_PAGE_SIZE_MAX) {
		error_set(e, "KVM_HC_MAP_GPA_RANGE with unknown attributes 0x%llx refused",
			  (unsigned long long)attrs);
		return SEV_CONVERT_REFUSED;
	}
	if (npages == 0 || npages > UINT64_MAX / SEV_PAGE_SIZE) {
		error_set(e, "KVM_HC_MAP_GPA_RANGE of %llu pages refused", (unsigned long long)npages);
		return SEV_CONVERT_REFUSED;
	}
	if (check_range(l, gpa, npages * SEV_PAGE_SIZE, e) < 0) {
		error_prefix(e, "KVM_HC_MAP_GPA_RANGE refused");
		return SEV_CONVERT_REFUSED;
	}
	if (sev_convert_range(l, gpa, npages * SEV_PAGE_SIZE, to_private, e) < 0)
		return SEV_CONVERT_FATAL;
	run->hypercall.ret = 0;
	return SEV_CONVERT_DONE;
}

enum sev_convert_result sev_handle_memory_fault(struct sev_launch *l, const struct kvm_run *run,
						struct error *e)
{
	const struct sev_kvm_memory_fault *f = sev_kvm_run_memory_fault(run);
	if (f->flags & ~SEV_KVM_MEMORY_EXIT_FLAG_PRIVATE) {
		error_set(e, "memory fault at 0x%llx with unknown flags 0x%llx",
			  (unsigned long long)f->gpa, (unsigned long long)f->flags);
		return SEV_CONVERT_FATAL;
	}
	if (sev_convert_range(l, f->gpa, f->size, f->flags & SEV_KVM_MEMORY_EXIT_FLAG_PRIVATE,
			      e) < 0) {
		error_prefix(e, "memory fault");
		return SEV_CONVERT_FATAL;
	}
	return SEV_CONVERT_DONE;
}
