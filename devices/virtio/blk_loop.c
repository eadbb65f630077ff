/* A queue thread's event loop: the io_uring loop of vmm/event_loop.c (every completion calls its
 * ev_op), plus optional busy-polling after each burst of activity. While polling, the thread
 * looks at the completion ring and at the guest's available ring without sleeping, so a request
 * that arrives, or an I/O that completes, within the window costs no thread wake-up (on a
 * virtualised host such as PVM, a sleep/wake-up pair costs tens of microseconds), and the guest
 * is told not to kick (each kick is a VM exit). After a quiet window the thread turns kicks back
 * on, looks once more, and blocks in io_uring_enter: an idle disk costs no CPU. Polling pays
 * only with a CPU to spare: a loop that finds itself preempted backs off (see should_poll). */
#include "blk_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

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

static inline void spin_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Polling state: on while the loop spins, and the back-off after it found itself preempted. */
struct poll_state {
	bool polling;
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
	if (!p->budget_ns || now - active >= p->budget_ns || now < ps->off_until ||
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
	if (io_uring_sq_ready(&l->ring))
		io_uring_submit(&l->ring);
	if (p->pending(p->opaque)) {
		p->serve(p->opaque);
		*active = now_ns();
	} else {
		spin_pause();
	}
}

int blk_loop_run(struct event_loop *l, const struct blk_poller *p, struct error *e)
{
	struct poll_state ps = { 0 };
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
	}
	return 0;
}
