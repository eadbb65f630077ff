/* virtio-blk end to end without KVM: the device runs on its queue threads and io_uring loops (or
 * the sync engine), the test plays the guest driver through the PCI bus and checks both the
 * guest's buffers and the image on the host. Most tests run once per engine. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "devices/virtio/virtio_pci.h"
#include "test_virtio_blk_util.h"

static struct bt t;

/* Defines the test once per engine. */
#define ENGINE_TEST(name, extra)                                                               \
	static void name(void);                                                                \
	Test(virtio_blk_io_uring, name, .timeout = 20)                                         \
	{                                                                                      \
		bt_setup(&t, 0, extra, VIRTIO_BLK_ENGINE_IO_URING);                            \
		name();                                                                        \
		bt_teardown(&t);                                                               \
	}                                                                                      \
	Test(virtio_blk_sync, name, .timeout = 20)                                             \
	{                                                                                      \
		bt_setup(&t, 0, extra, VIRTIO_BLK_ENGINE_SYNC);                                \
		name();                                                                        \
		bt_teardown(&t);                                                               \
	}                                                                                      \
	static void name(void)

static void expect_pattern(const uint8_t *p, uint64_t offset, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != bt_pattern(offset + i))
			cr_assert_fail("byte %llu: 0x%02x, expected 0x%02x",
				       (unsigned long long)(offset + i), p[i], bt_pattern(offset + i));
}

static uint64_t config64(unsigned off)
{
	return vd_mmio_read(&t.d, t.d.device + off, 4) |
	       (uint64_t)vd_mmio_read(&t.d, t.d.device + off + 4, 4) << 32;
}

#define CFG(field) offsetof(struct virtio_blk_config, field)

Test(virtio_blk, identity_and_configuration)
{
	bt_setup(&t, 0, "queues=3", VIRTIO_BLK_ENGINE_IO_URING);
	cr_expect_eq(vd_cfg_read(&t.d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_BLOCK);
	cr_expect_eq(vd_cfg_read(&t.d, PCI_CLASS_DEVICE, 2), 0x0180);
	cr_expect_eq(vd_read(&t.d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 3);
	cr_expect_eq(t.d.device_len, sizeof(struct virtio_blk_config));
	uint64_t f = vd_device_features(&t.d);
	uint64_t want = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
			VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_MQ) |
			VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	cr_expect_eq(f & ((1ull << 24) - 1), want, "features 0x%llx", (unsigned long long)f);
	cr_expect_eq(config64(CFG(capacity)), BT_SECTORS);
	cr_expect_eq(vd_mmio_read(&t.d, t.d.device + CFG(seg_max), 4), 254);
	cr_expect_eq(vd_mmio_read(&t.d, t.d.device + CFG(size_max), 4), 1u << 20);
	cr_expect_eq(vd_mmio_read(&t.d, t.d.device + CFG(blk_size), 4), 512);
	cr_expect_eq(vd_mmio_read(&t.d, t.d.device + CFG(num_queues), 2), 3);
	uint8_t exp = (uint8_t)vd_mmio_read(&t.d, t.d.device + CFG(topology.physical_block_exp), 1);
	uint16_t min_io = (uint16_t)vd_mmio_read(&t.d, t.d.device + CFG(topology.min_io_size), 2);
	cr_expect_eq(1u << exp, min_io, "physical block = 2^exp logical blocks = min_io_size");
	cr_expect_eq(vd_mmio_read(&t.d, t.d.device + CFG(max_discard_seg), 4), 32);
	cr_expect_neq(vd_mmio_read(&t.d, t.d.device + CFG(max_discard_sectors), 4), 0);
	cr_expect_eq(vd_mmio_read(&t.d, t.d.device + CFG(write_zeroes_may_unmap), 1), 1);
	/* Read-only configuration: a write changes nothing. */
	vd_mmio_write(&t.d, t.d.device + CFG(capacity), 5, 4);
	cr_expect_eq(config64(CFG(capacity)), BT_SECTORS);
	bt_teardown(&t);
}

Test(virtio_blk, readonly_features)
{
	bt_setup(&t, 0, "readonly=on", VIRTIO_BLK_ENGINE_IO_URING);
	uint64_t f = vd_device_features(&t.d);
	cr_expect(f & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	cr_expect_not(f & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	cr_expect_not(f & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	bt_teardown(&t);
}

ENGINE_TEST(reads_sectors, "")
{
	bt_bring_up(&t, 0, 1);
	uint64_t buf = vd_alloc(&t.d, 4096);
	uint16_t head;
	uint64_t status = bt_request(&t, 0, VIRTIO_BLK_T_IN, 3, buf, 4096, &head);
	cr_assert(bt_wait_used(&t, 0, 1));
	cr_expect_eq(bt_byte(&t, status), VIRTIO_BLK_S_OK);
	cr_expect_eq(vd_used(&t.d, &t.r[0], 0).id, head);
	cr_expect_eq(vd_used(&t.d, &t.r[0], 0).len, 4096 + 1);
	expect_pattern(vd_host(&t.d, buf, 4096), 3 * 512, 4096);
	cr_expect_geq(vd_msix_count(&t.d, 1), 1, "the queue's interrupt");
	struct virtio_blk_stats s;
	virtio_blk_get_stats(t.blk, &s);
	cr_expect_eq(s.read_bytes, 4096);
	cr_expect_eq(s.requests, 1);
}

/* Data spread over odd-sized buffers, the last one also holding the status byte. */
ENGINE_TEST(scattered_read_with_status_in_the_data_buffer, "")
{
	bt_bring_up(&t, 0, 1);
	uint64_t a = vd_alloc(&t.d, 512), b = vd_alloc(&t.d, 1024 + 100),
		 c = vd_alloc(&t.d, 2560 + 1);
	struct bt_seg segs[] = {
		{ bt_header(&t, VIRTIO_BLK_T_IN, 10), 16, false },
		{ a, 512, true },
		{ b + 100, 1024, true },
		{ c, 2560 + 1, true },
	};
	bt_chain(&t, 0, segs, 4);
	cr_assert(bt_wait_used(&t, 0, 1));
	cr_expect_eq(bt_byte(&t, c + 2560), VIRTIO_BLK_S_OK);
	expect_pattern(vd_host(&t.d, a, 512), 10 * 512, 512);
	expect_pattern(vd_host(&t.d, b + 100, 1024), 10 * 512 + 512, 1024);
	expect_pattern(vd_host(&t.d, c, 2560), 10 * 512 + 1536, 2560);
	cr_expect_eq(bt_byte(&t, b), 0, "bytes before the buffer untouched");
	cr_expect_eq(vd_used(&t.d, &t.r[0], 0).len, 4096 + 1);
}

ENGINE_TEST(writes_reach_the_image_and_read_back, "")
{
	bt_bring_up(&t, 0, 1);
	uint64_t out = vd_alloc(&t.d, 8192);
	uint8_t *p = vd_host(&t.d, out, 8192);
	for (int i = 0; i < 8192; i++)
		p[i] = (uint8_t)(i ^ 0x5a);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_OUT, 100, out, 8192), VIRTIO_BLK_S_OK);
	cr_expect_eq(vd_used(&t.d, &t.r[0], 0).len, 1, "a write fills only the status");
	uint8_t host[8192];
	bt_pread(&t, host, sizeof(host), 100 * 512);
	cr_expect_arr_eq(host, p, 8192);
	uint8_t edge[2];
	bt_pread(&t, edge, 1, 100 * 512 - 1);
	bt_pread(&t, edge + 1, 1, 100 * 512 + 8192);
	cr_expect_eq(edge[0], bt_pattern(100 * 512 - 1), "neighbouring sector untouched");
	cr_expect_eq(edge[1], bt_pattern(100 * 512 + 8192));
	uint64_t in = vd_alloc(&t.d, 8192);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_IN, 100, in, 8192), VIRTIO_BLK_S_OK);
	cr_expect_arr_eq(vd_host(&t.d, in, 8192), p, 8192);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
	struct virtio_blk_stats s;
	virtio_blk_get_stats(t.blk, &s);
	cr_expect_eq(s.write_bytes, 8192);
	cr_expect_eq(s.flushes, 1);
	cr_expect_eq(s.writes, 1);
	cr_expect_eq(s.reads, 1);
}

ENGINE_TEST(last_sector_is_reachable, "")
{
	bt_bring_up(&t, 0, 1);
	uint64_t buf = vd_alloc(&t.d, 512);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, BT_SECTORS - 1, buf, 512), VIRTIO_BLK_S_OK);
	expect_pattern(vd_host(&t.d, buf, 512), BT_IMAGE_SIZE - 512, 512);
}

ENGINE_TEST(get_id_returns_the_serial, "serial=EMBER-disk_01")
{
	bt_bring_up(&t, 0, 1);
	uint64_t buf = vd_alloc(&t.d, 20);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 20), VIRTIO_BLK_S_OK);
	uint8_t want[20] = "EMBER-disk_01";
	cr_expect_arr_eq(vd_host(&t.d, buf, 20), want, 20);
	cr_expect_eq(vd_used(&t.d, &t.r[0], 0).len, 21);
}

ENGINE_TEST(discard_punches_a_hole, "")
{
	bt_bring_up(&t, 0, 1);
	long long before = bt_allocated_blocks(&t);
	uint64_t seg = vd_alloc(&t.d, 16);
	struct virtio_blk_discard_write_zeroes d = { .sector = 256, .num_sectors = 1024 };
	memcpy(vd_host(&t.d, seg, 16), &d, 16);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_DISCARD, 0, seg, 16), VIRTIO_BLK_S_OK);
	long long after = bt_allocated_blocks(&t);
	cr_expect_leq(after, before - 1024 + 16, "st_blocks %lld -> %lld", before, after);
	uint8_t host[512];
	bt_pread(&t, host, 512, 256 * 512 + 4096);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(host[i], 0);
	bt_pread(&t, host, 1, 256 * 512 - 1);
	cr_expect_eq(host[0], bt_pattern(256 * 512 - 1));
	struct virtio_blk_stats s;
	virtio_blk_get_stats(t.blk, &s);
	cr_expect_eq(s.discards, 1);
}

static void write_zeroes(uint32_t flags, uint64_t sector, uint32_t n)
{
	uint64_t seg = vd_alloc(&t.d, 32);
	struct virtio_blk_discard_write_zeroes d[2] = {
		{ .sector = sector, .num_sectors = n, .flags = flags },
		{ .sector = sector + 2 * n, .num_sectors = 1, .flags = flags },
	};
	memcpy(vd_host(&t.d, seg, 32), d, 32);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 32), VIRTIO_BLK_S_OK);
	uint8_t host[512];
	for (uint64_t s = sector; s < sector + n; s += 7) {
		bt_pread(&t, host, 512, s * 512);
		for (int i = 0; i < 512; i++)
			cr_assert_eq(host[i], 0, "sector %llu byte %d", (unsigned long long)s, i);
	}
	bt_pread(&t, host, 512, (sector + 2 * n) * 512);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(host[i], 0, "second range");
	bt_pread(&t, host, 1, (sector + n) * 512);
	cr_expect_eq(host[0], bt_pattern((sector + n) * 512), "between the ranges untouched");
}

ENGINE_TEST(write_zeroes_keeps_blocks, "")
{
	bt_bring_up(&t, 0, 1);
	write_zeroes(0, 40, 100);
}

ENGINE_TEST(write_zeroes_with_unmap, "")
{
	bt_bring_up(&t, 0, 1);
	long long before = bt_allocated_blocks(&t);
	write_zeroes(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 512, 512);
	cr_expect_lt(bt_allocated_blocks(&t), before);
}

ENGINE_TEST(readonly_disk_refuses_writes, "readonly=on")
{
	bt_bring_up(&t, 0, 1);
	uint64_t buf = vd_alloc(&t.d, 512);
	memset(vd_host(&t.d, buf, 512), 0xab, 512);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_IOERR);
	struct virtio_blk_discard_write_zeroes d = { .sector = 0, .num_sectors = 8 };
	memcpy(vd_host(&t.d, buf, 16), &d, 16);
	cr_expect_neq(bt_do(&t, VIRTIO_BLK_T_DISCARD, 0, buf, 16), VIRTIO_BLK_S_OK);
	cr_expect_neq(bt_do(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, buf, 16), VIRTIO_BLK_S_OK);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
	uint8_t host[512];
	bt_pread(&t, host, 512, 0);
	expect_pattern(host, 0, 512);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, 0, buf, 512), VIRTIO_BLK_S_OK);
	expect_pattern(vd_host(&t.d, buf, 512), 0, 512);
}

/* Many requests in one kick (a queue depth of 40: 3 descriptors each in a 128-entry ring),
 * EVENT_IDX on: all complete, in any order. */
ENGINE_TEST(deep_queue, "")
{
	enum { DEPTH = 40 };
	bt_bring_up(&t, 0, 1);
	uint64_t bufs[DEPTH], status[DEPTH];
	for (int i = 0; i < DEPTH; i++) {
		bufs[i] = vd_alloc(&t.d, 4096);
		uint64_t st = vd_alloc(&t.d, 1);
		struct bt_seg segs[3] = {
			{ bt_header(&t, VIRTIO_BLK_T_IN, (uint64_t)i * 29 % (BT_SECTORS - 8)), 16,
			  false },
			{ bufs[i], 4096, true },
			{ st, 1, true },
		};
		status[i] = st;
		struct vd_ring *r = &t.r[0];
		uint16_t head = (uint16_t)(r->next_desc % r->size);
		for (int k = 0; k < 3; k++)
			vd_desc(&t.d, r, segs[k].gpa, segs[k].len,
				(uint16_t)((segs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
					   (k < 2 ? VIRTQ_DESC_F_NEXT : 0)),
				(uint16_t)((r->next_desc + 1) % r->size));
		vd_offer(&t.d, r, head);
	}
	vd_kick(&t.d, 0);
	cr_assert(bt_wait_used(&t, 0, DEPTH));
	for (int i = 0; i < DEPTH; i++) {
		cr_expect_eq(bt_byte(&t, status[i]), VIRTIO_BLK_S_OK);
		expect_pattern(vd_host(&t.d, bufs[i], 4096),
			       (uint64_t)i * 29 % (BT_SECTORS - 8) * 512, 4096);
	}
}

Test(virtio_blk, multiple_queues_each_serve_their_requests, .timeout = 20)
{
	bt_setup(&t, 0, "queues=2", VIRTIO_BLK_ENGINE_IO_URING);
	bt_bring_up(&t, 0, 2);
	uint64_t a = vd_alloc(&t.d, 512), b = vd_alloc(&t.d, 512);
	uint64_t sa = bt_request(&t, 0, VIRTIO_BLK_T_IN, 1, a, 512, NULL);
	uint64_t sb = bt_request(&t, 1, VIRTIO_BLK_T_IN, 2, b, 512, NULL);
	cr_assert(bt_wait_used(&t, 0, 1));
	cr_assert(bt_wait_used(&t, 1, 1));
	cr_expect_eq(bt_byte(&t, sa), 0);
	cr_expect_eq(bt_byte(&t, sb), 0);
	expect_pattern(vd_host(&t.d, a, 512), 512, 512);
	expect_pattern(vd_host(&t.d, b, 512), 1024, 512);
	cr_expect_geq(vd_msix_count(&t.d, 2), 1, "queue 1 has its own vector");
	bt_teardown(&t);
}

/* direct=on: aligned requests use O_DIRECT, unaligned ones the buffered descriptor. */
Test(virtio_blk, direct_io_aligned_and_unaligned, .timeout = 20)
{
	bt_setup(&t, 0, "direct=on", VIRTIO_BLK_ENGINE_IO_URING);
	bt_bring_up(&t, 0, 1);
	uint32_t lbs = (uint32_t)vd_mmio_read(&t.d, t.d.device + CFG(blk_size), 4);
	cr_expect(lbs >= 512 && lbs <= 4096 && !(lbs & (lbs - 1)), "blk_size %u", lbs);
	t.d.next_data = (t.d.next_data + 4095) & ~4095ull;
	uint64_t aligned = vd_alloc(&t.d, 8192);
	memset(vd_host(&t.d, aligned, 8192), 0x3c, 8192);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_OUT, 64, aligned, 8192), VIRTIO_BLK_S_OK);
	uint64_t odd = vd_alloc(&t.d, 1024 + 16) + 16;
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, 63, odd, 1024), VIRTIO_BLK_S_OK);
	const uint8_t *p = vd_host(&t.d, odd, 1024);
	expect_pattern(p, 63 * 512, 512);
	for (int i = 512; i < 1024; i++)
		cr_assert_eq(p[i], 0x3c);
	uint8_t host[8192];
	bt_pread(&t, host, 8192, 64 * 512);
	for (int i = 0; i < 8192; i++)
		cr_assert_eq(host[i], 0x3c);
	bt_teardown(&t);
}

/* A host I/O error becomes IOERR and the device keeps serving. The image shrinks under the
 * device (reads past the end of file), and a write hits RLIMIT_FSIZE (EFBIG). */
ENGINE_TEST(host_errors_become_ioerr, "")
{
	bt_bring_up(&t, 0, 1);
	cr_assert_eq(ftruncate(t.fd, BT_IMAGE_SIZE / 2), 0);
	uint64_t buf = vd_alloc(&t.d, 4096);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, BT_SECTORS - 8, buf, 4096), VIRTIO_BLK_S_IOERR);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = { BT_IMAGE_SIZE / 2, BT_IMAGE_SIZE / 2 };
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_OUT, BT_SECTORS - 8, buf, 4096), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, 0, buf, 4096), VIRTIO_BLK_S_OK);
	expect_pattern(vd_host(&t.d, buf, 4096), 0, 4096);
	cr_expect_not(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	struct virtio_blk_stats s;
	virtio_blk_get_stats(t.blk, &s);
	cr_expect_eq(s.io_errors, 2);
	cr_expect_eq(s.host_errors, 2, "both from the host, not from the requests");
	cr_expect_eq(s.reads, 1, "only the read answered OK counts as a read");
	cr_expect_eq(s.writes, 0);
}

/* After a reset the device serves a new driver from scratch. */
ENGINE_TEST(reset_and_bring_up_again, "")
{
	bt_bring_up(&t, 0, 1);
	uint64_t buf = vd_alloc(&t.d, 512);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, 5, buf, 512), VIRTIO_BLK_S_OK);
	vd_set_status(&t.d, 0);
	bt_bring_up(&t, VIRTIO_BIT(VIRTIO_F_VERSION_1), 1);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_IN, 6, buf, 512), VIRTIO_BLK_S_OK);
	expect_pattern(vd_host(&t.d, buf, 512), 6 * 512, 512);
	/* DISCARD was not negotiated this time. */
	struct virtio_blk_discard_write_zeroes d = { .sector = 0, .num_sectors = 8 };
	memcpy(vd_host(&t.d, buf, 16), &d, 16);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_DISCARD, 0, buf, 16), VIRTIO_BLK_S_UNSUPP);
}

Test(virtio_blk, bad_images_have_clear_errors)
{
	struct vdrv d;
	vd_setup(&d);
	struct virtio_blk_options o;
	cr_assert_eq(virtio_blk_parse_disk("path=/nonexistent/disk.img", &o, &d.e), 0);
	cr_expect_null(virtio_blk_create(d.bus, -1, &d.gm, &o, VIRTIO_BLK_ENGINE_IO_URING, &d.e));
	cr_expect(strstr(d.e.msg, "/nonexistent/disk.img") && strstr(d.e.msg, "No such file"),
		  "%s", d.e.msg);
	cr_assert_eq(virtio_blk_parse_disk("path=/tmp", &o, &d.e), 0);
	cr_expect_null(virtio_blk_create(d.bus, -1, &d.gm, &o, VIRTIO_BLK_ENGINE_IO_URING, &d.e));
	cr_expect(strstr(d.e.msg, "/tmp"), "%s", d.e.msg);
	char path[] = "/tmp/ember-blk-empty-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	snprintf(o.path, sizeof(o.path), "%s", path);
	cr_expect_null(virtio_blk_create(d.bus, -1, &d.gm, &o, VIRTIO_BLK_ENGINE_IO_URING, &d.e));
	cr_expect(strstr(d.e.msg, "smaller than one sector"), "%s", d.e.msg);
	/* In use by another writer. */
	cr_assert_eq(ftruncate(fd, 4096), 0);
	struct virtio_blk *first =
		virtio_blk_create(d.bus, -1, &d.gm, &o, VIRTIO_BLK_ENGINE_IO_URING, &d.e);
	cr_assert_not_null(first, "%s", d.e.msg);
	cr_expect_null(virtio_blk_create(d.bus, -1, &d.gm, &o, VIRTIO_BLK_ENGINE_IO_URING, &d.e));
	cr_expect(strstr(d.e.msg, "in use"), "%s", d.e.msg);
	virtio_blk_destroy(first);
	close(fd);
	unlink(path);
	vd_teardown(&d);
}

/* Snapshots: the features come back; a different disk, or garbage, is refused. */
Test(virtio_blk, snapshot_round_trip, .timeout = 20)
{
	bt_setup(&t, 0, "serial=snap", VIRTIO_BLK_ENGINE_IO_URING);
	bt_bring_up(&t, 0, 1);
	uint64_t buf = vd_alloc(&t.d, 512);
	cr_assert_eq(bt_do(&t, VIRTIO_BLK_T_IN, 1, buf, 512), VIRTIO_BLK_S_OK);
	struct virtio_pci *vp = virtio_blk_transport(t.blk);
	static uint8_t snap[4096];
	size_t len = 0;
	cr_assert_eq(virtio_pci_save(vp, snap, sizeof(snap), &len, &t.d.e), 0, "%s", t.d.e.msg);
	/* Reset, then restore: the driver's state comes back and the device serves again. */
	vd_set_status(&t.d, 0);
	cr_assert_eq(virtio_pci_restore(vp, snap, len, &t.d.e), 0, "%s", t.d.e.msg);
	cr_expect(vd_status(&t.d) & VIRTIO_STATUS_DRIVER_OK);
	struct virtio_blk_discard_write_zeroes d = { .sector = 0, .num_sectors = 8 };
	memcpy(vd_host(&t.d, buf, 16), &d, 16);
	cr_expect_eq(bt_do(&t, VIRTIO_BLK_T_DISCARD, 0, buf, 16), VIRTIO_BLK_S_OK,
		     "DISCARD still negotiated after the restore");
	/* A smaller disk cannot take it; truncated data neither. */
	struct bt other;
	memset(&other, 0, sizeof(other));
	struct vdrv *od = &other.d;
	vd_setup(od);
	char path[] = "/tmp/ember-blk-snap-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0 && ftruncate(fd, BT_IMAGE_SIZE / 2) == 0);
	struct virtio_blk_options o;
	cr_assert_eq(virtio_blk_parse_disk("path=x", &o, &od->e), 0);
	snprintf(o.path, sizeof(o.path), "%s", path);
	struct virtio_blk *small =
		virtio_blk_create(od->bus, -1, &od->gm, &o, VIRTIO_BLK_ENGINE_IO_URING, &od->e);
	cr_assert_not_null(small, "%s", od->e.msg);
	cr_expect_eq(virtio_pci_restore(virtio_blk_transport(small), snap, len, &od->e), -1);
	cr_expect(strstr(od->e.msg, "sectors"), "%s", od->e.msg);
	cr_expect_eq(virtio_pci_restore(vp, snap, len - 3, &t.d.e), -1);
	virtio_blk_destroy(small);
	close(fd);
	unlink(path);
	vd_teardown(od);
	bt_teardown(&t);
}
