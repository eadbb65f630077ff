/* virtio-vsock packet headers and credit arithmetic (virtio v1.2, 5.10.6). */
#include "vsock_packet.h"

#include <endian.h>
#include <string.h>

/* Field offsets in the packed little-endian header. */
enum {
	OFF_SRC_CID = 0, OFF_DST_CID = 8, OFF_SRC_PORT = 16, OFF_DST_PORT = 20, OFF_LEN = 24,
	OFF_TYPE = 28, OFF_OP = 30, OFF_FLAGS = 32, OFF_BUF_ALLOC = 36, OFF_FWD_CNT = 40,
};

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
	put64(raw + OFF_SRC_CID, h->src_cid);
	put64(raw + OFF_DST_CID, h->dst_cid);
	put32(raw + OFF_SRC_PORT, h->src_port);
	put32(raw + OFF_DST_PORT, h->dst_port);
	put32(raw + OFF_LEN, h->len);
	put16(raw + OFF_TYPE, h->type);
	put16(raw + OFF_OP, h->op);
	put32(raw + OFF_FLAGS, h->flags);
	put32(raw + OFF_BUF_ALLOC, h->buf_alloc);
	put32(raw + OFF_FWD_CNT, h->fwd_cnt);
}

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h)
{
	h->src_cid = get64(raw + OFF_SRC_CID);
	h->dst_cid = get64(raw + OFF_DST_CID);
	h->src_port = get32(raw + OFF_SRC_PORT);
	h->dst_port = get32(raw + OFF_DST_PORT);
	h->len = get32(raw + OFF_LEN);
	h->type = get16(raw + OFF_TYPE);
	h->op = get16(raw + OFF_OP);
	h->flags = get32(raw + OFF_FLAGS);
	h->buf_alloc = get32(raw + OFF_BUF_ALLOC);
	h->fwd_cnt = get32(raw + OFF_FWD_CNT);
}

const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = {
		[VSOCK_OP_INVALID] = "INVALID",   [VSOCK_OP_REQUEST] = "REQUEST",
		[VSOCK_OP_RESPONSE] = "RESPONSE", [VSOCK_OP_RST] = "RST",
		[VSOCK_OP_SHUTDOWN] = "SHUTDOWN", [VSOCK_OP_RW] = "RW",
		[VSOCK_OP_CREDIT_UPDATE] = "CREDIT_UPDATE",
		[VSOCK_OP_CREDIT_REQUEST] = "CREDIT_REQUEST",
	};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

static enum vsock_verdict verdict(enum vsock_verdict v, const char *text, const char **why)
{
	*why = text;
	return v;
}

enum vsock_verdict vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid,
				   uint32_t payload_bytes, const char **why)
{
	*why = NULL;
	/* A forged source cannot be answered: the reply would go to someone else's address. */
	if (h->src_cid != guest_cid)
		return verdict(VSOCK_PKT_DROP, "source CID is not the guest's", why);
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST)
		return verdict(VSOCK_PKT_DROP, "unknown operation", why);
	if (h->len > payload_bytes)
		return verdict(VSOCK_PKT_DROP, "payload length past the end of the buffers", why);
	if (h->len > VSOCK_MAX_PAYLOAD)
		return verdict(VSOCK_PKT_DROP, "payload longer than 64 KiB", why);
	if (h->op != VSOCK_OP_RW && h->len != 0)
		return verdict(VSOCK_PKT_DROP, "payload on a control packet", why);
	if (h->op == VSOCK_OP_SHUTDOWN &&
	    (h->flags == 0 || (h->flags & ~(uint32_t)VSOCK_SHUTDOWN_BOTH)))
		return verdict(VSOCK_PKT_DROP, "SHUTDOWN flags other than RCV and SEND", why);
	/* Well formed from here. An RST is never answered (5.10.6.6). */
	if (h->dst_cid != VSOCK_HOST_CID)
		return verdict(h->op == VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST,
			       "destination is not the host (CID 2)", why);
	if (h->type != VSOCK_TYPE_STREAM)
		return verdict(h->op == VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST,
			       "socket type is not stream", why);
	return VSOCK_PKT_OK;
}

uint32_t vsock_credit_free(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt)
{
	uint32_t in_flight = tx_cnt - peer_fwd_cnt;
	return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

bool vsock_credit_fits(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt, uint32_t len)
{
	uint32_t buffered = rx_cnt - fwd_cnt;
	return buffered <= buf_alloc && len <= buf_alloc - buffered;
}

bool vsock_credit_update_due(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt,
			     uint32_t last_fwd_sent)
{
	uint32_t seen_in_use = rx_cnt - last_fwd_sent;
	uint32_t freed_since = fwd_cnt - last_fwd_sent;
	uint32_t seen_free = seen_in_use >= buf_alloc ? 0 : buf_alloc - seen_in_use;
	return freed_since > 0 && seen_free < buf_alloc / 2 && freed_since >= buf_alloc / 8;
}
