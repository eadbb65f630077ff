/* virtio-net transmit path: frames from the guest's transmit queue to the TAP.
 *
 * Each chain is one frame: a virtio-net header and the frame, device-readable only, split over
 * descriptors any way the driver likes (5.1.6.2). The header is copied out of guest memory once
 * and checked (net_hdr_check_tx); that copy is what the TAP gets, so the guest cannot change it
 * after the check. The frame itself goes from guest memory to the TAP with one writev. Malformed
 * frames are counted and returned to the driver unsent; the queue keeps working. */
#include "net_internal.h"

#include <errno.h>

/* Returns the chain to the driver (transmit buffers: nothing written). */
static int complete(struct virtio_net *net, struct virtqueue *vq, uint16_t head, struct error *e)
{
	return virtqueue_push(vq, net->mem, head, 0, e);
}

static void malformed(struct virtio_net *net, _Atomic uint64_t *counter, const char *what)
{
	net_count(counter, 1);
	net_report_malformed(net, what);
}

/* Writes the frame: the checked header copy, then the chain's bytes after the header. */
static void send_frame(struct virtio_net *net, struct virtq_chain *c,
		       uint8_t raw[TAP_VNET_HDR_LEN])
{
	struct iovec *seg = c->iov; /* == net->tx_iov + 1 */
	uint32_t i = 0;
	size_t skip = TAP_VNET_HDR_LEN;
	while (i < c->nout && seg[i].iov_len <= skip) {
		skip -= seg[i].iov_len;
		i++;
	}
	/* The frame is at least an Ethernet header long, so segment i exists. */
	seg[i].iov_base = (uint8_t *)seg[i].iov_base + skip;
	seg[i].iov_len -= skip;
	struct iovec *v = &net->tx_iov[i]; /* the slot before segment i: the header goes there */
	v[0] = (struct iovec){ .iov_base = raw, .iov_len = TAP_VNET_HDR_LEN };
	ssize_t n = tap_write(&net->tap, v, (int)(c->nout - i + 1));
	if (n >= 0) {
		net_count(&net->stats.tx_frames, 1);
		net_count(&net->stats.tx_bytes, c->out_bytes - TAP_VNET_HDR_LEN);
	} else if (tap_error_is_fatal((int)-n)) {
		net_count(&net->stats.tx_dropped_link_down, 1);
		net_tap_gone(net, (int)-n);
	} else {
		net_count(&net->stats.tx_tap_errors, 1); /* e.g. EINVAL: the kernel refused it */
	}
}

/* One popped chain. 1: done (returned to the driver), 0: the limiter said wait (the chain is
 * back in the ring), -1: error. */
static int transmit(struct virtio_net *net, struct virtqueue *vq, struct virtq_chain *c,
		    struct error *e)
{
	if (c->nin) {
		malformed(net, &net->stats.tx_bad_chains, "device-writable buffers in a transmit chain");
		return complete(net, vq, c->head, e) < 0 ? -1 : 1;
	}
	if (c->out_bytes < TAP_VNET_HDR_LEN) {
		malformed(net, &net->stats.tx_malformed, "chain shorter than the virtio-net header");
		return complete(net, vq, c->head, e) < 0 ? -1 : 1;
	}
	uint8_t raw[TAP_VNET_HDR_LEN];
	virtq_chain_copy_from(c, 0, raw, sizeof(raw));
	struct net_hdr h;
	net_hdr_decode(raw, &h);
	enum net_frame_problem p = net_hdr_check_tx(&h, c->out_bytes - TAP_VNET_HDR_LEN,
						    net->features, net->mtu_enforced);
	if (p != NET_FRAME_OK) {
		malformed(net, &net->stats.tx_malformed, net_frame_problem_name(p));
		return complete(net, vq, c->head, e) < 0 ? -1 : 1;
	}
	if (net->tap_gone) {
		net_count(&net->stats.tx_dropped_link_down, 1);
		return complete(net, vq, c->head, e) < 0 ? -1 : 1;
	}
	if (!net_rate_limit(net, &net->tx_timer, c->out_bytes)) {
		net_vq_unpop(vq, 1);
		return 0;
	}
	send_frame(net, c, raw);
	if (complete(net, vq, c->head, e) < 0)
		return -1;
	net_notify_used(net, vq, VIRTIO_NET_TX_QUEUE);
	return 1;
}

/* Comes back to the queue on the next loop iteration, with kicks off meanwhile. */
static void defer(struct virtio_net *net, struct virtqueue *vq)
{
	net->tx_deferred = true;
	virtqueue_disable_notify(vq, net->mem);
	net_requeue(net, VIRTIO_NET_TX_QUEUE);
}

int net_tx_process(struct virtio_net *net, struct virtqueue *vq, struct error *e)
{
	/* A kick is answered one loop iteration later, with kicks off in between (what a bottom
	 * half does): the guest queues more frames meanwhile without exiting for each. */
	if (!net->tx_deferred) {
		defer(net, vq);
		return 0;
	}
	net->tx_deferred = false;
	struct virtq_chain c;
	for (unsigned i = 0; i < NET_BUDGET; i++) {
		virtq_chain_init(&c, net->tx_iov + 1, NET_TX_IOV_MAX);
		int r = virtqueue_pop(vq, net->mem, &c, e);
		if (r < 0)
			return r;
		if (r == 0) {
			/* Drained: kicks back on, then one more look (the driver may have just
			 * added a frame and not kicked). */
			if (virtqueue_enable_notify(vq, net->mem))
				defer(net, vq);
			return 0;
		}
		r = transmit(net, vq, &c, e);
		if (r <= 0)
			return r; /* 0: the limiter's timer brings us back */
	}
	defer(net, vq); /* more later: let the other events in first */
	return 0;
}
