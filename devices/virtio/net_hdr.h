/* The virtio-net header (virtio v1.2, 5.1.6) that precedes every frame on both queues and on the
 * TAP, and the checks Ember applies to it. Pure functions: no device state, unit-tested.
 *
 * Transmit (guest → TAP): the driver may only ask for what was negotiated: a partial checksum
 * (NEEDS_CSUM, with VIRTIO_NET_F_CSUM) whose start/offset lie inside the frame, and segmentation
 * (GSO TCPv4/TCPv6/UDP, ECN) with HOST_TSO4/TSO6/UFO/ECN, which also needs NEEDS_CSUM and an MSS.
 * Anything else is a malformed frame: counted and dropped, never handed to the kernel.
 *
 * Receive (TAP → guest): the TAP only produces what its offloads allow, but the header is checked
 * against the guest's features all the same; DATA_VALID is cleared when the guest did not take
 * GUEST_CSUM (5.1.6.4.1: flags must then be 0). */
#ifndef EMBER_VIRTIO_NET_HDR_H
#define EMBER_VIRTIO_NET_HDR_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "tap.h"

_Static_assert(sizeof(struct virtio_net_hdr_v1) == TAP_VNET_HDR_LEN, "virtio-net header size");

#define NET_ETH_HLEN       14
#define NET_VLAN_HLEN      4
/* Largest frame (without the virtio-net header) either way: a 64 KiB IP packet, Ethernet
 * header and one VLAN tag. */
#define NET_MAX_FRAME_LEN  (65535 + NET_ETH_HLEN + NET_VLAN_HLEN)

enum net_frame_problem {
	NET_FRAME_OK = 0,
	NET_FRAME_SHORT,             /* shorter than the header plus an Ethernet header */
	NET_FRAME_OVERSIZED,         /* longer than NET_MAX_FRAME_LEN, or than the MTU without GSO */
	NET_FRAME_BAD_FLAGS,         /* flag bits that direction cannot carry */
	NET_FRAME_CSUM_NOT_NEGOTIATED,
	NET_FRAME_CSUM_OUTSIDE,      /* csum_start + csum_offset + 2 beyond the frame */
	NET_FRAME_BAD_GSO_TYPE,      /* not NONE, TCPV4, TCPV6 or UDP (+ ECN) */
	NET_FRAME_GSO_NOT_NEGOTIATED,
	NET_FRAME_GSO_WITHOUT_CSUM,  /* GSO needs NEEDS_CSUM (5.1.6.2) */
	NET_FRAME_GSO_NO_MSS,        /* gso_size 0 */
	NET_FRAME_GSO_BAD_HDR_LEN,   /* hdr_len beyond the frame */
	NET_FRAME_NPROBLEMS
};

/* A short name for messages ("GSO type not negotiated"). */
const char *net_frame_problem_name(enum net_frame_problem p);

/* Decoded header (host byte order). */
struct net_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

void net_hdr_decode(const uint8_t raw[TAP_VNET_HDR_LEN], struct net_hdr *h);
void net_hdr_encode(const struct net_hdr *h, uint8_t raw[TAP_VNET_HDR_LEN]);

/* A frame the guest wants sent: header `h`, `frame_len` bytes after it; `features` negotiated;
 * `mtu` > 0 when VIRTIO_NET_F_MTU was negotiated (non-GSO frames are then bounded by it). */
enum net_frame_problem net_hdr_check_tx(const struct net_hdr *h, uint32_t frame_len,
					uint64_t features, uint16_t mtu);

/* A frame read from the TAP for the guest; clears flags the guest may not see. */
enum net_frame_problem net_hdr_check_rx(struct net_hdr *h, uint32_t frame_len, uint64_t features);

/* TAP offloads (TAP_OFFLOAD_*) matching the guest's receive features. */
unsigned net_tap_offloads_for(uint64_t features);

/* Mergeable receive buffers (5.1.6.3.2): a received frame of `total` bytes (header included)
 * fills buffers in order. Given the writable capacity of each of `n` buffers, writes how much
 * lands in each and returns how many buffers the frame uses; 0 if they cannot hold it. */
uint32_t net_rx_spread(const uint32_t *caps, uint32_t n, uint32_t total, uint32_t *lens);

#endif
