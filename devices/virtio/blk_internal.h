/* Shared by the virtio-blk files: blk_image.c (the host file), blk_request.c (a guest request,
 * validated, as a sequence of host I/O steps), blk_io.c (running steps: io_uring or sync) and
 * blk.c (the device: configuration, queues, threads). */
#ifndef EMBER_VIRTIO_BLK_INTERNAL_H
#define EMBER_VIRTIO_BLK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "../../vmm/error.h"
#include "../../vmm/event_loop.h"
#include "../../vmm/guest_mem.h"
#include "blk.h"
#include "blk_spec.h"
#include "virtio_pci.h"
#include "virtqueue.h"

/* Queue geometry and request limits the device advertises (and enforces). */
#define BLK_QUEUE_SIZE        256
#define BLK_SEG_MAX           (BLK_QUEUE_SIZE - 2)  /* data segments: a chain fits the ring */
#define BLK_IOV_MAX           (BLK_SEG_MAX + 2)     /* + header and status */
#define BLK_SIZE_MAX          (1u << 20)            /* bytes per data segment (advertised) */
#define BLK_MAX_DISCARD_SEG   32                    /* ranges per discard/write-zeroes */
#define BLK_MAX_DISCARD_SECTORS (1u << 22)          /* 2 GiB per range */
#define BLK_ZERO_CHUNK        (256u << 10)          /* write-zeroes fallback: bytes per write */
#define BLK_STEP_RETRIES      16                    /* EINTR/EAGAIN repeats before IOERR */

/* ---- The image (blk_image.c) ---- */

struct blk_image {
	int fd;               /* the image; O_DIRECT with direct=on */
	int buffered_fd;      /* without O_DIRECT, for requests O_DIRECT cannot take; == fd if not
			       * direct */
	bool readonly, direct, block_device;
	uint64_t size;        /* bytes */
	uint64_t capacity;    /* whole 512-byte sectors */
	uint32_t logical_block;  /* told to the guest (BLK_SIZE) */
	uint32_t physical_block; /* TOPOLOGY */
	uint32_t dio_align;   /* direct=on: offset, length and memory alignment O_DIRECT needs */
};

int blk_image_open(struct blk_image *img, const struct virtio_blk_options *o, struct error *e);
void blk_image_close(struct blk_image *img);
/* The fd a transfer should use: the O_DIRECT one when offset, lengths and buffers suit it. */
int blk_image_fd_for(const struct blk_image *img, uint64_t offset, const struct iovec *iov,
		     int niov);

/* ---- Requests (blk_request.c) ---- */

enum blk_step_op {
	BLK_STEP_READ,        /* preadv(iov) at offset */
	BLK_STEP_WRITE,       /* pwritev(iov) at offset */
	BLK_STEP_FLUSH,       /* fdatasync */
	BLK_STEP_PUNCH,       /* fallocate(PUNCH_HOLE | KEEP_SIZE, offset, len) */
	BLK_STEP_ZERO_RANGE,  /* fallocate(ZERO_RANGE | KEEP_SIZE, offset, len) */
	BLK_STEP_WRITE_ZEROS, /* pwritev of the zero buffer (iov) at offset */
};

/* One host system call a request needs next. */
struct blk_step {
	enum blk_step_op op;
	int fd;
	uint64_t offset;
	uint64_t len;
	struct iovec *iov;
	int niov;
};

/* Fallbacks for zeroing a range, tried in this order until one is supported. */
enum blk_zero_method { BLK_ZERO_PUNCH, BLK_ZERO_RANGE, BLK_ZERO_WRITE };

struct blk_queue;

struct blk_request {
	/* The chain, as popped. */
	struct virtq_chain chain;
	struct iovec iov[BLK_IOV_MAX];

	/* Parsed (copied out of guest memory once: the guest may change it meanwhile). */
	uint32_t type;
	uint64_t sector;
	uint8_t *status_ptr;      /* the chain's last writable byte */
	uint8_t status;           /* VIRTIO_BLK_S_* once done */
	bool done;
	struct iovec *data;       /* READ/WRITE: the data part of iov[], trimmed in place */
	int ndata;
	uint64_t data_len;        /* bytes still to transfer */
	uint64_t transferred;     /* bytes transferred so far */
	uint32_t id_bytes;        /* GET_ID: bytes of the serial written */
	struct virtio_blk_discard_write_zeroes ranges[BLK_MAX_DISCARD_SEG];
	uint32_t nranges, range;  /* discard / write-zeroes progress */
	uint64_t range_done;      /* bytes of ranges[range] zeroed so far (zero-write fallback) */
	enum blk_zero_method zero_method;
	struct iovec zero_iov;
	int last_errno;           /* the host error behind an IOERR (0: short transfer) */
	enum blk_step_op failed_op;
	uint64_t failed_offset;
	bool host_error;          /* IOERR came from the host, not from a bad request */
	unsigned retries;         /* EINTR/EAGAIN repeats of the current step */

	/* Owned by the queue that popped it. */
	struct blk_step step;
	struct ev_op op;
	struct blk_queue *queue;
	uint32_t epoch;           /* device epoch at pop: stale after a reset */
	struct blk_request *next; /* free list / completed list */
};

/* What a request may do, fixed at activation. */
struct blk_request_env {
	const struct guest_mem *mem;
	const struct blk_image *img;
	uint64_t features;        /* negotiated */
	const char *serial;       /* "" for none */
};

/* Validates the popped chain and prepares the request. -1 (e filled) when the chain cannot carry
 * a virtio-blk request at all (no header, no writable status byte): the guest broke the
 * protocol and the device needs a reset. Otherwise 0; a bad request (range past the end,
 * read-only, unknown type) is then already done with its status set. */
int blk_request_parse(struct blk_request *r, const struct blk_request_env *env, struct error *e);

/* The next host call, or false when the request is done (r->status final). */
bool blk_request_next_step(struct blk_request *r, const struct blk_image *img,
			   struct blk_step *s);

/* The host call's result: bytes, or -errno. */
void blk_request_step_done(struct blk_request *r, const struct blk_step *s, ssize_t res);

/* Bytes of the chain's writable part the device filled (the used-ring length), status byte
 * included. Writes the status byte into the guest's buffer. */
uint32_t blk_request_complete(struct blk_request *r);

/* ---- Running steps (blk_io.c) ---- */

/* Synchronous: the system call on this thread; returns its result as bytes or -errno. */
ssize_t blk_io_sync(const struct blk_step *s);

/* The image's descriptors as registered on a queue's ring (IORING_REGISTER_FILES). */
struct blk_io_files {
	int fds[2];   /* index i on the ring is fds[i] */
	int count;    /* 0: none registered (steps use plain descriptors) */
};

/* Registers the image's descriptors on `loop` (a failure leaves count 0: plain descriptors),
 * and drops them again, synchronously, before the image is closed. Call both on the thread
 * that runs the loop once it runs it (the ring may have a single issuer). */
void blk_io_register_files(struct event_loop *loop, struct blk_io_files *files,
			   const struct blk_image *img);
void blk_io_unregister_files(struct event_loop *loop, struct blk_io_files *files);

/* io_uring: queues the step on `loop` with `op` as its completion (submitted with the batch). */
int blk_io_submit(struct event_loop *loop, const struct blk_io_files *files, struct ev_op *op,
		  const struct blk_step *s);

/* Bounds the ring's io-wq worker threads (file I/O that cannot complete inline runs there). */
void blk_io_limit_workers(struct event_loop *loop);

/* ---- The queue thread's loop (blk_loop.c) ---- */

/* Polling (`--disk ...,poll_us=N`, off by default): after activity, the queue thread spins for
 * up to N µs (an adaptive window, blk_loop.c) before sleeping, saving the guest's kick exit and
 * the thread's wake-ups. It pays only with a spare CPU: a loop that sees a gap of more than
 * BLK_POLL_PREEMPTED_NS between two looks was preempted (by a vCPU, by another process) and
 * stops polling for BLK_POLL_BACKOFF_MIN_NS, doubling up to BLK_POLL_BACKOFF_MAX_NS while that
 * repeats; each window that ends without preemption halves the back-off. */
#define BLK_POLL_PREEMPTED_NS   100000
#define BLK_POLL_BACKOFF_MIN_NS 10000000ull
#define BLK_POLL_BACKOFF_MAX_NS 1000000000ull

struct blk_poller {
	uint64_t budget_ns;            /* spin up to this long after activity; 0: never */
	bool (*worth_polling)(void *opaque); /* false: sleep (the queue is stopping) */
	bool (*pending)(void *opaque); /* has the guest made requests available? (no syscall) */
	void (*serve)(void *opaque);   /* then serve them */
	/* Guest kicks off while polling (they would only cost exits), back on before sleeping:
	 * stop_polling returns whether requests arrived in between (serve them first). */
	void (*start_polling)(void *opaque);
	bool (*stop_polling)(void *opaque);
	void (*batch_done)(void *opaque); /* after each batch of completions */
	void *opaque;
};

/* Runs `l` like event_loop_run, polling for up to budget_ns after each burst of activity.
 * Returns 0 once event_loop_stop is called from a callback, -1 on a ring failure. */
int blk_loop_run(struct event_loop *l, const struct blk_poller *p, struct error *e);

/* ---- The device (blk.c: model and life cycle; blk_queue.c: requests and threads) ---- */

#define BLK_RING_ENTRIES (BLK_QUEUE_SIZE + 8) /* every request in flight + kick + stop */
#define BLK_NAME_MAX 64

struct blk_queue {
	struct virtio_blk *blk;
	uint16_t index;
	struct event_loop loop;
	struct blk_io_files files;      /* the image, registered on the ring */
	pthread_t thread;
	bool started;
	bool stopping;
	bool polling;                   /* the loop is busy-polling: no kicks needed */
	bool push_pending;              /* requests finished since the last push */
	struct ev_op kick_op;
	uint64_t kick_count;
	struct ev_op stop_op;
	struct blk_request *reqs;       /* BLK_QUEUE_SIZE of them */
	struct blk_request *free_list;
	struct blk_request *done_head, *done_tail; /* finished, not yet pushed */
	unsigned host_inflight;         /* requests with a step on the ring */
};

struct blk_counters {
	atomic_uint_fast64_t requests, read_bytes, write_bytes, flushes, discards, write_zeroes,
		io_errors, unsupported, reads, writes, host_errors, kicks;
};

struct virtio_blk {
	struct virtio_device_ops ops;   /* per device: the queue count is the user's */
	char name[BLK_NAME_MAX];
	struct virtio_pci *vp;
	const struct guest_mem *mem;
	struct blk_image img;
	struct virtio_blk_options opt;
	enum virtio_blk_engine engine;
	struct virtio_blk_config config;
	uint64_t features;              /* negotiated at activation (transport lock) */
	uint32_t epoch;                 /* bumped by each reset (transport lock) */
	uint32_t outstanding;           /* popped in this epoch, not yet pushed (transport lock) */
	atomic_bool error_reported;     /* first host I/O error printed */
	struct blk_counters counters;
	uint64_t poll_ns;               /* poll_us, in ns */
	int stop_fd;
	uint16_t nqueues;
	struct blk_queue *queues;
};

/* The transport's queue_notify: push what is done, pop and start what is new. */
int blk_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index, struct error *e);
/* Queue `index`'s requests and ring (before the transport exists), then its thread. */
int blk_queue_init(struct virtio_blk *blk, uint16_t index, struct error *e);
int blk_queue_start(struct virtio_blk *blk, uint16_t index, struct error *e);

#endif
