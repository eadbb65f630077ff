/* virtio-net's own state, shared by net.c (life cycle, configuration, features, rate limiter
 * timers), net_rx.c (TAP → guest) and net_tx.c (guest → TAP).
 *
 * Threads: the data paths run on the device thread inside queue_notify, i.e. with the transport
 * lock held, as do the transport's calls into config_read/activate/reset (vCPU threads).
 * Everything marked (vp) is only touched under that lock. Fields marked (dev) belong to the
 * device thread alone (completions run there without the lock). The limiters are shared with
 * API threads under limiter_lock; the counters are atomics written by the device thread. */
#ifndef EMBER_VIRTIO_NET_INTERNAL_H
#define EMBER_VIRTIO_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../../vmm/event_loop.h"
#include "net.h"
#include "net_hdr.h"
#include "tap.h"
#include "virtio_pci.h"

#define NET_RX_BUF_IOV   64   /* segments one receive buffer may have (Linux: up to ~47) */
#define NET_RX_HELD_MAX  64   /* receive buffers held at once (64 x 1.5 KiB > 64 KiB) */
#define NET_TX_IOV_MAX   1023 /* segments of one transmit chain (+1 for the header) */
#define NET_BUDGET       256  /* frames per pass before letting other events in */
#define NET_IOV_MAX      1024 /* what readv/writev take (UIO_MAXIOV) */

/* A receive buffer taken from the ring and not yet returned. */
struct net_rx_buf {
	uint16_t head;
	uint32_t cap;             /* writable bytes */
	uint32_t niov;
	struct iovec iov[NET_RX_BUF_IOV];
};

/* A rate-limiter wait on the device loop. */
struct net_timer {
	struct ev_op op;
	struct __kernel_timespec ts;
	bool armed;               /* (dev) */
	uint16_t queue;
	struct virtio_net *net;
};

struct net_stats {
#define NET_STAT_FIELD(name) _Atomic uint64_t name;
	VIRTIO_NET_COUNTERS(NET_STAT_FIELD)
#undef NET_STAT_FIELD
};

struct virtio_net {
	struct virtio_pci *vp;
	const struct guest_mem *mem;
	struct net_options opts;
	struct tap tap;

	struct event_loop loop;
	pthread_t thread;
	bool started;
	int stop_fd;
	struct ev_op stop_op;
	int link_fd;              /* eventfd: the link status changed (config interrupt due) */
	struct ev_op link_op;
	uint64_t link_count;

	/* Negotiated (vp). */
	uint64_t features;
	bool mergeable;           /* VIRTIO_NET_F_MRG_RXBUF */
	uint16_t mtu_enforced;    /* the MTU when VIRTIO_NET_F_MTU was negotiated, else 0 */
	uint32_t rx_want;         /* receive capacity to hold before reading a frame */
	uint16_t status;          /* VIRTIO_NET_S_LINK_UP while the TAP is there (vp) */
	bool tap_gone;            /* (vp) */
	bool warned_malformed;    /* one message per device (vp) */

	/* Receive buffers held, in ring order (vp): a FIFO of rx_count from rx_first. */
	struct net_rx_buf rx_bufs[NET_RX_HELD_MAX];
	uint32_t rx_first, rx_count;
	uint64_t rx_held_bytes;   /* their capacity */
	uint32_t rx_deferred_len; /* a frame already in the held buffers, waiting for the limiter */
	struct net_hdr rx_deferred_hdr;
	struct iovec rx_iov[NET_IOV_MAX];
	uint8_t rx_spare;         /* ends rx_iov: a frame reaching it did not fit (net_rx.c) */
	bool rx_poll_armed;       /* (dev) */
	struct ev_op rx_poll_op;

	struct iovec tx_iov[NET_TX_IOV_MAX + 1];
	bool tx_deferred;         /* a pass over the transmit queue is due (vp) */

	pthread_mutex_t limiter_lock;
	struct rate_limiter rx_limiter, tx_limiter;
	struct net_timer rx_timer, tx_timer;

	struct net_stats stats;
};

/* ---- net.c ---- */
/* Adds to a counter (device thread). */
static inline void net_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
/* One frame of `bytes` through a direction's limiter; false: it must wait (a timer is armed). */
bool net_rate_limit(struct virtio_net *net, struct net_timer *t, uint64_t bytes);
/* The TAP disappeared: link down, config interrupt (later, outside the lock), one message. */
void net_tap_gone(struct virtio_net *net, int err);
/* A guest frame was malformed: count it, say so once. */
void net_report_malformed(struct virtio_net *net, const char *what);
/* Interrupts the driver now if it asked for it (used_event / NO_INTERRUPT), rather than at the
 * end of the pass: it starts on the frame (and, for transmit, frees it, which lets its TCP
 * send more) while the device goes on. With EVENT_IDX a driver that is busy polling suppresses
 * these, so this costs an interrupt only when one is wanted. */
void net_notify_used(struct virtio_net *net, struct virtqueue *vq, uint16_t q);
/* Makes the device loop serve queue `q` again (after a budget ran out). */
void net_requeue(struct virtio_net *net, uint16_t q);
/* Gives back the last `n` chains popped from vq (they were not used). */
void net_vq_unpop(struct virtqueue *vq, uint16_t n);

/* ---- net_rx.c ---- */
int net_rx_process(struct virtio_net *net, struct virtqueue *vq, struct error *e);
/* Forgets held buffers (device reset); unpop: also give them back to the ring. */
void net_rx_drop_held(struct virtio_net *net, struct virtqueue *vq, bool unpop);
void net_rx_poll_done(struct ev_op *op, int res);

/* ---- net_tx.c ---- */
int net_tx_process(struct virtio_net *net, struct virtqueue *vq, struct error *e);

#endif
