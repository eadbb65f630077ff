/* virtio-vsock's own state, shared by vsock.c (life cycle, configuration, features, snapshots,
 * the device thread, the event queue), vsock_conn.c (the connection table and the state machine
 * driven by the guest's packets), vsock_tx.c (the transmit queue), vsock_rx.c (packets to the
 * guest) and vsock_host.c (the Unix sockets).
 *
 * Locking: everything below marked (vp) is touched only with the transport lock (vp->lock) held:
 * queue_notify runs with it (device thread), so do activate/reset/restore (vCPU or API thread),
 * and the device thread's own completions (accepts, socket readiness, timers) take it. Only the
 * device thread submits to its io_uring, so reset and restore, which may run elsewhere, never
 * arm an operation: they shut sockets down, which completes whatever was pending on them. */
#ifndef EMBER_VIRTIO_VSOCK_INTERNAL_H
#define EMBER_VIRTIO_VSOCK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "../../vmm/event_loop.h"
#include "virtio_pci.h"
#include "vsock.h"
#include "vsock_packet.h"

#define VSOCK_RX_IOV          64    /* segments of one rx buffer (Linux: 1 or 2) */
#define VSOCK_TX_IOV          64    /* segments of one tx chain (Linux: 1 or 2) */
#define VSOCK_BUDGET          256   /* packets per pass before letting other events in */
#define VSOCK_RST_QUEUE       (2 * VIRTIO_VSOCK_MAX_CONNECTIONS) /* RSTs waiting for rx buffers */
#define VSOCK_HELLO_MAX       32    /* "CONNECT 4294967295\n" is 19 bytes */
#define VSOCK_CONNECT_TIMEOUT_MS 5000 /* a guest that neither accepts nor refuses */
#define VSOCK_LOCAL_PORT_FIRST (1u << 30) /* host ports of host → guest connections */

enum vsock_conn_state {
	VSOCK_CONN_HELLO,        /* host socket accepted; reading "CONNECT <port>\n" */
	VSOCK_CONN_CONNECTING,   /* REQUEST owed or sent to the guest, waiting for RESPONSE */
	VSOCK_CONN_ESTABLISHED,
};

/* Control packets a connection owes the guest; the rx path sends them in this order (data, when
 * there is some, goes between RESPONSE and SHUTDOWN). */
enum {
	VSOCK_OWE_REQUEST = 1,
	VSOCK_OWE_RESPONSE = 2,
	VSOCK_OWE_SHUTDOWN = 4,
	VSOCK_OWE_CREDIT_UPDATE = 8,
};

/* Guest bytes waiting for the host peer to read them: a ring of VIRTIO_VSOCK_CONN_BUFFER bytes,
 * allocated the first time a write to the host socket comes up short. */
struct vsock_ring {
	uint8_t *data;
	uint32_t head, len;
};

/* One connection's plain state (ports, flags, counters): no pointers, no descriptors. */
struct vsock_conn_info {
	uint32_t guest_port, host_port;
	uint8_t state;              /* enum vsock_conn_state */
	uint8_t owe;                /* VSOCK_OWE_* */
	uint8_t shutdown_sent;      /* SHUTDOWN flags owed or sent to the guest */
	uint8_t guest_shutdown;     /* SHUTDOWN flags the guest sent */
	bool from_host;             /* opened by a host process (CONNECT) */
	bool host_readable;         /* a read of the host socket may find data */
	bool host_eof;              /* the host peer will send no more */
	bool host_rd_shut, host_wr_shut; /* shutdown(2) done on our end */
	bool stalled;               /* out of guest credit (counted once per stall) */
	/* Guest → host: the device is the receiver and advertises VIRTIO_VSOCK_CONN_BUFFER. */
	uint32_t rx_cnt;            /* bytes received from the guest */
	uint32_t fwd_cnt;           /* of which written to the host socket */
	uint32_t last_fwd_sent;     /* fwd_cnt of our last packet to the guest */
	/* Host → guest: the guest is the receiver. */
	uint32_t tx_cnt;            /* bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint64_t deadline_ms;       /* CONNECTING: when to give up on the guest */
};

struct virtio_vsock;

struct vsock_conn {
	struct vsock_conn_info i;
	int fd;                      /* the Unix socket, non-blocking */
	char hello[VSOCK_HELLO_MAX];
	uint8_t hello_len;
	struct vsock_ring ring;
	struct ev_op rd_op, wr_op;   /* io_uring polls for POLLIN / POLLOUT */
	bool rd_armed, wr_armed;
	bool zombie;                 /* closed; freed when its polls have completed */
	bool ready;                  /* in vs->ready */
	TAILQ_ENTRY(vsock_conn) link; /* vs->ready or vs->zombies */
	struct virtio_vsock *vs;
};

TAILQ_HEAD(vsock_conn_list, vsock_conn);

/* An RST the guest is owed for a connection that does not exist (any more). */
struct vsock_rst {
	uint64_t src_cid;
	uint32_t src_port, dst_port;
	uint16_t type;
};

struct vsock_stats {
#define VSOCK_STAT_FIELD(name) _Atomic uint64_t name;
	VIRTIO_VSOCK_COUNTERS(VSOCK_STAT_FIELD)
#undef VSOCK_STAT_FIELD
};

struct virtio_vsock {
	struct virtio_pci *vp;
	const struct guest_mem *mem;
	struct vsock_options opts;

	struct event_loop loop;
	pthread_t thread;
	bool started;
	int stop_fd;
	struct ev_op stop_op;
	int listen_fd;
	bool listening;              /* the socket file is ours to remove */
	struct ev_op accept_op;
	struct ev_op accept_retry_op;
	struct __kernel_timespec accept_retry_ts;
	struct ev_op timer_op;       /* connect timeouts */
	struct __kernel_timespec timer_ts;
	bool timer_armed;
	bool warned_accept;

	/* (vp) */
	bool activated;              /* DRIVER_OK since the last reset */
	bool event_owed;             /* TRANSPORT_RESET for the driver */
	bool rx_wanted;              /* packets for the guest appeared outside the rx path */
	bool warned_malformed;
	struct vsock_conn *conns[VIRTIO_VSOCK_MAX_CONNECTIONS];
	unsigned nconns;
	struct vsock_conn_list ready;   /* connections with something for the guest, in turn */
	struct vsock_conn_list zombies;
	uint32_t next_local_port;
	struct vsock_rst rsts[VSOCK_RST_QUEUE];
	unsigned rst_first, rst_count;

	/* The rx buffer taken from the ring and not yet used (vp). */
	bool rx_held;
	struct virtq_chain rx_chain;
	struct iovec rx_iov[VSOCK_RX_IOV];
	struct iovec rx_slice[VSOCK_RX_IOV];
	struct iovec tx_iov[VSOCK_TX_IOV];
	struct iovec tx_slice[VSOCK_TX_IOV];

	struct vsock_stats stats;
};

/* ---- vsock.c ---- */
static inline void vsock_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
/* A packet from the guest was dropped: count it, say so once per device. */
void vsock_report_malformed(struct virtio_vsock *vs, const char *what);
/* Makes the device loop serve queue q (a kick of our own). */
void vsock_requeue(struct virtio_vsock *vs, uint16_t q);
uint64_t vsock_now_ms(void);
/* Makes sure the connect-timeout timer runs (device thread). */
void vsock_arm_timer(struct virtio_vsock *vs);
/* A device-thread completion is done with the state: unlocks, then serves the rx queue if
 * packets for the guest appeared. */
void vsock_unlock_and_flush(struct virtio_vsock *vs);

/* ---- vsock_conn.c ---- */
struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state state);
struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, uint32_t guest_port,
				   uint32_t host_port);
/* Ends a connection: out of the table, its socket shut; rst: the guest is owed an RST. */
void vsock_conn_kill(struct virtio_vsock *vs, struct vsock_conn *c, bool rst);
void vsock_conn_kill_all(struct virtio_vsock *vs);
/* Frees a closed connection once none of its polls is pending (device thread or reset). */
void vsock_conn_reap(struct virtio_vsock *vs, struct vsock_conn *c);
/* Frees everything, pending polls or not (the loop is gone). */
void vsock_conn_free_all(struct virtio_vsock *vs);
/* After any change to c: queue it for the rx path if it owes the guest a packet, watch its
 * socket if it could read from it. */
void vsock_conn_update(struct virtio_vsock *vs, struct vsock_conn *c);
bool vsock_conn_wants_rx(const struct vsock_conn *c);
/* Established, the host side open both ways as far as the guest is concerned, and a read may
 * find data. */
bool vsock_conn_may_read_host(const struct vsock_conn *c);
/* Bytes c may send the guest now (credit). */
uint32_t vsock_conn_credit(const struct vsock_conn *c);
/* A host process asked for guest port `port` ("CONNECT <port>"): REQUEST to the guest. */
void vsock_conn_host_request(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t port);
/* A well-formed packet from the guest (vsock_hdr_check said OK); payload in chain after the
 * header. */
void vsock_conn_guest_packet(struct virtio_vsock *vs, const struct vsock_hdr *h,
			     const struct virtq_chain *chain);
/* The guest's SHUTDOWN flags take effect on the host socket once its bytes are written;
 * false when that ended the connection (c is gone). */
bool vsock_conn_apply_guest_shutdown(struct virtio_vsock *vs, struct vsock_conn *c);
/* Connect timeouts (device thread). */
void vsock_conn_check_deadlines(struct virtio_vsock *vs);

/* ---- vsock_tx.c ---- */
int vsock_tx_process(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e);

/* ---- vsock_rx.c ---- */
int vsock_rx_process(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e);
/* Queues an RST to guest port dst_port from (src_cid, src_port). */
void vsock_rst_queue(struct virtio_vsock *vs, uint64_t src_cid, uint32_t src_port,
		     uint32_t dst_port, uint16_t type);
/* Forgets the held rx buffer (device reset); unpop: give it back to the ring too. */
void vsock_rx_drop_held(struct virtio_vsock *vs, struct virtqueue *vq, bool unpop);
int vsock_event_process(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e);

/* ---- vsock_host.c ---- */
int vsock_host_listen(struct virtio_vsock *vs, struct error *e);
void vsock_host_unlisten(struct virtio_vsock *vs);
void vsock_host_arm_accept(struct virtio_vsock *vs);
/* Connects to PATH_<port>: the socket, or -errno. */
int vsock_host_connect(struct virtio_vsock *vs, uint32_t port);
/* Reads "CONNECT <port>\n" as far as it has arrived (HELLO state). */
void vsock_host_read_hello(struct virtio_vsock *vs, struct vsock_conn *c);
/* Sends "OK <hostport>\n" (the first bytes on the socket: they always fit). */
int vsock_host_send_ok(struct vsock_conn *c);
/* Non-blocking read from the host socket into iov: bytes, 0 at EOF, -errno. */
ssize_t vsock_host_read(struct vsock_conn *c, struct iovec *iov, int niov);
/* Guest payload [off, off+len) of the chain's readable part to the host: written now or kept in
 * the ring (the caller checked the credit, so it fits). -errno when the host socket failed. */
int vsock_host_write(struct virtio_vsock *vs, struct vsock_conn *c,
		     const struct virtq_chain *chain, uint32_t off, uint32_t len);
void vsock_host_arm_read(struct virtio_vsock *vs, struct vsock_conn *c);
/* Shuts the socket down (its polls complete) and, without pending polls, closes it. */
void vsock_host_close(struct vsock_conn *c);
/* Copies the iovec range [off, off+len) of iov[0..n) into out (at most cap entries). */
int vsock_iov_slice(const struct iovec *iov, uint32_t n, uint32_t off, uint32_t len,
		    struct iovec *out, int cap);

#endif
