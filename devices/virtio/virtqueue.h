/* Split virtqueue, device side (virtio v1.2 section 2.7), written for a hostile guest: every
 * index, address, length and flag read from guest memory is validated before use, every ring
 * and buffer access goes through guest_mem_ptr for its whole range, and a guest that breaks the
 * rules gets a broken queue and an error message instead of a crash.
 *
 * Usage by a device (one thread owns a queue):
 *
 *	struct iovec iov[SEG_MAX + 2];
 *	struct virtq_chain c;
 *	virtq_chain_init(&c, iov, SEG_MAX + 2);
 *	int r;
 *	while ((r = virtqueue_pop(vq, gm, &c, &e)) == 1) {
 *		... read c.iov[0..c.nout), write c.iov[c.nout..c.nout+c.nin) ...
 *		virtqueue_push(vq, gm, c.head, bytes_written, &e);
 *	}
 *	if (r < 0)  -> set VIRTIO_STATUS_DEVICE_NEEDS_RESET, raise a config interrupt, log e.msg
 *	if (virtqueue_should_notify(vq, gm))  -> raise the queue's interrupt
 *
 * pop returning 0 also re-arms available-buffer notifications (with EVENT_IDX it publishes
 * avail_event and re-checks the ring after a full barrier), so a device that drains the queue
 * on every kick never misses one.
 *
 * All state is in struct virtqueue (plain data, no pointers); virtqueue_save/restore copy it
 * to and from a POD snapshot record. */
#ifndef EMBER_VIRTQUEUE_H
#define EMBER_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "virtio_spec.h"

/* Largest indirect table accepted, in descriptors: the spec bounds a chain by the queue size,
 * and the largest queue is 32768; this keeps one pop's work bounded whatever the guest writes. */
#define VIRTQ_MAX_INDIRECT_DESCS VIRTQ_MAX_SIZE

/* Longest chain accepted in bytes (readable + writable): the spec forbids 2^32 and more; this
 * keeps a used-ring length representable. */
#define VIRTQ_MAX_CHAIN_BYTES UINT32_MAX

struct virtqueue_stats {
	uint64_t popped;        /* chains handed to the device */
	uint64_t pushed;        /* chains returned to the driver */
	uint64_t notified;      /* should_notify said yes */
	uint64_t suppressed;    /* should_notify said no (driver suppression) */
};

struct virtqueue {
	/* Device configuration (virtqueue_init). */
	uint16_t max_size;          /* largest queue size the device offers; power of 2 */

	/* Written by the driver through the transport while the queue is disabled. */
	uint16_t size;              /* negotiated size: power of 2, 1..max_size */
	uint64_t desc_gpa;          /* descriptor table, 16-byte aligned */
	uint64_t avail_gpa;         /* driver area (avail ring), 2-byte aligned */
	uint64_t used_gpa;          /* device area (used ring), 4-byte aligned */

	/* Fixed by virtqueue_enable from the negotiated features. */
	bool enabled;
	bool event_idx;             /* VIRTIO_F_EVENT_IDX */
	bool indirect;              /* VIRTIO_F_INDIRECT_DESC */

	/* The guest violated the spec; every later pop/push fails until virtqueue_reset. */
	bool broken;

	/* Device progress (indices are free-running modulo 2^16, as in the rings). */
	uint16_t last_avail_idx;    /* next avail ring entry to consume */
	uint16_t used_idx;          /* next used ring entry to fill == used->idx we published */
	uint16_t signalled_used;    /* used_idx when should_notify last ran */
	bool notify_enabled;        /* device wants available-buffer notifications (kicks) */
	uint32_t inflight;          /* chains popped and not yet pushed (<= size) */

	struct virtqueue_stats stats;
};

/* One popped descriptor chain. The caller owns the iovec array: its length `iov_cap` is the
 * device's limit on buffers per chain (e.g. virtio-blk seg_max + 2); a longer chain is a guest
 * error. iov[0..nout) are device-readable, iov[nout..nout+nin) device-writable; every iov_base
 * is a host pointer whose whole [base, base+len) range was checked by guest_mem_ptr.
 * Zero-length descriptors are validated for flags and order but contribute no iovec: they
 * carry no data, and an iovec of length 0 would only cost the device a loop iteration. */
struct virtq_chain {
	struct iovec *iov;
	uint32_t iov_cap;
	uint16_t head;              /* pass to virtqueue_push */
	uint32_t ndesc;             /* descriptors walked, including indirect-table pointers */
	uint32_t nout, nin;         /* iovec counts */
	uint32_t out_bytes;         /* sum of readable lengths */
	uint32_t in_bytes;          /* sum of writable lengths */
};

/* Snapshot record: fixed-size plain data, no pointers (virtqueue_save/restore). */
struct virtqueue_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint32_t inflight;
	uint16_t size;
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used;
	uint8_t enabled, event_idx, indirect, broken, notify_enabled;
	uint8_t reserved[3];
};

/* ---- Lifecycle (called by the transport) ---- */

/* A disabled queue offering up to max_size entries (a power of 2, 1..32768). */
void virtqueue_init(struct virtqueue *vq, uint16_t max_size);

/* Device or queue reset: back to the state virtqueue_init left (max_size kept). */
void virtqueue_reset(struct virtqueue *vq);

/* Driver wrote queue_size: 0 / -1 with "queue size N is not a power of 2" etc. Refused while
 * the queue is enabled (spec 4.1.4.3.2: the driver must not change it then). */
int virtqueue_set_size(struct virtqueue *vq, uint32_t size, struct error *e);

/* Driver wrote queue_enable = 1: checks the size and that each ring part is aligned and wholly
 * inside guest RAM, takes EVENT_IDX / INDIRECT_DESC from the negotiated `features`, enables. On
 * -1 the queue stays disabled (the transport should then set DEVICE_NEEDS_RESET). */
int virtqueue_enable(struct virtqueue *vq, const struct guest_mem *gm, uint64_t features,
		     struct error *e);

/* ---- Data path (called by the device) ---- */

void virtq_chain_init(struct virtq_chain *c, struct iovec *iov, uint32_t iov_cap);

/* Takes the next available chain: 1 with *c filled, 0 when the ring is empty (or the queue is
 * disabled), -1 when the guest violated the spec; then vq->broken is set, e says what ("queue
 * is broken" on later calls) and the device must set DEVICE_NEEDS_RESET. */
int virtqueue_pop(struct virtqueue *vq, const struct guest_mem *gm, struct virtq_chain *c,
		  struct error *e);

/* Number of chains the driver has made available and pop has not taken yet (0 on a disabled
 * or broken queue). More than vq->size means the guest broke the rules: pop reports it. */
uint16_t virtqueue_pending(const struct virtqueue *vq, const struct guest_mem *gm);

/* Returns chain `head` to the driver with `written` bytes written into its writable part:
 * fills the used element, then publishes used->idx with release ordering. -1 if head is not a
 * popped chain (device bug) or the used ring left RAM. */
int virtqueue_push(struct virtqueue *vq, const struct guest_mem *gm, uint16_t head,
		   uint32_t written, struct error *e);

/* After one or more pushes: must the driver be interrupted? Implements used_event with
 * EVENT_IDX (virtq_need_event over the entries pushed since the previous call) and
 * VIRTQ_AVAIL_F_NO_INTERRUPT otherwise. False when nothing was pushed since the previous call. */
bool virtqueue_should_notify(struct virtqueue *vq, const struct guest_mem *gm);

/* Available-buffer notification control. disable: the device is polling, kicks are not needed
 * (sets VIRTQ_USED_F_NO_NOTIFY; with EVENT_IDX, just stops re-arming avail_event). enable:
 * re-arms kicks and returns true if buffers arrived meanwhile (the device must pop again). */
void virtqueue_disable_notify(struct virtqueue *vq, const struct guest_mem *gm);
bool virtqueue_enable_notify(struct virtqueue *vq, const struct guest_mem *gm);

/* EVENT_IDX: asks the driver to kick when it makes avail entry `idx` available (writes
 * avail_event in the used ring). No-op without EVENT_IDX. */
void virtqueue_set_avail_event(struct virtqueue *vq, const struct guest_mem *gm, uint16_t idx);

/* ---- Chain helpers ---- */

/* Copy between a flat buffer and the chain's readable (copy_from) or writable (copy_to) part,
 * starting `offset` bytes into that part. Return the bytes copied (short at the part's end). */
size_t virtq_chain_copy_from(const struct virtq_chain *c, size_t offset, void *dst, size_t len);
size_t virtq_chain_copy_to(const struct virtq_chain *c, size_t offset, const void *src, size_t len);

/* ---- Snapshots ---- */

/* Records the queue. Chains in flight (vq->inflight) are the device's to record or drain. */
void virtqueue_save(const struct virtqueue *vq, struct virtqueue_state *s);

/* Loads a record into a queue set up by virtqueue_init with the device's max_size; checks it
 * like the driver-facing paths do (size, ring placement when enabled). */
int virtqueue_restore(struct virtqueue *vq, const struct virtqueue_state *s,
		      const struct guest_mem *gm, struct error *e);

#endif
