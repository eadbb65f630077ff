/* Statistics buffers as a guest writes them (virtio v1.2, 5.5.6.3): packed le16 tag + le64
 * value. The parser takes whatever length comes, skips unknown tags and partial entries. */
#include <criterion/criterion.h>
#include <endian.h>
#include <string.h>

#include "devices/virtio/balloon_internal.h"

static uint8_t buf[256];
static size_t len;

static void add(uint16_t tag, uint64_t value)
{
	uint16_t t = htole16(tag);
	uint64_t v = htole64(value);
	memcpy(buf + len, &t, 2);
	memcpy(buf + len + 2, &v, 8);
	len += BALLOON_STAT_ENTRY_SIZE;
}

static void reset_buf(void)
{
	memset(buf, 0, sizeof(buf));
	len = 0;
}

TestSuite(balloon_stats, .init = reset_buf);

Test(balloon_stats, what_linux_sends)
{
	add(BALLOON_STAT_SWAP_IN, 1);
	add(BALLOON_STAT_SWAP_OUT, 2);
	add(BALLOON_STAT_MAJFLT, 3);
	add(BALLOON_STAT_MINFLT, 4);
	add(BALLOON_STAT_MEMFREE, 400ull << 20);
	add(BALLOON_STAT_MEMTOT, 512ull << 20);
	add(BALLOON_STAT_AVAIL, 450ull << 20);
	add(BALLOON_STAT_CACHES, 10ull << 20);
	add(BALLOON_STAT_HTLB_PGALLOC, 0);
	add(BALLOON_STAT_HTLB_PGFAIL, 0);
	struct balloon_stats s;
	unsigned unknown = 99;
	cr_assert_eq(balloon_stats_parse(buf, len, &s, &unknown), 10);
	cr_expect_eq(unknown, 0);
	cr_expect_eq(s.has, 0x3ff);
	cr_expect_eq(s.value[BALLOON_STAT_MEMFREE], 400ull << 20);
	cr_expect_eq(s.value[BALLOON_STAT_MEMTOT], 512ull << 20);
	cr_expect_eq(s.value[BALLOON_STAT_MINFLT], 4);
}

Test(balloon_stats, the_newest_tags_and_the_last_one)
{
	add(BALLOON_STAT_OOM_KILLS, 7);
	add(BALLOON_STAT_DIRECT_RECLAIMS, UINT64_MAX);
	struct balloon_stats s;
	unsigned unknown;
	cr_assert_eq(balloon_stats_parse(buf, len, &s, &unknown), 2);
	cr_expect_eq(s.has, 1u << BALLOON_STAT_OOM_KILLS | 1u << BALLOON_STAT_DIRECT_RECLAIMS);
	cr_expect_eq(s.value[BALLOON_STAT_DIRECT_RECLAIMS], UINT64_MAX);
}

Test(balloon_stats, unknown_tags_are_counted_and_skipped)
{
	add(BALLOON_STAT_COUNT, 1);
	add(0xffff, 2);
	add(BALLOON_STAT_MEMFREE, 3);
	struct balloon_stats s;
	unsigned unknown;
	cr_assert_eq(balloon_stats_parse(buf, len, &s, &unknown), 1);
	cr_expect_eq(unknown, 2);
	cr_expect_eq(s.has, 1u << BALLOON_STAT_MEMFREE);
	cr_expect_eq(s.value[BALLOON_STAT_MEMFREE], 3);
}

Test(balloon_stats, a_partial_entry_at_the_end_is_ignored)
{
	add(BALLOON_STAT_MEMFREE, 5);
	add(BALLOON_STAT_MEMTOT, 6);
	struct balloon_stats s;
	unsigned unknown;
	for (size_t cut = 1; cut < BALLOON_STAT_ENTRY_SIZE; cut++) {
		cr_assert_eq(balloon_stats_parse(buf, len - cut, &s, &unknown), 1, "cut %zu", cut);
		cr_expect_eq(s.has, 1u << BALLOON_STAT_MEMFREE);
	}
}

Test(balloon_stats, a_tag_given_twice_keeps_the_last_value)
{
	add(BALLOON_STAT_AVAIL, 1);
	add(BALLOON_STAT_AVAIL, 2);
	struct balloon_stats s;
	unsigned unknown;
	cr_assert_eq(balloon_stats_parse(buf, len, &s, &unknown), 2);
	cr_expect_eq(s.value[BALLOON_STAT_AVAIL], 2);
}

Test(balloon_stats, each_buffer_replaces_the_previous_one)
{
	struct balloon_stats s;
	unsigned unknown;
	add(BALLOON_STAT_MEMFREE, 1);
	add(BALLOON_STAT_MEMTOT, 2);
	balloon_stats_parse(buf, len, &s, &unknown);
	reset_buf();
	add(BALLOON_STAT_MEMTOT, 3);
	balloon_stats_parse(buf, len, &s, &unknown);
	cr_expect_eq(s.has, 1u << BALLOON_STAT_MEMTOT);
	cr_expect_eq(s.value[BALLOON_STAT_MEMFREE], 0);
	cr_expect_eq(s.value[BALLOON_STAT_MEMTOT], 3);
}

Test(balloon_stats, empty_and_tiny_buffers)
{
	struct balloon_stats s;
	unsigned unknown;
	cr_expect_eq(balloon_stats_parse(buf, 0, &s, &unknown), 0);
	cr_expect_eq(balloon_stats_parse(buf, 9, &s, &unknown), 0);
	cr_expect_eq(s.has, 0);
}

Test(balloon_stats, names_follow_firecracker)
{
	cr_expect_str_eq(virtio_balloon_stat_name(BALLOON_STAT_SWAP_IN), "swap_in");
	cr_expect_str_eq(virtio_balloon_stat_name(BALLOON_STAT_MEMFREE), "free_memory");
	cr_expect_str_eq(virtio_balloon_stat_name(BALLOON_STAT_AVAIL), "available_memory");
	cr_expect_str_eq(virtio_balloon_stat_name(BALLOON_STAT_DIRECT_RECLAIMS), "direct_reclaim");
	for (int t = 0; t < BALLOON_STAT_COUNT; t++)
		cr_expect_not_null(virtio_balloon_stat_name((enum balloon_stat_tag)t), "tag %d", t);
	cr_expect_null(virtio_balloon_stat_name(BALLOON_STAT_COUNT));
}
