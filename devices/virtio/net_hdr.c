/* virtio-net header checks (see net_hdr.h). */
#include "net_hdr.h"

#include <endian.h>
#include <string.h>

#include "virtio_spec.h"

static const char *const problem_names[NET_FRAME_NPROBLEMS] = {
	[NET_FRAME_OK] = "ok",
	[NET_FRAME_SHORT] = "frame too short",
	[NET_FRAME_OVERSIZED] = "frame too long",
	[NET_FRAME_BAD_FLAGS] = "unknown header flags",
	[NET_FRAME_CSUM_NOT_NEGOTIATED] = "checksum offload not negotiated",
	[NET_FRAME_CSUM_OUTSIDE] = "checksum position outside the frame",
	[NET_FRAME_BAD_GSO_TYPE] = "unknown GSO type",
	[NET_FRAME_GSO_NOT_NEGOTIATED] = "GSO type not negotiated",
	[NET_FRAME_GSO_WITHOUT_CSUM] = "GSO without NEEDS_CSUM",
	[NET_FRAME_GSO_NO_MSS] = "GSO with gso_size 0",
	[NET_FRAME_GSO_BAD_HDR_LEN] = "GSO hdr_len beyond the frame",
};

const char *net_frame_problem_name(enum net_frame_problem p)
{
	return (unsigned)p < NET_FRAME_NPROBLEMS ? problem_names[p] : "?";
}

void net_hdr_decode(const uint8_t raw[TAP_VNET_HDR_LEN], struct net_hdr *h)
{
	struct virtio_net_hdr_v1 v;
	memcpy(&v, raw, sizeof(v));
	*h = (struct net_hdr){
		.flags = v.flags,
		.gso_type = v.gso_type,
		.hdr_len = le16toh(v.hdr_len),
		.gso_size = le16toh(v.gso_size),
		.csum_start = le16toh(v.csum_start),
		.csum_offset = le16toh(v.csum_offset),
		.num_buffers = le16toh(v.num_buffers),
	};
}

void net_hdr_encode(const struct net_hdr *h, uint8_t raw[TAP_VNET_HDR_LEN])
{
	struct virtio_net_hdr_v1 v;
	memset(&v, 0, sizeof(v));
	v.flags = h->flags;
	v.gso_type = h->gso_type;
	v.hdr_len = htole16(h->hdr_len);
	v.gso_size = htole16(h->gso_size);
	v.csum_start = htole16(h->csum_start);
	v.csum_offset = htole16(h->csum_offset);
	v.num_buffers = htole16(h->num_buffers);
	memcpy(raw, &v, sizeof(v));
}

static bool has(uint64_t features, unsigned bit)
{
	return features & VIRTIO_BIT(bit);
}

/* The feature bit a GSO type needs in one direction; -1 for an unknown type. */
static int gso_feature(uint8_t type, bool tx)
{
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4: return tx ? VIRTIO_NET_F_HOST_TSO4 : VIRTIO_NET_F_GUEST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6: return tx ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_GUEST_TSO6;
	case VIRTIO_NET_HDR_GSO_UDP: return tx ? VIRTIO_NET_F_HOST_UFO : VIRTIO_NET_F_GUEST_UFO;
	default: return -1;
	}
}

/* The checks both directions share: checksum range and GSO type/ECN/MSS. `csum_feature` is the
 * bit that allows NEEDS_CSUM in this direction. */
static enum net_frame_problem check_offloads(const struct net_hdr *h, uint32_t frame_len,
					     uint64_t features, bool tx)
{
	unsigned csum_feature = tx ? VIRTIO_NET_F_CSUM : VIRTIO_NET_F_GUEST_CSUM;
	bool needs_csum = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (needs_csum) {
		if (!has(features, csum_feature))
			return NET_FRAME_CSUM_NOT_NEGOTIATED;
		if ((uint32_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return NET_FRAME_CSUM_OUTSIDE;
	}
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return NET_FRAME_OK;
	int bit = gso_feature(h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN, tx);
	if (bit < 0)
		return NET_FRAME_BAD_GSO_TYPE;
	unsigned ecn_bit = tx ? VIRTIO_NET_F_HOST_ECN : VIRTIO_NET_F_GUEST_ECN;
	if (!has(features, (unsigned)bit) ||
	    ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(features, ecn_bit)))
		return NET_FRAME_GSO_NOT_NEGOTIATED;
	if (!needs_csum)
		return NET_FRAME_GSO_WITHOUT_CSUM;
	if (h->gso_size == 0)
		return NET_FRAME_GSO_NO_MSS;
	if (h->hdr_len > frame_len)
		return NET_FRAME_GSO_BAD_HDR_LEN;
	return NET_FRAME_OK;
}

enum net_frame_problem net_hdr_check_tx(const struct net_hdr *h, uint32_t frame_len,
					uint64_t features, uint16_t mtu)
{
	if (frame_len < NET_ETH_HLEN)
		return NET_FRAME_SHORT;
	if (frame_len > NET_MAX_FRAME_LEN)
		return NET_FRAME_OVERSIZED;
	/* 5.1.6.2.1: without GSO, a frame must fit the advertised MTU (plus link headers). */
	if (mtu && h->gso_type == VIRTIO_NET_HDR_GSO_NONE &&
	    frame_len > (uint32_t)mtu + NET_ETH_HLEN + NET_VLAN_HLEN)
		return NET_FRAME_OVERSIZED;
	/* DATA_VALID and RSC_INFO are for received frames only. */
	if (h->flags & (uint8_t)~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_FRAME_BAD_FLAGS;
	return check_offloads(h, frame_len, features, true);
}

enum net_frame_problem net_hdr_check_rx(struct net_hdr *h, uint32_t frame_len, uint64_t features)
{
	if (frame_len < NET_ETH_HLEN)
		return NET_FRAME_SHORT;
	if (frame_len > NET_MAX_FRAME_LEN)
		return NET_FRAME_OVERSIZED;
	if (h->flags & (uint8_t)~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return NET_FRAME_BAD_FLAGS;
	enum net_frame_problem p = check_offloads(h, frame_len, features, false);
	if (p != NET_FRAME_OK)
		return p;
	if (!has(features, VIRTIO_NET_F_GUEST_CSUM))
		h->flags = 0;
	return NET_FRAME_OK;
}

unsigned net_tap_offloads_for(uint64_t features)
{
	/* The kernel only takes TSO/UFO together with checksum offload. */
	if (!has(features, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	unsigned o = TAP_OFFLOAD_CSUM;
	if (has(features, VIRTIO_NET_F_GUEST_TSO4))
		o |= TAP_OFFLOAD_TSO4;
	if (has(features, VIRTIO_NET_F_GUEST_TSO6))
		o |= TAP_OFFLOAD_TSO6;
	if ((o & (TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6)) && has(features, VIRTIO_NET_F_GUEST_ECN))
		o |= TAP_OFFLOAD_TSO_ECN;
	if (has(features, VIRTIO_NET_F_GUEST_UFO))
		o |= TAP_OFFLOAD_UFO;
	return o;
}

uint32_t net_rx_spread(const uint32_t *caps, uint32_t n, uint32_t total, uint32_t *lens)
{
	uint32_t left = total;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t take = caps[i] < left ? caps[i] : left;
		lens[i] = take;
		left -= take;
		if (left == 0)
			return total ? i + 1 : 0;
	}
	return 0;
}
