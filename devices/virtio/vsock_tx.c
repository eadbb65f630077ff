/* virtio-vsock, packets from the guest (the tx queue). Each chain is one packet: the header and
 * its payload, device-readable, split over descriptors any way the driver likes. The header is
 * copied out of guest memory once, checked (vsock_hdr_check), then handed to the connection
 * state machine; the chain goes back at once (payload bytes were written to the host socket or
 * copied into the connection's ring). The queue never waits for a host socket: a slow host peer
 * only holds back its own connection, through the credit the device advertises. */
#include "vsock_internal.h"

static void handle_chain(struct virtio_vsock *vs, const struct virtq_chain *c)
{
	vsock_count(&vs->stats.tx_packets, 1);
	if (c->nin) {
		vsock_report_malformed(vs, "a transmit chain has device-writable buffers");
		return;
	}
	if (c->out_bytes < VSOCK_HDR_SIZE) {
		vsock_report_malformed(vs, "a transmit chain is shorter than a packet header");
		return;
	}
	uint8_t raw[VSOCK_HDR_SIZE];
	virtq_chain_copy_from(c, 0, raw, VSOCK_HDR_SIZE);
	struct vsock_hdr h;
	vsock_hdr_decode(raw, &h);
	const char *why;
	switch (vsock_hdr_check(&h, vs->opts.guest_cid, c->out_bytes - VSOCK_HDR_SIZE, &why)) {
	case VSOCK_PKT_DROP:
		vsock_report_malformed(vs, why);
		return;
	case VSOCK_PKT_RST:
		/* Answer from the address the guest wrote to, so its socket sees the refusal. */
		if (h.op == VSOCK_OP_REQUEST)
			vsock_count(&vs->stats.conns_refused, 1);
		vsock_rst_queue(vs, h.dst_cid, h.dst_port, h.src_port, h.type);
		return;
	case VSOCK_PKT_OK:
		vsock_conn_guest_packet(vs, &h, c);
		return;
	}
}

int vsock_tx_process(struct virtio_vsock *vs, struct virtqueue *vq, struct error *e)
{
	int r = 0;
	unsigned i;
	for (i = 0; i < VSOCK_BUDGET; i++) {
		struct virtq_chain c;
		virtq_chain_init(&c, vs->tx_iov, VSOCK_TX_IOV);
		r = virtqueue_pop(vq, vs->mem, &c, e);
		if (r <= 0)
			break;
		handle_chain(vs, &c);
		if (virtqueue_push(vq, vs->mem, c.head, 0, e) < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (i == VSOCK_BUDGET)
		vsock_requeue(vs, VIRTIO_VSOCK_TX_QUEUE); /* more later: other events first */
	if (vs->rx_wanted) {
		vs->rx_wanted = false;
		vsock_requeue(vs, VIRTIO_VSOCK_RX_QUEUE);
	}
	return 0;
}
