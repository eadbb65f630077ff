/* Virtio 1.x over PCI, modern interface only (virtio v1.2 section 4.1): the transport between a
 * device model (rng, later blk, net...) and the guest driver.
 *
 * One 64-bit memory BAR (BAR 0) holds every structure, each in its own 4 KiB page:
 *
 *   0x0000 common configuration    0x3000 notifications (queue i at 4*i)
 *   0x1000 ISR status              0x4000 MSI-X table, 0x5000 MSI-X PBA
 *   0x2000 device configuration
 *
 * Kicks never run on a vCPU thread: each queue has an eventfd that KVM_IOEVENTFD binds to the
 * queue's notify address (rebound when the guest moves the BAR). The device's own io_uring loop
 * reads those eventfds (virtio_pci_start), and the completion calls the device's queue_notify
 * with the transport lock held. A kick that does reach userspace (ioeventfd refused, odd access
 * width) is forwarded to the same eventfd. Interrupts are MSI-X (pci_msix_notify): vector 0..n
 * as the driver maps them, none for VIRTIO_MSI_NO_VECTOR.
 *
 * Offered features: the device's own plus VERSION_1 (required: no legacy), EVENT_IDX and
 * INDIRECT_DESC (the virtqueue core implements both). FEATURES_OK sticks only if the driver took
 * VERSION_1 and nothing that was not offered. A broken queue (guest error found by the
 * virtqueue core) or a failed activation sets DEVICE_NEEDS_RESET and raises a config
 * interrupt; the device stays quiet until the driver resets it (status 0).
 *
 * Locking: one mutex per transport (vp->lock) covers the registers, the queues and device
 * callbacks; it nests inside the PCI bus locks (BAR handlers, bar_moved, config hooks). */
#ifndef EMBER_VIRTIO_PCI_H
#define EMBER_VIRTIO_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/event_loop.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"
#include "virtqueue.h"

#define VIRTIO_PCI_BAR               0
#define VIRTIO_PCI_BAR_SIZE          0x8000
#define VIRTIO_PCI_COMMON_OFFSET     0x0000
#define VIRTIO_PCI_ISR_OFFSET        0x1000
#define VIRTIO_PCI_DEVICE_OFFSET     0x2000
#define VIRTIO_PCI_DEVICE_CFG_MAX    0x1000
#define VIRTIO_PCI_NOTIFY_OFFSET     0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MSIX_TABLE_OFFSET 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFFSET   0x5000
#define VIRTIO_PCI_REGION_SIZE       0x1000
/* One MSI-X vector per queue plus one for configuration changes; the table fits in a page. */
#define VIRTIO_PCI_MAX_QUEUES        255
/* Class code for virtio devices without a better one: "other" (0xff). */
#define VIRTIO_PCI_CLASS_OTHER       0xff0000

/* Feature bits the transport offers on every device. */
#define VIRTIO_PCI_TRANSPORT_FEATURES                                                          \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |                     \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

/* A device model, in the kvmtool/Firecracker manner: constants plus callbacks. Every callback
 * runs with the transport lock held (so the device needs no lock of its own for state the
 * transport hands it); `opaque` is the device's state. */
struct virtio_device_ops {
	const char *name;            /* "virtio-rng", for messages */
	uint16_t device_id;          /* VIRTIO_ID_* */
	uint32_t class_code;         /* PCI class (VIRTIO_PCI_CLASS_OTHER if nothing fits) */
	uint16_t num_queues;         /* 1..VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_max_size;     /* power of 2, 1..32768 */
	uint32_t config_size;        /* bytes of device configuration, <= VIRTIO_PCI_DEVICE_CFG_MAX */

	/* Device-specific feature bits (0-23, 41-63; transport bits are masked off). */
	uint64_t (*features)(void *opaque);
	/* Device configuration, [offset, offset+size) already checked against config_size.
	 * Optional when config_size is 0. config_write may be NULL (read-only configuration). */
	void (*config_read)(void *opaque, uint32_t offset, uint8_t *data, uint32_t size);
	void (*config_write)(void *opaque, uint32_t offset, const uint8_t *data, uint32_t size);
	/* The driver kicked queue `index` (on the device's loop thread). Pop, serve, push; the
	 * transport then checks for a broken queue and sends the used-buffer interrupt if due.
	 * -1 (e filled) also means DEVICE_NEEDS_RESET. Only called while the device is live. */
	int (*queue_notify)(void *opaque, struct virtqueue *vq, uint16_t index, struct error *e);
	/* DRIVER_OK with these negotiated features; -1 refuses (DEVICE_NEEDS_RESET). Optional. */
	int (*activate)(void *opaque, uint64_t features, struct error *e);
	/* Device reset (status 0): forget everything negotiated. Optional. */
	void (*reset)(void *opaque);
	/* Snapshot of device-specific state: save writes at most cap bytes to buf and their count
	 * to *len; restore checks and loads them. Optional: without them the device keeps no state
	 * of its own (its queues are the transport's). */
	int (*save)(void *opaque, void *buf, size_t cap, size_t *len, struct error *e);
	int (*restore)(void *opaque, const void *buf, size_t len, struct error *e);
};

struct virtio_pci;

struct virtio_pci_queue {
	struct virtqueue vq;
	struct virtio_pci *vp;
	uint16_t index;
	uint16_t msix_vector;        /* VIRTIO_MSI_NO_VECTOR or < the function's vector count */
	int kick_fd;                 /* eventfd: ioeventfd target and fallback kick */
	uint64_t ioeventfd_gpa;      /* notify address bound with KVM_IOEVENTFD, 0: none */
	struct ev_op kick_op;        /* the pending read of kick_fd on the device loop */
	uint64_t kick_count;         /* its buffer */
	struct event_loop *loop;     /* set by virtio_pci_start */
};

struct virtio_pci {
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *opaque;
	const struct guest_mem *mem;
	int vm_fd;
	struct pci_device *pci;

	/* Registers (common configuration). */
	uint64_t device_features;    /* offered */
	uint64_t driver_features;    /* accepted by the driver */
	uint32_t device_feature_select, driver_feature_select;
	uint16_t config_msix_vector;
	uint16_t queue_select;
	uint8_t status;
	uint8_t config_generation;
	atomic_uint isr;             /* VIRTIO_PCI_ISR_*, read-to-clear */

	bool live;                   /* DRIVER_OK accepted and no DEVICE_NEEDS_RESET since */
	bool error_reported;         /* one message per device reset */
	uint8_t pci_cfg_cap;         /* config offset of the VIRTIO_PCI_CAP_PCI_CFG window */
	unsigned ioeventfd_warned;   /* KVM_IOEVENTFD failures seen (the first one is reported) */
	uint64_t bar_gpa;            /* where BAR 0 decodes, PCI_BAR_UNMAPPED when not */
	uint16_t num_queues;
	struct virtio_pci_queue *queues;
};

/* Creates the transport and plugs its PCI function into `bus`. vm_fd -1: no ioeventfds (unit
 * tests; kicks then arrive through the notify region's handler). */
struct virtio_pci *virtio_pci_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     const struct virtio_device_ops *ops, void *opaque,
				     struct error *e);
/* Unplugs and frees; the device loop using it must have stopped. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* Arms a read of every queue's kick eventfd on `loop`. Call on the loop's thread, before
 * running it; completions call the device's queue_notify and re-arm. */
int virtio_pci_start(struct virtio_pci *vp, struct event_loop *loop, struct error *e);

/* What a kick does (for tests and devices that poll): serve queue `index` now if live. */
void virtio_pci_process_queue(struct virtio_pci *vp, uint16_t index);

/* The device's configuration changed: bump config_generation, config interrupt if live. */
void virtio_pci_config_changed(struct virtio_pci *vp);

/* BAR 0 access (offset within the BAR), as the PCI window delivers it. */
void virtio_pci_bar_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
		       bool is_write);

/* ---- Snapshots ---- */

/* Fixed part of the transport's snapshot; num_queues queue records follow, then the device's. */
struct virtio_pci_state {
	uint64_t device_features, driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t config_msix_vector, queue_select, num_queues;
	uint8_t status, config_generation, isr, live;
	uint8_t reserved[6];
};

struct virtio_pci_queue_state {
	struct virtqueue_state vq;
	uint16_t msix_vector;
	uint8_t reserved[6];
};

/* Bytes virtio_pci_save needs for the transport part (the device's part comes on top). */
size_t virtio_pci_state_size(const struct virtio_pci *vp);
/* Writes the snapshot (transport, queues, then the device's part) into buf and its length to
 * *len; -1 when cap is too small or the device's save fails. */
int virtio_pci_save(struct virtio_pci *vp, void *buf, size_t cap, size_t *len, struct error *e);
/* Loads a snapshot taken from a device of the same kind; checks every field as if the guest had
 * written it. The PCI function's own state (BARs, MSI-X table) is the PCI layer's. */
int virtio_pci_restore(struct virtio_pci *vp, const void *buf, size_t len, struct error *e);

#endif
