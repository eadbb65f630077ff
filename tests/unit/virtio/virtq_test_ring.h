/* A pretend virtio driver for the virtqueue tests: lays a split ring out in a guest_mem built
 * without KVM and writes descriptors and ring entries the way a guest would (or would not). */
#ifndef EMBER_VIRTQ_TEST_RING_H
#define EMBER_VIRTQ_TEST_RING_H

#include <stdint.h>

#include "devices/virtio/virtqueue.h"

#define TR_RAM      (16ull << 20)
#define TR_DESC     0x100000ull  /* room for 32768 descriptors */
#define TR_AVAIL    0x200000ull
#define TR_USED     0x300000ull
#define TR_DATA     0x400000ull  /* bump-allocated buffers and indirect tables */

struct test_ring {
	struct guest_mem gm;
	struct virtqueue vq;
	struct error e;
	uint16_t avail_idx;          /* the driver's next avail entry */
	uint64_t next_data;          /* bump allocator over [TR_DATA, TR_RAM) */
	struct iovec iov[1024];
	struct virtq_chain chain;    /* iov_cap = 1024 */
};

/* Guest RAM, a queue of `size` entries at TR_DESC/TR_AVAIL/TR_USED, enabled with `features`. */
void tr_setup(struct test_ring *t, uint16_t size, uint64_t features);
void tr_teardown(struct test_ring *t);

/* A zero-filled buffer of len bytes in guest RAM (16-byte aligned). */
uint64_t tr_alloc(struct test_ring *t, uint64_t len);

/* Writes descriptor `index` of the queue's table, or of a table at `table_gpa`. */
void tr_desc(struct test_ring *t, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next);
void tr_desc_at(struct test_ring *t, uint64_t table_gpa, uint32_t index, uint64_t addr,
		uint32_t len, uint16_t flags, uint16_t next);

/* Puts `head` in the next avail entry and publishes avail->idx. */
void tr_offer(struct test_ring *t, uint16_t head);
/* Writes avail->idx directly (a driver lying about how much it offered). */
void tr_set_avail_idx(struct test_ring *t, uint16_t idx);
void tr_set_avail_flags(struct test_ring *t, uint16_t flags);
void tr_set_used_event(struct test_ring *t, uint16_t idx);

uint16_t tr_used_idx(struct test_ring *t);
uint16_t tr_used_flags(struct test_ring *t);
uint16_t tr_avail_event(struct test_ring *t);
struct virtq_used_elem tr_used_elem(struct test_ring *t, uint16_t ring_index);

/* Host pointer for a GPA (asserts it is RAM). */
void *tr_host(struct test_ring *t, uint64_t gpa);

#endif
