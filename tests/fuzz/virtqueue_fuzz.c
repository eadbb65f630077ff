/* libFuzzer harness for the split virtqueue (devices/virtio/virtqueue.c): the input is a hostile
 * driver's view of guest RAM (descriptor table, avail ring, indirect tables) plus a few queue
 * parameters. Every chain pop returns must lie wholly inside guest RAM (ASan checks each byte
 * as the harness touches it), and every refusal must mark the queue broken with a message.
 * Build: tests/fuzz/build-virtqueue-fuzz.sh (clang), or the meson target virtqueue_fuzz when
 * clang is the compiler. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"

#define RAM_SIZE   (1u << 20)
#define DESC_GPA   0x0000u
#define AVAIL_GPA  0x1000u
#define USED_GPA   0x2000u
#define DATA_GPA   0x4000u    /* indirect tables and buffers the input describes */
#define MAX_POPS   64

static struct guest_mem gm;

static void die(const char *what)
{
	fprintf(stderr, "virtqueue_fuzz: %s\n", what);
	abort();
}

/* Reads and writes every byte of the chain so ASan sees any out-of-RAM iovec. */
static uint32_t touch_chain(const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;
	volatile uint8_t sink = 0;
	for (uint32_t i = 0; i < c->nout + c->nin; i++) {
		uint8_t *p = c->iov[i].iov_base;
		if (p < gm.host || p + c->iov[i].iov_len > gm.host + gm.size || c->iov[i].iov_len == 0)
			die("iovec outside guest RAM or empty");
		if (i < c->nout) {
			sink ^= p[0];
			sink ^= p[c->iov[i].iov_len - 1];
			out += c->iov[i].iov_len;
		} else {
			p[0] = 0xaa;
			p[c->iov[i].iov_len - 1] = 0x55;
			in += c->iov[i].iov_len;
		}
	}
	(void)sink;
	if (out != c->out_bytes || in != c->in_bytes || out + in > UINT32_MAX)
		die("chain byte counts wrong");
	return (uint32_t)in;
}

static void copy_in(uint64_t gpa, const uint8_t **data, size_t *left, size_t want)
{
	size_t n = *left < want ? *left : want;
	memcpy(gm.host + gpa, *data, n);
	*data += n;
	*left -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	if (!gm.host && guest_mem_init(&gm, RAM_SIZE, &e) < 0)
		die(e.msg);
	if (size < 4)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 9));          /* 1..256 */
	uint64_t features = ((data[1] & 1) ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
			    ((data[1] & 2) ? VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) : 0);
	uint32_t iov_cap = 1 + data[2] % 64;
	unsigned pops = 1 + data[3] % MAX_POPS;
	data += 4;
	size -= 4;

	memset(gm.host, 0, RAM_SIZE);
	copy_in(DESC_GPA, &data, &size, virtq_desc_table_bytes(qsize));
	copy_in(AVAIL_GPA, &data, &size, virtq_avail_bytes(qsize));
	copy_in(DATA_GPA, &data, &size, RAM_SIZE - DATA_GPA);

	struct virtqueue vq;
	virtqueue_init(&vq, 256);
	if (virtqueue_set_size(&vq, qsize, &e) < 0)
		die(e.msg);
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA;
	if (virtqueue_enable(&vq, &gm, features, &e) < 0)
		die(e.msg);

	struct iovec iov[64];
	struct virtq_chain c;
	virtq_chain_init(&c, iov, iov_cap);
	for (unsigned i = 0; i < pops; i++) {
		e.msg[0] = 0;
		int r = virtqueue_pop(&vq, &gm, &c, &e);
		if (r == 0)
			break;
		if (r < 0) {
			if (!vq.broken || !e.msg[0])
				die("refusal without broken flag or message");
			break;
		}
		if (c.head >= qsize || c.nout + c.nin > iov_cap)
			die("chain head or iovec count out of range");
		uint32_t written = touch_chain(&c);
		/* Return every other chain at once, keeping some in flight. */
		if (i % 2 == 0 && virtqueue_push(&vq, &gm, c.head, written, &e) < 0)
			die(e.msg);
		(void)virtqueue_should_notify(&vq, &gm);
	}
	if (vq.inflight > qsize)
		die("more chains in flight than the queue size");
	(void)virtqueue_enable_notify(&vq, &gm);
	return 0;
}
