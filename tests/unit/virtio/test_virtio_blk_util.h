/* virtio-blk tests: a temporary raw image filled with a known pattern, the device on a test PCI
 * bus (no KVM), and a pretend driver that builds request chains and waits for them. */
#ifndef EMBER_TEST_VIRTIO_BLK_UTIL_H
#define EMBER_TEST_VIRTIO_BLK_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/blk_spec.h"
#include "virtio_pci_test_driver.h"

#define BT_IMAGE_SIZE (1ull << 20)             /* 2048 sectors */
#define BT_SECTORS    (BT_IMAGE_SIZE / 512)
#define BT_QUEUE_SIZE 128

struct bt {
	struct vdrv d;
	struct virtio_blk *blk;
	struct vd_ring r[4];
	char path[64];
	int fd;              /* the image, for checking it from the host */
};

/* One buffer of a chain: guest address, length, device-writable or not. */
struct bt_seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* The byte the image holds at `offset` before any test writes. */
uint8_t bt_pattern(uint64_t offset);

/* Creates the image (BT_IMAGE_SIZE unless size != 0), the device with the --disk options
 * `extra` ("" or e.g. "readonly=on") and the given engine; asserts it worked. */
void bt_setup(struct bt *t, uint64_t size, const char *extra, enum virtio_blk_engine engine);
void bt_teardown(struct bt *t);

/* Negotiates `features` (0: everything offered), sets up `nqueues` queues with MSI-X vectors
 * 1.. and DRIVER_OK. */
void bt_bring_up(struct bt *t, uint64_t features, unsigned nqueues);

/* Writes a descriptor chain for `segs` on queue q, offers it and kicks; returns the head. */
uint16_t bt_chain(struct bt *t, uint16_t q, const struct bt_seg *segs, unsigned n);

/* A request the normal way: header, one data buffer (writable for reads and get-id), status.
 * Returns the status byte's guest address; the chain's head goes to *head if not NULL. */
uint64_t bt_request(struct bt *t, uint16_t q, uint32_t type, uint64_t sector, uint64_t data,
		    uint32_t len, uint16_t *head);
uint64_t bt_header(struct bt *t, uint32_t type, uint64_t sector);

/* Waits (up to 5 s) for queue q's used index to reach `want`. */
bool bt_wait_used(struct bt *t, uint16_t q, uint16_t want);
/* Waits for DEVICE_NEEDS_RESET. */
bool bt_wait_needs_reset(struct bt *t);
uint8_t bt_byte(struct bt *t, uint64_t gpa);

/* A whole request: submits, waits, returns the status byte. */
uint8_t bt_do(struct bt *t, uint32_t type, uint64_t sector, uint64_t data, uint32_t len);

/* Host-side view of the image. */
void bt_pread(struct bt *t, void *buf, uint64_t len, uint64_t offset);
long long bt_allocated_blocks(struct bt *t);

#endif
