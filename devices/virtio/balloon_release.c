/* Giving guest memory back to the host, the way its backing allows (vmm/memory_backing.h):
 *
 *   anon       madvise(MADV_DONTNEED): the pages are freed now; the guest faults in zeroed
 *              ones when it touches them again (a deflate needs nothing from the host).
 *   memfd      fallocate(PUNCH_HOLE): MADV_DONTNEED would only unmap shared pages, the file
 *              would keep them; punching frees them and unmaps them everywhere (KVM included,
 *              through its MMU notifier).
 *   hugetlb    the same punch, but only for whole huge pages: a 4 KiB hole in a 2 MiB or 1 GiB
 *              page cannot be freed (hugetlbfs zeroes partial pages and keeps them). Inflated
 *              4 KiB pages are therefore remembered (one bit each) and a huge page goes back
 *              when the guest has inflated all of it. Free page reporting describes blocks of
 *              2 MiB and more, so reported blocks release whole huge pages directly.
 *
 * All of this runs on the balloon's thread. */
#include "balloon_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* Bookkeeping arrays are anonymous mappings: they cost nothing until used, and a reset can
 * drop them back to zero pages without touching every byte. */
static void *zeroed_map(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t bitmap_bytes(const struct balloon_release *r)
{
	return (r->size / BALLOON_PAGE_SIZE + 63) / 64 * 8;
}

static uint64_t counts_bytes(const struct balloon_release *r)
{
	return (r->size / r->huge + 1) * sizeof(uint32_t);
}

int balloon_release_init(struct balloon_release *r, const struct guest_mem *gm, struct error *e)
{
	memset(r, 0, sizeof(*r));
	r->kind = gm->backing.kind;
	r->base = gm->host;
	r->size = gm->size;
	r->fd = r->kind == MEMORY_BACKING_ANON ? -1 : gm->mapping.fd;
	if (r->kind != MEMORY_BACKING_HUGETLB_2M && r->kind != MEMORY_BACKING_HUGETLB_1G)
		return 0;
	r->huge = gm->mapping.page_size;
	if (r->huge < BALLOON_PAGE_SIZE || r->huge % BALLOON_PAGE_SIZE)
		return error_set(e, "virtio-balloon: hugetlb page size %llu is not a multiple of 4 KiB",
				 (unsigned long long)r->huge);
	r->inflated_bitmap = zeroed_map(bitmap_bytes(r));
	r->inflated_per_huge = zeroed_map(counts_bytes(r));
	if (!r->inflated_bitmap || !r->inflated_per_huge) {
		balloon_release_destroy(r);
		return error_errno(e, "virtio-balloon: cannot map the inflated-page bitmap");
	}
	return 0;
}

void balloon_release_destroy(struct balloon_release *r)
{
	if (r->inflated_bitmap)
		munmap(r->inflated_bitmap, bitmap_bytes(r));
	if (r->inflated_per_huge)
		munmap(r->inflated_per_huge, counts_bytes(r));
	r->inflated_bitmap = NULL;
	r->inflated_per_huge = NULL;
}

/* Frees [host, host+len), page-aligned and inside the mapping. Returns len, or 0 on failure
 * (counted; the first one is reported: the memory then simply stays with the VM). */
static uint64_t give_back(struct balloon_release *r, uint8_t *host, uint64_t len)
{
	if (len == 0)
		return 0;
	int rc = r->fd < 0 ? madvise(host, len, MADV_DONTNEED)
			   : fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       (off_t)(host - r->base), (off_t)len);
	if (rc == 0)
		return len;
	r->errors++;
	if (!r->warned) {
		r->warned = true;
		fprintf(stderr, "ember: virtio-balloon: cannot give %llu bytes of guest memory back to "
				"the host (%s: %s); they stay allocated (further failures are only "
				"counted)\n", (unsigned long long)len,
			r->fd < 0 ? "madvise" : "fallocate", strerror(errno));
	}
	return 0;
}

static bool test_and_set(uint64_t *bitmap, uint64_t i)
{
	uint64_t mask = 1ull << (i % 64);
	bool was = bitmap[i / 64] & mask;
	bitmap[i / 64] |= mask;
	return was;
}

static bool test_and_clear(uint64_t *bitmap, uint64_t i)
{
	uint64_t mask = 1ull << (i % 64);
	bool was = bitmap[i / 64] & mask;
	bitmap[i / 64] &= ~mask;
	return was;
}

/* hugetlb: marks the run's pages inflated and releases each huge page the run completed. */
static uint64_t inflate_huge(struct balloon_release *r, const struct balloon_run *run)
{
	uint64_t off = (uint64_t)(run->host - r->base), end = off + run->len, released = 0;
	uint64_t per_huge = r->huge / BALLOON_PAGE_SIZE;
	for (uint64_t h = off / r->huge; h * r->huge < end; h++) {
		uint64_t from = off > h * r->huge ? off : h * r->huge;
		uint64_t to = end < (h + 1) * r->huge ? end : (h + 1) * r->huge;
		uint32_t added = 0;
		for (uint64_t p = from / BALLOON_PAGE_SIZE; p < to / BALLOON_PAGE_SIZE; p++)
			added += !test_and_set(r->inflated_bitmap, p);
		r->inflated_per_huge[h] += added;
		/* Only when this run completed it: a huge page already given back stays given. */
		if (added && r->inflated_per_huge[h] == per_huge)
			released += give_back(r, r->base + h * r->huge, r->huge);
	}
	return released;
}

uint64_t balloon_release_inflate(struct balloon_release *r, const struct balloon_run *run)
{
	if (!r->huge)
		return give_back(r, run->host, run->len);
	return inflate_huge(r, run);
}

void balloon_release_deflate(struct balloon_release *r, const struct balloon_run *run)
{
	if (!r->huge)
		return;
	uint64_t off = (uint64_t)(run->host - r->base);
	for (uint64_t p = off / BALLOON_PAGE_SIZE; p < (off + run->len) / BALLOON_PAGE_SIZE; p++)
		if (test_and_clear(r->inflated_bitmap, p))
			r->inflated_per_huge[p * BALLOON_PAGE_SIZE / r->huge]--;
}

uint64_t balloon_release_range(struct balloon_release *r, uint8_t *host, uint64_t len)
{
	uint64_t unit = r->huge ? r->huge : BALLOON_PAGE_SIZE;
	if (host < r->base || (uint64_t)(host - r->base) > r->size ||
	    len > r->size - (uint64_t)(host - r->base))
		return 0; /* the virtqueue core checked it already; never trust twice-removed data */
	uint64_t off = (uint64_t)(host - r->base);
	uint64_t start = (off + unit - 1) / unit * unit, end = (off + len) / unit * unit;
	return end > start ? give_back(r, r->base + start, end - start) : 0;
}

void balloon_release_forget(struct balloon_release *r)
{
	if (!r->huge)
		return;
	madvise(r->inflated_bitmap, bitmap_bytes(r), MADV_DONTNEED);
	madvise(r->inflated_per_huge, counts_bytes(r), MADV_DONTNEED);
}
