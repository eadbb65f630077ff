/* virtio-vsock's connection state machine end to end on the device thread (no KVM): the
 * pretend driver plays the guest, real Unix sockets play the host. Connections both ways, data,
 * half-close, RST, refusals, bad CONNECT lines, connect timeouts, and what a hostile guest can
 * put in a header. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/virtio_spec.h"
#include "test_vsock_util.h"

static struct vt t;

static void setup(void)
{
	vt_setup(&t);
}

static void teardown(void)
{
	vt_teardown(&t);
}

TestSuite(vsock_conn, .init = setup, .fini = teardown, .timeout = 30);

static void expect_rst(uint64_t src_cid, uint32_t src_port, uint32_t dst_port)
{
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000), "no RST");
	cr_assert_eq(r.op, VSOCK_OP_RST, "got %s instead of RST", vsock_op_name(r.op));
	cr_assert_eq(r.src_cid, src_cid);
	cr_assert_eq(r.dst_cid, VT_CID);
	cr_assert_eq(r.src_port, src_port);
	cr_assert_eq(r.dst_port, dst_port);
	cr_assert_eq(r.len, 0);
}

Test(vsock_conn, identity_and_configuration)
{
	cr_assert_eq(vd_cfg_read(&t.d, 0, 2), 0x1af4);
	cr_assert_eq(vd_cfg_read(&t.d, 2, 2), 0x1040 + VIRTIO_ID_VSOCK);
	cr_assert_eq(vd_mmio_read(&t.d, t.d.device, 4), VT_CID);
	cr_assert_eq(vd_mmio_read(&t.d, t.d.device + 4, 4), 0);
	cr_assert_eq(vd_mmio_read(&t.d, t.d.device, 8), VT_CID);
	cr_assert_eq(vd_read(&t.d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 3);
	cr_assert(vd_device_features(&t.d) & 1, "VIRTIO_VSOCK_F_STREAM is offered");
}

Test(vsock_conn, guest_connect_refused_without_listener)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_REQUEST, 5555, 7000);
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 7000, 5555);
	struct virtio_vsock_counters c = vt_counters(&t);
	cr_assert_eq(c.conns_refused, 1);
	cr_assert_eq(c.rst_sent, 1);
	cr_assert_eq(c.active_connections, 0);
}

Test(vsock_conn, guest_connect_data_both_ways_and_close)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 7000);
	int s = vt_guest_connect(&t, l, 5555, 7000);
	uint8_t out[3000], in[3000];
	vt_fill(out, sizeof(out), 1);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 5555, 7000);
	h.len = sizeof(out);
	vt_send(&t, &h, out, sizeof(out));
	cr_assert(vt_host_read_all(s, in, sizeof(in), 2000));
	cr_assert_arr_eq(in, out, sizeof(out));

	vt_fill(out, sizeof(out), 2);
	cr_assert_eq(send(s, out, sizeof(out), 0), (ssize_t)sizeof(out));
	uint32_t got = 0;
	while (got < sizeof(out)) {
		struct vsock_hdr r;
		cr_assert(vt_recv(&t, &r, in + got, sizeof(in) - got, 2000), "data to the guest");
		cr_assert_eq(r.op, VSOCK_OP_RW);
		cr_assert_eq(r.src_port, 7000);
		cr_assert_eq(r.dst_port, 5555);
		cr_assert_eq(r.fwd_cnt, sizeof(out), "every packet tells the guest what was consumed");
		got += r.len;
	}
	cr_assert_arr_eq(in, out, sizeof(out));

	/* The host closes: the guest hears SHUTDOWN(SEND); the guest closes: RST ends it. */
	close(s);
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_SHUTDOWN, "got %s", vsock_op_name(r.op));
	cr_assert_eq(r.flags, VSOCK_SHUTDOWN_SEND);
	h = vt_hdr(VSOCK_OP_SHUTDOWN, 5555, 7000);
	h.flags = VSOCK_SHUTDOWN_BOTH;
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 7000, 5555);
	struct virtio_vsock_counters c = vt_counters(&t);
	cr_assert_eq(c.conns_from_guest, 1);
	cr_assert_eq(c.conns_closed, 1);
	cr_assert_eq(c.active_connections, 0);
	cr_assert_eq(c.tx_bytes, sizeof(out));
	cr_assert_eq(c.rx_bytes, sizeof(out));
	close(l);
}

Test(vsock_conn, guest_half_close_reaches_host_after_its_data)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 7001);
	int s = vt_guest_connect(&t, l, 6000, 7001);
	static uint8_t out[60000], in[60000];
	vt_fill(out, sizeof(out), 3);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 6000, 7001);
	h.len = sizeof(out);
	vt_send(&t, &h, out, sizeof(out));
	h = vt_hdr(VSOCK_OP_SHUTDOWN, 6000, 7001);
	h.flags = VSOCK_SHUTDOWN_SEND;
	vt_send(&t, &h, NULL, 0);
	cr_assert(vt_host_read_all(s, in, sizeof(in), 2000));
	cr_assert_arr_eq(in, out, sizeof(out));
	cr_assert(vt_host_wait_closed(s, 2000), "the host reads EOF after the data");
	/* The other direction still works. */
	cr_assert_eq(send(s, "late", 4, MSG_NOSIGNAL), 4);
	struct vsock_hdr r;
	char buf[8];
	cr_assert(vt_recv(&t, &r, buf, sizeof(buf), 2000));
	cr_assert_eq(r.op, VSOCK_OP_RW);
	cr_assert_eq(r.len, 4);
	cr_assert_arr_eq(buf, "late", 4);
	close(s);
	close(l);
}

Test(vsock_conn, host_connect_and_data)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	uint32_t hport;
	int s = vt_host_connect(&t, 1234, &hport);
	cr_assert_eq(send(s, "ping", 4, 0), 4);
	struct vsock_hdr r;
	char buf[8];
	cr_assert(vt_recv(&t, &r, buf, sizeof(buf), 2000));
	cr_assert_eq(r.op, VSOCK_OP_RW);
	cr_assert_eq(r.src_port, hport);
	cr_assert_eq(r.dst_port, 1234);
	cr_assert_arr_eq(buf, "ping", 4);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 1234, hport);
	h.len = 4;
	vt_send(&t, &h, "pong", 4);
	cr_assert(vt_host_read_all(s, buf, 4, 2000));
	cr_assert_arr_eq(buf, "pong", 4);
	/* A second host connection to the same guest port gets another host port. */
	uint32_t hport2;
	int s2 = vt_host_connect(&t, 1234, &hport2);
	cr_assert_neq(hport, hport2);
	cr_assert_eq(vt_counters(&t).conns_from_host, 2);
	cr_assert_eq(vt_counters(&t).active_connections, 2);
	/* The guest resets one: its host socket closes, the other stays. */
	h = vt_hdr(VSOCK_OP_RST, 1234, hport);
	vt_send(&t, &h, NULL, 0);
	cr_assert(vt_host_wait_closed(s, 2000));
	cr_assert_eq(vt_counters(&t).active_connections, 1);
	cr_assert_eq(send(s2, "x", 1, 0), 1);
	cr_assert(vt_recv(&t, &r, buf, sizeof(buf), 2000));
	cr_assert_eq(r.src_port, hport2);
	close(s);
	close(s2);
}

Test(vsock_conn, host_connect_refused_by_guest)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int s = vt_host_connect_raw(&t, "CONNECT 99\n");
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_REQUEST);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RST, 99, r.src_port);
	vt_send(&t, &h, NULL, 0);
	cr_assert(vt_host_wait_closed(s, 2000), "a refused CONNECT closes the Unix socket");
	cr_assert_eq(vt_counters(&t).conns_refused, 1);
	close(s);
}

Test(vsock_conn, host_connect_before_the_driver_is_refused)
{
	int s = vt_host_connect_raw(&t, "CONNECT 1\n");
	cr_assert(vt_host_wait_closed(s, 2000));
	close(s);
	cr_assert_eq(vt_counters(&t).conns_refused, 1);
}

Test(vsock_conn, bad_connect_lines_close_the_socket)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	const char *bad[] = { "HELLO 1\n", "CONNECT\n", "CONNECT \n", "CONNECT x1\n",
			      "CONNECT 4294967296\n", "CONNECT 12 \n", "connect 12\n",
			      "CONNECT 1234567890123456789012345678901234567890\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int s = vt_host_connect_raw(&t, bad[i]);
		cr_assert(vt_host_wait_closed(s, 2000), "'%s' was not refused", bad[i]);
		close(s);
	}
	/* A client that goes away mid-line. */
	int s = vt_host_connect_raw(&t, "CONNE");
	close(s);
	vt_sleep_ms(100);
	cr_assert_eq(vt_counters(&t).host_bad_connects, sizeof(bad) / sizeof(bad[0]) + 1);
	vt_expect_silence(&t, 100);
	/* The line may come in pieces; bytes after it are stream data, not eaten. */
	s = vt_host_connect_raw(&t, "CONN");
	vt_sleep_ms(50);
	cr_assert_eq(send(s, "ECT 77\nearly", 12, 0), 12);
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_REQUEST);
	cr_assert_eq(r.dst_port, 77);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RESPONSE, 77, r.src_port);
	vt_send(&t, &h, NULL, 0);
	char buf[16];
	cr_assert(vt_recv(&t, &r, buf, sizeof(buf), 2000));
	cr_assert_eq(r.op, VSOCK_OP_RW);
	cr_assert_eq(r.len, 5);
	cr_assert_arr_eq(buf, "early", 5);
	close(s);
}

Test(vsock_conn, guest_that_never_answers_a_connect_times_out, .timeout = 30)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int s = vt_host_connect_raw(&t, "CONNECT 5\n");
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_REQUEST);
	cr_assert(vt_host_wait_closed(s, 10000), "still waiting after the connect timeout");
	expect_rst(VSOCK_HOST_CID, r.src_port, 5);
	close(s);
}

Test(vsock_conn, protocol_errors_reset_the_connection)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 7002);
	uint16_t ops[] = { VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE };
	for (unsigned i = 0; i < 2; i++) {
		int s = vt_guest_connect(&t, l, 100 + i, 7002);
		struct vsock_hdr h = vt_hdr(ops[i], 100 + i, 7002);
		vt_send(&t, &h, NULL, 0);
		expect_rst(VSOCK_HOST_CID, 7002, 100 + i);
		cr_assert(vt_host_wait_closed(s, 2000));
		close(s);
	}
	/* Data after the guest's own SHUTDOWN(SEND). */
	int s = vt_guest_connect(&t, l, 102, 7002);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_SHUTDOWN, 102, 7002);
	h.flags = VSOCK_SHUTDOWN_SEND;
	vt_send(&t, &h, NULL, 0);
	h = vt_hdr(VSOCK_OP_RW, 102, 7002);
	h.len = 3;
	vt_send(&t, &h, "abc", 3);
	expect_rst(VSOCK_HOST_CID, 7002, 102);
	close(s);
	cr_assert_eq(vt_counters(&t).protocol_errors, 3);
	cr_assert_eq(vt_counters(&t).active_connections, 0);
	close(l);
}

Test(vsock_conn, packets_for_unknown_connections)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 1, 2);
	h.len = 2;
	vt_send(&t, &h, "hi", 2);
	expect_rst(VSOCK_HOST_CID, 2, 1);
	h = vt_hdr(VSOCK_OP_RESPONSE, 3, 4);
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 4, 3);
	h = vt_hdr(VSOCK_OP_CREDIT_UPDATE, 5, 6);
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 6, 5);
	h = vt_hdr(VSOCK_OP_RST, 7, 8); /* an RST is never answered */
	vt_send(&t, &h, NULL, 0);
	vt_expect_silence(&t, 100);
	cr_assert_eq(vt_counters(&t).rst_received, 1);
	cr_assert_eq(vt_counters(&t).malformed, 0);
}

/* Each of these is dropped without an answer (no RST can be addressed, or none is due). */
Test(vsock_conn, malformed_headers_are_dropped)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	static uint8_t big[VSOCK_MAX_PAYLOAD + 4];
	struct vsock_hdr h;
	unsigned n = 0;

	h = vt_hdr(VSOCK_OP_REQUEST, 1, 2);
	h.src_cid = VT_CID + 1; /* forged source */
	vt_send(&t, &h, NULL, 0), n++;
	h.src_cid = (uint64_t)VT_CID << 32 | VT_CID; /* high bits of the 64-bit CID */
	vt_send(&t, &h, NULL, 0), n++;
	h = vt_hdr(0, 1, 2); /* INVALID */
	vt_send(&t, &h, NULL, 0), n++;
	h = vt_hdr(99, 1, 2);
	vt_send(&t, &h, NULL, 0), n++;
	h = vt_hdr(VSOCK_OP_RW, 1, 2);
	h.len = 100; /* more than the chain holds */
	vt_send(&t, &h, big, 10), n++;
	h.len = 0xffffffffu;
	vt_send(&t, &h, big, 10), n++;
	h.len = VSOCK_MAX_PAYLOAD + 1; /* the chain holds it, but it is over 64 KiB */
	vt_send(&t, &h, big, VSOCK_MAX_PAYLOAD + 1), n++;
	h = vt_hdr(VSOCK_OP_REQUEST, 1, 2);
	h.len = 4; /* payload on a control packet */
	vt_send(&t, &h, big, 4), n++;
	h = vt_hdr(VSOCK_OP_SHUTDOWN, 1, 2);
	h.flags = 0;
	vt_send(&t, &h, NULL, 0), n++;
	h.flags = 4;
	vt_send(&t, &h, NULL, 0), n++;
	h = vt_hdr(VSOCK_OP_RST, 1, 2);
	h.dst_cid = 9; /* an RST to elsewhere: not answered */
	vt_send(&t, &h, NULL, 0), n++;
	uint8_t raw[VSOCK_HDR_SIZE];
	h = vt_hdr(VSOCK_OP_REQUEST, 1, 2);
	vsock_hdr_encode(&h, raw);
	vt_send_raw(&t, raw, VSOCK_HDR_SIZE - 1, false), n++; /* shorter than a header */
	vt_send_raw(&t, raw, VSOCK_HDR_SIZE, true), n++;      /* device-writable */
	vt_expect_silence(&t, 200);
	struct virtio_vsock_counters c = vt_counters(&t);
	cr_assert_eq(c.malformed, n);
	cr_assert_eq(c.tx_packets, n);
	cr_assert_eq(c.active_connections, 0);
	cr_assert_eq(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0, "the queue is fine");
	/* The device still works. */
	int l = vt_host_listen(&t, 2);
	int s = vt_guest_connect(&t, l, 1, 2);
	close(s);
	close(l);
}

Test(vsock_conn, unsupported_destinations_are_refused)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_REQUEST, 10, 20);
	h.dst_cid = 77; /* another VM: nobody there */
	vt_send(&t, &h, NULL, 0);
	expect_rst(77, 20, 10);
	h = vt_hdr(VSOCK_OP_REQUEST, 11, 21);
	h.type = 2; /* SEQPACKET, not offered */
	vt_send(&t, &h, NULL, 0);
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_RST);
	cr_assert_eq(r.type, 2, "the RST has the socket's type, so the guest finds the socket");
	cr_assert_eq(vt_counters(&t).conns_refused, 2);
	cr_assert_eq(vt_counters(&t).malformed, 0);
}

Test(vsock_conn, too_small_rx_buffers_need_a_reset)
{
	vt_bring_up(&t, 0); /* header descriptor + an empty one: fine for control packets */
	struct vsock_hdr h = vt_hdr(VSOCK_OP_REQUEST, 1, 2);
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 2, 1);
	/* Now a buffer shorter than a header. */
	vd_set_status(&t.d, 0);
	vd_msix_on(&t.d, 4);
	vd_negotiate(&t.d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vd_queue_setup(&t.d, &t.rx, VIRTIO_VSOCK_RX_QUEUE, 256, 1);
	vd_queue_setup(&t.d, &t.tx, VIRTIO_VSOCK_TX_QUEUE, 256, 2);
	vd_queue_setup(&t.d, &t.ev, VIRTIO_VSOCK_EVENT_QUEUE, 16, 3);
	t.tx_sent = 0;
	vd_offer(&t.d, &t.rx, vd_desc(&t.d, &t.rx, t.rx_hdr[0], 20, VIRTQ_DESC_F_WRITE, 0));
	vd_set_status(&t.d, vd_status(&t.d) | VIRTIO_STATUS_DRIVER_OK);
	vt_send(&t, &h, NULL, 0);
	for (int i = 0; i < 2000 && !(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); i++)
		vt_sleep_ms(1);
	cr_assert(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* A reset brings it back. */
	vd_set_status(&t.d, 0);
	vt_bring_up(&t, VT_RX_PAYLOAD);
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 2, 1);
}

Test(vsock_conn, too_many_connections)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 9);
	static int socks[VIRTIO_VSOCK_MAX_CONNECTIONS];
	for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNECTIONS; i++)
		socks[i] = vt_guest_connect(&t, l, 1000 + i, 9);
	cr_assert_eq(vt_counters(&t).active_connections, VIRTIO_VSOCK_MAX_CONNECTIONS);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_REQUEST, 5000, 9);
	vt_send(&t, &h, NULL, 0);
	expect_rst(VSOCK_HOST_CID, 9, 5000);
	int s = vt_host_connect_raw(&t, NULL);
	if (send(s, "CONNECT 1\n", 10, MSG_NOSIGNAL) < 0) {
		/* the device may have closed it already */
	}
	cr_assert(vt_host_wait_closed(s, 2000), "a host connection beyond the limit is closed");
	close(s);
	/* One ends, a new one fits. */
	h = vt_hdr(VSOCK_OP_RST, 1000, 9);
	vt_send(&t, &h, NULL, 0);
	close(vt_guest_connect(&t, l, 5000, 9));
	for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNECTIONS; i++)
		close(socks[i]);
	close(l);
}

/* Thousands of random packets from a guest that knows the protocol's shape but not its rules:
 * the device answers or drops each, never stalls or needs a reset, and still works after. */
Test(vsock_conn, random_packets_leave_the_device_working, .timeout = 60)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 7000);
	static const uint32_t gports[] = { 1, 2, 3, 1234 };
	static const uint32_t hports[] = { 7000, 7001, 1u << 30, 2 };
	uint32_t x = 12345;
	uint8_t payload[64];
	vt_fill(payload, sizeof(payload), 1);
	for (unsigned i = 0; i < 3000; i++) {
		x ^= x << 13; /* xorshift32 */
		x ^= x >> 17;
		x ^= x << 5;
		uint32_t r = x;
		struct vsock_hdr h = vt_hdr((uint16_t)(r % 9), gports[(r >> 4) % 4],
					    hports[(r >> 6) % 4]);
		h.flags = (r >> 8) % 5;
		h.len = (r >> 11) % 3 == 0 ? (r >> 13) % 80 : 0;
		h.buf_alloc = (r >> 20) % 2 ? VT_BUF_ALLOC : (r >> 12) % 9000;
		h.fwd_cnt = (r >> 3) % 3 ? 0 : r;
		if ((r >> 24) % 17 == 0)
			h.src_cid = VT_CID + 1;
		if ((r >> 25) % 19 == 0)
			h.type = 2;
		vt_send(&t, &h, payload, h.len < sizeof(payload) ? h.len : sizeof(payload));
		struct vsock_hdr ans;
		while (vt_recv(&t, &ans, NULL, 0, 0)) {
		}
		int s = vt_accept(l, 0); /* the device's connections to PATH_7000: take and drop */
		if (s >= 0)
			close(s);
	}
	cr_assert_eq(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	struct virtio_vsock_counters c = vt_counters(&t);
	cr_assert_eq(c.tx_packets, 3000);
	cr_assert_gt(c.malformed, 0);
	cr_assert_gt(c.rst_sent, 0, "malformed %llu rst %llu refused %llu proto %llu rx %llu",
		     (unsigned long long)c.malformed, (unsigned long long)c.rst_sent,
		     (unsigned long long)c.conns_refused, (unsigned long long)c.protocol_errors,
		     (unsigned long long)c.rx_packets);
	cr_assert_gt(c.conns_from_guest, 0);
	cr_assert_gt(c.protocol_errors, 0);
	/* Drain what is left, then a clean connection works. */
	struct vsock_hdr ans;
	while (vt_recv(&t, &ans, NULL, 0, 200)) {
	}
	int s = vt_guest_connect(&t, l, 4000, 7000);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 4000, 7000);
	h.len = 2;
	vt_send(&t, &h, "ok", 2);
	char buf[2];
	cr_assert(vt_host_read_all(s, buf, 2, 2000));
	close(s);
	close(l);
}

/* rx buffers with room for a header only cannot carry data: each takes a credit update, so the
 * queue moves on instead of the device retrying the same buffer forever. */
Test(vsock_conn, header_only_rx_buffers_with_data_waiting)
{
	vt_bring_up(&t, 0);
	int l = vt_host_listen(&t, 3);
	int s = vt_guest_connect(&t, l, 4, 3);
	cr_assert_eq(send(s, "data", 4, 0), 4);
	for (int i = 0; i < 3; i++) {
		struct vsock_hdr r;
		cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
		cr_assert_eq(r.op, VSOCK_OP_CREDIT_UPDATE, "got %s", vsock_op_name(r.op));
		cr_assert_eq(r.len, 0);
	}
	cr_assert_eq(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	close(s);
	close(l);
}
