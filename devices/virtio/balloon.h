/* virtio-balloon (virtio v1.2, 5.5): the host asks the guest to give back memory (inflate) or
 * hands it back (deflate); pages the guest gives are released to the host. Optional queues: the
 * statistics queue (the guest's memory statistics, polled every stats_interval_s) and free page
 * reporting (the guest reports freed blocks, the host releases them). Own thread, own io_uring
 * loop, like every Ember virtio device. This header is also the API's contract (/balloon). */
#ifndef EMBER_VIRTIO_BALLOON_H
#define EMBER_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"
#include "balloon_options.h"

struct virtio_balloon;
struct virtio_pci;

/* Plugs a virtio-balloon function into `bus` and starts its thread. vm_fd -1: no KVM (tests). */
struct virtio_balloon *virtio_balloon_create(struct pci_bus *bus, int vm_fd,
					     const struct guest_mem *mem,
					     const struct balloon_options *o, struct error *e);
/* Stops the thread and unplugs the device. Call after the vCPUs have stopped. */
void virtio_balloon_destroy(struct virtio_balloon *b);

/* PATCH /balloon: a new target (config change interrupt). Safe from any thread. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t target_mib, struct error *e);
/* PATCH /balloon/statistics: a new polling interval; -1 when statistics were off at boot
 * (Firecracker's rule: they cannot be turned on or off after boot). */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t seconds,
				      struct error *e);

struct balloon_info {
	uint32_t target_mib, actual_mib;   /* asked for / what the guest has given (num_pages) */
	uint64_t target_pages, actual_pages; /* 4 KiB pages */
	bool deflate_on_oom, free_page_reporting;
	uint32_t stats_interval_s;
	uint64_t inflated_pages_released; /* counters since boot */
	uint64_t reported_bytes_released; /* free page reporting */
};
void virtio_balloon_info(struct virtio_balloon *b, struct balloon_info *out);

/* The guest's last statistics (virtio v1.2, 5.5.6.3 tags); `has` bit i set when tag i was
 * reported. Returns -1 when statistics are off. */
enum balloon_stat_tag {
	BALLOON_STAT_SWAP_IN = 0, BALLOON_STAT_SWAP_OUT = 1, BALLOON_STAT_MAJFLT = 2,
	BALLOON_STAT_MINFLT = 3, BALLOON_STAT_MEMFREE = 4, BALLOON_STAT_MEMTOT = 5,
	BALLOON_STAT_AVAIL = 6, BALLOON_STAT_CACHES = 7, BALLOON_STAT_HTLB_PGALLOC = 8,
	BALLOON_STAT_HTLB_PGFAIL = 9, BALLOON_STAT_OOM_KILLS = 10, BALLOON_STAT_ALLOC_STALLS = 11,
	BALLOON_STAT_ASYNC_SCANS = 12, BALLOON_STAT_DIRECT_SCANS = 13,
	BALLOON_STAT_ASYNC_RECLAIMS = 14, BALLOON_STAT_DIRECT_RECLAIMS = 15,
	BALLOON_STAT_COUNT = 16
};
struct balloon_stats {
	uint32_t has;
	uint64_t value[BALLOON_STAT_COUNT];
};
int virtio_balloon_stats(struct virtio_balloon *b, struct balloon_stats *out, struct error *e);
/* Firecracker's name of a tag ("swap_in", "free_memory", ...), NULL past the last. */
const char *virtio_balloon_stat_name(enum balloon_stat_tag tag);

/* Everything the device counted since boot (metrics, tests). */
struct balloon_counters {
	uint64_t inflate_pages;      /* valid PFNs received on the inflateq */
	uint64_t deflate_pages;      /* valid PFNs received on the deflateq */
	uint64_t pfns_ignored;       /* PFNs outside guest RAM (holes, past the end) */
	uint64_t pfns_duplicate;     /* the same PFN twice in one buffer */
	uint64_t inflated_bytes_released;
	uint64_t reports;            /* free page reports (chains) */
	uint64_t reported_bytes;     /* bytes the reports described (valid ranges) */
	uint64_t reported_bytes_released;
	uint64_t stats_updates;      /* statistics buffers parsed */
	uint64_t stats_unknown_tags;
	uint64_t release_errors;     /* madvise/fallocate failures */
	uint64_t inflate_buffers;    /* inflateq buffers served (Linux: one per request) */
	uint64_t deflate_buffers;    /* deflateq buffers served */
	uint64_t reported_blocks;    /* free page report buffers (descriptors) */
};
void virtio_balloon_get_counters(struct virtio_balloon *b, struct balloon_counters *out);

/* For tests and metrics. */
struct virtio_pci *virtio_balloon_transport(struct virtio_balloon *b);

#endif
