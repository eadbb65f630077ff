#include "test_virtio_blk_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint8_t bt_pattern(uint64_t offset)
{
	return (uint8_t)(offset * 31 + offset / 512 + 7);
}

static void make_image(struct bt *t, uint64_t size)
{
	snprintf(t->path, sizeof(t->path), "/tmp/ember-blk-test-XXXXXX");
	t->fd = mkstemp(t->path);
	cr_assert_geq(t->fd, 0);
	uint8_t *buf = malloc(size);
	cr_assert_not_null(buf);
	for (uint64_t i = 0; i < size; i++)
		buf[i] = bt_pattern(i);
	cr_assert_eq(pwrite(t->fd, buf, size, 0), (ssize_t)size);
	cr_assert_eq(fsync(t->fd), 0);
	free(buf);
}

void bt_setup(struct bt *t, uint64_t size, const char *extra, enum virtio_blk_engine engine)
{
	memset(t, 0, sizeof(*t));
	vd_setup(&t->d);
	make_image(t, size ? size : BT_IMAGE_SIZE);
	char spec[256];
	snprintf(spec, sizeof(spec), "path=%s%s%s", t->path, extra[0] ? "," : "", extra);
	struct virtio_blk_options o;
	cr_assert_eq(virtio_blk_parse_disk(spec, &o, &t->d.e), 0, "%s", t->d.e.msg);
	/* The *_polling variants of the tests (meson.build) run every case with polling on. */
	const char *poll = getenv("EMBER_TEST_BLK_POLL_US");
	if (poll && !o.poll_us)
		o.poll_us = (unsigned)atoi(poll);
	t->blk = virtio_blk_create(t->d.bus, -1, &t->d.gm, &o, engine, &t->d.e);
	cr_assert_not_null(t->blk, "%s", t->d.e.msg);
	unlink(t->path); /* both keep it open; nothing is left behind if a test fails */
	vd_probe(&t->d, 1);
}

void bt_teardown(struct bt *t)
{
	virtio_blk_destroy(t->blk);
	close(t->fd);
	vd_teardown(&t->d);
}

void bt_bring_up(struct bt *t, uint64_t features, unsigned nqueues)
{
	if (!features)
		features = vd_device_features(&t->d);
	vd_msix_on(&t->d, nqueues + 1);
	vd_negotiate(&t->d, features);
	vd_write(&t->d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	for (unsigned q = 0; q < nqueues; q++)
		vd_queue_setup(&t->d, &t->r[q], (uint16_t)q, BT_QUEUE_SIZE, (uint16_t)(q + 1));
	vd_set_status(&t->d, vd_status(&t->d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&t->d) & VIRTIO_STATUS_DRIVER_OK);
}

uint16_t bt_chain(struct bt *t, uint16_t q, const struct bt_seg *segs, unsigned n)
{
	struct vd_ring *r = &t->r[q];
	uint16_t head = (uint16_t)(r->next_desc % r->size);
	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = segs[i].writable ? VIRTQ_DESC_F_WRITE : 0;
		uint16_t next = (uint16_t)((r->next_desc + 1) % r->size);
		if (i + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		vd_desc(&t->d, r, segs[i].gpa, segs[i].len, flags, next);
	}
	vd_offer(&t->d, r, head);
	vd_kick(&t->d, q);
	return head;
}

uint64_t bt_header(struct bt *t, uint32_t type, uint64_t sector)
{
	uint64_t gpa = vd_alloc(&t->d, 16);
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	memcpy(vd_host(&t->d, gpa, 16), &h, 16);
	return gpa;
}

uint64_t bt_request(struct bt *t, uint16_t q, uint32_t type, uint64_t sector, uint64_t data,
		    uint32_t len, uint16_t *head)
{
	uint64_t status = vd_alloc(&t->d, 1);
	*(uint8_t *)vd_host(&t->d, status, 1) = 0xee; /* not a status value */
	bool writable = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct bt_seg segs[3] = { { bt_header(t, type, sector), 16, false } };
	unsigned n = 1;
	if (len)
		segs[n++] = (struct bt_seg){ data, len, writable };
	segs[n++] = (struct bt_seg){ status, 1, true };
	uint16_t h = bt_chain(t, q, segs, n);
	if (head)
		*head = h;
	return status;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

bool bt_wait_used(struct bt *t, uint16_t q, uint16_t want)
{
	for (int i = 0; i < 5000; i++) {
		if (vd_used_idx(&t->d, &t->r[q]) == want)
			return true;
		sleep_ms(1);
	}
	return false;
}

bool bt_wait_needs_reset(struct bt *t)
{
	for (int i = 0; i < 5000; i++) {
		if (vd_status(&t->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			return true;
		sleep_ms(1);
	}
	return false;
}

uint8_t bt_byte(struct bt *t, uint64_t gpa)
{
	return *(volatile uint8_t *)vd_host(&t->d, gpa, 1);
}

uint8_t bt_do(struct bt *t, uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
	uint16_t before = vd_used_idx(&t->d, &t->r[0]);
	uint64_t status = bt_request(t, 0, type, sector, data, len, NULL);
	cr_assert(bt_wait_used(t, 0, (uint16_t)(before + 1)), "request type %u not completed", type);
	return bt_byte(t, status);
}

void bt_pread(struct bt *t, void *buf, uint64_t len, uint64_t offset)
{
	cr_assert_eq(pread(t->fd, buf, len, (off_t)offset), (ssize_t)len);
}

long long bt_allocated_blocks(struct bt *t)
{
	struct stat st;
	cr_assert_eq(fstat(t->fd, &st), 0);
	return (long long)st.st_blocks;
}
