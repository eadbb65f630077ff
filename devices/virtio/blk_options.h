/* What a virtio-blk disk is, as the user described it: `--disk path=FILE[,readonly=on]
 * [,direct=on][,queues=N][,serial=ID][,poll_us=N]` (repeatable) and `--io-engine io_uring|sync`.
 * Plain data
 * (fixed-size strings, no pointers) so it sits in struct vm_config and survives copies. */
#ifndef EMBER_VIRTIO_BLK_OPTIONS_H
#define EMBER_VIRTIO_BLK_OPTIONS_H

#include <stdbool.h>

#include "../../vmm/error.h"

#define VIRTIO_BLK_MAX_DISKS   16
#define VIRTIO_BLK_PATH_MAX    1024
#define VIRTIO_BLK_SERIAL_MAX  20   /* the GET_ID answer's size */
#define VIRTIO_BLK_MAX_QUEUES  16   /* one device thread and io_uring per queue */
#define VIRTIO_BLK_MAX_POLL_US 1000 /* poll_us= upper bound */

/* How a disk's requests reach the image. */
enum virtio_blk_engine {
	VIRTIO_BLK_ENGINE_IO_URING, /* default: asynchronous, on the device thread's ring */
	VIRTIO_BLK_ENGINE_SYNC,     /* preadv/pwritev on the device thread: the baseline */
};

struct virtio_blk_options {
	char path[VIRTIO_BLK_PATH_MAX];
	char serial[VIRTIO_BLK_SERIAL_MAX + 1]; /* "" when not given */
	bool readonly;   /* readonly=on: VIRTIO_BLK_F_RO, writes answered with IOERR */
	bool direct;     /* direct=on: O_DIRECT, the host page cache is bypassed */
	unsigned queues; /* queues=N: 1..VIRTIO_BLK_MAX_QUEUES (default 1) */
	unsigned poll_us; /* poll_us=N: busy-poll up to N µs after activity (0: off, default) */
};

/* Parses the value of one --disk flag. Values may contain a comma written twice (",,"), the
 * way QEMU escapes it. Messages start with "--disk: ". */
int virtio_blk_parse_disk(const char *spec, struct virtio_blk_options *o, struct error *e);

/* Parses the value of --io-engine ("io_uring" or "sync"). */
int virtio_blk_parse_engine(const char *text, enum virtio_blk_engine *engine, struct error *e);

const char *virtio_blk_engine_name(enum virtio_blk_engine engine);

#endif
