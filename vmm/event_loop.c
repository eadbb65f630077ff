#include "event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What this process learned about io_uring: 0 not yet known, 1 usable, -errno unusable. The first
 * ring a loop creates is the probe, so a VM pays for no extra ring; later failures of a usable
 * io_uring (e.g. memlock running out) are reported for that ring alone. */
static atomic_int io_uring_state;

static void probe_io_uring(void)
{
	struct io_uring ring;
	int rc = io_uring_queue_init(2, &ring, 0);
	if (rc < 0) {
		int unknown = 0;
		atomic_compare_exchange_strong(&io_uring_state, &unknown, rc);
		return;
	}
	io_uring_queue_exit(&ring);
	atomic_store(&io_uring_state, 1);
}

static int explain_io_uring_error(int err, struct error *e)
{
	switch (err) {
	case EPERM:
		return error_set(e, "io_uring is disabled on this host (sysctl kernel.io_uring_disabled); "
				    "Ember's event loops need it");
	case ENOMEM:
		return error_set(e, "cannot create an io_uring: out of locked memory "
				    "(raise RLIMIT_MEMLOCK, e.g. ulimit -l)");
	case ENOSYS:
		return error_set(e, "this kernel has no io_uring (Linux 5.10 or newer is needed)");
	default:
		return error_set(e, "cannot create an io_uring: %s", strerror(err));
	}
}

int event_loop_probe(struct error *e)
{
	if (atomic_load(&io_uring_state) == 0)
		probe_io_uring();
	int state = atomic_load(&io_uring_state);
	return state < 0 ? explain_io_uring_error(-state, e) : 0;
}

static int init_ring(struct event_loop *l, unsigned entries, unsigned flags, struct error *e)
{
	memset(l, 0, sizeof(*l));
	int state = atomic_load(&io_uring_state);
	if (state < 0)
		return explain_io_uring_error(-state, e);
	int rc = io_uring_queue_init(entries, &l->ring, flags);
	if (rc == -EINVAL && flags)
		return -2; /* flags this kernel lacks: the caller retries without */
	if (rc < 0) {
		int unknown = 0;
		atomic_compare_exchange_strong(&io_uring_state, &unknown, rc);
		return explain_io_uring_error(-rc, e);
	}
	atomic_store(&io_uring_state, 1);
	l->setup_flags = flags;
	l->initialized = true;
	return 0;
}

int event_loop_init(struct event_loop *l, unsigned entries, struct error *e)
{
	return init_ring(l, entries, 0, e);
}

/* Known to the kernel since 6.1; what this process learned: 0 unknown, 1 yes, -1 no. */
static atomic_int single_thread_flags_state;

int event_loop_init_single_thread(struct event_loop *l, unsigned entries, struct error *e)
{
	/* TASKRUN_FLAG: a thread that polls instead of waiting sees IORING_SQ_TASKRUN when
	 * completions wait for it to enter the kernel. */
	const unsigned flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			       IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED;
	if (atomic_load(&single_thread_flags_state) >= 0) {
		int rc = init_ring(l, entries, flags, e);
		if (rc != -2) {
			if (rc == 0)
				atomic_store(&single_thread_flags_state, 1);
			return rc;
		}
		atomic_store(&single_thread_flags_state, -1);
	}
	return init_ring(l, entries, 0, e);
}

int event_loop_claim(struct event_loop *l)
{
	if (!(l->setup_flags & IORING_SETUP_R_DISABLED))
		return 0;
	/* liburing 2.3 declares io_uring_enable_rings but does not export it. */
	long rc = syscall(__NR_io_uring_register, l->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			  NULL, 0);
	if (rc < 0)
		return -errno;
	l->setup_flags &= ~IORING_SETUP_R_DISABLED;
	return 0;
}

void event_loop_destroy(struct event_loop *l)
{
	if (l->initialized)
		io_uring_queue_exit(&l->ring);
	l->initialized = false;
}

/* The ring is sized for the loop's steady state; if it is momentarily full, flush it. */
static struct io_uring_sqe *get_sqe(struct event_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

int event_loop_poll(struct event_loop *l, struct ev_op *op, int fd, unsigned poll_mask)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -1;
	io_uring_prep_poll_add(sqe, fd, poll_mask);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int event_loop_read(struct event_loop *l, struct ev_op *op, int fd, void *buf, unsigned len)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -1;
	io_uring_prep_read(sqe, fd, buf, len, (uint64_t)-1);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int event_loop_accept(struct event_loop *l, struct ev_op *op, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -1;
	io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int event_loop_recv(struct event_loop *l, struct ev_op *op, int fd, void *buf, unsigned len)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -1;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static void set_timespec(struct __kernel_timespec *ts, unsigned ms)
{
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long long)(ms % 1000) * 1000000;
}

int event_loop_recv_timeout(struct event_loop *l, struct ev_op *op, int fd, void *buf,
			    unsigned len, struct __kernel_timespec *ts, unsigned ms)
{
	/* The two SQEs must reach the kernel together, or the link is lost. */
	if (io_uring_sq_space_left(&l->ring) < 2)
		io_uring_submit(&l->ring);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (!sqe)
		return -1;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data(sqe, op);
	sqe->flags |= IOSQE_IO_LINK;
	struct io_uring_sqe *timer = io_uring_get_sqe(&l->ring);
	if (!timer) { /* cannot happen after the space check; keep the recv unbounded then */
		sqe->flags &= (__u8)~IOSQE_IO_LINK;
		return 0;
	}
	set_timespec(ts, ms);
	io_uring_prep_link_timeout(timer, ts, 0);
	io_uring_sqe_set_data(timer, NULL); /* its own completion needs no callback */
	return 0;
}

int event_loop_send(struct event_loop *l, struct ev_op *op, int fd, const void *buf, unsigned len)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -1;
	/* MSG_NOSIGNAL: a client that hung up must not raise SIGPIPE in the VMM. */
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int event_loop_timeout(struct event_loop *l, struct ev_op *op, struct __kernel_timespec *ts,
		       unsigned ms)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -1;
	set_timespec(ts, ms);
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int event_loop_run(struct event_loop *l, struct error *e)
{
	l->running = true;
	while (l->running) {
		int rc = io_uring_submit_and_wait(&l->ring, 1);
		if (rc < 0 && rc != -EINTR)
			return error_set(e, "io_uring_submit_and_wait: %s", strerror(-rc));
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			struct ev_op *op = io_uring_cqe_get_data(cqe);
			int res = cqe->res;
			seen++;
			if (op && op->done)
				op->done(op, res);
		}
		io_uring_cq_advance(&l->ring, seen);
	}
	return 0;
}

void event_loop_stop(struct event_loop *l)
{
	l->running = false;
}
