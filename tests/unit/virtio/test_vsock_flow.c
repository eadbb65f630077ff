/* virtio-vsock flow control and life cycle end to end (no KVM): the device never sends more than
 * the guest's credit and stops reading the host socket when it has none; it advertises a bounded
 * buffer and answers a guest that overruns it with RST; a host peer that stops reading only
 * stalls its own connection; CREDIT_REQUEST/UPDATE; device reset and snapshot restore close the
 * host sockets and send TRANSPORT_RESET. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/virtio_pci.h"
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

TestSuite(vsock_flow, .init = setup, .fini = teardown, .timeout = 30);

/* Receives RW packets until `want` payload bytes arrived (other ops fail the test). */
static void recv_data(uint8_t *buf, uint32_t want, uint32_t gport, uint32_t hport)
{
	uint32_t got = 0;
	while (got < want) {
		struct vsock_hdr r;
		cr_assert(vt_recv(&t, &r, buf + got, want - got, 2000), "only %u of %u bytes", got,
			  want);
		cr_assert_eq(r.op, VSOCK_OP_RW, "got %s", vsock_op_name(r.op));
		cr_assert_eq(r.dst_port, gport);
		cr_assert_eq(r.src_port, hport);
		cr_assert_leq(got + r.len, want, "more than the credit allowed");
		got += r.len;
	}
}

Test(vsock_flow, host_to_guest_respects_guest_credit)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 80);
	/* The guest offers a 10000-byte buffer. */
	struct vsock_hdr h = vt_hdr(VSOCK_OP_REQUEST, 50, 80);
	h.buf_alloc = 10000;
	vt_send(&t, &h, NULL, 0);
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_RESPONSE);
	int s = vt_accept(l, 2000);
	static uint8_t out[40000], in[40000];
	vt_fill(out, sizeof(out), 7);
	cr_assert_eq(send(s, out, sizeof(out), 0), (ssize_t)sizeof(out));
	recv_data(in, 10000, 50, 80);
	vt_expect_silence(&t, 200); /* credit exhausted: the device waits */
	cr_assert_eq(vt_counters(&t).credit_stalls, 1);
	/* The guest consumed 6000: exactly 6000 more come. */
	h = vt_hdr(VSOCK_OP_CREDIT_UPDATE, 50, 80);
	h.buf_alloc = 10000;
	h.fwd_cnt = 6000;
	vt_send(&t, &h, NULL, 0);
	recv_data(in + 10000, 6000, 50, 80);
	vt_expect_silence(&t, 200);
	/* A forged fwd_cnt beyond what was sent gives nothing. */
	h.fwd_cnt = 30000;
	vt_send(&t, &h, NULL, 0);
	vt_expect_silence(&t, 200);
	/* A larger buffer opens the rest. */
	h.buf_alloc = 64000;
	h.fwd_cnt = 16000;
	vt_send(&t, &h, NULL, 0);
	recv_data(in + 16000, sizeof(in) - 16000, 50, 80);
	cr_assert_arr_eq(in, out, sizeof(out));
	close(s);
	close(l);
}

/* Sends 1 MiB-pattern bytes host → guest on `s` (non-blocking) until the socket is full. */
static uint32_t host_fill(int s, const uint8_t *pattern, uint32_t cap)
{
	uint32_t sent = 0;
	for (;;) {
		ssize_t n = send(s, pattern + sent, cap - sent < 65536 ? cap - sent : 65536,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		sent += (uint32_t)n;
		if (sent == cap)
			break;
	}
	return sent;
}

static uint8_t big_out[2u << 20], big_in[2u << 20];

Test(vsock_flow, guest_that_stops_reading_does_not_block_others)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	uint32_t slow_port, fast_port;
	int slow = vt_host_connect(&t, 1, &slow_port);
	int fast = vt_host_connect(&t, 2, &fast_port);
	vt_fill(big_out, sizeof(big_out), 9);
	/* Exactly the guest's 256 KiB of credit arrive, then nothing, however much the host
	 * writes. */
	uint32_t written = 0, got = 0;
	struct vsock_hdr r;
	for (;;) {
		written += host_fill(slow, big_out + written, sizeof(big_out) - written);
		if (!vt_recv(&t, &r, big_in + got, sizeof(big_in) - got, 300))
			break;
		cr_assert_eq(r.op, VSOCK_OP_RW);
		got += r.len;
	}
	cr_assert_eq(got, VT_BUF_ALLOC);
	cr_assert_gt(written, got, "the host wrote past the guest's credit");
	cr_assert_arr_eq(big_in, big_out, got);
	/* The other connection is not held up. */
	cr_assert_eq(send(fast, "quick", 5, 0), 5);
	char buf[8];
	cr_assert(vt_recv(&t, &r, buf, sizeof(buf), 2000));
	cr_assert_eq(r.src_port, fast_port);
	cr_assert_arr_eq(buf, "quick", 5);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 2, fast_port);
	h.len = 5;
	vt_send(&t, &h, "reply", 5);
	cr_assert(vt_host_read_all(fast, buf, 5, 2000));
	/* The slow guest reads: the rest follows, in order. */
	h = vt_hdr(VSOCK_OP_CREDIT_UPDATE, 1, slow_port);
	h.fwd_cnt = got;
	h.buf_alloc = 16u << 20;
	vt_send(&t, &h, NULL, 0);
	while (got < written) {
		cr_assert(vt_recv(&t, &r, big_in + got, sizeof(big_in) - got, 2000), "%u of %u", got,
			  written);
		got += r.len;
		if (got < written)
			written += host_fill(slow, big_out + written, sizeof(big_out) - written);
	}
	cr_assert_arr_eq(big_in, big_out, written);
	close(slow);
	close(fast);
}

/* The pretend guest sends on (gport, hport) within the credit it is given, reading CREDIT_UPDATEs
 * as they come, until the credit is used up and no update follows: returns the bytes sent. */
static uint32_t guest_send_until_stalled(uint32_t gport, uint32_t hport, uint32_t *fwd_seen)
{
	uint32_t sent = 0, fwd = 0;
	for (;;) {
		struct vsock_hdr r;
		while (vt_recv(&t, &r, NULL, 0, 0)) {
			cr_assert_eq(r.op, VSOCK_OP_CREDIT_UPDATE, "got %s", vsock_op_name(r.op));
			cr_assert_eq(r.buf_alloc, VIRTIO_VSOCK_CONN_BUFFER);
			fwd = r.fwd_cnt;
		}
		uint32_t credit = vsock_credit_free(VIRTIO_VSOCK_CONN_BUFFER, fwd, sent);
		if (!credit) {
			if (!vt_recv(&t, &r, NULL, 0, 300))
				break;
			fwd = r.fwd_cnt;
			continue;
		}
		uint32_t n = credit < VSOCK_MAX_PAYLOAD ? credit : VSOCK_MAX_PAYLOAD;
		struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, gport, hport);
		h.len = n;
		vt_send(&t, &h, big_out + sent, n);
		sent += n;
	}
	*fwd_seen = fwd;
	return sent;
}

Test(vsock_flow, host_that_stops_reading_stalls_only_its_connection)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	vt_fill(big_out, sizeof(big_out), 11);
	int l = vt_host_listen(&t, 81);
	int s = vt_guest_connect(&t, l, 60, 81);
	int s2 = vt_guest_connect(&t, l, 61, 81);
	uint32_t fwd;
	uint32_t sent = guest_send_until_stalled(60, 81, &fwd);
	cr_assert_eq(sent - fwd, VIRTIO_VSOCK_CONN_BUFFER, "stalled with the whole buffer in use");
	cr_assert_gt(sent, VIRTIO_VSOCK_CONN_BUFFER, "the socket itself took some");
	/* Another connection still goes through. */
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 61, 81);
	h.len = 3;
	vt_send(&t, &h, "abc", 3);
	char buf[4];
	cr_assert(vt_host_read_all(s2, buf, 3, 2000));
	cr_assert_arr_eq(buf, "abc", 3);
	/* The host reads everything, in order; the guest hears its credit is back. */
	cr_assert(vt_host_read_all(s, big_in, sent, 5000));
	cr_assert_arr_eq(big_in, big_out, sent);
	/* Updates come while the guest sees less than half the buffer free; then they stop. */
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000), "no credit update after the host drained");
	do {
		cr_assert_eq(r.op, VSOCK_OP_CREDIT_UPDATE);
		cr_assert_eq(r.dst_port, 60);
		fwd = r.fwd_cnt;
	} while (vt_recv(&t, &r, NULL, 0, 300));
	cr_assert_geq(vsock_credit_free(VIRTIO_VSOCK_CONN_BUFFER, fwd, sent),
		      VIRTIO_VSOCK_CONN_BUFFER / 2);
	cr_assert_eq(vt_counters(&t).protocol_errors, 0);
	close(s);
	close(s2);
	close(l);
}

Test(vsock_flow, guest_overrunning_its_credit_is_reset)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 82);
	int s = vt_guest_connect(&t, l, 62, 82);
	uint32_t fwd;
	guest_send_until_stalled(62, 82, &fwd);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 62, 82);
	h.len = 1;
	vt_send(&t, &h, "!", 1);
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_RST);
	cr_assert_eq(vt_counters(&t).protocol_errors, 1);
	cr_assert(vt_host_wait_closed(s, 5000), "the host socket is closed");
	close(s);
	close(l);
}

Test(vsock_flow, credit_request_is_answered)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 83);
	int s = vt_guest_connect(&t, l, 63, 83);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 63, 83);
	h.len = 5;
	vt_send(&t, &h, "12345", 5);
	char buf[5];
	cr_assert(vt_host_read_all(s, buf, 5, 2000));
	vt_sleep_ms(50);
	h = vt_hdr(VSOCK_OP_CREDIT_REQUEST, 63, 83);
	vt_send(&t, &h, NULL, 0);
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_CREDIT_UPDATE);
	cr_assert_eq(r.buf_alloc, VIRTIO_VSOCK_CONN_BUFFER);
	cr_assert_eq(r.fwd_cnt, 5);
	cr_assert_eq(vt_counters(&t).credit_updates, 1);
	close(s);
	close(l);
}

Test(vsock_flow, host_peer_reset_mid_stream)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 84);
	int s = vt_guest_connect(&t, l, 64, 84);
	struct vsock_hdr h = vt_hdr(VSOCK_OP_RW, 64, 84);
	h.len = 1000;
	vt_send(&t, &h, big_out, 1000);
	close(s); /* with our 1000 bytes unread: a reset, as TCP would say */
	struct vsock_hdr r;
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_RST, "the host reset: %s", vsock_op_name(r.op));
	vt_send(&t, &h, big_out, 1000); /* late data: the connection is gone */
	cr_assert(vt_recv(&t, &r, NULL, 0, 2000));
	cr_assert_eq(r.op, VSOCK_OP_RST);
	cr_assert_eq(vt_counters(&t).active_connections, 0);
	close(l);
}

Test(vsock_flow, no_transport_reset_on_first_boot)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	cr_assert_eq(vt_event(&t, 200), -1);
}

Test(vsock_flow, device_reset_closes_host_sockets_and_tells_the_next_driver)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 85);
	int s1 = vt_guest_connect(&t, l, 65, 85);
	uint32_t hport;
	int s2 = vt_host_connect(&t, 3, &hport);
	vt_fill(big_out, 300000, 5);
	host_fill(s2, big_out, 300000); /* a poll may be pending on it */
	vd_set_status(&t.d, 0);
	cr_assert(vt_host_wait_closed(s1, 2000));
	cr_assert(vt_host_wait_closed(s2, 2000));
	cr_assert_eq(vt_counters(&t).active_connections, 0);
	vt_bring_up(&t, VT_RX_PAYLOAD);
	cr_assert_eq(vt_event(&t, 2000), 0, "TRANSPORT_RESET");
	cr_assert_eq(vt_counters(&t).transport_resets, 1);
	close(s1);
	close(s2);
	s1 = vt_guest_connect(&t, l, 65, 85);
	close(s1);
	close(l);
}

Test(vsock_flow, restore_sends_transport_reset)
{
	vt_bring_up(&t, VT_RX_PAYLOAD);
	int l = vt_host_listen(&t, 86);
	int s = vt_guest_connect(&t, l, 66, 86);
	struct virtio_pci *vp = virtio_vsock_transport(t.vs);
	static uint8_t snap[4096];
	size_t len;
	cr_assert_eq(virtio_pci_save(vp, snap, sizeof(snap), &len, &t.d.e), 0, "%s", t.d.e.msg);
	cr_assert_eq(virtio_pci_restore(vp, snap, len, &t.d.e), 0, "%s", t.d.e.msg);
	cr_assert(vt_host_wait_closed(s, 2000), "connections do not survive a restore");
	cr_assert_eq(vt_event(&t, 2000), 0, "TRANSPORT_RESET");
	cr_assert(vd_status(&t.d) & VIRTIO_STATUS_DRIVER_OK);
	close(s);
	s = vt_guest_connect(&t, l, 66, 86);
	close(s);
	/* A record for another CID is refused. */
	snap[len - 16] ^= 1;
	cr_assert_eq(virtio_pci_restore(vp, snap, len, &t.d.e), -1);
	cr_assert(strstr(t.d.e.msg, "CID"), "%s", t.d.e.msg);
	close(l);
}

Test(vsock_flow, uds_path_in_use_stale_or_not_a_socket)
{
	struct vsock_options o = { .enabled = true, .id = "v1", .guest_cid = 5 };
	strcpy(o.uds_path, t.uds);
	struct error e;
	cr_assert_null(virtio_vsock_create(t.d.bus, -1, &t.d.gm, &o, &e));
	cr_assert(strstr(e.msg, "in use"), "%s", e.msg);
	snprintf(o.uds_path, sizeof(o.uds_path), "%s/file", t.dir);
	FILE *f = fopen(o.uds_path, "w");
	fclose(f);
	cr_assert_null(virtio_vsock_create(t.d.bus, -1, &t.d.gm, &o, &e));
	cr_assert(strstr(e.msg, "not a socket"), "%s", e.msg);
	/* A socket file nobody listens on is replaced, and removed with the device. */
	char path[108];
	int stale = vt_host_listen(&t, 1);
	close(stale);
	vt_port_path(&t, 1, path);
	cr_assert_lt(strlen(path), sizeof(o.uds_path));
	strcpy(o.uds_path, path);
	struct virtio_vsock *vs = virtio_vsock_create(t.d.bus, -1, &t.d.gm, &o, &e);
	cr_assert_not_null(vs, "%s", e.msg);
	virtio_vsock_destroy(vs);
	cr_assert_eq(access(path, F_OK), -1);
	snprintf(o.uds_path, sizeof(o.uds_path), "%s/no/such/dir/v.sock", t.dir);
	cr_assert_null(virtio_vsock_create(t.d.bus, -1, &t.d.gm, &o, &e));
	cr_assert(strstr(e.msg, "No such file"), "%s", e.msg);
}
