/* Split virtqueue, hostile driver: every spec violation must fail the pop with a message that
 * names the problem, mark the queue broken (the device then sets DEVICE_NEEDS_RESET), leave the
 * device's indices untouched, and never crash or touch memory outside guest RAM. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "virtq_test_ring.h"

#define F_EVENT_IDX VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_INDIRECT VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define NEXT VIRTQ_DESC_F_NEXT
#define WRITE VIRTQ_DESC_F_WRITE
#define INDIRECT VIRTQ_DESC_F_INDIRECT

static struct test_ring t;

static void setup(void) { tr_setup(&t, 16, F_EVENT_IDX | F_INDIRECT); }
static void setup_no_indirect(void) { tr_setup(&t, 16, F_EVENT_IDX); }
static void teardown(void) { tr_teardown(&t); }

/* Offers `head`, pops, and checks the pop is refused with `expect` in the message. */
static void expect_violation(uint16_t head, const char *expect)
{
	uint16_t last = t.vq.last_avail_idx;
	tr_offer(&t, head);
	int r = virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e);
	cr_assert_eq(r, -1, "pop returned %d, expected a violation (%s)", r, expect);
	cr_assert(strstr(t.e.msg, expect), "message \"%s\" lacks \"%s\"", t.e.msg, expect);
	cr_assert(t.vq.broken);
	cr_assert_eq(t.vq.last_avail_idx, last, "a refused chain is not consumed");
	cr_assert_eq(t.vq.inflight, 0);
	/* Broken stays broken, for pop and push alike, until reset. */
	cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), -1);
	cr_assert(strstr(t.e.msg, "broken"), "%s", t.e.msg);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, head, 0, &t.e), -1);
	cr_assert_not(virtqueue_should_notify(&t.vq, &t.gm));
	cr_assert_eq(tr_used_idx(&t), 0, "nothing was returned to the driver");
}

Test(virtqueue_malicious, self_loop, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	tr_desc(&t, 4, b, 8, NEXT, 4);
	expect_violation(4, "descriptor chain at head 4: chain is longer than the queue size 16 "
			    "(a loop?)");
}

Test(virtqueue_malicious, loop_back_to_head, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	tr_desc(&t, 0, b, 8, NEXT, 1);
	tr_desc(&t, 1, b, 8, NEXT, 2);
	tr_desc(&t, 2, b, 8, NEXT, 0);
	expect_violation(0, "a loop?");
}

Test(virtqueue_malicious, loop_of_zero_length_descriptors, .init = setup, .fini = teardown)
{
	/* Skipped buffers still count as steps: no free spinning. */
	tr_desc(&t, 0, 0, 0, NEXT, 1);
	tr_desc(&t, 1, 0, 0, NEXT, 0);
	expect_violation(0, "a loop?");
}

Test(virtqueue_malicious, head_out_of_range, .init = setup, .fini = teardown)
{
	expect_violation(16, "names head 16, beyond the queue size 16");
}

Test(virtqueue_malicious, head_far_out_of_range, .init = setup, .fini = teardown)
{
	expect_violation(0xffff, "names head 65535");
}

Test(virtqueue_malicious, next_out_of_range, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	tr_desc(&t, 3, b, 8, NEXT, 16);
	expect_violation(3, "descriptor 3 has next 16, beyond its table of 16");
}

Test(virtqueue_malicious, buffer_outside_ram, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, TR_RAM, 8, 0, 0);
	expect_violation(0, "descriptor 0 buffer 0x1000000+0x8 is outside guest RAM");
}

Test(virtqueue_malicious, buffer_straddles_end_of_ram, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, TR_RAM - 4, 8, WRITE, 0);
	expect_violation(0, "outside guest RAM");
}

Test(virtqueue_malicious, buffer_address_wraps, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, UINT64_MAX - 10, 100, 0, 0);
	expect_violation(0, "0xfffffffffffffff5+0x64 is outside guest RAM");
}

Test(virtqueue_malicious, total_length_past_4g_one_step, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	tr_desc(&t, 0, b, 1, NEXT, 1);
	tr_desc(&t, 1, b, UINT32_MAX, WRITE, 0);
	expect_violation(0, "descriptor 1 takes the chain past 4294967295 bytes");
}

static void setup_512(void) { tr_setup(&t, 512, 0); }

Test(virtqueue_malicious, total_length_past_4g_many_buffers, .init = setup_512, .fini = teardown)
{
	/* 300 in-RAM buffers of 15 MiB (all the same memory): the 274th crosses 4 GiB. */
	for (uint16_t i = 0; i < 300; i++)
		tr_desc(&t, i, 0x100000, 15u << 20, NEXT, i + 1);
	expect_violation(0, "descriptor 273 takes the chain past 4294967295 bytes");
}

Test(virtqueue_malicious, writable_then_readable, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	tr_desc(&t, 0, b, 8, NEXT, 1);
	tr_desc(&t, 1, b, 8, WRITE | NEXT, 2);
	tr_desc(&t, 2, b, 8, 0, 0);
	expect_violation(0, "descriptor 2 is device-readable but follows a device-writable one");
}

Test(virtqueue_malicious, writable_then_readable_across_indirect, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8), table = tr_alloc(&t, 16);
	tr_desc(&t, 0, b, 8, WRITE | NEXT, 1);
	tr_desc(&t, 1, table, 16, INDIRECT, 0);
	tr_desc_at(&t, table, 0, b, 8, 0, 0);
	expect_violation(0, "indirect descriptor 0 is device-readable but follows");
}

Test(virtqueue_malicious, indirect_with_next, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8), table = tr_alloc(&t, 16);
	tr_desc_at(&t, table, 0, b, 8, 0, 0);
	tr_desc(&t, 0, table, 16, INDIRECT | NEXT, 1);
	tr_desc(&t, 1, b, 8, WRITE, 0);
	expect_violation(0, "descriptor 0 has both INDIRECT and NEXT set");
}

Test(virtqueue_malicious, nested_indirect, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8), outer = tr_alloc(&t, 32), inner = tr_alloc(&t, 16);
	tr_desc_at(&t, inner, 0, b, 8, 0, 0);
	tr_desc_at(&t, outer, 0, b, 8, NEXT, 1);
	tr_desc_at(&t, outer, 1, inner, 16, INDIRECT, 0);
	tr_desc(&t, 0, outer, 32, INDIRECT, 0);
	expect_violation(0, "indirect descriptor 1 points to another indirect table");
}

Test(virtqueue_malicious, indirect_table_points_to_itself, .init = setup, .fini = teardown)
{
	uint64_t table = tr_alloc(&t, 16);
	tr_desc_at(&t, table, 0, table, 16, INDIRECT, 0);
	tr_desc(&t, 0, table, 16, INDIRECT, 0);
	expect_violation(0, "nesting is forbidden");
}

Test(virtqueue_malicious, indirect_len_zero, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, tr_alloc(&t, 16), 0, INDIRECT, 0);
	expect_violation(0, "indirect table length 0 of descriptor 0 is not a non-zero multiple of 16");
}

Test(virtqueue_malicious, indirect_len_not_multiple_of_16, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, tr_alloc(&t, 32), 24, INDIRECT, 0);
	expect_violation(0, "indirect table length 24");
}

Test(virtqueue_malicious, indirect_table_outside_ram, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, TR_RAM - 16, 32, INDIRECT, 0);
	expect_violation(0, "indirect table 0xfffff0+0x20 of descriptor 0 is outside guest RAM");
}

Test(virtqueue_malicious, indirect_table_address_wraps, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, UINT64_MAX - 15, 32, INDIRECT, 0);
	expect_violation(0, "is outside guest RAM");
}

Test(virtqueue_malicious, indirect_table_too_large, .init = setup, .fini = teardown)
{
	uint32_t len = 16 * (VIRTQ_MAX_INDIRECT_DESCS + 1);
	tr_desc(&t, 0, tr_alloc(&t, len), len, INDIRECT, 0);
	expect_violation(0, "has 32769 entries, more than 32768");
}

Test(virtqueue_malicious, indirect_loop, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8), table = tr_alloc(&t, 48);
	tr_desc_at(&t, table, 0, b, 8, NEXT, 1);
	tr_desc_at(&t, table, 1, b, 8, NEXT, 2);
	tr_desc_at(&t, table, 2, b, 8, NEXT, 1);
	tr_desc(&t, 0, table, 48, INDIRECT, 0);
	expect_violation(0, "indirect chain is longer than its table of 3 (a loop?)");
}

Test(virtqueue_malicious, indirect_next_beyond_table, .init = setup, .fini = teardown)
{
	/* Inside a table, next is bounded by the table, not by the queue size. */
	uint64_t b = tr_alloc(&t, 8), table = tr_alloc(&t, 32);
	tr_desc_at(&t, table, 0, b, 8, NEXT, 2);
	tr_desc(&t, 0, table, 32, INDIRECT, 0);
	expect_violation(0, "indirect descriptor 0 has next 2, beyond its table of 2");
}

Test(virtqueue_malicious, indirect_not_negotiated, .init = setup_no_indirect, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8), table = tr_alloc(&t, 16);
	tr_desc_at(&t, table, 0, b, 8, 0, 0);
	tr_desc(&t, 0, table, 16, INDIRECT, 0);
	expect_violation(0, "descriptor 0 is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated");
}

Test(virtqueue_malicious, too_many_buffers_for_the_device, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	for (uint16_t i = 0; i < 5; i++)
		tr_desc(&t, i, b, 8, i < 4 ? NEXT : 0, i + 1);
	virtq_chain_init(&t.chain, t.iov, 4);  /* e.g. a blk device with seg_max 2 */
	expect_violation(0, "chain has more than 4 buffers (the device's limit)");
}

static void expect_avail_violation(uint16_t avail_idx, const char *expect)
{
	tr_set_avail_idx(&t, avail_idx);
	cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), -1, "avail idx %u", avail_idx);
	cr_assert(strstr(t.e.msg, expect), "message \"%s\" lacks \"%s\"", t.e.msg, expect);
	cr_assert(t.vq.broken);
	cr_assert_eq(t.vq.last_avail_idx, 0);
}

Test(virtqueue_malicious, avail_idx_races_ahead, .init = setup, .fini = teardown)
{
	expect_avail_violation(17, "avail idx 17 is 17 entries ahead of the device's 0, more than "
			       "the queue size 16");
}

Test(virtqueue_malicious, avail_idx_goes_backwards, .init = setup, .fini = teardown)
{
	expect_avail_violation(0xffff, "65535 entries ahead");
}

Test(virtqueue_malicious, avail_idx_exactly_queue_size_is_fine, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	for (uint16_t i = 0; i < 16; i++)
		tr_desc(&t, i, b, 8, 0, 0);
	for (uint16_t i = 0; i < 16; i++)
		tr_offer(&t, i);
	for (uint16_t i = 0; i < 16; i++)
		cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), 1, "%s", t.e.msg);
	cr_assert_not(t.vq.broken);
}

Test(virtqueue_malicious, reusing_descriptors_in_flight, .init = setup, .fini = teardown)
{
	uint64_t b = tr_alloc(&t, 8);
	tr_desc(&t, 0, b, 8, 0, 0);
	for (int i = 0; i < 16; i++)
		tr_offer(&t, 0);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), 1, "%s", t.e.msg);
	/* All 16 are with the device; a 17th offer reuses a descriptor the device owns. */
	tr_offer(&t, 0);
	cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), -1);
	cr_assert(strstr(t.e.msg, "while all 16 descriptors are in flight"), "%s", t.e.msg);
}

Test(virtqueue_malicious, reset_recovers_a_broken_queue, .init = setup, .fini = teardown)
{
	tr_desc(&t, 0, TR_RAM, 8, 0, 0);
	tr_offer(&t, 0);
	cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), -1);
	virtqueue_reset(&t.vq);
	cr_assert_not(t.vq.broken);
	t.vq.desc_gpa = TR_DESC;
	t.vq.avail_gpa = TR_AVAIL;
	t.vq.used_gpa = TR_USED;
	cr_assert_eq(virtqueue_enable(&t.vq, &t.gm, F_INDIRECT, &t.e), 0, "%s", t.e.msg);
	/* The driver re-initialises its rings after a reset. */
	tr_set_avail_idx(&t, 0);
	tr_desc(&t, 0, tr_alloc(&t, 8), 8, 0, 0);
	tr_offer(&t, 0);
	cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e), 1, "%s", t.e.msg);
}
