/* The virtio-net header checks (transmit and receive), the TAP offloads derived from the guest's
 * features, and how a received frame spreads over mergeable receive buffers. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/net_hdr.h"
#include "devices/virtio/virtio_spec.h"

#define F(bit) VIRTIO_BIT(VIRTIO_NET_F_##bit)
#define ALL_TX (F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN) | F(HOST_UFO))
#define ALL_RX (F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_ECN) | F(GUEST_UFO))

static struct net_hdr tso4(void)
{
	return (struct net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 66,
				 .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
}

Test(net_hdr, encode_decode_round_trip_little_endian)
{
	struct net_hdr h = tso4(), back;
	h.num_buffers = 0x0102;
	uint8_t raw[TAP_VNET_HDR_LEN];
	net_hdr_encode(&h, raw);
	cr_assert_eq(raw[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(raw[1], VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(raw[6], 34);       /* csum_start, le16 */
	cr_assert_eq(raw[10], 0x02);    /* num_buffers, le16 */
	cr_assert_eq(raw[11], 0x01);
	net_hdr_decode(raw, &back);
	cr_assert(!memcmp(&h, &back, sizeof(h)));
}

Test(net_hdr, tx_plain_frames)
{
	struct net_hdr h = { 0 };
	cr_assert_eq(net_hdr_check_tx(&h, 60, 0, 0), NET_FRAME_OK);
	cr_assert_eq(net_hdr_check_tx(&h, 14, 0, 0), NET_FRAME_OK);
	cr_assert_eq(net_hdr_check_tx(&h, 13, 0, 0), NET_FRAME_SHORT);
	cr_assert_eq(net_hdr_check_tx(&h, 0, 0, 0), NET_FRAME_SHORT);
	cr_assert_eq(net_hdr_check_tx(&h, NET_MAX_FRAME_LEN, 0, 0), NET_FRAME_OK);
	cr_assert_eq(net_hdr_check_tx(&h, NET_MAX_FRAME_LEN + 1, 0, 0), NET_FRAME_OVERSIZED);
	cr_assert_eq(net_hdr_check_tx(&h, UINT32_MAX, 0, 0), NET_FRAME_OVERSIZED);
}

Test(net_hdr, tx_mtu_bounds_non_gso_frames_only)
{
	struct net_hdr h = { 0 };
	cr_assert_eq(net_hdr_check_tx(&h, 1500 + 14 + 4, 0, 1500), NET_FRAME_OK, "VLAN tag room");
	cr_assert_eq(net_hdr_check_tx(&h, 1500 + 14 + 5, 0, 1500), NET_FRAME_OVERSIZED);
	cr_assert_eq(net_hdr_check_tx(&h, 9000, 0, 0), NET_FRAME_OK, "no MTU negotiated");
	struct net_hdr g = tso4();
	cr_assert_eq(net_hdr_check_tx(&g, 65000, ALL_TX, 1500), NET_FRAME_OK);
}

Test(net_hdr, tx_flags)
{
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	cr_assert_eq(net_hdr_check_tx(&h, 60, ALL_TX, 0), NET_FRAME_BAD_FLAGS);
	h.flags = 0x80;
	cr_assert_eq(net_hdr_check_tx(&h, 60, ALL_TX, 0), NET_FRAME_BAD_FLAGS);
	h.flags = VIRTIO_NET_HDR_F_RSC_INFO;
	cr_assert_eq(net_hdr_check_tx(&h, 60, ALL_TX, 0), NET_FRAME_BAD_FLAGS);
}

Test(net_hdr, tx_checksum_offload)
{
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
			     .csum_offset = 16 };
	cr_assert_eq(net_hdr_check_tx(&h, 60, F(CSUM), 0), NET_FRAME_OK);
	cr_assert_eq(net_hdr_check_tx(&h, 60, 0, 0), NET_FRAME_CSUM_NOT_NEGOTIATED);
	cr_assert_eq(net_hdr_check_tx(&h, 52, F(CSUM), 0), NET_FRAME_OK, "field ends at the end");
	cr_assert_eq(net_hdr_check_tx(&h, 51, F(CSUM), 0), NET_FRAME_CSUM_OUTSIDE);
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	cr_assert_eq(net_hdr_check_tx(&h, NET_MAX_FRAME_LEN, F(CSUM), 0), NET_FRAME_CSUM_OUTSIDE,
		     "no 16-bit wrap-around");
}

Test(net_hdr, tx_gso_needs_its_feature)
{
	struct net_hdr h = tso4();
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_OK);
	cr_assert_eq(net_hdr_check_tx(&h, 5000, F(CSUM), 0), NET_FRAME_GSO_NOT_NEGOTIATED);
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_RX | F(CSUM), 0), NET_FRAME_GSO_NOT_NEGOTIATED,
		     "guest-side features do not allow sending");
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	cr_assert_eq(net_hdr_check_tx(&h, 5000, F(CSUM) | F(HOST_TSO6), 0), NET_FRAME_OK);
	cr_assert_eq(net_hdr_check_tx(&h, 5000, F(CSUM) | F(HOST_TSO4), 0),
		     NET_FRAME_GSO_NOT_NEGOTIATED);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	cr_assert_eq(net_hdr_check_tx(&h, 5000, F(CSUM) | F(HOST_UFO), 0), NET_FRAME_OK);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	cr_assert_eq(net_hdr_check_tx(&h, 5000, F(CSUM) | F(HOST_TSO4), 0),
		     NET_FRAME_GSO_NOT_NEGOTIATED, "ECN needs HOST_ECN");
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_OK);
}

Test(net_hdr, tx_gso_shape)
{
	struct net_hdr h = tso4();
	h.gso_type = 5; /* UDP_L4 (USO): not offered */
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_BAD_GSO_TYPE);
	h.gso_type = 2; /* unassigned */
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_BAD_GSO_TYPE);
	h = tso4();
	h.flags = 0;
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_GSO_WITHOUT_CSUM);
	h = tso4();
	h.gso_size = 0;
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_GSO_NO_MSS);
	h = tso4();
	h.hdr_len = 5001;
	cr_assert_eq(net_hdr_check_tx(&h, 5000, ALL_TX, 0), NET_FRAME_GSO_BAD_HDR_LEN);
}

Test(net_hdr, rx_clears_flags_the_guest_cannot_take)
{
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	cr_assert_eq(net_hdr_check_rx(&h, 60, 0), NET_FRAME_OK);
	cr_assert_eq(h.flags, 0, "5.1.6.4.1: flags are 0 without GUEST_CSUM");
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	cr_assert_eq(net_hdr_check_rx(&h, 60, F(GUEST_CSUM)), NET_FRAME_OK);
	cr_assert_eq(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
}

Test(net_hdr, rx_offloads_must_match_the_guest)
{
	struct net_hdr h = tso4();
	cr_assert_eq(net_hdr_check_rx(&h, 5000, ALL_RX), NET_FRAME_OK);
	h = tso4();
	cr_assert_eq(net_hdr_check_rx(&h, 5000, F(GUEST_CSUM)), NET_FRAME_GSO_NOT_NEGOTIATED);
	h = tso4();
	cr_assert_eq(net_hdr_check_rx(&h, 5000, ALL_TX), NET_FRAME_CSUM_NOT_NEGOTIATED,
		     "host-side features do not allow receiving");
	h = (struct net_hdr){ .flags = 0x20 };
	cr_assert_eq(net_hdr_check_rx(&h, 60, ALL_RX), NET_FRAME_BAD_FLAGS);
	h = (struct net_hdr){ 0 };
	cr_assert_eq(net_hdr_check_rx(&h, 10, ALL_RX), NET_FRAME_SHORT);
	cr_assert_eq(net_hdr_check_rx(&h, NET_MAX_FRAME_LEN + 1, ALL_RX), NET_FRAME_OVERSIZED);
}

Test(net_hdr, tap_offloads_follow_guest_features)
{
	cr_assert_eq(net_tap_offloads_for(0), 0);
	cr_assert_eq(net_tap_offloads_for(F(GUEST_TSO4)), 0, "TSO without checksum offload: none");
	cr_assert_eq(net_tap_offloads_for(F(GUEST_CSUM)), TAP_OFFLOAD_CSUM);
	cr_assert_eq(net_tap_offloads_for(ALL_RX),
		     TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 | TAP_OFFLOAD_TSO_ECN |
			     TAP_OFFLOAD_UFO);
	cr_assert_eq(net_tap_offloads_for(F(GUEST_CSUM) | F(GUEST_ECN)), TAP_OFFLOAD_CSUM,
		     "ECN only with TSO");
	cr_assert_eq(net_tap_offloads_for(ALL_TX), 0, "host-side features say nothing about rx");
}

Test(net_rx_spread, fills_buffers_in_order)
{
	uint32_t caps[] = { 1526, 1526, 4096, 1526 }, lens[4];
	cr_assert_eq(net_rx_spread(caps, 4, 100, lens), 1);
	cr_assert_eq(lens[0], 100);
	cr_assert_eq(net_rx_spread(caps, 4, 1526, lens), 1, "an exact fit uses one buffer");
	cr_assert_eq(net_rx_spread(caps, 4, 1527, lens), 2);
	cr_assert_eq(lens[0], 1526);
	cr_assert_eq(lens[1], 1);
	cr_assert_eq(net_rx_spread(caps, 4, 5000, lens), 3);
	cr_assert_eq(lens[2], 5000 - 2 * 1526);
	cr_assert_eq(net_rx_spread(caps, 4, 1526 * 3 + 4096, lens), 4);
	cr_assert_eq(net_rx_spread(caps, 4, 1526 * 3 + 4097, lens), 0, "does not fit");
	cr_assert_eq(net_rx_spread(caps, 0, 1, lens), 0);
}

Test(net_frame, problems_have_names)
{
	for (int p = 0; p < NET_FRAME_NPROBLEMS; p++)
		cr_assert(net_frame_problem_name(p) && net_frame_problem_name(p)[0], "%d", p);
	cr_assert_str_eq(net_frame_problem_name(NET_FRAME_NPROBLEMS), "?");
}
