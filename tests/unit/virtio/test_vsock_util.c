/* Helpers for the virtio-vsock device tests (see test_vsock_util.h). */
#include "test_vsock_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/virtio_spec.h"

void vt_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

void vt_fill(uint8_t *buf, uint32_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
}

void vt_setup(struct vt *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/ember-vsock-test.XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir), "mkdtemp: %s", strerror(errno));
	snprintf(t->uds, sizeof(t->uds), "%s/v.sock", t->dir);
	vd_setup(&t->d);
	struct vsock_options o = { .enabled = true, .id = "vsock0", .guest_cid = VT_CID };
	strcpy(o.uds_path, t->uds);
	t->vs = virtio_vsock_create(t->d.bus, -1, &t->d.gm, &o, &t->d.e);
	cr_assert_not_null(t->vs, "%s", t->d.e.msg);
	vd_probe(&t->d, 1);
}

void vt_teardown(struct vt *t)
{
	virtio_vsock_destroy(t->vs);
	vd_teardown(&t->d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0) {
		/* best effort */
	}
}

static void offer_rx(struct vt *t, int b)
{
	uint16_t data = vd_desc(&t->d, &t->rx, t->rx_data[b], t->rx_payload, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = vd_desc(&t->d, &t->rx, t->rx_hdr[b], VSOCK_HDR_SIZE,
				VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, data);
	t->head_to_buf[head] = b;
	vd_offer(&t->d, &t->rx, head);
}

static void offer_event(struct vt *t, int b)
{
	vd_offer(&t->d, &t->ev, vd_desc(&t->d, &t->ev, t->ev_buf[b], 4, VIRTQ_DESC_F_WRITE, 0));
}

void vt_bring_up(struct vt *t, uint32_t payload)
{
	vd_msix_on(&t->d, 4);
	vd_negotiate(&t->d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vd_write(&t->d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	vd_queue_setup(&t->d, &t->rx, VIRTIO_VSOCK_RX_QUEUE, 256, 1);
	vd_queue_setup(&t->d, &t->tx, VIRTIO_VSOCK_TX_QUEUE, 256, 2);
	vd_queue_setup(&t->d, &t->ev, VIRTIO_VSOCK_EVENT_QUEUE, 16, 3);
	t->rx_seen = t->ev_seen = t->tx_sent = 0;
	t->rx_payload = payload;
	if (!t->tx_buf)
		t->tx_buf = vd_alloc(&t->d, 64 + VSOCK_MAX_PAYLOAD + 4096);
	for (int b = 0; b < VT_RX_BUFS; b++) {
		if (!t->rx_hdr[b]) {
			t->rx_hdr[b] = vd_alloc(&t->d, VSOCK_HDR_SIZE);
			t->rx_data[b] = vd_alloc(&t->d, VT_RX_PAYLOAD);
		}
		offer_rx(t, b);
	}
	for (int b = 0; b < VT_EVENT_BUFS; b++) {
		if (!t->ev_buf[b])
			t->ev_buf[b] = vd_alloc(&t->d, 4);
		offer_event(t, b);
	}
	vd_set_status(&t->d, vd_status(&t->d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&t->d) & VIRTIO_STATUS_DRIVER_OK);
}

struct vsock_hdr vt_hdr(uint16_t op, uint32_t gport, uint32_t hport)
{
	return (struct vsock_hdr){ .src_cid = VT_CID, .dst_cid = VSOCK_HOST_CID, .src_port = gport,
				   .dst_port = hport, .type = VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = VT_BUF_ALLOC };
}

static void wait_tx_used(struct vt *t)
{
	t->tx_sent++;
	for (int i = 0; i < 5000; i++) {
		if (vd_used_idx(&t->d, &t->tx) == t->tx_sent)
			return;
		vt_sleep_ms(1);
	}
	cr_assert_fail("the device did not take tx packet %u", t->tx_sent);
}

void vt_send(struct vt *t, const struct vsock_hdr *h, const void *payload, uint32_t len)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	vsock_hdr_encode(h, raw);
	memcpy(vd_host(&t->d, t->tx_buf, VSOCK_HDR_SIZE), raw, VSOCK_HDR_SIZE);
	uint16_t head;
	if (len) {
		memcpy(vd_host(&t->d, t->tx_buf + 64, len), payload, len);
		uint16_t data = vd_desc(&t->d, &t->tx, t->tx_buf + 64, len, 0, 0);
		head = vd_desc(&t->d, &t->tx, t->tx_buf, VSOCK_HDR_SIZE, VIRTQ_DESC_F_NEXT, data);
	} else {
		head = vd_desc(&t->d, &t->tx, t->tx_buf, VSOCK_HDR_SIZE, 0, 0);
	}
	vd_offer(&t->d, &t->tx, head);
	vd_kick(&t->d, VIRTIO_VSOCK_TX_QUEUE);
	wait_tx_used(t);
}

void vt_send_raw(struct vt *t, const void *bytes, uint32_t len, bool writable)
{
	memcpy(vd_host(&t->d, t->tx_buf, len), bytes, len);
	uint16_t head = vd_desc(&t->d, &t->tx, t->tx_buf, len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
	vd_offer(&t->d, &t->tx, head);
	vd_kick(&t->d, VIRTIO_VSOCK_TX_QUEUE);
	wait_tx_used(t);
}

bool vt_recv(struct vt *t, struct vsock_hdr *h, void *buf, uint32_t cap, unsigned ms)
{
	for (unsigned i = 0; vd_used_idx(&t->d, &t->rx) == t->rx_seen; i++) {
		if (i >= ms)
			return false;
		vt_sleep_ms(1);
	}
	struct virtq_used_elem u = vd_used(&t->d, &t->rx, t->rx_seen++);
	cr_assert_lt(u.id, 256u);
	int b = t->head_to_buf[u.id];
	cr_assert_geq(u.len, VSOCK_HDR_SIZE, "used length %u is shorter than a header", u.len);
	vsock_hdr_decode(vd_host(&t->d, t->rx_hdr[b], VSOCK_HDR_SIZE), h);
	cr_assert_eq(u.len, VSOCK_HDR_SIZE + h->len, "used length %u, header len %u", u.len,
		     h->len);
	cr_assert_leq(h->len, t->rx_payload);
	if (buf && h->len)
		memcpy(buf, vd_host(&t->d, t->rx_data[b], h->len), h->len < cap ? h->len : cap);
	offer_rx(t, b);
	vd_kick(&t->d, VIRTIO_VSOCK_RX_QUEUE);
	return true;
}

void vt_expect_silence(struct vt *t, unsigned ms)
{
	struct vsock_hdr h;
	cr_assert(!vt_recv(t, &h, NULL, 0, ms), "unexpected packet: op %s %u -> %u len %u",
		  vsock_op_name(h.op), h.src_port, h.dst_port, h.len);
}

int vt_event(struct vt *t, unsigned ms)
{
	for (unsigned i = 0; vd_used_idx(&t->d, &t->ev) == t->ev_seen; i++) {
		if (i >= ms)
			return -1;
		vt_sleep_ms(1);
	}
	struct virtq_used_elem u = vd_used(&t->d, &t->ev, t->ev_seen++);
	cr_assert_eq(u.len, 4);
	uint32_t id;
	struct virtq_desc desc; /* the used id is the buffer's descriptor */
	memcpy(&desc, vd_host(&t->d, t->ev.desc + 16ull * u.id, 16), 16);
	memcpy(&id, vd_host(&t->d, desc.addr, 4), 4);
	return (int)id;
}

char *vt_port_path(struct vt *t, uint32_t port, char buf[108])
{
	snprintf(buf, 108, "%s_%u", t->uds, port);
	return buf;
}

static void unix_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
}

int vt_host_listen(struct vt *t, uint32_t port)
{
	char path[108];
	struct sockaddr_un a;
	unix_addr(&a, vt_port_path(t, port, path));
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", path,
		     strerror(errno));
	cr_assert_eq(listen(s, 512), 0);
	return s;
}

int vt_host_connect_raw(struct vt *t, const char *line)
{
	struct sockaddr_un a;
	unix_addr(&a, t->uds);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof(a)), 0, "connect %s: %s", t->uds,
		     strerror(errno));
	if (line)
		cr_assert_eq(send(s, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
	return s;
}

static bool wait_readable(int fd, unsigned ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, (int)ms) == 1;
}

int vt_host_read_line(int fd, char *buf, unsigned cap, unsigned ms)
{
	unsigned n = 0;
	while (n + 1 < cap) {
		if (!wait_readable(fd, ms))
			return -1;
		ssize_t r = recv(fd, buf + n, 1, 0);
		if (r <= 0)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

bool vt_host_read_all(int fd, void *buf, uint32_t n, unsigned ms)
{
	uint32_t got = 0;
	while (got < n) {
		if (!wait_readable(fd, ms))
			return false;
		ssize_t r = recv(fd, (uint8_t *)buf + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (uint32_t)r;
	}
	return true;
}

bool vt_host_wait_closed(int fd, unsigned ms)
{
	char buf[4096];
	for (;;) {
		if (!wait_readable(fd, ms))
			return false;
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR)))
			return true;
	}
}

int vt_accept(int listener, unsigned ms)
{
	if (!wait_readable(listener, ms))
		return -1;
	return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

int vt_guest_connect(struct vt *t, int listener, uint32_t gport, uint32_t hport)
{
	struct vsock_hdr h = vt_hdr(VSOCK_OP_REQUEST, gport, hport);
	vt_send(t, &h, NULL, 0);
	struct vsock_hdr r;
	cr_assert(vt_recv(t, &r, NULL, 0, 2000), "no answer to REQUEST");
	cr_assert_eq(r.op, VSOCK_OP_RESPONSE, "answer %s", vsock_op_name(r.op));
	cr_assert_eq(r.src_cid, VSOCK_HOST_CID);
	cr_assert_eq(r.dst_cid, VT_CID);
	cr_assert_eq(r.src_port, hport);
	cr_assert_eq(r.dst_port, gport);
	cr_assert_eq(r.type, VSOCK_TYPE_STREAM);
	cr_assert_eq(r.buf_alloc, VIRTIO_VSOCK_CONN_BUFFER);
	int s = vt_accept(listener, 2000);
	cr_assert_geq(s, 0, "the device did not connect to PATH_%u", hport);
	return s;
}

int vt_host_connect(struct vt *t, uint32_t gport, uint32_t *hport)
{
	char line[64];
	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	int s = vt_host_connect_raw(t, line);
	struct vsock_hdr r;
	cr_assert(vt_recv(t, &r, NULL, 0, 2000), "no REQUEST for the host's CONNECT");
	cr_assert_eq(r.op, VSOCK_OP_REQUEST, "got %s", vsock_op_name(r.op));
	cr_assert_eq(r.dst_port, gport);
	cr_assert_eq(r.dst_cid, VT_CID);
	cr_assert_geq(r.src_port, 1u << 30);
	*hport = r.src_port;
	struct vsock_hdr resp = vt_hdr(VSOCK_OP_RESPONSE, gport, r.src_port);
	vt_send(t, &resp, NULL, 0);
	char ok[64], want[64];
	cr_assert_gt(vt_host_read_line(s, ok, sizeof(ok), 2000), 0, "no OK line");
	snprintf(want, sizeof(want), "OK %u\n", r.src_port);
	cr_assert_str_eq(ok, want);
	return s;
}

struct virtio_vsock_counters vt_counters(struct vt *t)
{
	struct virtio_vsock_counters c;
	virtio_vsock_get_counters(t->vs, &c);
	return c;
}
