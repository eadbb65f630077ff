/* A queue thread's event loop: the io_uring loop of vmm/event_loop.c (every completion calls its
 * ev_op), plus optional busy-polling after each burst of activity. While polling, the thread
 * looks at the completion ring and at the guest's available ring without sleeping, so a request
 * that arrives, or an I/O that completes, within the window costs no thread wake-up (on a
 * virtualised host such as PVM, a sleep/wake-up pair costs tens of microseconds), and the guest
 * is told not to kick (each kick is a VM exit). After a quiet window the thread turns kicks back
 * on, looks once more, and blocks in io_uring_enter: an idle disk costs no CPU.
 *
 * The window adapts between 0 and the configured maximum (poll_us): a sleep that ended sooner
 * than the maximum would have been saved by polling, so the window grows; a sleep longer than
 * the maximum could not have been, so it shrinks. Polling pays only with a CPU to spare: a loop
 * that finds itself preempted backs off (see should_poll). */
#include "blk_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* The adaptive window's smallest non-zero value: below it, polling is off until a short sleep
 * shows that events come back quickly. */
#define BLK_POLL_WINDOW_MIN_NS 4000ull

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Delivers every completion already in the ring. Returns how many. */
static unsigned reap(struct event_loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&l->ring, head, cqe) {
		struct ev_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		seen++;
		/* Advance first: the callback may queue work that wants CQ space. */
		io_uring_cq_advance(&l->ring, 1);
		if (op && op->done)
			op->done(op, res);
		if (!l->running)
			break;
	}
	return seen;
}

/* Without sleeping: submits what is queued and, on a ring that defers completion work to this
 * thread (IORING_SETUP_DEFER_TASKRUN), runs that work when the kernel flags some
 * (IORING_SQ_TASKRUN), so that the completions appear in the ring for reap(). */
static void flush_ring(struct event_loop *l)
{
	bool deferred = l->setup_flags & IORING_SETUP_DEFER_TASKRUN;
	bool work = deferred && (IO_URING_READ_ONCE(*l->ring.sq.kflags) & IORING_SQ_TASKRUN);
	if (work)
		io_uring_submit_and_get_events(&l->ring);
	else if (io_uring_sq_ready(&l->ring))
		io_uring_submit(&l->ring);
}

static inline void spin_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Polling state: on while the loop spins, the adaptive window, and the back-off after the loop
 * found itself preempted. */
struct poll_state {
	bool polling;
	uint64_t window;     /* spin this long after activity (0 .. budget_ns) */
	uint64_t last_look;  /* when the loop last looked at the rings */
	uint64_t backoff;    /* current back-off, 0: none */
	uint64_t off_until;  /* no polling before this */
};

/* Poll now? Only within the window after activity, outside a back-off, and only while the loop
 * keeps its CPU: a gap of more than BLK_POLL_PREEMPTED_NS between two looks means the scheduler
 * gave the CPU to someone else (a vCPU, another process), and spinning only makes that worse. */
static bool should_poll(const struct blk_poller *p, struct poll_state *ps, uint64_t now,
			uint64_t active)
{
	if (!ps->window || now - active >= ps->window || now < ps->off_until ||
	    !p->worth_polling(p->opaque))
		return false;
	if (ps->polling && now - ps->last_look > BLK_POLL_PREEMPTED_NS) {
		ps->backoff = ps->backoff ? ps->backoff * 2 : BLK_POLL_BACKOFF_MIN_NS;
		if (ps->backoff > BLK_POLL_BACKOFF_MAX_NS)
			ps->backoff = BLK_POLL_BACKOFF_MAX_NS;
		ps->off_until = now + ps->backoff;
		return false;
	}
	return true;
}

static void poll_once(struct event_loop *l, const struct blk_poller *p, struct poll_state *ps,
		      uint64_t *active)
{
	if (!ps->polling) {
		p->start_polling(p->opaque);
		ps->polling = true;
	}
	flush_ring(l);
	if (p->pending(p->opaque)) {
		p->serve(p->opaque);
		*active = now_ns();
	} else {
		spin_pause();
	}
}

/* After a sleep of `slept` ns: would a longer window have saved it? */
static void adapt_window(const struct blk_poller *p, struct poll_state *ps, uint64_t slept)
{
	if (slept < p->budget_ns) {
		ps->window = ps->window ? ps->window * 2 : BLK_POLL_WINDOW_MIN_NS;
		if (ps->window > p->budget_ns)
			ps->window = p->budget_ns;
	} else if (ps->window) {
		ps->window /= 2;
		if (ps->window < BLK_POLL_WINDOW_MIN_NS)
			ps->window = 0;
	}
}

int blk_loop_run(struct event_loop *l, const struct blk_poller *p, struct error *e)
{
	struct poll_state ps = { .window = p->budget_ns };
	uint64_t active = now_ns();
	l->running = true;
	while (l->running) {
		if (reap(l)) {
			p->batch_done(p->opaque);
			active = ps.last_look = now_ns();
			continue;
		}
		uint64_t now = now_ns();
		if (should_poll(p, &ps, now, active)) {
			poll_once(l, p, &ps, &active);
			ps.last_look = now_ns();
			continue;
		}
		if (ps.polling) {
			ps.polling = false;
			if (now >= ps.off_until)
				ps.backoff /= 2; /* a window without preemption */
			if (p->stop_polling(p->opaque)) {
				p->serve(p->opaque);
				active = ps.last_look = now_ns();
				continue;
			}
		}
		int rc = io_uring_submit_and_wait(&l->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			return error_set(e, "io_uring_submit_and_wait: %s", strerror(-rc));
		active = ps.last_look = now_ns();
		if (p->budget_ns)
			adapt_window(p, &ps, active - now);
	}
	return 0;
}
