/* virtio-net against a hostile or broken guest, and a TAP that disappears: malformed frames are
 * counted and dropped while the queue keeps working; ring-level violations set
 * DEVICE_NEEDS_RESET and the device recovers after a reset; a deleted TAP turns the link down
 * and frames are dropped. The device thread never stops. */
#include <criterion/criterion.h>
#include <string.h>

#include "test_virtio_net_util.h"

static struct nt t;

static void setup(void)
{
	nt_setup(&t, "tap=" NT_TAP ",mtu=1500", 0);
}

static void teardown(void)
{
	nt_teardown(&t);
}

TestSuite(virtio_net_malicious, .init = setup, .fini = teardown, .timeout = 30);

/* A good frame still goes through after whatever came before, and nothing needed a reset. */
static void still_works(uint32_t magic)
{
	uint8_t frame[200], got[400];
	nt_frame(frame, sizeof(frame), magic, 1);
	nt_send(&t, NULL, frame, sizeof(frame), 0);
	cr_expect_eq(nt_host_recv(&t, got, sizeof(got), magic, 2000), (int)sizeof(frame),
		     "a good frame after the bad ones");
	cr_expect(!(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
}

static void hdr_bytes(uint8_t *raw, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t mss,
		      uint16_t start, uint16_t off)
{
	memset(raw, 0, NT_HDR);
	raw[0] = flags;
	raw[1] = gso;
	memcpy(raw + 2, &hdr_len, 2);
	memcpy(raw + 4, &mss, 2);
	memcpy(raw + 6, &start, 2);
	memcpy(raw + 8, &off, 2);
}

Test(virtio_net_malicious, bad_headers_are_counted_and_dropped)
{
	/* No HOST_TSO4, no CSUM: the guest may ask for neither. */
	nt_bring_up(&t, VIRTIO_BIT(VIRTIO_F_VERSION_1) | NT_F(MRG_RXBUF) | NT_F(HOST_TSO6) |
				NT_F(CSUM));
	uint8_t frame[1000], raw[NT_HDR];
	nt_frame(frame, sizeof(frame), 0x51, 0);
	hdr_bytes(raw, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 500, 34, 16);
	nt_send(&t, raw, frame, sizeof(frame), 0);                     /* TSO4 not negotiated */
	hdr_bytes(raw, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	nt_send(&t, raw, frame, sizeof(frame), 0);                     /* rx-only flag */
	hdr_bytes(raw, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 990, 16);
	nt_send(&t, raw, frame, sizeof(frame), 0);                     /* checksum past the end */
	hdr_bytes(raw, 0, VIRTIO_NET_HDR_GSO_TCPV6, 54, 500, 0, 0);
	nt_send(&t, raw, frame, sizeof(frame), 0);                     /* GSO without NEEDS_CSUM */
	hdr_bytes(raw, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 54, 0, 54, 16);
	nt_send(&t, raw, frame, sizeof(frame), 3);                     /* no MSS, split header */
	hdr_bytes(raw, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0x42, 54, 500, 54, 16);
	nt_send(&t, raw, frame, sizeof(frame), 0);                     /* unknown GSO type */
	cr_assert(nt_wait_used(&t, &t.tx, 6, 2000));
	for (uint16_t i = 0; i < 6; i++)
		cr_expect_eq(vd_used(&t.d, &t.tx, i).len, 0);
	struct virtio_net_counters c = nt_counters(&t);
	cr_expect_eq(c.tx_malformed, 6);
	cr_expect_eq(c.tx_frames, 0);
	uint8_t got[2000];
	cr_expect_eq(nt_host_recv(&t, got, sizeof(got), 0x51, 100), -1, "nothing reached the TAP");
	still_works(0x52);
}

Test(virtio_net_malicious, bad_lengths_are_counted_and_dropped)
{
	nt_bring_up(&t, NT_FEATURES | NT_F(MTU));
	uint8_t small[13] = { 0 };
	static uint8_t big[NET_MAX_FRAME_LEN + 1];
	nt_frame(big, sizeof(big), 0x61, 0);
	nt_send(&t, NULL, small, sizeof(small), 0);         /* shorter than an Ethernet header */
	nt_send(&t, NULL, big, sizeof(big), 4);             /* longer than any frame */
	nt_send(&t, NULL, big, 1500 + 14 + 4 + 1, 0);       /* past the MTU without GSO */
	/* A chain shorter than the virtio-net header itself. */
	uint64_t gpa = vd_alloc(&t.d, 8);
	vd_offer(&t.d, &t.tx, vd_desc(&t.d, &t.tx, gpa, 8, 0, 0));
	vd_kick(&t.d, NT_TXQ);
	cr_assert(nt_wait_used(&t, &t.tx, 4, 2000));
	struct virtio_net_counters c = nt_counters(&t);
	cr_expect_eq(c.tx_malformed, 4);
	cr_expect_eq(c.tx_frames, 0);
	still_works(0x62);
}

Test(virtio_net_malicious, writable_buffers_in_a_transmit_chain)
{
	nt_bring_up(&t, NT_FEATURES);
	uint64_t a = vd_alloc(&t.d, 100), b = vd_alloc(&t.d, 100);
	uint16_t next = (uint16_t)((t.tx.next_desc + 1) % t.tx.size);
	uint16_t head = vd_desc(&t.d, &t.tx, a, 100, VIRTQ_DESC_F_NEXT, next);
	vd_desc(&t.d, &t.tx, b, 100, VIRTQ_DESC_F_WRITE, 0);
	vd_offer(&t.d, &t.tx, head);
	vd_kick(&t.d, NT_TXQ);
	cr_assert(nt_wait_used(&t, &t.tx, 1, 2000));
	cr_expect_eq(vd_used(&t.d, &t.tx, 0).len, 0, "nothing written into the writable part");
	cr_expect_eq(nt_counters(&t).tx_bad_chains, 1);
	still_works(0x71);
}

Test(virtio_net_malicious, ring_violations_need_a_reset_then_recover)
{
	nt_bring_up(&t, NT_FEATURES);
	vd_offer(&t.d, &t.tx, vd_desc(&t.d, &t.tx, VD_RAM - 4, 64, 0, 0)); /* outside RAM */
	vd_kick(&t.d, NT_TXQ);
	cr_assert(nt_wait_status(&t, VIRTIO_STATUS_DEVICE_NEEDS_RESET, 2000));
	cr_expect_geq(vd_msix_count(&t.d, 0), 1, "config interrupt");
	nt_bring_up(&t, NT_FEATURES);
	still_works(0x81);
}

Test(virtio_net_malicious, receive_buffers_must_be_writable)
{
	nt_bring_up(&t, NT_FEATURES);
	uint64_t gpa = vd_alloc(&t.d, 2048);
	vd_offer(&t.d, &t.rx, vd_desc(&t.d, &t.rx, gpa, 2048, 0, 0)); /* device-readable */
	vd_kick(&t.d, NT_RXQ);
	cr_assert(nt_wait_status(&t, VIRTIO_STATUS_DEVICE_NEEDS_RESET, 2000));
	cr_expect_eq(nt_counters(&t).rx_bad_buffers, 1);
	nt_bring_up(&t, NT_FEATURES);
	gpa = vd_alloc(&t.d, 8);
	vd_offer(&t.d, &t.rx, vd_desc(&t.d, &t.rx, gpa, 8, VIRTQ_DESC_F_WRITE, 0)); /* < header */
	vd_kick(&t.d, NT_RXQ);
	cr_assert(nt_wait_status(&t, VIRTIO_STATUS_DEVICE_NEEDS_RESET, 2000));
	cr_expect_eq(nt_counters(&t).rx_bad_buffers, 2);
	nt_bring_up(&t, NT_FEATURES);
	still_works(0x91);
}

Test(virtio_net_malicious, tap_deleted_while_running)
{
	nt_bring_up(&t, NT_FEATURES);
	for (int i = 0; i < 40; i++)
		nt_post_rx(&t, 2048);
	vd_kick(&t.d, NT_RXQ);
	still_works(0xa1);
	cr_expect_eq(nt_config(&t, 6, 2), VIRTIO_NET_S_LINK_UP);
	vd_msix_count(&t.d, 0); /* clear */
	nt_delete_tap(&t);
	/* The RX poll sees the TAP go; frames sent after that are dropped. */
	uint8_t frame[200];
	nt_frame(frame, sizeof(frame), 0xa2, 0);
	for (int i = 0; i < 1000 && nt_config(&t, 6, 2) != 0; i++)
		nt_sleep_ms(1);
	cr_expect_eq(nt_config(&t, 6, 2), 0, "link down in the status field");
	uint64_t config_irqs = 0;
	for (int i = 0; i < 1000 && !(config_irqs += vd_msix_count(&t.d, 0)); i++)
		nt_sleep_ms(1);
	cr_expect_geq(config_irqs, 1, "a configuration interrupt told the driver");
	nt_send(&t, NULL, frame, sizeof(frame), 0);
	nt_send(&t, NULL, frame, sizeof(frame), 0);
	cr_assert(nt_wait_used(&t, &t.tx, 3, 2000), "transmit buffers still come back");
	struct virtio_net_counters c = nt_counters(&t);
	cr_expect_eq(c.tap_gone, 1);
	cr_expect_eq(c.tx_dropped_link_down, 2);
	cr_expect(!(vd_status(&t.d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* A driver reset and a new start work, and the link stays down. */
	nt_bring_up(&t, NT_FEATURES);
	cr_expect_eq(nt_config(&t, 6, 2), 0);
}
