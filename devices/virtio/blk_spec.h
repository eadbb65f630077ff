/* virtio-blk constants and wire formats (virtio v1.2, section 5.2). All multi-byte fields are
 * little-endian, as is every host Ember runs on (x86-64). */
#ifndef EMBER_VIRTIO_BLK_SPEC_H
#define EMBER_VIRTIO_BLK_SPEC_H

#include <stdint.h>

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1   /* size_max: largest segment */
#define VIRTIO_BLK_F_SEG_MAX      2   /* seg_max: most data segments per request */
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5   /* read-only device */
#define VIRTIO_BLK_F_BLK_SIZE     6   /* blk_size: logical block size */
#define VIRTIO_BLK_F_FLUSH        9   /* VIRTIO_BLK_T_FLUSH */
#define VIRTIO_BLK_F_TOPOLOGY     10  /* physical block, alignment, I/O sizes */
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12  /* num_queues */
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_F_LIFETIME     15
#define VIRTIO_BLK_F_SECURE_ERASE 16

/* Request types (5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* Status byte values. */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_SECTOR_SHIFT 9
#define VIRTIO_BLK_ID_BYTES    20  /* GET_ID answer: the serial, zero-padded, no terminator */

/* Discard / write-zeroes segment flags. */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

/* The request header: the first 16 device-readable bytes of every request. */
struct virtio_blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One range of a discard or write-zeroes request (the data after the header). */
struct virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* The device configuration structure (5.2.4), BAR 0 offset 0x2000. */
struct virtio_blk_config {
	uint64_t capacity;                   /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	struct {
		uint8_t physical_block_exp;  /* log2(physical blocks per logical block) */
		uint8_t alignment_offset;    /* in logical blocks */
		uint16_t min_io_size;        /* in logical blocks */
		uint32_t opt_io_size;        /* in logical blocks */
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors;
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
};

_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio_blk_outhdr is 16 bytes");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "segment is 16 bytes");
_Static_assert(sizeof(struct virtio_blk_config) == 72, "virtio_blk_config is 72 bytes");

#endif
