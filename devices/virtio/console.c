/* virtio-console: the guest's hvc0 on the host's stdin/stdout (virtio v1.2, 5.3), one port,
 * no MULTIPORT. See console.h for the data flow.
 *
 * Threads: virtio_console_receive runs on the caller's thread (the control loop) and only
 * touches the staging buffer (rx_lock). Everything else runs on the device thread: kicks,
 * staging wake-ups and write completions are io_uring completions on its loop, and the queue
 * callbacks run there with the transport lock held. The output buffer is the device thread's
 * alone; only `tx.chain_active` is also cleared by a device reset (vCPU thread, transport lock
 * held, like every reader of it). */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../../vmm/event_loop.h"
#include "virtio_pci.h"

#define CONSOLE_RING_ENTRIES 16
/* How long shutdown waits for buffered output to reach out_fd. */
#define CONSOLE_DRAIN_MS     1000

/* Output state: device thread only (see the file comment for chain_active). */
struct console_tx {
	uint8_t buf[VIRTIO_CONSOLE_TX_BUFFER];
	uint32_t start, end;         /* [start, end) is being written to out_fd */
	bool busy;                   /* a write (or a wait for POLLOUT) is in flight */
	bool dead;                   /* out_fd failed for good: output is discarded */
	bool direct;                 /* out_fd is a file: plain write(2), see write_direct */
	bool chain_active;           /* `chain` was popped and is copied up to `copied` */
	struct virtq_chain chain;
	uint64_t copied;
	struct iovec iov[VIRTIO_CONSOLE_MAX_SEGMENTS];
	struct ev_op write_op, pollout_op;
};

struct virtio_console {
	struct virtio_pci *vp;
	const struct guest_mem *mem;
	struct virtio_console_config cfg;
	bool has_size;               /* VIRTIO_CONSOLE_F_SIZE offered */
	atomic_uint winsize;         /* cols | rows << 16 (device state, snapshots) */

	struct event_loop loop;
	pthread_t thread;
	bool started;
	bool stopping;               /* draining output before the loop stops */
	int stop_fd;
	struct ev_op stop_op, drain_op;
	struct __kernel_timespec drain_ts;

	/* Input staging: a ring of rx_len bytes from rx_head, filled by virtio_console_receive. */
	pthread_mutex_t rx_lock;
	uint8_t rx_buf[VIRTIO_CONSOLE_RX_STAGING];
	uint32_t rx_head, rx_len;
	bool rx_want_room;           /* a caller got a short count and waits for rx_ready */
	int rx_fd;                   /* eventfd: staged input arrived */
	struct ev_op rx_op;
	uint64_t rx_count;
	struct iovec rx_iov[VIRTIO_CONSOLE_MAX_SEGMENTS]; /* device thread */

	struct console_tx tx;
	atomic_uint_fast64_t bytes_in, bytes_out;
};

/* ---- Configuration and features ---- */

static uint32_t read_winsize(int fd)
{
	struct winsize ws;
	if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row)
		return 0;
	return (uint32_t)ws.ws_col | (uint32_t)ws.ws_row << 16;
}

static uint64_t console_features(void *opaque)
{
	struct virtio_console *vc = opaque;
	return vc->has_size ? VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE) : 0;
}

static void console_config_read(void *opaque, uint32_t offset, uint8_t *data, uint32_t size)
{
	struct virtio_console *vc = opaque;
	uint32_t ws = atomic_load(&vc->winsize);
	/* Little-endian host (x86): the config image is the struct's memory layout. */
	struct {
		uint16_t cols, rows;
		uint32_t max_nr_ports, emerg_wr;
	} cfg = { (uint16_t)ws, (uint16_t)(ws >> 16), 1, 0 };
	_Static_assert(sizeof(cfg) == VIRTIO_CONSOLE_CFG_SIZE, "virtio_console_config layout");
	memcpy(data, (const uint8_t *)&cfg + offset, size); /* bounds checked by the transport */
}

void virtio_console_resize(struct virtio_console *vc)
{
	if (!vc || !vc->has_size)
		return;
	uint32_t now = read_winsize(vc->cfg.tty_fd);
	if (now && atomic_exchange(&vc->winsize, now) != now)
		virtio_pci_config_changed(vc->vp);
}

/* ---- Receive: staged host input -> receiveq ---- */

/* Copies staged bytes into the chain's writable part; rx_lock held. Returns the count. */
static uint32_t copy_staged(struct virtio_console *vc, const struct virtq_chain *c)
{
	uint32_t want = vc->rx_len < c->in_bytes ? vc->rx_len : c->in_bytes;
	uint32_t first = VIRTIO_CONSOLE_RX_STAGING - vc->rx_head;
	if (first > want)
		first = want;
	size_t n = virtq_chain_copy_to(c, 0, vc->rx_buf + vc->rx_head, first);
	if (n == first && want > first)
		n += virtq_chain_copy_to(c, first, vc->rx_buf, want - first);
	vc->rx_head = (uint32_t)((vc->rx_head + n) % VIRTIO_CONSOLE_RX_STAGING);
	vc->rx_len -= (uint32_t)n;
	return (uint32_t)n;
}

static int serve_receiveq(struct virtio_console *vc, struct virtqueue *vq, struct error *e)
{
	int rc = 0;
	pthread_mutex_lock(&vc->rx_lock);
	while (vc->rx_len > 0) {
		struct virtq_chain c;
		virtq_chain_init(&c, vc->rx_iov, VIRTIO_CONSOLE_MAX_SEGMENTS);
		rc = virtqueue_pop(vq, vc->mem, &c, e);
		if (rc <= 0)
			break; /* no buffer: the driver's next kick on this queue brings us back */
		uint32_t n = copy_staged(vc, &c); /* readable parts of the chain are ignored */
		if ((rc = virtqueue_push(vq, vc->mem, c.head, n, e)) < 0)
			break;
		atomic_fetch_add(&vc->bytes_in, n);
	}
	bool wake = vc->rx_want_room && vc->rx_len < VIRTIO_CONSOLE_RX_STAGING;
	if (wake)
		vc->rx_want_room = false;
	pthread_mutex_unlock(&vc->rx_lock);
	if (wake && vc->cfg.rx_ready)
		vc->cfg.rx_ready(vc->cfg.rx_ready_opaque);
	return rc < 0 ? -1 : 0;
}

size_t virtio_console_receive(void *opaque, const uint8_t *buf, size_t n)
{
	struct virtio_console *vc = opaque;
	pthread_mutex_lock(&vc->rx_lock);
	size_t room = VIRTIO_CONSOLE_RX_STAGING - vc->rx_len;
	size_t take = n < room ? n : room;
	for (size_t done = 0; done < take;) {
		uint32_t tail = (vc->rx_head + vc->rx_len) % VIRTIO_CONSOLE_RX_STAGING;
		size_t part = VIRTIO_CONSOLE_RX_STAGING - tail;
		if (part > take - done)
			part = take - done;
		memcpy(vc->rx_buf + tail, buf + done, part);
		vc->rx_len += (uint32_t)part;
		done += part;
	}
	if (take < n)
		vc->rx_want_room = true;
	pthread_mutex_unlock(&vc->rx_lock);
	if (take) {
		uint64_t one = 1;
		if (write(vc->rx_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is saturated, a wake-up is pending anyway */
		}
	}
	return take;
}

static int arm_rx_wake(struct virtio_console *vc)
{
	return event_loop_read(&vc->loop, &vc->rx_op, vc->rx_fd, &vc->rx_count, sizeof(vc->rx_count));
}

static void on_rx_wake(struct ev_op *op, int res)
{
	struct virtio_console *vc = container_of(op, struct virtio_console, rx_op);
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		/* -ECANCELED: the loop is going away. Anything else would repeat forever. */
		if (res != -ECANCELED)
			fprintf(stderr, "ember: virtio-console: input wake-up failed: %s\n",
				strerror(-res));
		return;
	}
	virtio_pci_process_queue(vc->vp, VIRTIO_CONSOLE_RECEIVEQ);
	arm_rx_wake(vc);
}

/* ---- Transmit: transmitq -> output buffer -> out_fd ---- */

/* event_loop.h has no plain write(2) op (send is for sockets; out_fd may be a tty, a pipe or
 * a file): one write at the file position, like event_loop_read. */
static int queue_write(struct event_loop *l, struct ev_op *op, int fd, const void *buf,
		       unsigned len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	if (!sqe)
		return -1;
	io_uring_prep_write(sqe, fd, buf, len, (uint64_t)-1);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static void output_failed(struct virtio_console *vc, const char *why)
{
	fprintf(stderr, "ember: virtio-console: cannot write guest output: %s; discarding it\n",
		why);
	vc->tx.dead = true;
	vc->tx.start = vc->tx.end = 0;
}

static void start_write(struct virtio_console *vc)
{
	struct console_tx *tx = &vc->tx;
	if (queue_write(&vc->loop, &tx->write_op, vc->cfg.out_fd, tx->buf + tx->start,
			tx->end - tx->start) < 0) {
		output_failed(vc, "io_uring submission queue is full");
		return;
	}
	tx->busy = true;
}

/* Fills the output buffer from the transmitq; a chain larger than the room left is continued on
 * the next call. Buffers go back to the driver once copied. Returns -1 on a guest error. */
static int fill_output(struct virtio_console *vc, struct virtqueue *vq, struct error *e)
{
	struct console_tx *tx = &vc->tx;
	while (tx->end < VIRTIO_CONSOLE_TX_BUFFER) {
		if (!tx->chain_active) {
			virtq_chain_init(&tx->chain, tx->iov, VIRTIO_CONSOLE_MAX_SEGMENTS);
			int r = virtqueue_pop(vq, vc->mem, &tx->chain, e);
			if (r <= 0)
				return r;
			tx->chain_active = true;
			tx->copied = 0;
		}
		if (tx->dead) /* no copy for output that goes nowhere */
			tx->copied = tx->chain.out_bytes;
		size_t n = virtq_chain_copy_from(&tx->chain, tx->copied, tx->buf + tx->end,
						 VIRTIO_CONSOLE_TX_BUFFER - tx->end);
		tx->end += (uint32_t)n;
		tx->copied += n;
		if (tx->copied < tx->chain.out_bytes)
			continue; /* only when the buffer is full: the loop ends */
		tx->chain_active = false;
		/* Writable parts of a transmit chain are ignored: nothing was written to them. */
		if (virtqueue_push(vq, vc->mem, tx->chain.head, 0, e) < 0)
			return -1;
	}
	return 0;
}

/* A regular file (or block device) never waits for a reader, and an io_uring write at the file
 * position would race with COM1's write(2) to the same open file (io_uring does not take the
 * file-position lock): the two outputs could overwrite each other. Files get plain writes. */
static void write_direct(struct virtio_console *vc)
{
	struct console_tx *tx = &vc->tx;
	while (tx->start < tx->end && !tx->dead) {
		ssize_t n = write(vc->cfg.out_fd, tx->buf + tx->start, tx->end - tx->start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			output_failed(vc, n < 0 ? strerror(errno) : "the write took no bytes");
			break;
		}
		tx->start += (uint32_t)n;
		atomic_fetch_add(&vc->bytes_out, (uint64_t)n);
	}
	tx->start = tx->end = 0;
}

static int serve_transmitq(struct virtio_console *vc, struct virtqueue *vq, struct error *e)
{
	struct console_tx *tx = &vc->tx;
	if (tx->busy)
		return 0; /* the write's completion comes back here */
	for (;;) {
		int rc = fill_output(vc, vq, e);
		bool full = tx->end == VIRTIO_CONSOLE_TX_BUFFER;
		if (tx->end == tx->start || tx->dead) {
			tx->start = tx->end = 0;
		} else if (!tx->direct) {
			start_write(vc);
			return rc;
		} else {
			write_direct(vc);
		}
		if (rc < 0 || !full)
			return rc; /* a full buffer may have left chains in the ring */
	}
}

/* Nothing in flight any more: take more output, or finish a shutdown. */
static void after_output(struct virtio_console *vc)
{
	virtio_pci_process_queue(vc->vp, VIRTIO_CONSOLE_TRANSMITQ);
	if (vc->stopping && !vc->tx.busy)
		event_loop_stop(&vc->loop);
}

static void on_pollout(struct ev_op *op, int res)
{
	struct virtio_console *vc = container_of(op, struct virtio_console, tx.pollout_op);
	vc->tx.busy = false;
	if (res == -ECANCELED)
		return;
	if (res < 0)
		output_failed(vc, strerror(-res));
	else
		start_write(vc);
	if (!vc->tx.busy)
		after_output(vc);
}

static void on_write_done(struct ev_op *op, int res)
{
	struct virtio_console *vc = container_of(op, struct virtio_console, tx.write_op);
	struct console_tx *tx = &vc->tx;
	tx->busy = false;
	if (res == -ECANCELED)
		return;
	if (res == -EAGAIN) { /* out_fd is non-blocking: wait until it takes more */
		tx->busy = event_loop_poll(&vc->loop, &tx->pollout_op, vc->cfg.out_fd, POLLOUT) == 0;
		if (tx->busy)
			return;
		output_failed(vc, "io_uring submission queue is full");
	} else if (res < 0 && res != -EINTR) {
		output_failed(vc, strerror(-res));
	} else if (res == 0) {
		output_failed(vc, "the write took no bytes");
	} else if (res > 0) {
		tx->start += (uint32_t)res;
		atomic_fetch_add(&vc->bytes_out, (uint64_t)res);
	}
	if (tx->start < tx->end && !tx->dead) {
		start_write(vc); /* a short write, or EINTR: the rest */
		if (tx->busy)
			return;
	}
	tx->start = tx->end = 0;
	after_output(vc);
}

/* ---- Device ops ---- */

static int console_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index,
				struct error *e)
{
	struct virtio_console *vc = opaque;
	return index == VIRTIO_CONSOLE_RECEIVEQ ? serve_receiveq(vc, vq, e)
						: serve_transmitq(vc, vq, e);
}

static void console_reset(void *opaque)
{
	struct virtio_console *vc = opaque;
	/* The queues are reset: a half-copied chain is gone. Staged input and output already
	 * taken from the guest stay: they belong to the host side of the console. */
	vc->tx.chain_active = false;
}

static int console_save(void *opaque, void *buf, size_t cap, size_t *len, struct error *e)
{
	struct virtio_console *vc = opaque;
	uint32_t ws = atomic_load(&vc->winsize);
	struct virtio_console_state s = { .cols = (uint16_t)ws, .rows = (uint16_t)(ws >> 16) };
	if (cap < sizeof(s))
		return error_set(e, "snapshot needs %zu more bytes", sizeof(s) - cap);
	memcpy(buf, &s, sizeof(s));
	*len = sizeof(s);
	return 0;
}

static int console_restore(void *opaque, const void *buf, size_t len, struct error *e)
{
	struct virtio_console *vc = opaque;
	struct virtio_console_state s;
	static const uint8_t zeros[sizeof(s.reserved)];
	if (len != sizeof(s))
		return error_set(e, "device record is %zu bytes, expected %zu", len, sizeof(s));
	memcpy(&s, buf, sizeof(s));
	if (memcmp(s.reserved, zeros, sizeof(zeros)) != 0)
		return error_set(e, "device record has non-zero reserved bytes");
	if (!vc->has_size && (s.cols || s.rows))
		return error_set(e, "device record has a window size but this console has none");
	atomic_store(&vc->winsize, (uint32_t)s.cols | (uint32_t)s.rows << 16);
	return 0;
}

static const struct virtio_device_ops console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.class_code = 0x078000, /* simple communication controller, other */
	.num_queues = 2,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.config_size = VIRTIO_CONSOLE_CFG_SIZE,
	.features = console_features,
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.reset = console_reset,
	.save = console_save,
	.restore = console_restore,
};

/* ---- Thread and life cycle ---- */

static void on_drain_timeout(struct ev_op *op, int res)
{
	struct virtio_console *vc = container_of(op, struct virtio_console, drain_op);
	(void)res;
	event_loop_stop(&vc->loop);
}

static void on_stop(struct ev_op *op, int res)
{
	struct virtio_console *vc = container_of(op, struct virtio_console, stop_op);
	(void)res;
	vc->stopping = true;
	/* The vCPUs have stopped: whatever the guest queued is final. Write it out, bounded. */
	if (!vc->tx.busy)
		virtio_pci_process_queue(vc->vp, VIRTIO_CONSOLE_TRANSMITQ);
	if (!vc->tx.busy ||
	    event_loop_timeout(&vc->loop, &vc->drain_op, &vc->drain_ts, CONSOLE_DRAIN_MS) < 0)
		event_loop_stop(&vc->loop);
}

static void *console_thread(void *arg)
{
	struct virtio_console *vc = arg;
	pthread_setname_np(pthread_self(), "virtio-console");
	struct error e = { { 0 } };
	vc->stop_op.done = on_stop;
	vc->drain_op.done = on_drain_timeout;
	vc->rx_op.done = on_rx_wake;
	vc->tx.write_op.done = on_write_done;
	vc->tx.pollout_op.done = on_pollout;
	if (event_loop_poll(&vc->loop, &vc->stop_op, vc->stop_fd, POLLIN) < 0 ||
	    arm_rx_wake(vc) < 0)
		error_set(&e, "cannot queue the loop's first reads");
	else if (virtio_pci_start(vc->vp, &vc->loop, &e) == 0)
		event_loop_run(&vc->loop, &e);
	if (e.msg[0])
		fprintf(stderr, "ember: virtio-console: %s\n", e.msg);
	return NULL;
}

static int open_eventfds(struct virtio_console *vc, struct error *e)
{
	vc->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vc->rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vc->stop_fd < 0 || vc->rx_fd < 0)
		return error_errno(e, "virtio-console: eventfd");
	return 0;
}

struct virtio_console *virtio_console_create(struct pci_bus *bus, int vm_fd,
					     const struct guest_mem *mem,
					     const struct virtio_console_config *cfg,
					     struct error *e)
{
	struct virtio_console *vc = calloc(1, sizeof(*vc));
	if (!vc) {
		error_set(e, "virtio-console: out of memory");
		return NULL;
	}
	vc->mem = mem;
	vc->cfg = *cfg;
	vc->stop_fd = vc->rx_fd = -1;
	pthread_mutex_init(&vc->rx_lock, NULL);
	struct stat st;
	vc->tx.direct = fstat(cfg->out_fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
	uint32_t ws = read_winsize(cfg->tty_fd);
	vc->has_size = ws != 0;
	atomic_store(&vc->winsize, ws);
	if (open_eventfds(vc, e) < 0 || event_loop_init(&vc->loop, CONSOLE_RING_ENTRIES, e) < 0 ||
	    !(vc->vp = virtio_pci_create(bus, vm_fd, mem, &console_ops, vc, e))) {
		virtio_console_destroy(vc);
		return NULL;
	}
	int rc = pthread_create(&vc->thread, NULL, console_thread, vc);
	if (rc != 0) {
		errno = rc;
		error_errno(e, "virtio-console: cannot start its thread");
		virtio_console_destroy(vc);
		return NULL;
	}
	vc->started = true;
	return vc;
}

void virtio_console_destroy(struct virtio_console *vc)
{
	if (!vc)
		return;
	if (vc->started) {
		uint64_t one = 1;
		if (write(vc->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd */
		}
		pthread_join(vc->thread, NULL);
	}
	/* The ring first: its pending reads and writes point into this struct and the queues. */
	event_loop_destroy(&vc->loop);
	virtio_pci_destroy(vc->vp);
	if (vc->stop_fd >= 0)
		close(vc->stop_fd);
	if (vc->rx_fd >= 0)
		close(vc->rx_fd);
	pthread_mutex_destroy(&vc->rx_lock);
	free(vc);
}

struct virtio_pci *virtio_console_transport(struct virtio_console *vc)
{
	return vc->vp;
}

uint64_t virtio_console_bytes_in(struct virtio_console *vc)
{
	return atomic_load(&vc->bytes_in);
}

uint64_t virtio_console_bytes_out(struct virtio_console *vc)
{
	return atomic_load(&vc->bytes_out);
}
