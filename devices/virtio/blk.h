/* virtio-blk (virtio v1.2, 5.2): a raw disk image as a guest block device.
 *
 * Requests: read, write, flush (fdatasync: a write is durable once a flush issued after its
 * completion has completed), discard (punches a hole), write-zeroes, get-id. Features offered:
 * SEG_MAX, SIZE_MAX, BLK_SIZE, TOPOLOGY, FLUSH, MQ, and DISCARD + WRITE_ZEROES unless the disk is
 * read-only (then RO; writes are answered VIRTIO_BLK_S_IOERR anyway). A host I/O error reaches
 * the guest as IOERR; the VM keeps running.
 *
 * Each queue has its own thread and io_uring: kicks (eventfd reads), the image I/O and the
 * thread's stop signal all complete on that ring, and every request popped after a kick is
 * submitted in one batch. With VIRTIO_BLK_ENGINE_SYNC the same thread does preadv/pwritev itself
 * (the comparison baseline). */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"
#include "blk_options.h"

struct virtio_blk;
struct virtio_pci;

/* Opens the image, plugs a virtio-blk function into `bus` and starts its queue threads.
 * vm_fd -1: no KVM (tests). Errors name the image ("--disk disk.img: ..."). */
struct virtio_blk *virtio_blk_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     const struct virtio_blk_options *opt,
				     enum virtio_blk_engine engine, struct error *e);
/* Stops the threads (after the requests in flight on the host finish), unplugs the device and
 * closes the image. Call after the vCPUs have stopped. */
void virtio_blk_destroy(struct virtio_blk *blk);

struct virtio_blk_stats {
	uint64_t requests;      /* completed, every type */
	uint64_t read_bytes, write_bytes;
	uint64_t flushes, discards, write_zeroes;
	uint64_t io_errors;     /* answered VIRTIO_BLK_S_IOERR */
	uint64_t unsupported;   /* answered VIRTIO_BLK_S_UNSUPP */
	uint64_t reads, writes; /* read and write requests answered VIRTIO_BLK_S_OK */
	uint64_t host_errors;   /* IOERR because the host's I/O failed (not a bad request) */
	uint64_t kicks;         /* queue notifications served (eventfd reads) */
};

/* For tests, statistics and benchmarks. */
struct virtio_pci *virtio_blk_transport(struct virtio_blk *blk);
void virtio_blk_get_stats(struct virtio_blk *blk, struct virtio_blk_stats *s);
uint64_t virtio_blk_capacity(const struct virtio_blk *blk); /* 512-byte sectors */

#endif
