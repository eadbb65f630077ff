/* virtio-vsock, host side: the Unix sockets (Firecracker's convention).
 *
 *   PATH          listening; each accepted connection first sends "CONNECT <port>\n" (read a
 *                 byte at a time, so nothing after the newline is consumed), then is a stream to
 *                 the guest once it answered "OK <hostport>\n".
 *   PATH_<port>   where a guest connection to host port <port> goes (connect(2) on a Unix socket
 *                 completes or fails at once, so it is done inline).
 *
 * Every socket is non-blocking; readiness comes from io_uring polls on the device loop (one for
 * reading, one for writing per connection, each armed only while needed). Guest bytes the host
 * peer cannot take yet wait in the connection's ring, which the credit we advertise bounds. */
#include "vsock_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VSOCK_LISTEN_BACKLOG   64
#define VSOCK_ACCEPT_RETRY_MS  100

/* ---- Helpers ---- */

int vsock_iov_slice(const struct iovec *iov, uint32_t n, uint32_t off, uint32_t len,
		    struct iovec *out, int cap)
{
	int k = 0;
	for (uint32_t i = 0; i < n && len && k < cap; i++) {
		size_t l = iov[i].iov_len;
		if (off >= l) {
			off -= (uint32_t)l;
			continue;
		}
		size_t take = l - off < len ? l - off : len;
		out[k++] = (struct iovec){ .iov_base = (uint8_t *)iov[i].iov_base + off,
					   .iov_len = take };
		len -= (uint32_t)take;
		off = 0;
	}
	return k;
}

static void fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* vsock_options_check bounds PATH so that PATH_<port> fits. */
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;
	do
		w = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w;
}

static bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

/* ---- The ring of guest bytes for a slow host peer ---- */

static uint32_t ring_room(const struct vsock_ring *r)
{
	return VIRTIO_VSOCK_CONN_BUFFER - r->len;
}

static void ring_put_from_chain(struct vsock_ring *r, const struct virtq_chain *chain,
				uint32_t off, uint32_t len)
{
	uint32_t tail = (r->head + r->len) % VIRTIO_VSOCK_CONN_BUFFER;
	uint32_t first = VIRTIO_VSOCK_CONN_BUFFER - tail < len ? VIRTIO_VSOCK_CONN_BUFFER - tail
							       : len;
	virtq_chain_copy_from(chain, off, r->data + tail, first);
	virtq_chain_copy_from(chain, off + first, r->data, len - first);
	r->len += len;
}

static int ring_iov(const struct vsock_ring *r, struct iovec iov[2])
{
	uint32_t first = VIRTIO_VSOCK_CONN_BUFFER - r->head < r->len
				 ? VIRTIO_VSOCK_CONN_BUFFER - r->head : r->len;
	iov[0] = (struct iovec){ .iov_base = r->data + r->head, .iov_len = first };
	iov[1] = (struct iovec){ .iov_base = r->data, .iov_len = r->len - first };
	return r->len > first ? 2 : 1;
}

static void ring_consume(struct vsock_ring *r, uint32_t n)
{
	r->head = (r->head + n) % VIRTIO_VSOCK_CONN_BUFFER;
	r->len -= n;
	if (!r->len)
		r->head = 0;
}

/* ---- The listening socket ---- */

/* A socket file at `path` that nobody listens on was left by a process that died: remove it.
 * Anything else there (a live listener, another kind of file) is the user's to sort out. */
static int remove_stale_socket(const char *path, struct error *e)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return error_errno(e, "uds path '%s'", path);
	if (!S_ISSOCK(st.st_mode))
		return error_set(e, "uds path '%s' exists and is not a socket", path);
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return error_errno(e, "socket");
	struct sockaddr_un a;
	fill_addr(&a, path);
	int rc = connect(probe, (struct sockaddr *)&a, sizeof(a));
	int err = errno;
	close(probe);
	if (rc == 0 || would_block(err))
		return error_set(e, "uds path '%s' is in use: another process listens on it", path);
	if (err != ECONNREFUSED)
		return error_set(e, "uds path '%s': %s", path, strerror(err));
	if (unlink(path) < 0)
		return error_errno(e, "cannot remove the stale socket '%s'", path);
	return 0;
}

int vsock_host_listen(struct virtio_vsock *vs, struct error *e)
{
	const char *path = vs->opts.uds_path;
	vs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (vs->listen_fd < 0)
		return error_errno(e, "socket");
	struct sockaddr_un a;
	fill_addr(&a, path);
	int rc = bind(vs->listen_fd, (struct sockaddr *)&a, sizeof(a));
	if (rc < 0 && errno == EADDRINUSE) {
		if (remove_stale_socket(path, e) < 0)
			return -1;
		rc = bind(vs->listen_fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (rc < 0)
		return error_errno(e, "cannot listen on uds path '%s'", path);
	vs->listening = true;
	if (listen(vs->listen_fd, VSOCK_LISTEN_BACKLOG) < 0)
		return error_errno(e, "listen on '%s'", path);
	return 0;
}

void vsock_host_unlisten(struct virtio_vsock *vs)
{
	if (vs->listen_fd >= 0)
		close(vs->listen_fd);
	vs->listen_fd = -1;
	if (vs->listening)
		unlink(vs->opts.uds_path);
	vs->listening = false;
}

static void take_host_socket(struct virtio_vsock *vs, int fd)
{
	struct vsock_conn *c = vsock_conn_new(vs, fd, VSOCK_CONN_HELLO);
	if (!c) {
		close(fd);
		vsock_count(&vs->stats.conns_refused, 1);
		return;
	}
	c->i.from_host = true;
	vsock_host_read_hello(vs, c);
}

static void on_accept(struct ev_op *op, int res)
{
	struct virtio_vsock *vs = container_of(op, struct virtio_vsock, accept_op);
	if (res == -ECANCELED)
		return;
	pthread_mutex_lock(&vs->vp->lock);
	if (res >= 0) {
		take_host_socket(vs, res);
	} else if (res != -EINTR && res != -EAGAIN && res != -ECONNABORTED) {
		/* EMFILE and the like: try again a little later rather than spin. */
		vsock_count(&vs->stats.host_errors, 1);
		if (!vs->warned_accept)
			fprintf(stderr, "ember: virtio-vsock %s: accept on '%s': %s (retrying)\n",
				vs->opts.id, vs->opts.uds_path, strerror(-res));
		vs->warned_accept = true;
		event_loop_timeout(&vs->loop, &vs->accept_retry_op, &vs->accept_retry_ts,
				   VSOCK_ACCEPT_RETRY_MS);
		vsock_unlock_and_flush(vs);
		return;
	}
	vsock_host_arm_accept(vs);
	vsock_unlock_and_flush(vs);
}

static void on_accept_retry(struct ev_op *op, int res)
{
	struct virtio_vsock *vs = container_of(op, struct virtio_vsock, accept_retry_op);
	if (res != -ECANCELED)
		vsock_host_arm_accept(vs);
}

void vsock_host_arm_accept(struct virtio_vsock *vs)
{
	vs->accept_op.done = on_accept;
	vs->accept_retry_op.done = on_accept_retry;
	event_loop_accept(&vs->loop, &vs->accept_op, vs->listen_fd);
}

/* ---- "CONNECT <port>\n" ---- */

static bool parse_connect(const char *line, uint32_t *port)
{
	static const char prefix[] = "CONNECT ";
	if (strncmp(line, prefix, sizeof(prefix) - 1))
		return false;
	const char *p = line + sizeof(prefix) - 1;
	uint64_t v = 0;
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > UINT32_MAX)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*port = (uint32_t)v;
	return true;
}

static void hello_done(struct virtio_vsock *vs, struct vsock_conn *c)
{
	uint32_t port;
	if (!parse_connect(c->hello, &port)) {
		vsock_count(&vs->stats.host_bad_connects, 1);
		vsock_conn_kill(vs, c, false);
		return;
	}
	if (!vs->vp->live) { /* no driver to ask: refuse now rather than let it wait */
		vsock_count(&vs->stats.conns_refused, 1);
		vsock_conn_kill(vs, c, false);
		return;
	}
	vsock_conn_host_request(vs, c, port);
	vsock_arm_timer(vs);
}

void vsock_host_read_hello(struct virtio_vsock *vs, struct vsock_conn *c)
{
	while (c->hello_len < VSOCK_HELLO_MAX - 1) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && would_block(errno)) {
			vsock_host_arm_read(vs, c);
			return;
		}
		if (n <= 0)
			break; /* gone before a whole line */
		if (ch == '\n') {
			c->hello[c->hello_len] = '\0';
			hello_done(vs, c);
			return;
		}
		c->hello[c->hello_len++] = ch;
	}
	vsock_count(&vs->stats.host_bad_connects, 1);
	vsock_conn_kill(vs, c, false);
}

int vsock_host_send_ok(struct vsock_conn *c)
{
	char line[24];
	int n = snprintf(line, sizeof(line), "OK %u\n", c->i.host_port);
	ssize_t w = send(c->fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return w == n ? 0 : -1;
}

/* ---- PATH_<port> ---- */

int vsock_host_connect(struct virtio_vsock *vs, uint32_t port)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(path, sizeof(path), "%s_%u", vs->opts.uds_path, port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un a;
	fill_addr(&a, path);
	/* A full backlog says EAGAIN: refused like a missing listener. */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* ---- Data ---- */

ssize_t vsock_host_read(struct vsock_conn *c, struct iovec *iov, int niov)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
	ssize_t n;
	do
		n = recvmsg(c->fd, &m, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static void on_writable(struct ev_op *op, int res);

static void arm_write(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->wr_armed || c->zombie)
		return;
	c->wr_op.done = on_writable;
	c->wr_armed = event_loop_poll(&vs->loop, &c->wr_op, c->fd, POLLOUT) == 0;
}

int vsock_host_write(struct virtio_vsock *vs, struct vsock_conn *c,
		     const struct virtq_chain *chain, uint32_t off, uint32_t len)
{
	if (!c->ring.len) {
		/* Straight from guest memory; only what the socket does not take is copied. */
		int n = vsock_iov_slice(chain->iov, chain->nout, off, len, vs->tx_slice, VSOCK_TX_IOV);
		ssize_t w = send_iov(c->fd, vs->tx_slice, n);
		if (w < 0 && !would_block(errno))
			return -errno;
		if (w > 0) {
			c->i.fwd_cnt += (uint32_t)w;
			off += (uint32_t)w;
			len -= (uint32_t)w;
		}
	}
	if (!len)
		return 0;
	if (!c->ring.data && !(c->ring.data = malloc(VIRTIO_VSOCK_CONN_BUFFER)))
		return -ENOMEM;
	if (len > ring_room(&c->ring))
		return -ENOBUFS; /* cannot happen: the credit check bounds it */
	ring_put_from_chain(&c->ring, chain, off, len);
	arm_write(vs, c);
	return 0;
}

/* Writes what the ring holds; false when the connection ended. */
static bool flush(struct virtio_vsock *vs, struct vsock_conn *c)
{
	while (c->ring.len) {
		struct iovec iov[2];
		int n = ring_iov(&c->ring, iov);
		ssize_t w = send_iov(c->fd, iov, n);
		if (w < 0 && would_block(errno)) {
			arm_write(vs, c);
			return true;
		}
		if (w < 0) {
			vsock_count(&vs->stats.host_errors, 1);
			vsock_conn_kill(vs, c, true);
			return false;
		}
		ring_consume(&c->ring, (uint32_t)w);
		c->i.fwd_cnt += (uint32_t)w;
	}
	return vsock_conn_apply_guest_shutdown(vs, c);
}

static void on_writable(struct ev_op *op, int res)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, wr_op);
	struct virtio_vsock *vs = c->vs;
	pthread_mutex_lock(&vs->vp->lock);
	c->wr_armed = false;
	if (c->zombie)
		vsock_conn_reap(vs, c);
	else if (res != -ECANCELED && flush(vs, c))
		vsock_conn_update(vs, c); /* a credit update may be due */
	vsock_unlock_and_flush(vs);
}

static void on_readable(struct ev_op *op, int res)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, rd_op);
	struct virtio_vsock *vs = c->vs;
	pthread_mutex_lock(&vs->vp->lock);
	c->rd_armed = false;
	if (c->zombie) {
		vsock_conn_reap(vs, c);
	} else if (res != -ECANCELED) {
		if (c->i.state == VSOCK_CONN_HELLO) {
			vsock_host_read_hello(vs, c);
		} else {
			c->i.host_readable = true; /* POLLHUP/POLLERR too: the read says what */
			vsock_conn_update(vs, c);
		}
	}
	vsock_unlock_and_flush(vs);
}

void vsock_host_arm_read(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->rd_armed || c->zombie)
		return;
	c->rd_op.done = on_readable;
	c->rd_armed = event_loop_poll(&vs->loop, &c->rd_op, c->fd, POLLIN) == 0;
}

void vsock_host_close(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->rd_armed || c->wr_armed) {
		/* The pending polls complete (POLLHUP); the descriptor is closed when they have. */
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	close(c->fd);
	c->fd = -1;
}
