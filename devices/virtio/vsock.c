/* virtio-vsock: life cycle, device configuration, features, reset, snapshots, the device thread
 * and its timers. Packets to the guest are in vsock_rx.c, from it in vsock_tx.c; connections in
 * vsock_conn.c; the Unix sockets in vsock_host.c. */
#include "vsock_internal.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define VSOCK_RING_ENTRIES   256
#define VSOCK_CONFIG_SIZE    8      /* le64 guest_cid */
#define VSOCK_TIMER_MS       1000   /* how often connect deadlines are looked at */
#define VIRTIO_VSOCK_F_STREAM 0     /* 5.10.3: stream sockets (implied when not negotiated) */

/* ---- Helpers for the rest of the device ---- */

uint64_t vsock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vsock_requeue(struct virtio_vsock *vs, uint16_t q)
{
	uint64_t one = 1;
	if (write(vs->vp->queues[q].kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the queue will be served anyway */
	}
}

void vsock_report_malformed(struct virtio_vsock *vs, const char *what)
{
	vsock_count(&vs->stats.malformed, 1);
	if (vs->warned_malformed)
		return;
	vs->warned_malformed = true;
	fprintf(stderr, "ember: virtio-vsock %s: dropped a packet from the guest: %s (further drops "
			"are only counted)\n", vs->opts.id, what);
}

void vsock_unlock_and_flush(struct virtio_vsock *vs)
{
	bool rx = vs->rx_wanted;
	vs->rx_wanted = false;
	pthread_mutex_unlock(&vs->vp->lock);
	if (rx)
		virtio_pci_process_queue(vs->vp, VIRTIO_VSOCK_RX_QUEUE);
}

static void on_timer(struct ev_op *op, int res)
{
	struct virtio_vsock *vs = container_of(op, struct virtio_vsock, timer_op);
	vs->timer_armed = false;
	if (res == -ECANCELED)
		return;
	pthread_mutex_lock(&vs->vp->lock);
	vsock_conn_check_deadlines(vs);
	for (unsigned i = 0; i < vs->nconns; i++)
		if (vs->conns[i]->i.state == VSOCK_CONN_CONNECTING) {
			vsock_arm_timer(vs); /* someone is still waiting */
			break;
		}
	vsock_unlock_and_flush(vs);
}

void vsock_arm_timer(struct virtio_vsock *vs)
{
	if (vs->timer_armed)
		return;
	vs->timer_op.done = on_timer;
	vs->timer_armed = event_loop_timeout(&vs->loop, &vs->timer_op, &vs->timer_ts,
					     VSOCK_TIMER_MS) == 0;
}

/* ---- Device model ---- */

static uint64_t vsock_features(void *opaque)
{
	(void)opaque;
	return VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM);
}

static void vsock_config_read(void *opaque, uint32_t offset, uint8_t *data, uint32_t size)
{
	struct virtio_vsock *vs = opaque;
	uint64_t cid = htole64(vs->opts.guest_cid);
	memcpy(data, (uint8_t *)&cid + offset, size); /* the transport checked offset + size */
}

static int vsock_activate(void *opaque, uint64_t features, struct error *e)
{
	struct virtio_vsock *vs = opaque;
	(void)features;
	(void)e;
	vs->activated = true;
	return 0;
}

/* Device reset: every connection is gone for the driver, so they go on the host side too (their
 * Unix sockets are shut). If a driver had been using the device, the next one is told with a
 * TRANSPORT_RESET event, as after a restore. */
static void vsock_reset(void *opaque)
{
	struct virtio_vsock *vs = opaque;
	vsock_conn_kill_all(vs);
	vsock_rx_drop_held(vs, NULL, false); /* the queues are reset: nothing to give back */
	vs->rst_first = vs->rst_count = 0;
	if (vs->activated)
		vs->event_owed = true;
	vs->activated = false;
}

static int vsock_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index,
			      struct error *e)
{
	struct virtio_vsock *vs = opaque;
	switch (index) {
	case VIRTIO_VSOCK_RX_QUEUE:
		return vsock_rx_process(vs, vq, e);
	case VIRTIO_VSOCK_TX_QUEUE:
		return vsock_tx_process(vs, vq, e);
	default:
		return vsock_event_process(vs, vq, e);
	}
}

/* Snapshot record. Connections are not in it: their Unix sockets belong to this process. A
 * restored device has none, and tells the driver with a TRANSPORT_RESET event, after which
 * the guest's sockets see ECONNRESET. */
struct vsock_state {
	uint64_t guest_cid;
	uint32_t rx_held;         /* 0 or 1: an rx buffer popped and not used (given back) */
	uint32_t reserved;
};

static int vsock_save(void *opaque, void *buf, size_t cap, size_t *len, struct error *e)
{
	struct virtio_vsock *vs = opaque;
	if (cap < sizeof(struct vsock_state))
		return error_set(e, "snapshot needs %zu more bytes", sizeof(struct vsock_state));
	struct vsock_state s = { .guest_cid = vs->opts.guest_cid, .rx_held = vs->rx_held };
	memcpy(buf, &s, sizeof(s));
	*len = sizeof(s);
	return 0;
}

static int vsock_restore(void *opaque, const void *buf, size_t len, struct error *e)
{
	struct virtio_vsock *vs = opaque;
	struct vsock_state s;
	if (len != sizeof(s))
		return error_set(e, "device record is %zu bytes, %zu expected", len, sizeof(s));
	memcpy(&s, buf, sizeof(s));
	if (s.guest_cid != vs->opts.guest_cid)
		return error_set(e, "snapshot guest CID %llu, this device's is %u",
				 (unsigned long long)s.guest_cid, vs->opts.guest_cid);
	struct virtqueue *rx = &vs->vp->queues[VIRTIO_VSOCK_RX_QUEUE].vq;
	if (s.rx_held > 1 || s.rx_held > rx->inflight)
		return error_set(e, "%u rx buffers held, but %u in flight", s.rx_held, rx->inflight);
	vs->rx_held = s.rx_held;
	vsock_rx_drop_held(vs, rx, true);
	vs->activated = vs->vp->status & VIRTIO_STATUS_DRIVER_OK;
	vs->event_owed = true; /* the transport kicks every queue of a live device next */
	return 0;
}

static const struct virtio_device_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.class_code = VIRTIO_PCI_CLASS_OTHER,
	.num_queues = 3,
	.queue_max_size = VIRTIO_VSOCK_QUEUE_SIZE,
	.config_size = VSOCK_CONFIG_SIZE,
	.features = vsock_features,
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.save = vsock_save,
	.restore = vsock_restore,
};

/* ---- Device thread ---- */

static void on_stop(struct ev_op *op, int res)
{
	struct virtio_vsock *vs = container_of(op, struct virtio_vsock, stop_op);
	(void)res;
	event_loop_stop(&vs->loop);
}

static void *vsock_thread(void *arg)
{
	struct virtio_vsock *vs = arg;
	pthread_setname_np(pthread_self(), "virtio-vsock");
	struct error e = { { 0 } };
	vs->stop_op.done = on_stop;
	if (event_loop_poll(&vs->loop, &vs->stop_op, vs->stop_fd, POLLIN) < 0)
		error_set(&e, "cannot queue the stop poll");
	else if (virtio_pci_start(vs->vp, &vs->loop, &e) == 0) {
		vsock_host_arm_accept(vs);
		event_loop_run(&vs->loop, &e);
	}
	if (e.msg[0])
		fprintf(stderr, "ember: virtio-vsock %s: %s\n", vs->opts.id, e.msg);
	return NULL;
}

struct virtio_vsock *virtio_vsock_create(struct pci_bus *bus, int vm_fd,
					 const struct guest_mem *mem,
					 const struct vsock_options *opts, struct error *e)
{
	if (vsock_options_check(opts, e) < 0) {
		error_prefix(e, "virtio-vsock");
		return NULL;
	}
	struct virtio_vsock *vs = calloc(1, sizeof(*vs));
	if (!vs) {
		error_set(e, "virtio-vsock: out of memory");
		return NULL;
	}
	vs->mem = mem;
	vs->opts = *opts;
	vs->stop_fd = vs->listen_fd = -1;
	vs->next_local_port = VSOCK_LOCAL_PORT_FIRST;
	TAILQ_INIT(&vs->ready);
	TAILQ_INIT(&vs->zombies);
	vs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs->stop_fd < 0) {
		error_errno(e, "virtio-vsock %s: eventfd", opts->id);
		virtio_vsock_destroy(vs);
		return NULL;
	}
	if (vsock_host_listen(vs, e) < 0 ||
	    event_loop_init(&vs->loop, VSOCK_RING_ENTRIES, e) < 0 ||
	    !(vs->vp = virtio_pci_create(bus, vm_fd, mem, &vsock_ops, vs, e))) {
		error_prefix(e, "virtio-vsock %s", opts->id);
		virtio_vsock_destroy(vs);
		return NULL;
	}
	int rc = pthread_create(&vs->thread, NULL, vsock_thread, vs);
	if (rc != 0) {
		errno = rc;
		error_errno(e, "virtio-vsock %s: cannot start its thread", opts->id);
		virtio_vsock_destroy(vs);
		return NULL;
	}
	vs->started = true;
	return vs;
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	if (vs->started) {
		uint64_t one = 1;
		if (write(vs->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd */
		}
		pthread_join(vs->thread, NULL);
	}
	/* The ring first: its pending polls and reads point into connections and queues. */
	event_loop_destroy(&vs->loop);
	vsock_conn_free_all(vs);
	vsock_host_unlisten(vs);
	virtio_pci_destroy(vs->vp);
	if (vs->stop_fd >= 0)
		close(vs->stop_fd);
	free(vs);
}

/* ---- Runtime interface ---- */

void virtio_vsock_get_counters(struct virtio_vsock *vs, struct virtio_vsock_counters *out)
{
#define VSOCK_COPY_COUNTER(name) out->name = atomic_load(&vs->stats.name);
	VIRTIO_VSOCK_COUNTERS(VSOCK_COPY_COUNTER)
#undef VSOCK_COPY_COUNTER
	pthread_mutex_lock(&vs->vp->lock);
	out->active_connections = vs->nconns;
	pthread_mutex_unlock(&vs->vp->lock);
}

const struct vsock_options *virtio_vsock_options(const struct virtio_vsock *vs)
{
	return &vs->opts;
}

struct virtio_pci *virtio_vsock_transport(struct virtio_vsock *vs)
{
	return vs->vp;
}
