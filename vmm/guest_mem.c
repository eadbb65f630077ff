#include "guest_mem.h"

#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../arch/x86/layout.h"

int guest_mem_init(struct guest_mem *gm, uint64_t size, struct error *e)
{
	struct memory_backing b;
	memory_backing_defaults(&b);
	return guest_mem_init_backed(gm, size, &b, e);
}

int guest_mem_init_backed(struct guest_mem *gm, uint64_t size, const struct memory_backing *b,
			  struct error *e)
{
	memset(gm, 0, sizeof(*gm));
	if (memory_backing_map(b, size, &gm->mapping, e) < 0)
		return -1;
	gm->backing = *b;
	gm->host = gm->mapping.host;
	gm->size = size;

	/* High RAM starts at host offset `low` = 3 GiB and GPA 4 GiB: both 1 GiB aligned, so the
	 * second memslot can use large NPT pages as well as the first. */
	uint64_t low = size < LAYOUT_MMIO32_START ? size : LAYOUT_MMIO32_START;
	gm->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low, .host = gm->host };
	gm->nregions = 1;
	if (size > low) {
		gm->regions[1] = (struct guest_mem_region){
			.gpa = LAYOUT_4G, .size = size - low, .host = gm->host + low };
		gm->nregions = 2;
	}
	return 0;
}

void guest_mem_destroy(struct guest_mem *gm)
{
	if (gm->host)
		memory_backing_unmap(&gm->mapping);
	memset(gm, 0, sizeof(*gm));
}

int guest_mem_register(const struct guest_mem *gm, int vm_fd, struct error *e)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct guest_mem_region *r = &gm->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return error_errno(e, "KVM_SET_USER_MEMORY_REGION (slot %u)", i);
	}
	return 0;
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return NULL;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct guest_mem_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len,
		    struct error *e)
{
	void *dst = guest_mem_ptr(gm, gpa, len);
	if (!dst)
		return error_set(e, "guest range 0x%llx+0x%llx is outside guest RAM",
				 (unsigned long long)gpa, (unsigned long long)len);
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len, struct error *e)
{
	const void *src = guest_mem_ptr(gm, gpa, len);
	if (!src)
		return error_set(e, "guest range 0x%llx+0x%llx is outside guest RAM",
				 (unsigned long long)gpa, (unsigned long long)len);
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *gm)
{
	return gm->regions[0].size;
}
