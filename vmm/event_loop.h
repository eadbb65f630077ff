/* An event loop on io_uring: every wait (fd readiness, reads, eventfd kicks, signals through a
 * signalfd) is a submission whose completion calls back. No epoll, select or poll syscalls.
 *
 * Users embed a struct ev_op in their own state and recover it with container_of in the callback;
 * an op must stay alive until its completion has been delivered. */
#ifndef EMBER_EVENT_LOOP_H
#define EMBER_EVENT_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct ev_op {
	void (*done)(struct ev_op *op, int res); /* res: the CQE result (bytes, poll mask, -errno) */
};

struct event_loop {
	struct io_uring ring;
	unsigned setup_flags;   /* IORING_SETUP_* the ring was created with */
	bool running;
	bool initialized;
};

/* Checks once per process that io_uring can be used, with a message naming the reason when not
 * (kernel.io_uring_disabled, RLIMIT_MEMLOCK, an old kernel). */
int event_loop_probe(struct error *e);

int event_loop_init(struct event_loop *l, unsigned entries, struct error *e);
/* A ring that one thread alone will run, created with IORING_SETUP_SINGLE_ISSUER |
 * IORING_SETUP_DEFER_TASKRUN where the kernel has them (Linux 6.1+; otherwise a plain ring, see
 * l->setup_flags): completions then run in that thread when it waits, in one batch, instead of
 * interrupting it one by one. The ring starts disabled so another thread may set it up
 * (registrations); the running thread calls event_loop_claim before its first submission. */
int event_loop_init_single_thread(struct event_loop *l, unsigned entries, struct error *e);
/* Makes the calling thread the ring's only submitter (no-op for other rings). 0 or -errno. */
int event_loop_claim(struct event_loop *l);
void event_loop_destroy(struct event_loop *l);

/* One-shot readiness wait on fd for poll_mask (POLLIN, ...). */
int event_loop_poll(struct event_loop *l, struct ev_op *op, int fd, unsigned poll_mask);
/* read(fd, buf, len) at the current file position. */
int event_loop_read(struct event_loop *l, struct ev_op *op, int fd, void *buf, unsigned len);
/* accept4(fd, SOCK_CLOEXEC | SOCK_NONBLOCK): res is the new socket or -errno. */
int event_loop_accept(struct event_loop *l, struct ev_op *op, int fd);
/* recv(fd, buf, len, 0) / send(fd, buf, len, MSG_NOSIGNAL): res is the byte count or -errno. */
int event_loop_recv(struct event_loop *l, struct ev_op *op, int fd, void *buf, unsigned len);
int event_loop_send(struct event_loop *l, struct ev_op *op, int fd, const void *buf, unsigned len);
/* recv() that gives up after `ms` milliseconds with res -ECANCELED (a linked timeout). `ts` must
 * live until the completion. */
int event_loop_recv_timeout(struct event_loop *l, struct ev_op *op, int fd, void *buf,
			    unsigned len, struct __kernel_timespec *ts, unsigned ms);
/* Completes after `ms` milliseconds with res -ETIME. `ts` must live until the completion. */
int event_loop_timeout(struct event_loop *l, struct ev_op *op, struct __kernel_timespec *ts,
		       unsigned ms);

/* Runs until event_loop_stop is called from a callback. Returns 0, or -1 on a ring failure. */
int event_loop_run(struct event_loop *l, struct error *e);
void event_loop_stop(struct event_loop *l);

#endif
