/* virtio-net receive path: frames from the TAP into the guest's receive buffers.
 *
 * Frames are read straight into guest memory: the device holds a few receive buffers taken
 * from the ring (in ring order) and reads the next frame into them with one readv. With
 * mergeable buffers (5.1.6.3.2) it holds enough for the largest frame the TAP may hand over, so a
 * read never truncates; the frame then uses as many buffers as it needs, num_buffers in the
 * header says how many, and the rest stay held for the next frame. Without them, a frame goes
 * into one buffer (the driver sizes them for the largest frame it accepts).
 *
 * Waiting: for buffers, on the guest's kick (notifications are only enabled while the device
 * is short of buffers); for frames, on an io_uring poll of the TAP; for the rate limiter, on
 * its timer, with the frame already in the held buffers (delivered when the timer fires). */
#include "net_internal.h"

#include <errno.h>
#include <poll.h>

static struct net_rx_buf *held(struct virtio_net *net, uint32_t i)
{
	return &net->rx_bufs[(net->rx_first + i) % NET_RX_HELD_MAX];
}

void net_rx_drop_held(struct virtio_net *net, struct virtqueue *vq, bool unpop)
{
	if (unpop && vq && net->rx_count)
		net_vq_unpop(vq, (uint16_t)net->rx_count);
	net->rx_first = net->rx_count = 0;
	net->rx_held_bytes = 0;
	net->rx_deferred_len = 0;
}

/* The first n held buffers went back to the driver. */
static void release(struct virtio_net *net, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		net->rx_held_bytes -= held(net, i)->cap;
	net->rx_first = (net->rx_first + n) % NET_RX_HELD_MAX;
	net->rx_count -= n;
}

/* Takes one more buffer from the ring: 1 taken, 0 none offered, -1 the driver broke the rules. */
static int take_buffer(struct virtio_net *net, struct virtqueue *vq, struct error *e)
{
	struct net_rx_buf *b = held(net, net->rx_count);
	struct virtq_chain c;
	virtq_chain_init(&c, b->iov, NET_RX_BUF_IOV);
	int r = virtqueue_pop(vq, net->mem, &c, e);
	if (r <= 0)
		return r;
	/* 5.1.6.3.1: receive buffers are device-writable and at least a header long. Pushing a
	 * bad one back would break the ring order the held buffers rely on: reset instead. */
	if (c.nout || c.in_bytes < TAP_VNET_HDR_LEN) {
		net_count(&net->stats.rx_bad_buffers, 1);
		return error_set(e, "receive buffer at head %u has %u readable and %u writable bytes "
				    "(at least %d writable and nothing readable expected)", c.head,
				 c.out_bytes, c.in_bytes, TAP_VNET_HDR_LEN);
	}
	b->head = c.head;
	b->cap = c.in_bytes;
	b->niov = c.nin;
	net->rx_count++;
	net->rx_held_bytes += c.in_bytes;
	return 1;
}

static bool enough_held(const struct virtio_net *net)
{
	if (!net->mergeable)
		return net->rx_count >= 1;
	return net->rx_held_bytes >= net->rx_want || net->rx_count == NET_RX_HELD_MAX;
}

/* Makes sure buffers for the next frame are held: 1 yes, 0 wait for the guest, -1 error. */
static int ensure_buffers(struct virtio_net *net, struct virtqueue *vq, struct error *e)
{
	for (;;) {
		if (enough_held(net)) {
			if (vq->notify_enabled)
				virtqueue_disable_notify(vq, net->mem); /* no kicks needed now */
			return 1;
		}
		int r = take_buffer(net, vq, e);
		if (r < 0)
			return -1;
		if (r == 1)
			continue;
		/* Ring empty: ask for a kick, then look once more (the driver may have just added). */
		if (!vq->notify_enabled && virtqueue_enable_notify(vq, net->mem))
			continue;
		/* Every entry of the ring is held and still short of a 64 KiB frame (a tiny ring):
		 * read with what there is rather than wait for buffers that cannot come. */
		if (net->rx_count && net->rx_count >= vq->size)
			return 1;
		return 0;
	}
}

/* The readv vector over the held buffers (only the first without mergeable buffers); returns
 * their capacity. One spare byte of our own ends the vector: the TAP never returns more than
 * the vector holds, so a frame reaching it was too large for the buffers (truncated). */
static uint64_t build_iov(struct virtio_net *net, int *niov)
{
	uint64_t cap = 0;
	int n = 0;
	uint32_t nbufs = net->mergeable ? net->rx_count : 1;
	for (uint32_t i = 0; i < nbufs && cap < net->rx_want; i++) {
		struct net_rx_buf *b = held(net, i);
		if (n + (int)b->niov > NET_IOV_MAX - 1)
			break;
		for (uint32_t j = 0; j < b->niov; j++)
			net->rx_iov[n++] = b->iov[j];
		cap += b->cap;
	}
	net->rx_iov[n++] = (struct iovec){ .iov_base = &net->rx_spare, .iov_len = 1 };
	*niov = n;
	return cap;
}

/* The virtio-net header at the start of a held buffer (it holds at least that much). */
static void read_hdr(struct net_rx_buf *b, uint8_t raw[TAP_VNET_HDR_LEN])
{
	struct virtq_chain view = { .iov = b->iov, .iov_cap = NET_RX_BUF_IOV, .nout = b->niov };
	virtq_chain_copy_from(&view, 0, raw, TAP_VNET_HDR_LEN);
}

static void write_hdr(struct net_rx_buf *b, const uint8_t raw[TAP_VNET_HDR_LEN])
{
	struct virtq_chain view = { .iov = b->iov, .iov_cap = NET_RX_BUF_IOV, .nin = b->niov };
	virtq_chain_copy_to(&view, 0, raw, TAP_VNET_HDR_LEN);
}

/* Hands a frame of `len` bytes (header included) in the held buffers to the guest. */
static int deliver(struct virtio_net *net, struct virtqueue *vq, uint32_t len, struct net_hdr *h,
		   struct error *e)
{
	uint32_t caps[NET_RX_HELD_MAX], lens[NET_RX_HELD_MAX], used;
	if (net->mergeable) {
		for (uint32_t i = 0; i < net->rx_count; i++)
			caps[i] = held(net, i)->cap;
		used = net_rx_spread(caps, net->rx_count, len, lens);
	} else {
		used = len <= held(net, 0)->cap ? 1 : 0;
		lens[0] = len;
	}
	if (used == 0) { /* cannot happen: the read was checked against the capacity */
		net_count(&net->stats.rx_dropped_truncated, 1);
		return 0;
	}
	h->num_buffers = (uint16_t)used;
	uint8_t raw[TAP_VNET_HDR_LEN];
	net_hdr_encode(h, raw);
	write_hdr(held(net, 0), raw);
	for (uint32_t i = 0; i < used; i++)
		if (virtqueue_push(vq, net->mem, held(net, i)->head, lens[i], e) < 0)
			return -1;
	release(net, used);
	net_count(&net->stats.rx_frames, 1);
	net_count(&net->stats.rx_bytes, len - TAP_VNET_HDR_LEN);
	net_notify_used(net, vq, VIRTIO_NET_RX_QUEUE);
	return 0;
}

/* A frame of n bytes was read into the held buffers (capacity cap): check it, then deliver it
 * or keep it for the rate limiter. 1: go on, 0: wait for the limiter, -1: error. */
static int receive(struct virtio_net *net, struct virtqueue *vq, uint64_t n, uint64_t cap,
		   struct error *e)
{
	if (n > cap) { /* it reached the spare byte: truncated */
		net_count(&net->stats.rx_dropped_truncated, 1);
		return 1;
	}
	if (n < TAP_VNET_HDR_LEN) {
		net_count(&net->stats.rx_dropped_bad_header, 1);
		return 1;
	}
	uint8_t raw[TAP_VNET_HDR_LEN];
	read_hdr(held(net, 0), raw);
	struct net_hdr h;
	net_hdr_decode(raw, &h);
	if (net_hdr_check_rx(&h, (uint32_t)n - TAP_VNET_HDR_LEN, net->features) != NET_FRAME_OK) {
		net_count(&net->stats.rx_dropped_bad_header, 1);
		return 1;
	}
	if (!net_rate_limit(net, &net->rx_timer, n)) {
		net->rx_deferred_len = (uint32_t)n;
		net->rx_deferred_hdr = h;
		return 0;
	}
	return deliver(net, vq, (uint32_t)n, &h, e) < 0 ? -1 : 1;
}

static void arm_poll(struct virtio_net *net)
{
	if (!net->rx_poll_armed)
		net->rx_poll_armed =
			event_loop_poll(&net->loop, &net->rx_poll_op, net->tap.fd, POLLIN) == 0;
}

void net_rx_poll_done(struct ev_op *op, int res)
{
	struct virtio_net *net = container_of(op, struct virtio_net, rx_poll_op);
	net->rx_poll_armed = false;
	if (res == -ECANCELED)
		return;
	/* POLLERR too: the read then says what happened. */
	virtio_pci_process_queue(net->vp, VIRTIO_NET_RX_QUEUE);
}

/* A frame the limiter held back: deliver it if the limiter lets it through now. 1: delivered
 * (or nothing was waiting), 0: still waiting, -1: error. */
static int deliver_deferred(struct virtio_net *net, struct virtqueue *vq, struct error *e)
{
	uint32_t len = net->rx_deferred_len;
	if (!len)
		return 1;
	if (!net_rate_limit(net, &net->rx_timer, len))
		return 0;
	net->rx_deferred_len = 0;
	return deliver(net, vq, len, &net->rx_deferred_hdr, e) < 0 ? -1 : 1;
}

int net_rx_process(struct virtio_net *net, struct virtqueue *vq, struct error *e)
{
	if (net->tap_gone)
		return 0;
	int r = deliver_deferred(net, vq, e);
	if (r <= 0)
		return r;
	for (unsigned i = 0; i < NET_BUDGET; i++) {
		r = ensure_buffers(net, vq, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			net_count(&net->stats.rx_buffer_waits, 1);
			return 0; /* the guest's kick brings us back */
		}
		int niov;
		uint64_t cap = build_iov(net, &niov);
		ssize_t n = tap_read(&net->tap, net->rx_iov, niov);
		if (n == -EAGAIN) {
			arm_poll(net);
			return 0;
		}
		if (n < 0) {
			net_count(&net->stats.tap_read_errors, 1);
			net_tap_gone(net, (int)-n);
			return 0;
		}
		r = receive(net, vq, (uint64_t)n, cap, e);
		if (r <= 0)
			return r;
	}
	net_requeue(net, VIRTIO_NET_RX_QUEUE); /* more later: let the other events in first */
	return 0;
}
