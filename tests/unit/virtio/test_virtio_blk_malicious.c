/* virtio-blk against a hostile driver: malformed headers, a status byte the device cannot write,
 * sector ranges past the end or overflowing sector * 512, bad discard/write-zeroes ranges,
 * unknown request types, buffers too small. Each bad request must be refused (IOERR / UNSUPP, or
 * DEVICE_NEEDS_RESET when there is no way to answer), the image must stay untouched, and the
 * device must go on serving good requests. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/virtio_pci.h"
#include "test_virtio_blk_util.h"

static struct bt t;

static void setup(void)
{
	bt_setup(&t, 0, "", VIRTIO_BLK_ENGINE_IO_URING);
	bt_bring_up(&t, 0, 1);
}

static void teardown(void)
{
	bt_teardown(&t);
}

TestSuite(virtio_blk_malicious, .init = setup, .fini = teardown, .timeout = 20);

/* The image still holds the pattern everywhere; the device still answers a good read. */
static void expect_intact_and_alive(void)
{
	static uint8_t host[BT_IMAGE_SIZE];
	bt_pread(&t, host, sizeof(host), 0);
	for (uint64_t i = 0; i < sizeof(host); i++)
		if (host[i] != bt_pattern(i))
			cr_assert_fail("image byte %llu changed", (unsigned long long)i);
	uint64_t buf = vd_alloc(&t.d, 512);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_IN, 7, buf, 512), VIRTIO_BLK_S_OK);
	cr_expect_eq(*(uint8_t *)vd_host(&t.d, buf, 1), bt_pattern(7 * 512));
	cr_expect_not(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Submits segs and returns the byte at status_gpa once the chain is used. */
static uint8_t submit(const struct bt_seg *segs, unsigned n, uint64_t status_gpa)
{
	uint16_t before = vd_used_idx(&t.d, &t.r[0]);
	*(uint8_t *)vd_host(&t.d, status_gpa, 1) = 0xee;
	bt_chain(&t, 0, segs, n);
	cr_assert(bt_wait_used(&t, 0, (uint16_t)(before + 1)), "request not completed");
	return bt_byte(&t, status_gpa);
}

Test(virtio_blk_malicious, short_header_is_ioerr)
{
	uint64_t hdr = bt_header(&t, VIRTIO_BLK_T_OUT, 0);
	uint64_t data = vd_alloc(&t.d, 512), st = vd_alloc(&t.d, 1);
	for (uint32_t len = 0; len < 16; len += 5) {
		struct bt_seg segs[] = { { hdr, len, false }, { st, 1, true } };
		cr_expect_eq(submit(segs, 2, st), VIRTIO_BLK_S_IOERR, "header of %u bytes", len);
	}
	/* A header split over two buffers is fine: 8 + 8 bytes. */
	uint64_t in = vd_alloc(&t.d, 512);
	uint64_t h2 = bt_header(&t, VIRTIO_BLK_T_IN, 3);
	struct bt_seg split[] = { { h2, 8, false }, { h2 + 8, 8, false }, { in, 512, true },
				  { st, 1, true } };
	cr_expect_eq(submit(split, 4, st), VIRTIO_BLK_S_OK);
	cr_expect_eq(bt_byte(&t, in), bt_pattern(3 * 512));
	(void)data;
	expect_intact_and_alive();
}

Test(virtio_blk_malicious, status_byte_not_writable_needs_reset)
{
	uint64_t hdr = bt_header(&t, VIRTIO_BLK_T_OUT, 0);
	uint64_t data = vd_alloc(&t.d, 512), st = vd_alloc(&t.d, 1);
	memset(vd_host(&t.d, data, 512), 0x77, 512);
	struct bt_seg segs[] = { { hdr, 16, false }, { data, 512, false }, { st, 1, false } };
	bt_chain(&t, 0, segs, 3);
	cr_assert(bt_wait_needs_reset(&t));
	cr_expect_eq(vd_msix_count(&t.d, 0), 1, "config interrupt");
	cr_expect_eq(vd_used_idx(&t.d, &t.r[0]), 0);
	/* The write was not carried out; a reset brings the device back. */
	vd_set_status(&t.d, 0);
	bt_bring_up(&t, 0, 1);
	expect_intact_and_alive();
}

Test(virtio_blk_malicious, sector_ranges_past_the_end)
{
	uint64_t buf = vd_alloc(&t.d, 4096);
	memset(vd_host(&t.d, buf, 4096), 0x11, 4096);
	static const uint64_t bad[][2] = {
		/* sector, bytes */
		{ BT_SECTORS, 512 },
		{ BT_SECTORS - 1, 1024 },
		{ BT_SECTORS - 7, 4096 },
		{ BT_SECTORS + 1, 512 },
		{ UINT64_MAX, 512 },
		{ UINT64_MAX - 7, 4096 },
		/* sector * 512 wraps to a small offset if computed carelessly */
		{ 1ull << 55, 512 },
		{ (1ull << 55) + 1, 512 },
		{ 0x8000000000000000ull >> 8, 4096 },
		{ UINT64_MAX / 512 + 1, 512 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_OUT, bad[i][0], buf, (uint32_t)bad[i][1]),
			     VIRTIO_BLK_S_IOERR, "write at sector %llu",
			     (unsigned long long)bad[i][0]);
		cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, bad[i][0], buf, (uint32_t)bad[i][1]),
			     VIRTIO_BLK_S_IOERR, "read at sector %llu", (unsigned long long)bad[i][0]);
	}
	expect_intact_and_alive();
}

Test(virtio_blk_malicious, data_not_whole_sectors)
{
	uint64_t buf = vd_alloc(&t.d, 1024);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_OUT, 0, buf, 511), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_OUT, 0, buf, 513), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, 0, buf, 100), VIRTIO_BLK_S_IOERR);
	expect_intact_and_alive();
}

static uint8_t ranges_request(uint32_t type, const struct virtio_blk_discard_write_zeroes *d,
			      uint32_t bytes)
{
	uint64_t seg = vd_alloc(&t.d, bytes ? bytes : 1);
	memcpy(vd_host(&t.d, seg, bytes), d, bytes);
	return bt_do(&t, type, 0, seg, bytes);
}

Test(virtio_blk_malicious, discard_ranges)
{
	static struct virtio_blk_discard_write_zeroes d[40];
	const uint32_t D = VIRTIO_BLK_T_DISCARD, W = VIRTIO_BLK_T_WRITE_ZEROES;
	/* past the end, and overflowing */
	d[0] = (struct virtio_blk_discard_write_zeroes){ BT_SECTORS - 1, 2, 0 };
	cr_expect_eq(ranges_request(D, d, 16), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(ranges_request(W, d, 16), VIRTIO_BLK_S_IOERR);
	d[0] = (struct virtio_blk_discard_write_zeroes){ UINT64_MAX - 1, 4, 0 };
	cr_expect_eq(ranges_request(D, d, 16), VIRTIO_BLK_S_IOERR);
	d[0] = (struct virtio_blk_discard_write_zeroes){ 1ull << 55, 8, 0 };
	cr_expect_eq(ranges_request(W, d, 16), VIRTIO_BLK_S_IOERR);
	/* one good range followed by a bad one: nothing happens */
	d[0] = (struct virtio_blk_discard_write_zeroes){ 0, 8, 0 };
	d[1] = (struct virtio_blk_discard_write_zeroes){ BT_SECTORS, 8, 0 };
	cr_expect_eq(ranges_request(D, d, 32), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(ranges_request(W, d, 32), VIRTIO_BLK_S_IOERR);
	/* too many segments (the device says 32) */
	for (int i = 0; i < 33; i++)
		d[i] = (struct virtio_blk_discard_write_zeroes){ (uint64_t)i * 8, 8, 0 };
	cr_expect_eq(ranges_request(D, d, 33 * 16), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(ranges_request(W, d, 33 * 16), VIRTIO_BLK_S_IOERR);
	/* not a whole number of segments, or none at all */
	cr_expect_eq(ranges_request(D, d, 24), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(ranges_request(D, d, 0), VIRTIO_BLK_S_IOERR);
	/* a range longer than max_discard_sectors */
	d[0] = (struct virtio_blk_discard_write_zeroes){ 0, UINT32_MAX, 0 };
	cr_expect_eq(ranges_request(D, d, 16), VIRTIO_BLK_S_IOERR);
	/* flags: unmap on a discard, unknown bits on either */
	d[0] = (struct virtio_blk_discard_write_zeroes){ 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
	cr_expect_eq(ranges_request(D, d, 16), VIRTIO_BLK_S_UNSUPP);
	d[0].flags = 2;
	cr_expect_eq(ranges_request(D, d, 16), VIRTIO_BLK_S_UNSUPP);
	cr_expect_eq(ranges_request(W, d, 16), VIRTIO_BLK_S_UNSUPP);
	d[0].flags = 0x80000001u;
	cr_expect_eq(ranges_request(W, d, 16), VIRTIO_BLK_S_UNSUPP);
	expect_intact_and_alive();
}

Test(virtio_blk_malicious, unknown_and_unoffered_types_are_unsupp)
{
	uint64_t buf = vd_alloc(&t.d, 512);
	static const uint32_t types[] = { 2, 3, 5, 7, VIRTIO_BLK_T_GET_LIFETIME,
					  VIRTIO_BLK_T_SECURE_ERASE, 99, UINT32_MAX };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint64_t st = vd_alloc(&t.d, 1);
		struct bt_seg segs[] = { { bt_header(&t, types[i], 0), 16, false },
					 { buf, 512, false },
					 { st, 1, true } };
		cr_expect_eq(submit(segs, 3, st), VIRTIO_BLK_S_UNSUPP, "type %u", types[i]);
	}
	expect_intact_and_alive();
}

Test(virtio_blk_malicious, get_id_buffer_too_small)
{
	uint64_t buf = vd_alloc(&t.d, 32);
	memset(vd_host(&t.d, buf, 32), 0x5e, 32);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 10), VIRTIO_BLK_S_IOERR);
	const uint8_t *p = vd_host(&t.d, buf, 32);
	for (int i = 0; i < 32; i++)
		cr_expect_eq(p[i], 0x5e, "byte %d written", i);
	expect_intact_and_alive();
}

/* A read whose data buffer is device-readable: nothing may be written into it. */
Test(virtio_blk_malicious, read_into_a_readable_buffer)
{
	uint64_t buf = vd_alloc(&t.d, 512), st = vd_alloc(&t.d, 1);
	memset(vd_host(&t.d, buf, 512), 0x42, 512);
	struct bt_seg segs[] = { { bt_header(&t, VIRTIO_BLK_T_IN, 0), 16, false },
				 { buf, 512, false },
				 { st, 1, true } };
	submit(segs, 3, st);
	const uint8_t *p = vd_host(&t.d, buf, 512);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(p[i], 0x42);
	cr_expect_eq(vd_used(&t.d, &t.r[0], 0).len, 1);
	expect_intact_and_alive();
}

/* A write whose data buffer is device-writable: the device must not read it as data (the data
 * part is then empty) and must not write into it. */
Test(virtio_blk_malicious, write_from_a_writable_buffer)
{
	uint64_t buf = vd_alloc(&t.d, 513);
	memset(vd_host(&t.d, buf, 513), 0x42, 513);
	struct bt_seg segs[] = { { bt_header(&t, VIRTIO_BLK_T_OUT, 0), 16, false },
				 { buf, 513, true } };
	cr_expect_eq(submit(segs, 2, buf + 512), VIRTIO_BLK_S_OK);
	const uint8_t *p = vd_host(&t.d, buf, 512);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(p[i], 0x42);
	expect_intact_and_alive();
}

/* More data segments than seg_max through an indirect table: the queue is broken. */
Test(virtio_blk_malicious, too_many_segments_needs_reset)
{
	unsigned n = 254 + 3;
	uint64_t table = vd_alloc(&t.d, 16 * n);
	struct virtq_desc *desc = vd_host(&t.d, table, 16ull * n);
	uint64_t hdr = bt_header(&t, VIRTIO_BLK_T_IN, 0), data = vd_alloc(&t.d, 512 * n);
	for (unsigned i = 0; i < n; i++) {
		desc[i] = (struct virtq_desc){ .addr = data + 512ull * i, .len = 512,
					       .flags = VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
					       .next = (uint16_t)(i + 1) };
	}
	desc[0] = (struct virtq_desc){ .addr = hdr, .len = 16, .flags = VIRTQ_DESC_F_NEXT,
				       .next = 1 };
	desc[n - 1].len = 1;
	desc[n - 1].flags = VIRTQ_DESC_F_WRITE;
	struct vd_ring *r = &t.r[0];
	uint16_t head = vd_desc(&t.d, r, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	vd_offer(&t.d, r, head);
	vd_kick(&t.d, 0);
	cr_assert(bt_wait_needs_reset(&t));
	vd_set_status(&t.d, 0);
	bt_bring_up(&t, 0, 1);
	expect_intact_and_alive();
}
