/* The guest's memory statistics (virtio v1.2, 5.5.6.3): the driver fills the one buffer it
 * keeps on the statsq with packed { le16 tag; le64 val; } entries. The buffer comes from a
 * hostile guest: any length is accepted, a trailing partial entry is ignored, unknown tags are
 * counted and skipped, and a tag given twice keeps its last value. */
#include "balloon_internal.h"

#include <endian.h>
#include <string.h>

unsigned balloon_stats_parse(const uint8_t *buf, size_t len, struct balloon_stats *out,
			     unsigned *unknown)
{
	unsigned known = 0;
	*unknown = 0;
	memset(out, 0, sizeof(*out));
	for (size_t at = 0; at + BALLOON_STAT_ENTRY_SIZE <= len; at += BALLOON_STAT_ENTRY_SIZE) {
		uint16_t tag;
		uint64_t value;
		memcpy(&tag, buf + at, sizeof(tag));
		memcpy(&value, buf + at + sizeof(tag), sizeof(value));
		tag = le16toh(tag);
		if (tag >= BALLOON_STAT_COUNT) {
			(*unknown)++;
			continue;
		}
		out->has |= 1u << tag;
		out->value[tag] = le64toh(value);
		known++;
	}
	return known;
}

const char *virtio_balloon_stat_name(enum balloon_stat_tag tag)
{
	/* Firecracker's names for the same tags (its /balloon/statistics fields). */
	static const char *const names[BALLOON_STAT_COUNT] = {
		[BALLOON_STAT_SWAP_IN] = "swap_in",
		[BALLOON_STAT_SWAP_OUT] = "swap_out",
		[BALLOON_STAT_MAJFLT] = "major_faults",
		[BALLOON_STAT_MINFLT] = "minor_faults",
		[BALLOON_STAT_MEMFREE] = "free_memory",
		[BALLOON_STAT_MEMTOT] = "total_memory",
		[BALLOON_STAT_AVAIL] = "available_memory",
		[BALLOON_STAT_CACHES] = "disk_caches",
		[BALLOON_STAT_HTLB_PGALLOC] = "hugetlb_allocations",
		[BALLOON_STAT_HTLB_PGFAIL] = "hugetlb_failures",
		[BALLOON_STAT_OOM_KILLS] = "oom_kill",
		[BALLOON_STAT_ALLOC_STALLS] = "alloc_stall",
		[BALLOON_STAT_ASYNC_SCANS] = "async_scan",
		[BALLOON_STAT_DIRECT_SCANS] = "direct_scan",
		[BALLOON_STAT_ASYNC_RECLAIMS] = "async_reclaim",
		[BALLOON_STAT_DIRECT_RECLAIMS] = "direct_reclaim",
	};
	return (unsigned)tag < BALLOON_STAT_COUNT ? names[tag] : NULL;
}
