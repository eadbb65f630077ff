#include "event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_errno;

static void probe_io_uring(void)
{
	struct io_uring ring;
	int rc = io_uring_queue_init(2, &ring, 0);
	if (rc < 0) {
		probe_errno = -rc;
		return;
	}
	io_uring_queue_exit(&ring);
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
	pthread_once(&probe_once, probe_io_uring);
	return probe_errno ? explain_io_uring_error(probe_errno, e) : 0;
}

int event_loop_init(struct event_loop *l, unsigned entries, struct error *e)
{
	memset(l, 0, sizeof(*l));
	if (event_loop_probe(e) < 0)
		return -1;
	int rc = io_uring_queue_init(entries, &l->ring, 0);
	if (rc < 0)
		return explain_io_uring_error(-rc, e);
	l->initialized = true;
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
