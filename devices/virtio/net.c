/* virtio-net: life cycle, device configuration, feature negotiation, the device thread and the
 * rate-limiter plumbing. The data paths are in net_rx.c and net_tx.c. */
#include "net_internal.h"
#include "virtio_pci_internal.h" /* virtio_pci_interrupt_locked: see net_notify_used */

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#define NET_RING_ENTRIES 16
#define NET_CONFIG_SIZE  12   /* mac, status, max_virtqueue_pairs, mtu */

static bool has(uint64_t features, unsigned bit)
{
	return features & VIRTIO_BIT(bit);
}

/* ---- Helpers for the data paths ---- */

void net_vq_unpop(struct virtqueue *vq, uint16_t n)
{
	/* The chains were popped last and nothing was pushed for them: stepping back makes the
	 * next pop see them again, exactly as the driver offered them. */
	vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
	vq->inflight -= n;
	vq->stats.popped -= n;
}

void net_notify_used(struct virtio_net *net, struct virtqueue *vq, uint16_t q)
{
	/* Runs inside queue_notify, with the transport lock held, as the transport's own
	 * end-of-pass check does. */
	if (virtqueue_should_notify(vq, net->mem))
		virtio_pci_interrupt_locked(net->vp, net->vp->queues[q].msix_vector,
					    VIRTIO_PCI_ISR_QUEUE);
}

void net_requeue(struct virtio_net *net, uint16_t q)
{
	uint64_t one = 1;
	if (write(net->vp->queues[q].kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the queue will be served anyway */
	}
}

void net_report_malformed(struct virtio_net *net, const char *what)
{
	if (net->warned_malformed)
		return;
	net->warned_malformed = true;
	fprintf(stderr, "ember: virtio-net %s: dropped a frame from the guest: %s (further drops are "
			"only counted)\n", net->opts.id, what);
}

void net_tap_gone(struct virtio_net *net, int err)
{
	if (net->tap_gone)
		return;
	net->tap_gone = true;
	net->status &= (uint16_t)~VIRTIO_NET_S_LINK_UP;
	net_count(&net->stats.tap_gone, 1);
	fprintf(stderr, "ember: virtio-net %s: TAP '%s' is gone (%s): link down, frames are "
			"dropped\n", net->opts.id, net->tap.name, strerror(err));
	/* The config interrupt takes the transport lock, which the caller holds: do it from the
	 * loop. */
	uint64_t one = 1;
	if (write(net->link_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for a fresh eventfd */
	}
}

static void on_limiter_timer(struct ev_op *op, int res)
{
	struct net_timer *t = container_of(op, struct net_timer, op);
	struct virtio_net *net = t->net;
	t->armed = false;
	if (res == -ECANCELED)
		return;
	struct rate_limiter *rl = t == &net->rx_timer ? &net->rx_limiter : &net->tx_limiter;
	pthread_mutex_lock(&net->limiter_lock);
	rate_limiter_unblock(rl);
	pthread_mutex_unlock(&net->limiter_lock);
	virtio_pci_process_queue(net->vp, t->queue);
}

bool net_rate_limit(struct virtio_net *net, struct net_timer *t, uint64_t bytes)
{
	struct rate_limiter *rl = t == &net->rx_timer ? &net->rx_limiter : &net->tx_limiter;
	pthread_mutex_lock(&net->limiter_lock);
	bool ok = true, blocked = rl->blocked;
	uint64_t wait = 0;
	if (blocked || rate_limiter_enabled(rl)) {
		ok = rate_limiter_request(rl, bytes, rate_limiter_now_ns());
		blocked = rate_limiter_blocked(rl);
		wait = rate_limiter_wait_ms(rl);
	}
	pthread_mutex_unlock(&net->limiter_lock);
	if (!ok)
		net_count(t == &net->rx_timer ? &net->stats.rx_rate_limited
					       : &net->stats.tx_rate_limited, 1);
	if (blocked && !t->armed) {
		if (wait > UINT32_MAX)
			wait = UINT32_MAX;
		t->armed = event_loop_timeout(&net->loop, &t->op, &t->ts, (unsigned)wait) == 0;
	}
	return ok;
}

/* ---- Device model ---- */

static uint64_t net_features(void *opaque)
{
	struct virtio_net *net = opaque;
	uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		     VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
		     VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) |
		     VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
		     VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) |
		     VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     VIRTIO_BIT(VIRTIO_NET_F_STATUS);
	if (net->opts.mtu)
		f |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
	return f;
}

static void net_config_read(void *opaque, uint32_t offset, uint8_t *data, uint32_t size)
{
	struct virtio_net *net = opaque;
	uint8_t cfg[NET_CONFIG_SIZE];
	uint16_t status = htole16(net->status), pairs = htole16(1), mtu = htole16(net->opts.mtu);
	memcpy(cfg, net->opts.mac, 6);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &mtu, 2);
	memcpy(data, cfg + offset, size); /* the transport checked offset + size */
}

/* Derives the data-path settings from the negotiated features and tells the TAP what the guest
 * can receive. */
static int apply_features(struct virtio_net *net, uint64_t features, struct error *e)
{
	net->features = features;
	net->mergeable = has(features, VIRTIO_NET_F_MRG_RXBUF);
	net->mtu_enforced = has(features, VIRTIO_NET_F_MTU) ? net->opts.mtu : 0;
	/* Mergeable buffers: hold enough for the largest frame the TAP may hand over, so a read
	 * never truncates one. Otherwise each frame goes into a single buffer. */
	net->rx_want = net->mergeable ? TAP_VNET_HDR_LEN + NET_MAX_FRAME_LEN : 1;
	if (net->tap_gone)
		return 0;
	if (tap_set_offloads(&net->tap, net_tap_offloads_for(features), e) < 0) {
		if (!tap_error_is_fatal(errno))
			return -1;
		net_tap_gone(net, errno); /* deleted before any traffic showed it: link down */
	}
	return 0;
}

static int net_activate(void *opaque, uint64_t features, struct error *e)
{
	return apply_features(opaque, features, e);
}

static void net_reset(void *opaque)
{
	struct virtio_net *net = opaque;
	net_rx_drop_held(net, NULL, false); /* the queues are reset: nothing to give back */
	net->features = 0;
	net->tx_deferred = false;
	net->mergeable = false;
	net->mtu_enforced = 0;
	struct error e;
	if (!net->tap_gone && tap_set_offloads(&net->tap, 0, &e) < 0) {
		if (tap_error_is_fatal(errno))
			net_tap_gone(net, errno);
		else
			fprintf(stderr, "ember: virtio-net %s: %s\n", net->opts.id, e.msg);
	}
}

static int net_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index, struct error *e)
{
	struct virtio_net *net = opaque;
	if (index == VIRTIO_NET_RX_QUEUE)
		return net_rx_process(net, vq, e);
	return net_tx_process(net, vq, e);
}

/* Snapshot record: the receive buffers held (given back to the ring on restore, so the restored
 * device starts from what the driver offered) and the limiter configurations. */
struct net_state {
	uint32_t rx_held;
	uint32_t reserved;
	struct rate_limiter_config rx, tx;
};

static int net_save(void *opaque, void *buf, size_t cap, size_t *len, struct error *e)
{
	struct virtio_net *net = opaque;
	if (cap < sizeof(struct net_state))
		return error_set(e, "snapshot needs %zu more bytes", sizeof(struct net_state));
	struct net_state s = { .rx_held = net->rx_count };
	virtio_net_get_rate_limiters(net, &s.rx, &s.tx);
	memcpy(buf, &s, sizeof(s));
	*len = sizeof(s);
	return 0;
}

static int net_restore(void *opaque, const void *buf, size_t len, struct error *e)
{
	struct virtio_net *net = opaque;
	struct net_state s;
	if (len != sizeof(s))
		return error_set(e, "device record is %zu bytes, %zu expected", len, sizeof(s));
	memcpy(&s, buf, sizeof(s));
	struct virtqueue *rx = &net->vp->queues[VIRTIO_NET_RX_QUEUE].vq;
	if (s.rx_held > rx->inflight || s.rx_held > NET_RX_HELD_MAX)
		return error_set(e, "%u receive buffers held, but %u in flight", s.rx_held,
				 rx->inflight);
	if (rate_limiter_config_check(&s.rx, e) < 0 || rate_limiter_config_check(&s.tx, e) < 0)
		return error_prefix(e, "rate limiter");
	net_vq_unpop(rx, (uint16_t)s.rx_held);
	uint64_t now = rate_limiter_now_ns();
	pthread_mutex_lock(&net->limiter_lock);
	rate_limiter_init(&net->rx_limiter, &s.rx, now);
	rate_limiter_init(&net->tx_limiter, &s.tx, now);
	pthread_mutex_unlock(&net->limiter_lock);
	if (net->vp->status & VIRTIO_STATUS_FEATURES_OK)
		return apply_features(net, net->vp->driver_features, e);
	return 0;
}

static const struct virtio_device_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.class_code = 0x020000, /* network controller, Ethernet */
	.num_queues = 2,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = NET_CONFIG_SIZE,
	.features = net_features,
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.activate = net_activate,
	.reset = net_reset,
	.save = net_save,
	.restore = net_restore,
};

/* ---- Device thread ---- */

static void on_stop(struct ev_op *op, int res)
{
	struct virtio_net *net = container_of(op, struct virtio_net, stop_op);
	(void)res;
	event_loop_stop(&net->loop);
}

static void on_link_change(struct ev_op *op, int res)
{
	struct virtio_net *net = container_of(op, struct virtio_net, link_op);
	if (res == -ECANCELED)
		return;
	virtio_pci_config_changed(net->vp);
	event_loop_read(&net->loop, &net->link_op, net->link_fd, &net->link_count,
			sizeof(net->link_count));
}

static void *net_thread(void *arg)
{
	struct virtio_net *net = arg;
	pthread_setname_np(pthread_self(), "virtio-net");
	struct error e = { { 0 } };
	if (event_loop_poll(&net->loop, &net->stop_op, net->stop_fd, POLLIN) < 0 ||
	    event_loop_read(&net->loop, &net->link_op, net->link_fd, &net->link_count,
			    sizeof(net->link_count)) < 0)
		error_set(&e, "cannot queue the control reads");
	else if (virtio_pci_start(net->vp, &net->loop, &e) == 0)
		event_loop_run(&net->loop, &e);
	if (e.msg[0])
		fprintf(stderr, "ember: virtio-net %s: %s\n", net->opts.id, e.msg);
	return NULL;
}

static void init_timer(struct virtio_net *net, struct net_timer *t, uint16_t queue)
{
	t->op.done = on_limiter_timer;
	t->queue = queue;
	t->net = net;
}

static int init_state(struct virtio_net *net, const struct net_options *opts, struct error *e)
{
	net->opts = *opts;
	if (!opts->mac_set) {
		/* A random locally administered unicast address, stable for this VM's life. */
		if (getrandom(net->opts.mac, 6, 0) != 6)
			return error_errno(e, "virtio-net %s: getrandom", opts->id);
		net->opts.mac[0] = (uint8_t)((net->opts.mac[0] & 0xfe) | 0x02);
	}
	if (rate_limiter_config_check(&opts->rx, e) < 0 || rate_limiter_config_check(&opts->tx, e) < 0)
		return error_prefix(e, "virtio-net %s: rate limiter", opts->id);
	uint64_t now = rate_limiter_now_ns();
	rate_limiter_init(&net->rx_limiter, &opts->rx, now);
	rate_limiter_init(&net->tx_limiter, &opts->tx, now);
	init_timer(net, &net->rx_timer, VIRTIO_NET_RX_QUEUE);
	init_timer(net, &net->tx_timer, VIRTIO_NET_TX_QUEUE);
	net->rx_poll_op.done = net_rx_poll_done;
	net->stop_op.done = on_stop;
	net->link_op.done = on_link_change;
	net->status = VIRTIO_NET_S_LINK_UP;
	return 0;
}

struct virtio_net *virtio_net_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     const struct net_options *opts, struct error *e)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	if (!net) {
		error_set(e, "virtio-net: out of memory");
		return NULL;
	}
	net->mem = mem;
	net->tap.fd = net->stop_fd = net->link_fd = -1;
	pthread_mutex_init(&net->limiter_lock, NULL);
	if (init_state(net, opts, e) < 0 || tap_open(&net->tap, opts->tap, e) < 0) {
		virtio_net_destroy(net);
		return NULL;
	}
	net->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	net->link_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (net->stop_fd < 0 || net->link_fd < 0) {
		error_errno(e, "virtio-net %s: eventfd", opts->id);
		virtio_net_destroy(net);
		return NULL;
	}
	if (event_loop_init(&net->loop, NET_RING_ENTRIES, e) < 0 ||
	    !(net->vp = virtio_pci_create(bus, vm_fd, mem, &net_ops, net, e))) {
		error_prefix(e, "virtio-net %s", opts->id);
		virtio_net_destroy(net);
		return NULL;
	}
	int rc = pthread_create(&net->thread, NULL, net_thread, net);
	if (rc != 0) {
		errno = rc;
		error_errno(e, "virtio-net %s: cannot start its thread", opts->id);
		virtio_net_destroy(net);
		return NULL;
	}
	net->started = true;
	return net;
}

void virtio_net_destroy(struct virtio_net *net)
{
	if (!net)
		return;
	if (net->started) {
		uint64_t one = 1;
		if (write(net->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd */
		}
		pthread_join(net->thread, NULL);
	}
	/* The ring first: its pending reads point into the transport's queues and into net. */
	event_loop_destroy(&net->loop);
	virtio_pci_destroy(net->vp);
	tap_close(&net->tap);
	if (net->stop_fd >= 0)
		close(net->stop_fd);
	if (net->link_fd >= 0)
		close(net->link_fd);
	pthread_mutex_destroy(&net->limiter_lock);
	free(net);
}

/* ---- Runtime interface ---- */

int virtio_net_update_rate_limiters(struct virtio_net *net, const struct rate_limiter_update *rx,
				    const struct rate_limiter_update *tx, struct error *e)
{
	uint64_t now = rate_limiter_now_ns();
	pthread_mutex_lock(&net->limiter_lock);
	/* All or nothing: apply to copies, then commit both. */
	struct rate_limiter new_rx = net->rx_limiter, new_tx = net->tx_limiter;
	int rc = 0;
	if (rx && rate_limiter_update(&new_rx, rx, now, e) < 0)
		rc = error_prefix(e, "rx rate limiter");
	else if (tx && rate_limiter_update(&new_tx, tx, now, e) < 0)
		rc = error_prefix(e, "tx rate limiter");
	if (rc == 0) {
		net->rx_limiter = new_rx;
		net->tx_limiter = new_tx;
	}
	pthread_mutex_unlock(&net->limiter_lock);
	if (rc < 0)
		return error_prefix(e, "virtio-net %s", net->opts.id);
	/* Let the device look again: frames may fit now. */
	net_requeue(net, VIRTIO_NET_RX_QUEUE);
	net_requeue(net, VIRTIO_NET_TX_QUEUE);
	return 0;
}

void virtio_net_get_rate_limiters(struct virtio_net *net, struct rate_limiter_config *rx,
				  struct rate_limiter_config *tx)
{
	pthread_mutex_lock(&net->limiter_lock);
	if (rx)
		rate_limiter_get_config(&net->rx_limiter, rx);
	if (tx)
		rate_limiter_get_config(&net->tx_limiter, tx);
	pthread_mutex_unlock(&net->limiter_lock);
}

void virtio_net_get_counters(struct virtio_net *net, struct virtio_net_counters *out)
{
#define NET_COPY_COUNTER(name) out->name = atomic_load_explicit(&net->stats.name, memory_order_relaxed);
	VIRTIO_NET_COUNTERS(NET_COPY_COUNTER)
#undef NET_COPY_COUNTER
}

const struct net_options *virtio_net_options(const struct virtio_net *net)
{
	return &net->opts;
}

struct virtio_pci *virtio_net_transport(struct virtio_net *net)
{
	return net->vp;
}
