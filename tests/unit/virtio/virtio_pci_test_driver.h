/* A pretend guest driver for virtio-pci tests: a PCI bus on private io_buses (no KVM), guest RAM,
 * and everything a driver does through them — find the function and its capabilities through
 * ECAM, read/write the common configuration through the BAR, lay out split rings in RAM, offer
 * buffers, kick. */
#ifndef EMBER_VIRTIO_PCI_TEST_DRIVER_H
#define EMBER_VIRTIO_PCI_TEST_DRIVER_H

#include <stdint.h>

#include "devices/pci/pci.h"
#include "devices/virtio/virtio_pci.h"

#define VD_RAM         (64ull << 20)
#define VD_RING(q)     (0x100000ull + (q) * 0x40000ull) /* desc; avail +0x10000, used +0x20000 */
#define VD_DATA        0x1000000ull

struct vd_ring {
	uint16_t queue, size;
	uint64_t desc, avail, used;
	uint16_t avail_idx;      /* next avail entry */
	uint16_t next_desc;      /* next free descriptor (no reuse tracking: tests stay small) */
};

struct vdrv {
	struct io_bus pio, mmio;
	struct guest_mem gm;
	struct pci_bus *bus;
	struct error e;
	unsigned slot;
	uint64_t bar;
	uint64_t common, isr, device, notify;  /* GPAs from the capabilities */
	uint32_t notify_mult, notify_len, device_len;
	uint8_t pci_cfg_cap, msix_cap;
	uint64_t next_data;
};

void vd_setup(struct vdrv *d);
void vd_teardown(struct vdrv *d);

/* Walks slot's capabilities and records where each structure is (asserts they are sane). */
void vd_probe(struct vdrv *d, unsigned slot);

uint32_t vd_cfg_read(struct vdrv *d, unsigned reg, uint32_t size);
void vd_cfg_write(struct vdrv *d, unsigned reg, uint32_t v, uint32_t size);
uint64_t vd_mmio_read(struct vdrv *d, uint64_t gpa, uint32_t size);
void vd_mmio_write(struct vdrv *d, uint64_t gpa, uint64_t v, uint32_t size);

/* Common configuration, by field offset. */
uint64_t vd_read(struct vdrv *d, unsigned field, uint32_t size);
void vd_write(struct vdrv *d, unsigned field, uint64_t v, uint32_t size);
uint8_t vd_status(struct vdrv *d);
void vd_set_status(struct vdrv *d, uint8_t status);
uint64_t vd_device_features(struct vdrv *d);
void vd_driver_features(struct vdrv *d, uint64_t features);
/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (asserts it sticks). */
void vd_negotiate(struct vdrv *d, uint64_t features);

/* Enables MSI-X and gives vector i a valid message, unmasked, for i < n. */
void vd_msix_on(struct vdrv *d, unsigned n);
/* Signals pending on vector i's eventfd (consumes them). */
uint64_t vd_msix_count(struct vdrv *d, unsigned vector);

/* Selects queue q, sets its size and ring addresses (VD_RING layout), maps it to `vector`, and
 * enables it. */
void vd_queue_setup(struct vdrv *d, struct vd_ring *r, uint16_t q, uint16_t size, uint16_t vector);

/* A zeroed buffer in guest RAM. */
uint64_t vd_alloc(struct vdrv *d, uint32_t len);
void *vd_host(struct vdrv *d, uint64_t gpa, uint64_t len);
/* Writes one descriptor and returns its index. */
uint16_t vd_desc(struct vdrv *d, struct vd_ring *r, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next);
/* Offers chain `head` (avail ring entry + avail->idx). */
void vd_offer(struct vdrv *d, struct vd_ring *r, uint16_t head);
uint16_t vd_used_idx(struct vdrv *d, struct vd_ring *r);
struct virtq_used_elem vd_used(struct vdrv *d, struct vd_ring *r, uint16_t i);
/* Writes the queue's notify address. */
void vd_kick(struct vdrv *d, uint16_t q);

#endif
