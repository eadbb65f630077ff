/* virtio-balloon (virtio v1.2, 5.5): the device, its queues, its thread and the API's calls.
 *
 * Queues, numbered densely over what the driver negotiated (what Linux's virtio-pci does: an
 * absent queue takes no index): 0 inflateq, 1 deflateq, then statsq with STATS_VQ, then
 * reporting_vq with REPORTING. Configuration: le32 num_pages (the host's target, read-only)
 * and le32 actual (what the driver says it holds; it writes it).
 *
 *   inflateq / deflateq  buffers of le32 4 KiB page numbers (balloon_pfn.c checks them, then
 *                        balloon_release.c gives inflated memory back to the host)
 *   statsq               the driver keeps one buffer of statistics here; the device holds it
 *                        and returns it every stats_interval_s (an io_uring timeout on this
 *                        thread), which asks the driver for fresh values in a new buffer
 *   reporting_vq         each descriptor describes free guest memory (its address and length
 *                        are the report; the device never reads the bytes): released, returned
 *
 * Threads: one, "virtio-balloon", with its own io_uring loop (kicks, the stats timer, interval
 * changes, stop). queue_notify, activate, reset, config access, save and restore run under the
 * transport lock; the API's calls (other threads) use atomics, stats_lock, and the transport's
 * config_changed. */
#include "balloon_internal.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../vmm/event_loop.h"
#include "virtio_pci.h"

#define BALLOON_QUEUE_SIZE    128
#define BALLOON_MAX_QUEUES    4
#define BALLOON_CONFIG_SIZE   8     /* num_pages, actual (no hinting, no poisoning) */
#define BALLOON_RING_ENTRIES  16
/* Buffers per chain: Linux sends one for page numbers and up to 32 per free page report; a
 * longer chain is a broken queue. */
#define BALLOON_CHAIN_IOV     128
/* Page numbers copied out of guest memory at a time, and at most per chain: one chain's work
 * stays bounded whatever length the guest claims (Linux sends 256). The rest are ignored. */
#define BALLOON_PFN_BATCH     512
#define BALLOON_MAX_CHAIN_PFNS 16384
/* Statistics read per buffer: 64 entries (Linux sends at most 16 tags). */
#define BALLOON_STATS_MAX_BYTES (64 * BALLOON_STAT_ENTRY_SIZE)

enum balloon_role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORTING };

struct balloon_count {
#define BALLOON_COUNTERS(X)                                                                        \
	X(inflate_pages) X(deflate_pages) X(pfns_ignored) X(pfns_duplicate)                        \
	X(inflated_bytes_released) X(reports) X(reported_bytes) X(reported_bytes_released)          \
	X(stats_updates) X(stats_unknown_tags) X(release_errors)                                   \
	X(inflate_buffers) X(deflate_buffers) X(reported_blocks)
#define BALLOON_FIELD(name) _Atomic uint64_t name;
	BALLOON_COUNTERS(BALLOON_FIELD)
#undef BALLOON_FIELD
};

struct virtio_balloon {
	struct virtio_pci *vp;
	struct virtio_device_ops ops;  /* per device: the queue count follows the options */
	const struct guest_mem *mem;
	struct balloon_options opts;
	uint64_t ram_mib;

	struct event_loop loop;
	pthread_t thread;
	bool started;
	int stop_fd;
	struct ev_op stop_op;
	int wake_fd;                   /* eventfd: the statistics interval changed */
	struct ev_op wake_op;
	uint64_t wake_count;
	struct ev_op timer_op;         /* the statistics timer (device thread only) */
	struct __kernel_timespec timer_ts, update_ts;
	bool timer_armed;

	/* Configuration (any thread). */
	_Atomic uint32_t num_pages, actual;
	_Atomic uint32_t stats_interval_s;

	/* Negotiated and queue state (transport lock). */
	enum balloon_role roles[BALLOON_MAX_QUEUES];
	_Atomic int stats_queue;       /* -1: no statsq */
	bool stats_held;               /* the driver's statistics buffer is with the device */
	uint16_t stats_head;
	atomic_bool stats_due;         /* the timer fired: give the buffer back */
	struct balloon_release release;

	pthread_mutex_t stats_lock;    /* guards stats (the API reads it) */
	struct balloon_stats stats;

	struct balloon_count count;

	/* Scratch for queue_notify (transport lock). */
	struct iovec iov[BALLOON_CHAIN_IOV];
	uint32_t pfns[BALLOON_PFN_BATCH];
	struct balloon_run runs[BALLOON_PFN_BATCH];
	uint8_t stats_buf[BALLOON_STATS_MAX_BYTES];
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static bool has(uint64_t features, unsigned bit)
{
	return features & VIRTIO_BIT(bit);
}

/* ---- Inflate and deflate ---- */

/* One chain of page numbers, in batches: copy, check and coalesce, then release (inflate) or
 * update the accounting (deflate). */
static void serve_pfn_chain(struct virtio_balloon *b, const struct virtq_chain *c, bool inflate)
{
	uint64_t total = c->out_bytes / sizeof(uint32_t), done = 0;
	if (total > BALLOON_MAX_CHAIN_PFNS) {
		count(&b->count.pfns_ignored, total - BALLOON_MAX_CHAIN_PFNS);
		total = BALLOON_MAX_CHAIN_PFNS;
	}
	while (done < total) {
		size_t want = BALLOON_PFN_BATCH;
		if (total - done < want)
			want = (size_t)(total - done);
		size_t n = virtq_chain_copy_from(c, done * sizeof(uint32_t), b->pfns,
						 want * sizeof(uint32_t)) / sizeof(uint32_t);
		if (n == 0)
			break;
		done += n;
		for (size_t i = 0; i < n; i++)
			b->pfns[i] = le32toh(b->pfns[i]);
		struct balloon_pfn_counts pc = { 0 };
		size_t nruns = balloon_pfns_to_runs(b->mem, b->pfns, n, b->runs, &pc);
		uint64_t released = 0, errors = b->release.errors;
		for (size_t i = 0; i < nruns; i++) {
			if (inflate)
				released += balloon_release_inflate(&b->release, &b->runs[i]);
			else
				balloon_release_deflate(&b->release, &b->runs[i]);
		}
		count(inflate ? &b->count.inflate_pages : &b->count.deflate_pages, pc.pages);
		count(&b->count.pfns_ignored, pc.ignored);
		count(&b->count.pfns_duplicate, pc.duplicates);
		count(&b->count.inflated_bytes_released, released);
		count(&b->count.release_errors, b->release.errors - errors);
	}
}

static int serve_pages(struct virtio_balloon *b, struct virtqueue *vq, bool inflate,
		       struct error *e)
{
	struct virtq_chain c;
	for (;;) {
		virtq_chain_init(&c, b->iov, BALLOON_CHAIN_IOV);
		int r = virtqueue_pop(vq, b->mem, &c, e);
		if (r <= 0)
			return r;
		serve_pfn_chain(b, &c, inflate);
		count(inflate ? &b->count.inflate_buffers : &b->count.deflate_buffers, 1);
		if (virtqueue_push(vq, b->mem, c.head, 0, e) < 0)
			return -1;
	}
}

/* ---- Free page reporting ---- */

static int serve_reports(struct virtio_balloon *b, struct virtqueue *vq, struct error *e)
{
	struct virtq_chain c;
	for (;;) {
		virtq_chain_init(&c, b->iov, BALLOON_CHAIN_IOV);
		int r = virtqueue_pop(vq, b->mem, &c, e);
		if (r <= 0)
			return r;
		/* Linux posts the blocks device-writable; either direction describes memory. Every
		 * iovec is wholly inside guest RAM (the virtqueue core checked it). */
		uint64_t described = 0, released = 0, errors = b->release.errors;
		for (uint32_t i = 0; i < c.nout + c.nin; i++) {
			described += c.iov[i].iov_len;
			released += balloon_release_range(&b->release, c.iov[i].iov_base,
							   c.iov[i].iov_len);
		}
		count(&b->count.reports, 1);
		count(&b->count.reported_blocks, c.nout + c.nin);
		count(&b->count.reported_bytes, described);
		count(&b->count.reported_bytes_released, released);
		count(&b->count.release_errors, b->release.errors - errors);
		if (virtqueue_push(vq, b->mem, c.head, 0, e) < 0)
			return -1;
	}
}

/* ---- Statistics ---- */

static unsigned timer_ms(uint32_t seconds)
{
	return seconds > UINT32_MAX / 1000 ? UINT32_MAX : seconds * 1000;
}

/* Device thread: the next statistics request in stats_interval_s. */
static void arm_stats_timer(struct virtio_balloon *b)
{
	if (b->timer_armed)
		return;
	unsigned ms = timer_ms(atomic_load(&b->stats_interval_s));
	b->timer_armed = event_loop_timeout(&b->loop, &b->timer_op, &b->timer_ts, ms) == 0;
}

static void take_stats(struct virtio_balloon *b, const struct virtq_chain *c)
{
	size_t len = virtq_chain_copy_from(c, 0, b->stats_buf, sizeof(b->stats_buf));
	struct balloon_stats parsed;
	unsigned unknown;
	balloon_stats_parse(b->stats_buf, len, &parsed, &unknown);
	pthread_mutex_lock(&b->stats_lock);
	b->stats = parsed;
	pthread_mutex_unlock(&b->stats_lock);
	count(&b->count.stats_updates, 1);
	count(&b->count.stats_unknown_tags, unknown);
}

static int serve_stats(struct virtio_balloon *b, struct virtqueue *vq, struct error *e)
{
	/* 5.5.6.3: returning the held buffer is the request for new statistics. */
	if (atomic_exchange(&b->stats_due, false) && b->stats_held) {
		b->stats_held = false;
		if (virtqueue_push(vq, b->mem, b->stats_head, 0, e) < 0)
			return -1;
	}
	struct virtq_chain c;
	for (;;) {
		virtq_chain_init(&c, b->iov, BALLOON_CHAIN_IOV);
		int r = virtqueue_pop(vq, b->mem, &c, e);
		if (r <= 0)
			return r;
		take_stats(b, &c);
		/* A driver keeps one buffer; a second one replaces the first, which goes back. */
		if (b->stats_held && virtqueue_push(vq, b->mem, b->stats_head, 0, e) < 0)
			return -1;
		b->stats_held = true;
		b->stats_head = c.head;
		arm_stats_timer(b);
	}
}

static void on_stats_timer(struct ev_op *op, int res)
{
	struct virtio_balloon *b = container_of(op, struct virtio_balloon, timer_op);
	b->timer_armed = false;
	if (res == -ECANCELED)
		return;
	int q = atomic_load(&b->stats_queue);
	atomic_store(&b->stats_due, true);
	if (q >= 0)
		virtio_pci_process_queue(b->vp, (uint16_t)q);
}

/* The API changed the interval: a timer already running restarts with the new one. The
 * event loop has no timeout update, so this one SQE goes to the loop's ring directly (we are
 * on its thread); the update's own completion carries no callback. */
static void on_wake(struct ev_op *op, int res)
{
	struct virtio_balloon *b = container_of(op, struct virtio_balloon, wake_op);
	if (res == -ECANCELED)
		return;
	if (b->timer_armed) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&b->loop.ring);
		if (sqe) {
			unsigned ms = timer_ms(atomic_load(&b->stats_interval_s));
			b->update_ts.tv_sec = ms / 1000;
			b->update_ts.tv_nsec = (long long)(ms % 1000) * 1000000;
			io_uring_prep_timeout_update(sqe, &b->update_ts,
						     (uint64_t)(uintptr_t)&b->timer_op, 0);
			io_uring_sqe_set_data(sqe, NULL);
		}
	}
	event_loop_read(&b->loop, &b->wake_op, b->wake_fd, &b->wake_count, sizeof(b->wake_count));
}

/* ---- Device model ---- */

static uint64_t balloon_features(void *opaque)
{
	struct virtio_balloon *b = opaque;
	uint64_t f = 0;
	if (b->opts.stats_interval_s)
		f |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	if (b->opts.deflate_on_oom)
		f |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (b->opts.free_page_reporting)
		f |= VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING);
	return f;
}

static void config_bytes(struct virtio_balloon *b, uint8_t cfg[BALLOON_CONFIG_SIZE])
{
	uint32_t target = htole32(atomic_load(&b->num_pages));
	uint32_t actual = htole32(atomic_load(&b->actual));
	memcpy(cfg, &target, 4);
	memcpy(cfg + 4, &actual, 4);
}

static void balloon_config_read(void *opaque, uint32_t offset, uint8_t *data, uint32_t size)
{
	uint8_t cfg[BALLOON_CONFIG_SIZE];
	config_bytes(opaque, cfg);
	memcpy(data, cfg + offset, size);
}

/* Only `actual` (bytes 4-7) is the driver's; writes to num_pages are dropped. */
static void balloon_config_write(void *opaque, uint32_t offset, const uint8_t *data, uint32_t size)
{
	struct virtio_balloon *b = opaque;
	uint8_t cfg[BALLOON_CONFIG_SIZE];
	config_bytes(b, cfg);
	for (uint32_t i = 0; i < size; i++)
		if (offset + i >= 4)
			cfg[offset + i] = data[i];
	uint32_t actual;
	memcpy(&actual, cfg + 4, 4);
	atomic_store(&b->actual, le32toh(actual));
}

/* Queue roles for these features: dense numbering over the queues that exist. */
static void assign_roles(struct virtio_balloon *b, uint64_t features)
{
	uint16_t q = 0;
	int stats = -1;
	for (unsigned i = 0; i < BALLOON_MAX_QUEUES; i++)
		b->roles[i] = ROLE_NONE;
	b->roles[q++] = ROLE_INFLATE;
	b->roles[q++] = ROLE_DEFLATE;
	if (has(features, VIRTIO_BALLOON_F_STATS_VQ) && q < b->ops.num_queues) {
		stats = q;
		b->roles[q++] = ROLE_STATS;
	}
	if (has(features, VIRTIO_BALLOON_F_REPORTING) && q < b->ops.num_queues)
		b->roles[q++] = ROLE_REPORTING;
	atomic_store(&b->stats_queue, stats);
}

static int balloon_activate(void *opaque, uint64_t features, struct error *e)
{
	(void)e;
	assign_roles(opaque, features);
	return 0;
}

static void balloon_reset(void *opaque)
{
	struct virtio_balloon *b = opaque;
	assign_roles(b, 0);
	atomic_store(&b->stats_queue, -1);
	b->stats_held = false;
	atomic_store(&b->stats_due, false);
	atomic_store(&b->actual, 0);
	balloon_release_forget(&b->release);
}

static int balloon_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index,
				struct error *e)
{
	struct virtio_balloon *b = opaque;
	switch (index < BALLOON_MAX_QUEUES ? b->roles[index] : ROLE_NONE) {
	case ROLE_INFLATE:
		return serve_pages(b, vq, true, e);
	case ROLE_DEFLATE:
		return serve_pages(b, vq, false, e);
	case ROLE_STATS:
		return serve_stats(b, vq, e);
	case ROLE_REPORTING:
		return serve_reports(b, vq, e);
	default:
		return 0; /* a queue the negotiated features do not define: never served */
	}
}

/* Snapshot record. The driver's statistics buffer, if held, goes back to the ring on restore
 * (the restored device pops it again). Inflated pages need no record: they were released on
 * the source, and the guest's balloon still owns them. */
struct balloon_state {
	uint32_t num_pages, actual;
	uint32_t stats_interval_s;
	uint8_t stats_held;
	uint8_t reserved[3];
};

static int balloon_save(void *opaque, void *buf, size_t cap, size_t *len, struct error *e)
{
	struct virtio_balloon *b = opaque;
	if (cap < sizeof(struct balloon_state))
		return error_set(e, "snapshot needs %zu more bytes", sizeof(struct balloon_state));
	struct balloon_state s = {
		.num_pages = atomic_load(&b->num_pages),
		.actual = atomic_load(&b->actual),
		.stats_interval_s = atomic_load(&b->stats_interval_s),
		.stats_held = b->stats_held,
	};
	memcpy(buf, &s, sizeof(s));
	*len = sizeof(s);
	return 0;
}

static int balloon_restore(void *opaque, const void *buf, size_t len, struct error *e)
{
	struct virtio_balloon *b = opaque;
	struct balloon_state s;
	if (len != sizeof(s))
		return error_set(e, "device record is %zu bytes, %zu expected", len, sizeof(s));
	memcpy(&s, buf, sizeof(s));
	if (s.reserved[0] | s.reserved[1] | s.reserved[2])
		return error_set(e, "reserved bytes are not zero");
	if ((uint64_t)s.num_pages > b->ram_mib * BALLOON_PAGES_PER_MIB)
		return error_set(e, "target of %u pages is more than guest RAM", s.num_pages);
	if (!s.stats_interval_s != !b->opts.stats_interval_s)
		return error_set(e, "statistics are %s in the snapshot but %s on this device",
				 s.stats_interval_s ? "on" : "off",
				 b->opts.stats_interval_s ? "on" : "off");
	assign_roles(b, b->vp->status & VIRTIO_STATUS_FEATURES_OK ? b->vp->driver_features : 0);
	int q = atomic_load(&b->stats_queue);
	struct virtqueue *vq = q >= 0 ? &b->vp->queues[q].vq : NULL;
	if (s.stats_held > 1 || (s.stats_held && (!vq || vq->inflight != 1)))
		return error_set(e, "statistics buffer held without a statistics queue holding it");
	if (s.stats_held) {
		/* It was popped last and never pushed: step back, as net does with its buffers. */
		vq->last_avail_idx--;
		vq->inflight--;
		vq->stats.popped--;
	}
	b->stats_held = false;
	atomic_store(&b->num_pages, s.num_pages);
	atomic_store(&b->actual, s.actual);
	atomic_store(&b->stats_interval_s, s.stats_interval_s);
	return 0;
}

static const struct virtio_device_ops balloon_ops_template = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.class_code = VIRTIO_PCI_CLASS_OTHER,
	.num_queues = 2,
	.queue_max_size = BALLOON_QUEUE_SIZE,
	.config_size = BALLOON_CONFIG_SIZE,
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.queue_notify = balloon_queue_notify,
	.activate = balloon_activate,
	.reset = balloon_reset,
	.save = balloon_save,
	.restore = balloon_restore,
};

/* ---- Thread and life cycle ---- */

static void on_stop(struct ev_op *op, int res)
{
	struct virtio_balloon *b = container_of(op, struct virtio_balloon, stop_op);
	(void)res;
	event_loop_stop(&b->loop);
}

static void *balloon_thread(void *arg)
{
	struct virtio_balloon *b = arg;
	pthread_setname_np(pthread_self(), "virtio-balloon");
	struct error e = { { 0 } };
	if (event_loop_poll(&b->loop, &b->stop_op, b->stop_fd, POLLIN) < 0 ||
	    event_loop_read(&b->loop, &b->wake_op, b->wake_fd, &b->wake_count,
			    sizeof(b->wake_count)) < 0)
		error_set(&e, "cannot queue the control reads");
	else if (virtio_pci_start(b->vp, &b->loop, &e) == 0)
		event_loop_run(&b->loop, &e);
	if (e.msg[0])
		fprintf(stderr, "ember: virtio-balloon: %s\n", e.msg);
	return NULL;
}

static int check_target(const struct virtio_balloon *b, uint32_t mib, struct error *e)
{
	if (mib > b->ram_mib)
		return error_set(e, "virtio-balloon: a target of %u MiB is more than the guest's "
				    "%llu MiB of RAM", mib, (unsigned long long)b->ram_mib);
	if (mib > UINT32_MAX / BALLOON_PAGES_PER_MIB) /* num_pages is 32 bits: 16 TiB */
		return error_set(e, "virtio-balloon: a target of %u MiB does not fit the device's "
				    "32-bit page count", mib);
	return 0;
}

static int init_device(struct virtio_balloon *b, const struct guest_mem *mem,
		       const struct balloon_options *o, struct error *e)
{
	b->mem = mem;
	b->opts = *o;
	b->ram_mib = mem->size >> 20;
	b->stop_fd = b->wake_fd = -1;
	atomic_store(&b->stats_queue, -1);
	atomic_store(&b->stats_interval_s, o->stats_interval_s);
	b->timer_op.done = on_stats_timer;
	b->wake_op.done = on_wake;
	b->stop_op.done = on_stop;
	pthread_mutex_init(&b->stats_lock, NULL);
	b->ops = balloon_ops_template;
	b->ops.num_queues = (uint16_t)(2 + (o->stats_interval_s > 0) + o->free_page_reporting);
	if (check_target(b, o->target_mib, e) < 0)
		return -1;
	atomic_store(&b->num_pages, o->target_mib * BALLOON_PAGES_PER_MIB);
	if (balloon_release_init(&b->release, mem, e) < 0)
		return -1;
	b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->stop_fd < 0 || b->wake_fd < 0)
		return error_errno(e, "virtio-balloon: eventfd");
	return 0;
}

struct virtio_balloon *virtio_balloon_create(struct pci_bus *bus, int vm_fd,
					     const struct guest_mem *mem,
					     const struct balloon_options *o, struct error *e)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	if (!b) {
		error_set(e, "virtio-balloon: out of memory");
		return NULL;
	}
	if (init_device(b, mem, o, e) < 0 ||
	    event_loop_init(&b->loop, BALLOON_RING_ENTRIES, e) < 0 ||
	    !(b->vp = virtio_pci_create(bus, vm_fd, mem, &b->ops, b, e))) {
		virtio_balloon_destroy(b);
		return NULL;
	}
	int rc = pthread_create(&b->thread, NULL, balloon_thread, b);
	if (rc != 0) {
		errno = rc;
		error_errno(e, "virtio-balloon: cannot start its thread");
		virtio_balloon_destroy(b);
		return NULL;
	}
	b->started = true;
	return b;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	if (b->started) {
		uint64_t one = 1;
		if (write(b->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd */
		}
		pthread_join(b->thread, NULL);
	}
	/* The ring first: its pending reads point into the transport's queues and into b. */
	event_loop_destroy(&b->loop);
	virtio_pci_destroy(b->vp);
	balloon_release_destroy(&b->release);
	if (b->stop_fd >= 0)
		close(b->stop_fd);
	if (b->wake_fd >= 0)
		close(b->wake_fd);
	pthread_mutex_destroy(&b->stats_lock);
	free(b);
}

/* ---- The API ---- */

int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t target_mib, struct error *e)
{
	if (check_target(b, target_mib, e) < 0)
		return -1;
	atomic_store(&b->num_pages, target_mib * BALLOON_PAGES_PER_MIB);
	virtio_pci_config_changed(b->vp);
	return 0;
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t seconds,
				      struct error *e)
{
	if (!b->opts.stats_interval_s)
		return error_set(e, "virtio-balloon: statistics were not enabled at boot "
				    "(stats=SECONDS); they cannot be turned on later");
	if (seconds == 0)
		return error_set(e, "virtio-balloon: statistics cannot be turned off after boot");
	atomic_store(&b->stats_interval_s, seconds);
	uint64_t one = 1;
	if (write(b->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: a wake-up is pending anyway and will read the new interval */
	}
	return 0;
}

void virtio_balloon_info(struct virtio_balloon *b, struct balloon_info *out)
{
	memset(out, 0, sizeof(*out));
	out->target_pages = atomic_load(&b->num_pages);
	out->actual_pages = atomic_load(&b->actual);
	out->target_mib = (uint32_t)(out->target_pages / BALLOON_PAGES_PER_MIB);
	out->actual_mib = (uint32_t)(out->actual_pages / BALLOON_PAGES_PER_MIB);
	out->deflate_on_oom = b->opts.deflate_on_oom;
	out->free_page_reporting = b->opts.free_page_reporting;
	out->stats_interval_s = atomic_load(&b->stats_interval_s);
	out->inflated_pages_released =
		atomic_load(&b->count.inflated_bytes_released) / BALLOON_PAGE_SIZE;
	out->reported_bytes_released = atomic_load(&b->count.reported_bytes_released);
}

int virtio_balloon_stats(struct virtio_balloon *b, struct balloon_stats *out, struct error *e)
{
	if (!b->opts.stats_interval_s)
		return error_set(e, "virtio-balloon: statistics are off (stats=SECONDS at boot)");
	pthread_mutex_lock(&b->stats_lock);
	*out = b->stats;
	pthread_mutex_unlock(&b->stats_lock);
	return 0;
}

void virtio_balloon_get_counters(struct virtio_balloon *b, struct balloon_counters *out)
{
#define BALLOON_COPY(name) out->name = atomic_load_explicit(&b->count.name, memory_order_relaxed);
	BALLOON_COUNTERS(BALLOON_COPY)
#undef BALLOON_COPY
}

struct virtio_pci *virtio_balloon_transport(struct virtio_balloon *b)
{
	return b->vp;
}
