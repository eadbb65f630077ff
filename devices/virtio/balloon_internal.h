/* virtio-balloon's own pieces, shared by balloon.c (the device, its thread and the API),
 * balloon_pfn.c (turning the guest's page numbers into checked runs of host memory),
 * balloon_release.c (giving memory back to the host, per backing) and balloon_stats.c (the
 * guest's statistics). The PFN, release and statistics helpers are plain functions of their
 * arguments, so unit tests drive them without a device. */
#ifndef EMBER_VIRTIO_BALLOON_INTERNAL_H
#define EMBER_VIRTIO_BALLOON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "balloon.h"

/* Feature bits (virtio v1.2, 5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST  0
#define VIRTIO_BALLOON_F_STATS_VQ        1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM  2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT  3
#define VIRTIO_BALLOON_F_PAGE_POISON     4
#define VIRTIO_BALLOON_F_REPORTING       5

/* The balloon's page: 4 KiB whatever the guest's page size (5.5.6: "PFNs ... 4096 bytes"). */
#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE  (1ull << BALLOON_PAGE_SHIFT)
#define BALLOON_PAGES_PER_MIB (1u << (20 - BALLOON_PAGE_SHIFT))

/* One le16 tag + le64 value, packed (5.5.6.3). */
#define BALLOON_STAT_ENTRY_SIZE 10

/* ---- PFNs → runs (balloon_pfn.c) ---- */

/* Guest-physically and host-contiguous 4 KiB pages, wholly inside one RAM region. */
struct balloon_run {
	uint64_t gpa;
	uint64_t len;
	uint8_t *host;
};

struct balloon_pfn_counts {
	uint64_t pages;       /* valid, distinct pages turned into runs */
	uint64_t ignored;     /* outside guest RAM (in a hole, past the end) */
	uint64_t duplicates;  /* the same page twice in one batch */
};

/* Sorts pfns[0..n) in place, drops (and counts) pages not wholly inside guest RAM and
 * repeated pages, and coalesces the rest into runs. `runs` must have room for n entries.
 * Returns the number of runs; adds to *c. */
size_t balloon_pfns_to_runs(const struct guest_mem *gm, uint32_t *pfns, size_t n,
			    struct balloon_run *runs, struct balloon_pfn_counts *c);

/* ---- Giving memory back (balloon_release.c) ---- */

struct balloon_release {
	enum memory_backing_kind kind;
	uint8_t *base;          /* the guest RAM mapping */
	uint64_t size;
	int fd;                 /* memfd / hugetlb file, -1 for anonymous memory */
	uint64_t huge;          /* hugetlb page size, 0 for anon/memfd */
	/* hugetlb only: which 4 KiB pages the guest inflated (a bit per page of the mapping) and
	 * how many per huge page; a huge page goes back when all of its pages are inflated. */
	uint64_t *inflated_bitmap;
	uint32_t *inflated_per_huge;
	/* Results (the caller adds them to its counters). */
	uint64_t errors;        /* madvise/fallocate failures */
	bool warned;            /* the first failure was reported */
};

int balloon_release_init(struct balloon_release *r, const struct guest_mem *gm, struct error *e);
void balloon_release_destroy(struct balloon_release *r);

/* The guest inflated this run: returns the bytes given back to the host now (hugetlb: only
 * whole huge pages whose every 4 KiB page is inflated). */
uint64_t balloon_release_inflate(struct balloon_release *r, const struct balloon_run *run);
/* The guest took this run back (hugetlb accounting; anonymous and shared memory simply fault
 * in again when touched). */
void balloon_release_deflate(struct balloon_release *r, const struct balloon_run *run);
/* Free page reporting: the guest says [host, host+len) is free. Releases the whole pages inside
 * it (4 KiB, or huge pages for hugetlb); returns the bytes released. */
uint64_t balloon_release_range(struct balloon_release *r, uint8_t *host, uint64_t len);
/* Device reset: the guest owns all of its memory again (hugetlb accounting restarts). */
void balloon_release_forget(struct balloon_release *r);

/* ---- Statistics (balloon_stats.c) ---- */

/* Parses `len` bytes of tag/value pairs (a trailing partial entry is ignored) into *out, which
 * is replaced: tags not in the buffer are absent afterwards. Returns the number of entries with
 * a known tag; *unknown gets the number with a tag Ember does not know. */
unsigned balloon_stats_parse(const uint8_t *buf, size_t len, struct balloon_stats *out,
			     unsigned *unknown);

#endif
