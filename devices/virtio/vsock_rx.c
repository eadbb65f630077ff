/* virtio-vsock, packets to the guest (the rx queue, and the event queue).
 *
 * The device takes one rx buffer at a time from the ring and keeps it until it has a packet for
 * it. Who gets it: first the RSTs owed for connections that no longer exist, then the connections
 * that owe something, in turn (a connection goes to the back of the line after each packet, so
 * one busy stream cannot starve the others). A connection's data is read from its Unix socket
 * straight into the buffer (no copy in between), at most the guest's free credit for it. */
#include "vsock_internal.h"

#include <errno.h>
#include <string.h>

/* ---- RSTs for connections that do not exist ---- */

void vsock_rst_queue(struct virtio_vsock *vs, uint64_t src_cid, uint32_t src_port,
		     uint32_t dst_port, uint16_t type)
{
	if (vs->rst_count == VSOCK_RST_QUEUE) {
		/* A guest that floods bad packets and offers no buffers: its sockets time out. */
		vsock_count(&vs->stats.rst_dropped, 1);
		return;
	}
	vs->rsts[(vs->rst_first + vs->rst_count++) % VSOCK_RST_QUEUE] = (struct vsock_rst){
		.src_cid = src_cid, .src_port = src_port, .dst_port = dst_port, .type = type };
	vs->rx_wanted = true;
}

static struct vsock_hdr rst_hdr(struct virtio_vsock *vs)
{
	struct vsock_rst r = vs->rsts[vs->rst_first];
	vs->rst_first = (vs->rst_first + 1) % VSOCK_RST_QUEUE;
	vs->rst_count--;
	vsock_count(&vs->stats.rst_sent, 1);
	return (struct vsock_hdr){ .src_cid = r.src_cid, .dst_cid = vs->opts.guest_cid,
				   .src_port = r.src_port, .dst_port = r.dst_port,
				   .type = r.type, .op = VSOCK_OP_RST };
}

/* ---- The held buffer ---- */

void vsock_rx_drop_held(struct virtio_vsock *vs, struct virtqueue *vq, bool unpop)
{
	if (vs->rx_held && unpop && vq) {
		/* Popped last and never pushed: stepping back offers it again, as the driver did. */
		vq->last_avail_idx--;
		vq->inflight--;
		vq->stats.popped--;
	}
	vs->rx_held = false;
}

/* 1: a buffer is held, 0: none offered (the guest's kick brings us back), -1: a bad one. */
static int hold_buffer(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e)
{
	if (vs->rx_held)
		return 1;
	struct virtq_chain *c = &vs->rx_chain;
	virtq_chain_init(c, vs->rx_iov, VSOCK_RX_IOV);
	int r = virtqueue_pop(vq, vs->mem, c, e);
	if (r == 0 && virtqueue_enable_notify(vq, vs->mem))
		r = virtqueue_pop(vq, vs->mem, c, e);
	if (r <= 0)
		return r;
	/* 5.10.6.2: rx buffers are device-writable and hold at least a header. Anything else is
	 * a driver bug we cannot answer through the ring (there is nowhere to write a reply). */
	if (c->nout || c->in_bytes < VSOCK_HDR_SIZE)
		return error_set(e, "rx buffer at head %u has %u readable and %u writable bytes "
				    "(at least %u writable and nothing readable expected)", c->head,
				 c->out_bytes, c->in_bytes, VSOCK_HDR_SIZE);
	vs->rx_held = true;
	return 1;
}

/* Puts header h (and h->len payload bytes already in place) into the held buffer and gives it
 * to the driver. */
static int deliver(struct virtio_vsock *vs, struct virtqueue *vq, const struct vsock_hdr *h,
		   struct error *e)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	vsock_hdr_encode(h, raw);
	virtq_chain_copy_to(&vs->rx_chain, 0, raw, VSOCK_HDR_SIZE);
	vs->rx_held = false;
	if (virtqueue_push(vq, vs->mem, vs->rx_chain.head, VSOCK_HDR_SIZE + h->len, e) < 0)
		return -1;
	vsock_count(&vs->stats.rx_packets, 1);
	vsock_count(&vs->stats.rx_bytes, h->len);
	return 0;
}

/* ---- A connection's next packet ---- */

static struct vsock_hdr conn_hdr(struct virtio_vsock *vs, struct vsock_conn *c, uint16_t op)
{
	/* Every packet carries our credit: it is a credit update too. */
	c->i.last_fwd_sent = c->i.fwd_cnt;
	c->i.owe &= (uint8_t)~VSOCK_OWE_CREDIT_UPDATE;
	return (struct vsock_hdr){ .src_cid = VSOCK_HOST_CID, .dst_cid = vs->opts.guest_cid,
				   .src_port = c->i.host_port, .dst_port = c->i.guest_port,
				   .type = VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = VIRTIO_VSOCK_CONN_BUFFER, .fwd_cnt = c->i.fwd_cnt };
}

enum emit { EMIT_NOTHING, EMIT_PACKET, EMIT_GONE };

/* Reads host data into the held buffer: EMIT_PACKET with h filled, EMIT_NOTHING (no data now,
 * or EOF: then a SHUTDOWN is owed), EMIT_GONE (the socket failed: the connection ended). */
static enum emit read_data(struct virtio_vsock *vs, struct vsock_conn *c, struct vsock_hdr *h)
{
	uint32_t credit = vsock_conn_credit(c);
	if (!credit)
		return EMIT_NOTHING; /* vsock_conn_update counts the stall */
	uint32_t room = vs->rx_chain.in_bytes - VSOCK_HDR_SIZE;
	if (!room) {
		/* A header-only buffer (no driver we know offers one) cannot carry data, and it is
		 * first in line: fill it with a credit update so the queue moves on. */
		*h = conn_hdr(vs, c, VSOCK_OP_CREDIT_UPDATE);
		vsock_count(&vs->stats.credit_updates, 1);
		return EMIT_PACKET;
	}
	uint32_t want = room < credit ? room : credit;
	if (want > VSOCK_MAX_PAYLOAD)
		want = VSOCK_MAX_PAYLOAD;
	int n = vsock_iov_slice(vs->rx_chain.iov + vs->rx_chain.nout, vs->rx_chain.nin,
				VSOCK_HDR_SIZE, want, vs->rx_slice, VSOCK_RX_IOV);
	ssize_t got = vsock_host_read(c, vs->rx_slice, n);
	if (got == -EAGAIN || got == -EWOULDBLOCK) {
		c->i.host_readable = false;
		return EMIT_NOTHING; /* vsock_conn_update arms the poll */
	}
	if (got == 0) {
		c->i.host_eof = true; /* the host peer shut its sending side (or closed) */
		c->i.owe |= VSOCK_OWE_SHUTDOWN;
		c->i.shutdown_sent |= VSOCK_SHUTDOWN_SEND;
		return EMIT_NOTHING;
	}
	if (got < 0) {
		vsock_count(&vs->stats.host_errors, 1);
		vsock_conn_kill(vs, c, true);
		return EMIT_GONE;
	}
	*h = conn_hdr(vs, c, VSOCK_OP_RW);
	h->len = (uint32_t)got;
	c->i.tx_cnt += (uint32_t)got;
	return EMIT_PACKET;
}

static enum emit next_packet(struct virtio_vsock *vs, struct vsock_conn *c, struct vsock_hdr *h)
{
	if (c->i.owe & VSOCK_OWE_REQUEST) {
		c->i.owe &= (uint8_t)~VSOCK_OWE_REQUEST;
		*h = conn_hdr(vs, c, VSOCK_OP_REQUEST);
		return EMIT_PACKET;
	}
	if (c->i.owe & VSOCK_OWE_RESPONSE) {
		c->i.owe &= (uint8_t)~VSOCK_OWE_RESPONSE;
		*h = conn_hdr(vs, c, VSOCK_OP_RESPONSE);
		return EMIT_PACKET;
	}
	if (vsock_conn_may_read_host(c)) {
		enum emit r = read_data(vs, c, h);
		if (r != EMIT_NOTHING)
			return r;
	}
	if (c->i.owe & VSOCK_OWE_SHUTDOWN) {
		c->i.owe &= (uint8_t)~VSOCK_OWE_SHUTDOWN;
		*h = conn_hdr(vs, c, VSOCK_OP_SHUTDOWN);
		h->flags = c->i.shutdown_sent;
		return EMIT_PACKET;
	}
	if (c->i.owe & VSOCK_OWE_CREDIT_UPDATE) {
		*h = conn_hdr(vs, c, VSOCK_OP_CREDIT_UPDATE);
		vsock_count(&vs->stats.credit_updates, 1);
		return EMIT_PACKET;
	}
	return EMIT_NOTHING;
}

/* ---- The queue ---- */

static bool has_work(const struct virtio_vsock *vs)
{
	return vs->rst_count || !TAILQ_EMPTY(&vs->ready);
}

/* One packet into the held buffer: 1 delivered or nothing left to try, -1 error. */
static int serve_one(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e)
{
	struct vsock_hdr h;
	if (vs->rst_count) {
		h = rst_hdr(vs);
		return deliver(vs, vq, &h, e) < 0 ? -1 : 1;
	}
	struct vsock_conn *c = TAILQ_FIRST(&vs->ready);
	TAILQ_REMOVE(&vs->ready, c, link);
	c->ready = false;
	enum emit r = next_packet(vs, c, &h);
	if (r == EMIT_GONE)
		return 1; /* its RST is queued */
	if (r == EMIT_PACKET && deliver(vs, vq, &h, e) < 0)
		return -1;
	vsock_conn_update(vs, c); /* back in line if it owes more; its poll if it needs one */
	return 1;
}

int vsock_rx_process(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e)
{
	vs->rx_wanted = false;
	for (unsigned i = 0; i < VSOCK_BUDGET; i++) {
		if (!has_work(vs))
			return 0;
		int r = hold_buffer(vs, vq, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			vsock_count(&vs->stats.rx_buffer_waits, 1);
			return 0;
		}
		if (serve_one(vs, vq, e) < 0)
			return -1;
	}
	if (has_work(vs))
		vsock_requeue(vs, VIRTIO_VSOCK_RX_QUEUE); /* let other events in first */
	vs->rx_wanted = false;
	return 0;
}

/* ---- The event queue ---- */

int vsock_event_process(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e)
{
	if (!vs->event_owed)
		return 0; /* the driver's event buffers wait until there is something to say */
	struct iovec iov[4];
	struct virtq_chain c;
	virtq_chain_init(&c, iov, 4);
	int r = virtqueue_pop(vq, vs->mem, &c, e);
	if (r <= 0)
		return r;
	if (c.nout || c.in_bytes < VSOCK_EVENT_SIZE)
		return error_set(e, "event buffer at head %u has %u readable and %u writable bytes "
				    "(%u writable expected)", c.head, c.out_bytes, c.in_bytes,
				 VSOCK_EVENT_SIZE);
	uint8_t id[VSOCK_EVENT_SIZE] = { VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 }; /* le32 */
	virtq_chain_copy_to(&c, 0, id, sizeof(id));
	if (virtqueue_push(vq, vs->mem, c.head, VSOCK_EVENT_SIZE, e) < 0)
		return -1;
	vs->event_owed = false;
	vsock_count(&vs->stats.transport_resets, 1);
	return 0;
}
