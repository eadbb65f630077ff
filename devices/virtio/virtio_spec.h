/* Virtio 1.x constants and ring layouts (virtio v1.2: 2.1 status, 2.7 split virtqueues, 4.1 PCI
 * transport, 6 reserved feature bits). Ember's own definitions; names follow the spec where it
 * names them. All multi-byte ring and config fields are little-endian (virtio 1.x only, no legacy).
 *
 * Feature and capability numbers are written with the same tokens as the kernel's uapi headers use,
 * so a file that also includes <linux/virtio_config.h> (for a device's config layout) compiles. */
#ifndef EMBER_VIRTIO_SPEC_H
#define EMBER_VIRTIO_SPEC_H

#include <stdint.h>

/* ---- Device status (2.1) ---- */
#define VIRTIO_STATUS_ACKNOWLEDGE        0x01u
#define VIRTIO_STATUS_DRIVER             0x02u
#define VIRTIO_STATUS_DRIVER_OK          0x04u
#define VIRTIO_STATUS_FEATURES_OK        0x08u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED             0x80u

/* ---- Reserved feature bits (6): bit numbers; VIRTIO_BIT turns one into a mask ---- */
#define VIRTIO_BIT(n) (1ULL << (n))
#define VIRTIO_F_INDIRECT_DESC     28
#define VIRTIO_F_EVENT_IDX         29
#define VIRTIO_F_RING_EVENT_IDX    VIRTIO_F_EVENT_IDX
#define VIRTIO_F_VERSION_1         32
#define VIRTIO_F_ACCESS_PLATFORM   33
#define VIRTIO_F_RING_PACKED       34
#define VIRTIO_F_IN_ORDER          35
#define VIRTIO_F_ORDER_PLATFORM    36
#define VIRTIO_F_SR_IOV            37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET        40

/* ---- Device IDs (5) ---- */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_SCSI    8
#define VIRTIO_ID_9P      9
#define VIRTIO_ID_GPU     16
#define VIRTIO_ID_INPUT   18
#define VIRTIO_ID_VSOCK   19
#define VIRTIO_ID_FS      26

/* ---- Split virtqueue (2.7) ---- */
#define VIRTQ_MAX_SIZE 32768u   /* queue size: a power of 2, at most this */

#define VIRTQ_DESC_F_NEXT     1u  /* chain continues in `next` */
#define VIRTQ_DESC_F_WRITE    2u  /* buffer is device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4u  /* buffer is a table of descriptors (2.7.5.3) */

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u  /* driver: no used-buffer notification wanted */
#define VIRTQ_USED_F_NO_NOTIFY     1u  /* device: no available-buffer notification wanted */

/* Ring alignment requirements (2.7, table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN  16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN  4u

struct virtq_desc {
	uint64_t addr;   /* le64 guest-physical address */
	uint32_t len;    /* le32 */
	uint16_t flags;  /* le16 VIRTQ_DESC_F_* */
	uint16_t next;   /* le16 next index when flags & NEXT */
};

/* avail ring: flags, idx, ring[size], then used_event (only meaningful with EVENT_IDX). */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct virtq_used_elem {
	uint32_t id;     /* head index of the chain (le32 for padding reasons) */
	uint32_t len;    /* bytes written into the chain's writable buffers */
};

/* used ring: flags, idx, ring[size], then avail_event (only meaningful with EVENT_IDX). */
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes");

/* Byte sizes of the three parts for a queue of `size` entries (the event fields included: the
 * spec sizes them so whether or not EVENT_IDX is negotiated). */
static inline uint64_t virtq_desc_table_bytes(uint32_t size) { return 16ull * size; }
static inline uint64_t virtq_avail_bytes(uint32_t size) { return 6ull + 2ull * size; }
static inline uint64_t virtq_used_bytes(uint32_t size) { return 6ull + 8ull * size; }
/* Offsets of used_event in the avail ring and of avail_event in the used ring. */
static inline uint64_t virtq_used_event_offset(uint32_t size) { return 4ull + 2ull * size; }
static inline uint64_t virtq_avail_event_offset(uint32_t size) { return 4ull + 8ull * size; }

/* EVENT_IDX (2.7.7/2.7.10): has the ring index moved from `old_idx` to `new_idx` past the
 * `event_idx` the other side asked to be woken at? All arithmetic is modulo 2^16. */
static inline int virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* ---- PCI transport (4.1) ---- */
#define VIRTIO_PCI_VENDOR_ID         0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE    0x1040  /* modern device ID = base + VIRTIO_ID_* */
#define VIRTIO_PCI_MODERN_REVISION   1       /* revision ID >= 1: no legacy interface */
#define VIRTIO_PCI_SUBSYS_VENDOR_ID  0x1af4
#define VIRTIO_MSI_NO_VECTOR         0xffff

/* Vendor-specific capability cfg_type values. */
#define VIRTIO_PCI_CAP_COMMON_CFG        1
#define VIRTIO_PCI_CAP_NOTIFY_CFG        2
#define VIRTIO_PCI_CAP_ISR_CFG           3
#define VIRTIO_PCI_CAP_DEVICE_CFG        4
#define VIRTIO_PCI_CAP_PCI_CFG           5
#define VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8
#define VIRTIO_PCI_CAP_VENDOR_CFG        9

/* ISR status bits (4.1.4.5). */
#define VIRTIO_PCI_ISR_QUEUE  0x1
#define VIRTIO_PCI_ISR_CONFIG 0x2

/* Capability layout (4.1.4): byte offsets inside the capability. */
#define VIRTIO_PCI_CAPF_VNDR      0   /* PCI_CAP_ID_VNDR (0x09) */
#define VIRTIO_PCI_CAPF_NEXT      1
#define VIRTIO_PCI_CAPF_LEN       2
#define VIRTIO_PCI_CAPF_CFG_TYPE  3
#define VIRTIO_PCI_CAPF_BAR       4
#define VIRTIO_PCI_CAPF_ID        5
#define VIRTIO_PCI_CAPF_OFFSET    8   /* le32 */
#define VIRTIO_PCI_CAPF_LENGTH    12  /* le32 */
#define VIRTIO_PCI_CAPF_NOTIFY_MULT 16 /* le32, notify capability only */
#define VIRTIO_PCI_CAP_SIZE        16
#define VIRTIO_PCI_NOTIFY_CAP_SIZE 20

/* Common configuration structure (4.1.4.3): byte offsets and access widths. */
#define VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT 0   /* le32 rw */
#define VIRTIO_PCI_COMMON_DEVICE_FEATURE        4   /* le32 ro */
#define VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT 8   /* le32 rw */
#define VIRTIO_PCI_COMMON_DRIVER_FEATURE        12  /* le32 rw */
#define VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR    16  /* le16 rw */
#define VIRTIO_PCI_COMMON_NUM_QUEUES            18  /* le16 ro */
#define VIRTIO_PCI_COMMON_DEVICE_STATUS         20  /* u8 rw */
#define VIRTIO_PCI_COMMON_CONFIG_GENERATION     21  /* u8 ro */
#define VIRTIO_PCI_COMMON_QUEUE_SELECT          22  /* le16 rw */
#define VIRTIO_PCI_COMMON_QUEUE_SIZE            24  /* le16 rw */
#define VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR     26  /* le16 rw */
#define VIRTIO_PCI_COMMON_QUEUE_ENABLE          28  /* le16 rw */
#define VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF      30  /* le16 ro */
#define VIRTIO_PCI_COMMON_QUEUE_DESC            32  /* le64 rw (lo/hi 32-bit halves) */
#define VIRTIO_PCI_COMMON_QUEUE_DRIVER          40  /* le64 rw: the avail ring */
#define VIRTIO_PCI_COMMON_QUEUE_DEVICE          48  /* le64 rw: the used ring */
#define VIRTIO_PCI_COMMON_QUEUE_NOTIFY_DATA     56  /* le16 ro */
#define VIRTIO_PCI_COMMON_QUEUE_RESET           58  /* le16 rw (VIRTIO_F_RING_RESET) */
#define VIRTIO_PCI_COMMON_CFG_SIZE              60

#endif
