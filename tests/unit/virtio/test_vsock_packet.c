/* virtio-vsock packet headers and credit arithmetic (pure functions): the byte layout of the
 * 44-byte header, every check a hostile header must fail, and the credit rules of virtio v1.2
 * 5.10.6.3 including 32-bit wrap-around. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/vsock_packet.h"

#define CID 3u

Test(vsock_packet, encode_layout_is_little_endian_and_packed)
{
	struct vsock_hdr h = { .src_cid = 0x0102030405060708ull, .dst_cid = 2, .src_port = 0xa1a2a3a4,
			       .dst_port = 0xb1b2b3b4, .len = 0x11223344, .type = 1, .op = 5,
			       .flags = 3, .buf_alloc = 0x40000, .fwd_cnt = 0xdeadbeef };
	uint8_t raw[VSOCK_HDR_SIZE];
	memset(raw, 0xee, sizeof(raw));
	vsock_hdr_encode(&h, raw);
	const uint8_t want[VSOCK_HDR_SIZE] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* src_cid */
		0x02, 0, 0, 0, 0, 0, 0, 0,                     /* dst_cid */
		0xa4, 0xa3, 0xa2, 0xa1,                         /* src_port */
		0xb4, 0xb3, 0xb2, 0xb1,                         /* dst_port */
		0x44, 0x33, 0x22, 0x11,                         /* len */
		0x01, 0x00,                                     /* type */
		0x05, 0x00,                                     /* op */
		0x03, 0, 0, 0,                                  /* flags */
		0x00, 0x00, 0x04, 0x00,                         /* buf_alloc */
		0xef, 0xbe, 0xad, 0xde,                         /* fwd_cnt */
	};
	cr_assert_arr_eq(raw, want, sizeof(want));
	struct vsock_hdr back;
	vsock_hdr_decode(raw, &back);
	cr_assert(back.src_cid == h.src_cid && back.dst_cid == h.dst_cid &&
		  back.src_port == h.src_port && back.dst_port == h.dst_port && back.len == h.len &&
		  back.type == h.type && back.op == h.op && back.flags == h.flags &&
		  back.buf_alloc == h.buf_alloc && back.fwd_cnt == h.fwd_cnt, "decode(encode(h)) == h");
}

Test(vsock_packet, decode_takes_any_bytes)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	memset(raw, 0xff, sizeof(raw));
	struct vsock_hdr h;
	vsock_hdr_decode(raw, &h);
	cr_assert_eq(h.src_cid, UINT64_MAX);
	cr_assert_eq(h.len, UINT32_MAX);
	cr_assert_eq(h.op, 0xffff);
	cr_assert_str_eq(vsock_op_name(h.op), "unknown");
	cr_assert_str_eq(vsock_op_name(VSOCK_OP_CREDIT_REQUEST), "CREDIT_REQUEST");
}

static struct vsock_hdr good(uint16_t op)
{
	return (struct vsock_hdr){ .src_cid = CID, .dst_cid = 2, .src_port = 1, .dst_port = 2,
				   .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 4096 };
}

static enum vsock_verdict check(struct vsock_hdr h, uint32_t payload)
{
	const char *why = NULL;
	enum vsock_verdict v = vsock_hdr_check(&h, CID, payload, &why);
	cr_assert(v == VSOCK_PKT_OK || (why && why[0]), "a refusal names its reason");
	return v;
}

Test(vsock_packet, well_formed_packets_pass)
{
	for (uint16_t op = VSOCK_OP_REQUEST; op <= VSOCK_OP_CREDIT_REQUEST; op++) {
		struct vsock_hdr h = good(op);
		if (op == VSOCK_OP_SHUTDOWN)
			h.flags = VSOCK_SHUTDOWN_BOTH;
		cr_assert_eq(check(h, 0), VSOCK_PKT_OK, "op %u", op);
		cr_assert_eq(check(h, 100), VSOCK_PKT_OK, "extra chain bytes are ignored");
	}
	struct vsock_hdr h = good(VSOCK_OP_RW);
	h.len = VSOCK_MAX_PAYLOAD;
	cr_assert_eq(check(h, VSOCK_MAX_PAYLOAD), VSOCK_PKT_OK);
	h.flags = 0xffffffff; /* flags mean nothing outside SHUTDOWN */
	cr_assert_eq(check(h, VSOCK_MAX_PAYLOAD), VSOCK_PKT_OK);
}

Test(vsock_packet, malicious_headers_are_dropped)
{
	struct vsock_hdr h = good(VSOCK_OP_REQUEST);
	h.src_cid = 4;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "forged source CID");
	h.src_cid = (1ull << 32) | CID;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "high CID bits");
	h.src_cid = 2;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "the host's CID as source");
	h = good(0);
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "INVALID op");
	h = good(8);
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "op past CREDIT_REQUEST");
	h = good(0xffff);
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP);
	h = good(VSOCK_OP_RW);
	h.len = 11;
	cr_assert_eq(check(h, 10), VSOCK_PKT_DROP, "len past the chain");
	h.len = UINT32_MAX;
	cr_assert_eq(check(h, UINT32_MAX - 1), VSOCK_PKT_DROP);
	h.len = VSOCK_MAX_PAYLOAD + 1;
	cr_assert_eq(check(h, UINT32_MAX), VSOCK_PKT_DROP, "over 64 KiB");
	for (uint16_t op = VSOCK_OP_REQUEST; op <= VSOCK_OP_CREDIT_REQUEST; op++) {
		if (op == VSOCK_OP_RW)
			continue;
		h = good(op);
		h.flags = op == VSOCK_OP_SHUTDOWN ? 1 : 0;
		h.len = 1;
		cr_assert_eq(check(h, 1), VSOCK_PKT_DROP, "payload on op %u", op);
	}
	h = good(VSOCK_OP_SHUTDOWN);
	h.flags = 0;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "SHUTDOWN without flags");
	h.flags = 4;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP, "SHUTDOWN unknown flag");
	h.flags = 0x80000001;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP);
}

Test(vsock_packet, unsupported_but_well_formed_get_rst)
{
	struct vsock_hdr h = good(VSOCK_OP_REQUEST);
	h.dst_cid = 3;
	cr_assert_eq(check(h, 0), VSOCK_PKT_RST, "to another CID");
	h.dst_cid = UINT64_MAX;
	cr_assert_eq(check(h, 0), VSOCK_PKT_RST);
	h = good(VSOCK_OP_RW);
	h.type = 2;
	cr_assert_eq(check(h, 0), VSOCK_PKT_RST, "SEQPACKET");
	h.type = 0;
	cr_assert_eq(check(h, 0), VSOCK_PKT_RST);
	/* ...but never in answer to an RST. */
	h = good(VSOCK_OP_RST);
	h.dst_cid = 3;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP);
	h = good(VSOCK_OP_RST);
	h.type = 7;
	cr_assert_eq(check(h, 0), VSOCK_PKT_DROP);
}

Test(vsock_packet, credit_free)
{
	cr_assert_eq(vsock_credit_free(4096, 0, 0), 4096);
	cr_assert_eq(vsock_credit_free(4096, 0, 1000), 3096);
	cr_assert_eq(vsock_credit_free(4096, 1000, 1000), 4096);
	cr_assert_eq(vsock_credit_free(4096, 0, 4096), 0);
	cr_assert_eq(vsock_credit_free(0, 0, 0), 0, "no buffer, no credit");
	/* Counters wrap at 2^32. */
	cr_assert_eq(vsock_credit_free(4096, 0xfffffff0u, 0x10), 4096 - 0x20);
	cr_assert_eq(vsock_credit_free(4096, 0xfffff000u, 0x00000000u), 0);
	/* The peer shrank its buffer below what is in flight. */
	cr_assert_eq(vsock_credit_free(100, 0, 4096), 0);
	/* A peer claiming to have consumed more than was sent: no credit, not a huge one. */
	cr_assert_eq(vsock_credit_free(4096, 2000, 1000), 0);
}

Test(vsock_packet, credit_fits)
{
	cr_assert(vsock_credit_fits(4096, 0, 0, 4096));
	cr_assert(!vsock_credit_fits(4096, 0, 0, 4097));
	cr_assert(vsock_credit_fits(4096, 4096, 1, 1));
	cr_assert(!vsock_credit_fits(4096, 4096, 1, 2));
	cr_assert(vsock_credit_fits(4096, 0x10, 0xfffffff0u, 4096 - 0x20), "wrap");
	cr_assert(!vsock_credit_fits(4096, 0x10, 0xfffffff0u, 4096 - 0x1f));
	cr_assert(!vsock_credit_fits(4096, 0, 0, UINT32_MAX), "no overflow on a huge len");
	cr_assert(!vsock_credit_fits(4096, 5000, 0, 0), "already over: nothing fits");
}

Test(vsock_packet, credit_update_due)
{
	const uint32_t buf = 256u << 10;
	/* The peer sees plenty of room: nothing to say. */
	cr_assert(!vsock_credit_update_due(buf, 1000, 1000, 0));
	/* It sees less than half, and we freed an eighth since: due. */
	cr_assert(vsock_credit_update_due(buf, buf / 2 + 1, buf / 8, 0));
	/* Less than half but little freed since: not yet (no storm of tiny updates). */
	cr_assert(!vsock_credit_update_due(buf, buf, buf / 8 - 1, 0));
	/* Stalled at zero credit and fully drained: always due. */
	cr_assert(vsock_credit_update_due(buf, buf, buf, 0));
	/* Nothing freed since the last packet: never. */
	cr_assert(!vsock_credit_update_due(buf, buf, 0, 0));
	cr_assert(!vsock_credit_update_due(buf, buf + 100, 100, 100));
	/* Wrapped counters. */
	cr_assert(vsock_credit_update_due(buf, 0x100, 0x100, 0x100 - buf));
	cr_assert(!vsock_credit_update_due(buf, 0x100, 0x100 - buf, 0x100 - buf));
}
