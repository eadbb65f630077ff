/* virtio-vsock connections: the table (at most VIRTIO_VSOCK_MAX_CONNECTIONS, keyed by the guest
 * port and the host port; the guest's CID is fixed and the host's is 2) and the state machine the
 * guest's packets drive (virtio v1.2, 5.10.6.4-5.10.6.6).
 *
 *   HELLO ──"CONNECT p"──▶ CONNECTING ──RESPONSE──▶ ESTABLISHED ◀──REQUEST (guest → PATH_P)
 *
 * Anything out of place (a RESPONSE nobody asked for, data before the connection or after the
 * guest's SHUTDOWN(SEND), more data than the credit we advertised) is a protocol error: the
 * connection ends with an RST. A packet for a connection that does not exist gets an RST. */
#include "vsock_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- The table ---- */

struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state state)
{
	if (vs->nconns >= VIRTIO_VSOCK_MAX_CONNECTIONS)
		return NULL;
	struct vsock_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->vs = vs;
	c->i.state = (uint8_t)state;
	vs->conns[vs->nconns++] = c;
	return c;
}

struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, uint32_t guest_port,
				   uint32_t host_port)
{
	for (unsigned i = 0; i < vs->nconns; i++) {
		struct vsock_conn *c = vs->conns[i];
		if (c->i.state != VSOCK_CONN_HELLO && c->i.guest_port == guest_port &&
		    c->i.host_port == host_port)
			return c;
	}
	return NULL;
}

static void unready(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->ready)
		TAILQ_REMOVE(&vs->ready, c, link);
	c->ready = false;
}

static void free_conn(struct vsock_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->ring.data);
	free(c);
}

void vsock_conn_reap(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (!c->zombie || c->rd_armed || c->wr_armed)
		return;
	TAILQ_REMOVE(&vs->zombies, c, link);
	free_conn(c);
}

void vsock_conn_kill(struct virtio_vsock *vs, struct vsock_conn *c, bool rst)
{
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i] == c) {
			vs->conns[i] = vs->conns[--vs->nconns];
			break;
		}
	unready(vs, c);
	/* No RST for a connection the guest never heard of (no REQUEST sent yet). */
	if (rst && c->i.state != VSOCK_CONN_HELLO && !(c->i.owe & VSOCK_OWE_REQUEST))
		vsock_rst_queue(vs, VSOCK_HOST_CID, c->i.host_port, c->i.guest_port,
				VSOCK_TYPE_STREAM);
	if (c->i.state == VSOCK_CONN_ESTABLISHED)
		vsock_count(&vs->stats.conns_closed, 1);
	vsock_host_close(c);
	c->zombie = true;
	TAILQ_INSERT_TAIL(&vs->zombies, c, link);
	vsock_conn_reap(vs, c);
}

void vsock_conn_kill_all(struct virtio_vsock *vs)
{
	while (vs->nconns)
		vsock_conn_kill(vs, vs->conns[vs->nconns - 1], false);
}

void vsock_conn_free_all(struct virtio_vsock *vs)
{
	vsock_conn_kill_all(vs);
	struct vsock_conn *c;
	while ((c = TAILQ_FIRST(&vs->zombies))) {
		TAILQ_REMOVE(&vs->zombies, c, link);
		free_conn(c);
	}
}

/* ---- What a connection wants ---- */

uint32_t vsock_conn_credit(const struct vsock_conn *c)
{
	return vsock_credit_free(c->i.peer_buf_alloc, c->i.peer_fwd_cnt, c->i.tx_cnt);
}

/* Could bytes from the host socket go to the guest (credit aside)? */
static bool may_forward_host_data(const struct vsock_conn *c)
{
	return c->i.state == VSOCK_CONN_ESTABLISHED && !c->i.host_eof &&
	       !(c->i.guest_shutdown & VSOCK_SHUTDOWN_RCV);
}

bool vsock_conn_may_read_host(const struct vsock_conn *c)
{
	return may_forward_host_data(c) && c->i.host_readable;
}

bool vsock_conn_wants_rx(const struct vsock_conn *c)
{
	return c->i.owe || (vsock_conn_may_read_host(c) && vsock_conn_credit(c) > 0);
}

void vsock_conn_update(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->i.state == VSOCK_CONN_ESTABLISHED &&
	    vsock_credit_update_due(VIRTIO_VSOCK_CONN_BUFFER, c->i.rx_cnt, c->i.fwd_cnt,
				    c->i.last_fwd_sent))
		c->i.owe |= VSOCK_OWE_CREDIT_UPDATE;
	if (may_forward_host_data(c)) {
		if (vsock_conn_credit(c) > 0) {
			c->i.stalled = false;
			if (!c->i.host_readable)
				vsock_host_arm_read(vs, c);
		} else if (!c->i.stalled) { /* the socket is left alone until the guest reads */
			c->i.stalled = true;
			vsock_count(&vs->stats.credit_stalls, 1);
		}
	}
	if (!c->ready && vsock_conn_wants_rx(c)) {
		TAILQ_INSERT_TAIL(&vs->ready, c, link);
		c->ready = true;
		vs->rx_wanted = true;
	}
}

/* ---- Host → guest connections ---- */

static uint32_t alloc_local_port(struct virtio_vsock *vs, uint32_t guest_port)
{
	/* At most MAX_CONNECTIONS ports are taken, so this ends quickly. */
	for (;;) {
		uint32_t p = vs->next_local_port;
		vs->next_local_port = p == UINT32_MAX ? VSOCK_LOCAL_PORT_FIRST : p + 1;
		if (!vsock_conn_find(vs, guest_port, p))
			return p;
	}
}

void vsock_conn_host_request(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t port)
{
	c->i.guest_port = port;
	c->i.host_port = alloc_local_port(vs, port);
	c->i.state = VSOCK_CONN_CONNECTING;
	c->i.from_host = true;
	c->i.owe = VSOCK_OWE_REQUEST;
	c->i.deadline_ms = vsock_now_ms() + VSOCK_CONNECT_TIMEOUT_MS;
	vsock_conn_update(vs, c);
}

void vsock_conn_check_deadlines(struct virtio_vsock *vs)
{
	uint64_t now = vsock_now_ms();
	for (unsigned i = 0; i < vs->nconns;) {
		struct vsock_conn *c = vs->conns[i];
		if (c->i.state == VSOCK_CONN_CONNECTING && now >= c->i.deadline_ms) {
			vsock_count(&vs->stats.conns_refused, 1);
			vsock_conn_kill(vs, c, true); /* the guest forgets the half-open connection */
			continue;                     /* conns[i] is another connection now */
		}
		i++;
	}
}

/* ---- Packets from the guest ---- */

static void protocol_error(struct virtio_vsock *vs, struct vsock_conn *c)
{
	vsock_count(&vs->stats.protocol_errors, 1);
	vsock_conn_kill(vs, c, true);
}

/* REQUEST for a connection that does not exist: connect to PATH_<port>. */
static void guest_connect(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	int fd = vs->nconns < VIRTIO_VSOCK_MAX_CONNECTIONS ? vsock_host_connect(vs, h->dst_port)
							    : -1;
	struct vsock_conn *c = fd >= 0 ? vsock_conn_new(vs, fd, VSOCK_CONN_ESTABLISHED) : NULL;
	if (!c) {
		if (fd >= 0)
			close(fd);
		vsock_count(&vs->stats.conns_refused, 1);
		vsock_rst_queue(vs, VSOCK_HOST_CID, h->dst_port, h->src_port, VSOCK_TYPE_STREAM);
		return;
	}
	c->i.guest_port = h->src_port;
	c->i.host_port = h->dst_port;
	c->i.peer_buf_alloc = h->buf_alloc;
	c->i.peer_fwd_cnt = h->fwd_cnt;
	c->i.owe = VSOCK_OWE_RESPONSE;
	c->i.host_readable = true; /* the first read tells (EAGAIN arms the poll) */
	vsock_count(&vs->stats.conns_from_guest, 1);
	vsock_conn_update(vs, c);
}

/* The guest's view of our credit, and its credit for us. fwd_cnt only moves forward and never
 * past what we sent: a stale value (two guest threads racing on one socket may reorder it) or a
 * forged one is ignored rather than trusted. */
static void take_peer_credit(struct vsock_conn *c, const struct vsock_hdr *h)
{
	c->i.peer_buf_alloc = h->buf_alloc;
	uint32_t advance = h->fwd_cnt - c->i.peer_fwd_cnt;
	uint32_t outstanding = c->i.tx_cnt - c->i.peer_fwd_cnt;
	if (advance <= outstanding)
		c->i.peer_fwd_cnt = h->fwd_cnt;
}

static void established(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (vsock_host_send_ok(c) < 0) { /* the host process went away meanwhile */
		vsock_count(&vs->stats.host_errors, 1);
		vsock_conn_kill(vs, c, true);
		return;
	}
	c->i.state = VSOCK_CONN_ESTABLISHED;
	c->i.host_readable = true;
	vsock_count(&vs->stats.conns_from_host, 1);
	vsock_conn_update(vs, c);
}

bool vsock_conn_apply_guest_shutdown(struct virtio_vsock *vs, struct vsock_conn *c)
{
	uint8_t f = c->i.guest_shutdown;
	if ((f & VSOCK_SHUTDOWN_RCV) && !c->i.host_rd_shut) {
		/* The host peer's further writes fail (EPIPE) instead of filling a dead buffer. */
		shutdown(c->fd, SHUT_RD);
		c->i.host_rd_shut = true;
	}
	if (!(f & VSOCK_SHUTDOWN_SEND) || c->ring.len)
		return true; /* guest bytes still to write first */
	if (f == VSOCK_SHUTDOWN_BOTH) {
		/* The guest closed: everything it sent is out; the RST completes its close. */
		vsock_conn_kill(vs, c, true);
		return false;
	}
	if (!c->i.host_wr_shut) {
		shutdown(c->fd, SHUT_WR); /* the host peer reads EOF */
		c->i.host_wr_shut = true;
	}
	return true;
}

static void guest_data(struct virtio_vsock *vs, struct vsock_conn *c, const struct vsock_hdr *h,
		       const struct virtq_chain *chain)
{
	if (c->i.state != VSOCK_CONN_ESTABLISHED || (c->i.guest_shutdown & VSOCK_SHUTDOWN_SEND) ||
	    !vsock_credit_fits(VIRTIO_VSOCK_CONN_BUFFER, c->i.rx_cnt, c->i.fwd_cnt, h->len)) {
		protocol_error(vs, c);
		return;
	}
	if (h->len == 0)
		return;
	c->i.rx_cnt += h->len;
	vsock_count(&vs->stats.tx_bytes, h->len);
	if (c->i.host_wr_shut || vsock_host_write(vs, c, chain, VSOCK_HDR_SIZE, h->len) < 0) {
		vsock_count(&vs->stats.host_errors, 1);
		vsock_conn_kill(vs, c, true); /* the host peer cannot take them: reset */
	}
}

static void guest_shutdown(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t flags)
{
	if (c->i.state != VSOCK_CONN_ESTABLISHED) {
		protocol_error(vs, c);
		return;
	}
	c->i.guest_shutdown |= (uint8_t)flags;
	vsock_conn_apply_guest_shutdown(vs, c);
}

/* Returns false when c is gone (killed, maybe freed: only the table's size can tell, as nothing
 * here adds connections). */
static bool dispatch(struct virtio_vsock *vs, struct vsock_conn *c, const struct vsock_hdr *h,
		     const struct virtq_chain *chain)
{
	unsigned before = vs->nconns;
	switch (h->op) {
	case VSOCK_OP_REQUEST: /* a second REQUEST on a live connection */
		protocol_error(vs, c);
		return false;
	case VSOCK_OP_RESPONSE:
		if (c->i.state != VSOCK_CONN_CONNECTING) {
			protocol_error(vs, c);
			return false;
		}
		c->i.owe &= (uint8_t)~VSOCK_OWE_REQUEST;
		established(vs, c);
		break;
	case VSOCK_OP_RST:
		vsock_count(&vs->stats.rst_received, 1);
		if (c->i.state == VSOCK_CONN_CONNECTING)
			vsock_count(&vs->stats.conns_refused, 1);
		vsock_conn_kill(vs, c, false);
		return false;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(vs, c, h->flags);
		break;
	case VSOCK_OP_RW:
		guest_data(vs, c, h, chain);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break; /* take_peer_credit did it */
	case VSOCK_OP_CREDIT_REQUEST:
		c->i.owe |= VSOCK_OWE_CREDIT_UPDATE;
		break;
	}
	return vs->nconns == before;
}

void vsock_conn_guest_packet(struct virtio_vsock *vs, const struct vsock_hdr *h,
			     const struct virtq_chain *chain)
{
	struct vsock_conn *c = vsock_conn_find(vs, h->src_port, h->dst_port);
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			guest_connect(vs, h);
		else if (h->op == VSOCK_OP_RST)
			vsock_count(&vs->stats.rst_received, 1); /* never answer an RST */
		else
			vsock_rst_queue(vs, VSOCK_HOST_CID, h->dst_port, h->src_port,
					VSOCK_TYPE_STREAM);
		return;
	}
	take_peer_credit(c, h);
	if (dispatch(vs, c, h, chain))
		vsock_conn_update(vs, c);
}
