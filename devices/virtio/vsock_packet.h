/* virtio-vsock packets (virtio v1.2, 5.10.6): the 44-byte little-endian header, its checks
 * against what a hostile guest may write, and the credit arithmetic of 5.10.6.3. Pure functions,
 * no device state: unit-tested on their own (tests/unit/virtio/test_vsock_packet.c). */
#ifndef EMBER_VIRTIO_VSOCK_PACKET_H
#define EMBER_VIRTIO_VSOCK_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#define VSOCK_HOST_CID 2u          /* VMADDR_CID_HOST: the only peer the guest can reach */
#define VSOCK_HDR_SIZE 44u

/* Largest payload one packet may carry, either way. Linux sends at most 4 KiB and never more
 * than VIRTIO_VSOCK_MAX_PKT_BUF_SIZE (64 KiB); anything larger from the guest is malformed. */
#define VSOCK_MAX_PAYLOAD (64u << 10)

#define VSOCK_TYPE_STREAM 1u

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive no more (RCV) / send no more (SEND). */
#define VSOCK_SHUTDOWN_RCV  1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_SHUTDOWN_BOTH (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)

/* The event queue's one event (5.10.6.7): all connections are gone (after a restore). */
#define VSOCK_EVENT_TRANSPORT_RESET 0u
#define VSOCK_EVENT_SIZE            4u

/* A header in host byte order. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;               /* payload bytes after the header */
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc;         /* the sender's receive buffer for this connection */
	uint32_t fwd_cnt;           /* bytes the sender has consumed from it, free-running */
};

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);
void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h);
const char *vsock_op_name(uint16_t op);

/* What to do with a packet from the guest, before any connection is looked at. */
enum vsock_verdict {
	VSOCK_PKT_OK,     /* well formed: hand it to the connection state machine */
	VSOCK_PKT_DROP,   /* malformed: count and drop (no reply can be addressed, or none is due) */
	VSOCK_PKT_RST,    /* well formed but unsupported (type, destination): answer RST */
};

/* Checks a transmitted header; `payload_bytes` is what the chain holds after the header.
 * *why names the problem for anything but VSOCK_PKT_OK. */
enum vsock_verdict vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid,
				   uint32_t payload_bytes, const char **why);

/* ---- Credit (5.10.6.3) ----
 * A sender may have at most peer_buf_alloc bytes unconsumed at the peer: it has sent tx_cnt
 * bytes in all, the peer reported consuming peer_fwd_cnt of them. Counters are free-running
 * 32-bit values, so differences are taken modulo 2^32. */

/* Bytes the sender may still send. A peer reporting more consumed than was ever sent (or a
 * buffer smaller than what is in flight) gives 0: only its own connection stalls. */
uint32_t vsock_credit_free(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt);

/* Receiving side, for `len` more bytes from a peer that has sent rx_cnt bytes, of which we
 * consumed fwd_cnt, into a buffer of buf_alloc: does it stay within the credit we gave? */
bool vsock_credit_fits(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt, uint32_t len);

/* Is a CREDIT_UPDATE due? The peer believes we have consumed last_fwd_sent (the fwd_cnt of our
 * last packet to it); it sees buf_alloc - (rx_cnt - last_fwd_sent) free. Due when that view is
 * under half the buffer and we have freed at least an eighth since: a peer stalled at zero
 * credit always gets one once we drain, and a busy stream one per half buffer or so. */
bool vsock_credit_update_due(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt,
			     uint32_t last_fwd_sent);

#endif
