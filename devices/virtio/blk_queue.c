/* virtio-blk requests on their queue threads. Each queue has a thread with its own io_uring
 * loop (blk_loop.c); a kick is a completed eventfd read on that ring, the requests it finds
 * become submissions in one batch, and each I/O completion finishes its request on the same
 * thread. Pushing to the used ring happens in queue_notify, with the transport lock held: after
 * a completion the thread asks the transport to serve the queue (virtio_pci_process_queue),
 * which pushes what is done, pops what is new and raises the interrupt if the driver wants one.
 *
 * A device reset while requests are in flight on the host does not wait for them (the reset
 * runs on a vCPU thread under the transport lock, which the completions need): they finish on
 * the host and are dropped, their status is never written, and the epoch check keeps them off
 * the new rings. */
#include "blk_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Completing requests ---- */

static void count_request(struct virtio_blk *blk, const struct blk_request *r)
{
	struct blk_counters *c = &blk->counters;
	atomic_fetch_add_explicit(&c->requests, 1, memory_order_relaxed);
	if (r->status == VIRTIO_BLK_S_IOERR)
		atomic_fetch_add_explicit(&c->io_errors, 1, memory_order_relaxed);
	else if (r->status == VIRTIO_BLK_S_UNSUPP)
		atomic_fetch_add_explicit(&c->unsupported, 1, memory_order_relaxed);
	if (r->type == VIRTIO_BLK_T_IN)
		atomic_fetch_add_explicit(&c->read_bytes, r->transferred, memory_order_relaxed);
	else if (r->type == VIRTIO_BLK_T_OUT)
		atomic_fetch_add_explicit(&c->write_bytes, r->transferred, memory_order_relaxed);
	else if (r->type == VIRTIO_BLK_T_FLUSH)
		atomic_fetch_add_explicit(&c->flushes, 1, memory_order_relaxed);
	else if (r->type == VIRTIO_BLK_T_DISCARD)
		atomic_fetch_add_explicit(&c->discards, 1, memory_order_relaxed);
	else if (r->type == VIRTIO_BLK_T_WRITE_ZEROES)
		atomic_fetch_add_explicit(&c->write_zeroes, 1, memory_order_relaxed);
	if (r->status == VIRTIO_BLK_S_IOERR && r->host_error)
		atomic_fetch_add_explicit(&c->host_errors, 1, memory_order_relaxed);
	if (r->status == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_IN)
		atomic_fetch_add_explicit(&c->reads, 1, memory_order_relaxed);
	else if (r->status == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_OUT)
		atomic_fetch_add_explicit(&c->writes, 1, memory_order_relaxed);
}

static const char *step_name(enum blk_step_op op)
{
	static const char *const names[] = {
		[BLK_STEP_READ] = "read", [BLK_STEP_WRITE] = "write", [BLK_STEP_FLUSH] = "flush",
		[BLK_STEP_PUNCH] = "discard", [BLK_STEP_ZERO_RANGE] = "write-zeroes",
		[BLK_STEP_WRITE_ZEROS] = "write-zeroes",
	};
	return names[op];
}

/* The guest gets IOERR and goes on; the host user hears about the first failure. */
static void report_host_error(struct virtio_blk *blk, const struct blk_request *r)
{
	if (atomic_exchange(&blk->error_reported, true))
		return;
	fprintf(stderr, "ember: %s: %s at byte %llu failed: %s; the guest gets an I/O error "
			"(further errors are only counted)\n",
		blk->name, step_name(r->failed_op), (unsigned long long)r->failed_offset,
		r->last_errno ? strerror(r->last_errno) : "end of file (did the image shrink?)");
}

static void free_request(struct blk_queue *q, struct blk_request *r)
{
	r->next = q->free_list;
	q->free_list = r;
}

/* A request whose last step finished: queue it for the next push. */
static void request_done(struct blk_queue *q, struct blk_request *r)
{
	if (r->host_error)
		report_host_error(q->blk, r);
	r->next = NULL;
	if (q->done_tail)
		q->done_tail->next = r;
	else
		q->done_head = r;
	q->done_tail = r;
}

/* Transport lock held. Returns -1 if the used ring is broken. */
static int push_done(struct blk_queue *q, struct virtqueue *vq, struct error *e)
{
	struct virtio_blk *blk = q->blk;
	int rc = 0;
	while (q->done_head) {
		struct blk_request *r = q->done_head;
		q->done_head = r->next;
		if (!q->done_head)
			q->done_tail = NULL;
		if (rc == 0 && r->epoch == blk->epoch) {
			blk->outstanding--;
			uint32_t written = blk_request_complete(r);
			count_request(blk, r);
			rc = virtqueue_push(vq, blk->mem, r->chain.head, written, e);
		}
		free_request(q, r);
	}
	return rc;
}

/* ---- Running requests ---- */

/* Transport lock held (features and epoch are the driver's). */
static struct blk_request_env request_env(const struct virtio_blk *blk)
{
	return (struct blk_request_env){ .mem = blk->mem, .img = &blk->img,
					 .features = blk->features, .serial = blk->opt.serial };
}

static void on_step_done(struct ev_op *op, int res);

/* Submits the request's next step (true), or finishes it (false: it waits for a push). */
static bool advance_request(struct blk_queue *q, struct blk_request *r)
{
	if (blk_request_next_step(r, &q->blk->img, &r->step)) {
		if (blk_io_submit(&q->loop, &q->files, &r->op, &r->step) == 0) {
			q->host_inflight++;
			return true;
		}
		r->status = VIRTIO_BLK_S_IOERR; /* the ring refused it: cannot happen when sized */
		r->done = true;
	}
	request_done(q, r);
	return false;
}

static void run_sync(struct blk_queue *q, struct blk_request *r)
{
	while (blk_request_next_step(r, &q->blk->img, &r->step))
		blk_request_step_done(r, &r->step, blk_io_sync(&r->step));
	request_done(q, r);
}

static void on_step_done(struct ev_op *op, int res)
{
	struct blk_request *r = container_of(op, struct blk_request, op);
	struct blk_queue *q = r->queue;
	q->host_inflight--;
	blk_request_step_done(r, &r->step, res);
	if (!advance_request(q, r))
		q->push_pending = true; /* pushed after this batch of completions (queue_batch_done) */
	if (q->stopping && !q->host_inflight)
		event_loop_stop(&q->loop);
}

/* ---- The transport's callback: a kick, or a completion asking for a push ---- */

int blk_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index, struct error *e)
{
	struct virtio_blk *blk = opaque;
	struct blk_queue *q = &blk->queues[index];
	if (push_done(q, vq, e) < 0)
		return -1;
	/* While the loop busy-polls, kicks would only cost the guest exits. */
	if (q->polling)
		virtqueue_disable_notify(vq, blk->mem);
	while (q->free_list && !q->stopping) {
		struct blk_request *r = q->free_list;
		virtq_chain_init(&r->chain, r->iov, BLK_IOV_MAX);
		int rc = virtqueue_pop(vq, blk->mem, &r->chain, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		q->free_list = r->next;
		r->epoch = blk->epoch;
		blk->outstanding++;
		struct blk_request_env env = request_env(blk);
		if (blk_request_parse(r, &env, e) < 0) {
			blk->outstanding--;
			free_request(q, r);
			return -1;
		}
		if (blk->engine == VIRTIO_BLK_ENGINE_SYNC || r->done)
			run_sync(q, r);
		else
			advance_request(q, r);
	}
	/* Requests finished without host I/O (bad ones, get-id, sync engine) go out now. */
	return push_done(q, vq, e);
}

/* ---- Threads ---- */

static void arm_kick(struct blk_queue *q)
{
	struct virtio_pci_queue *pq = &q->blk->vp->queues[q->index];
	event_loop_read(&q->loop, &q->kick_op, pq->kick_fd, &q->kick_count, sizeof(q->kick_count));
}

static void on_kick(struct ev_op *op, int res)
{
	struct blk_queue *q = container_of(op, struct blk_queue, kick_op);
	if (res == -ECANCELED || q->stopping)
		return;
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		fprintf(stderr, "ember: %s: queue %u: kick read failed: %s\n", q->blk->name, q->index,
			strerror(-res));
		return;
	}
	if (res > 0) {
		atomic_fetch_add_explicit(&q->blk->counters.kicks, 1, memory_order_relaxed);
		virtio_pci_process_queue(q->blk->vp, q->index);
	}
	arm_kick(q);
}

static void on_stop(struct ev_op *op, int res)
{
	struct blk_queue *q = container_of(op, struct blk_queue, stop_op);
	(void)res;
	q->stopping = true; /* no new requests; finish what the host has */
	if (!q->host_inflight)
		event_loop_stop(&q->loop);
}

/* Polling: new requests on the queue? trylock: never wait for a vCPU holding the lock. */
static bool queue_pending(void *opaque)
{
	struct blk_queue *q = opaque;
	struct virtio_pci *vp = q->blk->vp;
	if (q->stopping || pthread_mutex_trylock(&vp->lock) != 0)
		return false;
	struct virtqueue *vq = &vp->queues[q->index].vq;
	bool pending = vp->live && vq->enabled && !vq->broken && q->free_list &&
		       virtqueue_pending(vq, q->blk->mem) > 0;
	pthread_mutex_unlock(&vp->lock);
	return pending;
}

static bool queue_worth_polling(void *opaque)
{
	struct blk_queue *q = opaque;
	return !q->stopping;
}

/* Polling: the thread watches the ring, kicks would only cost the guest exits. */
static void queue_start_polling(void *opaque)
{
	struct blk_queue *q = opaque;
	struct virtio_pci *vp = q->blk->vp;
	q->polling = true;
	if (pthread_mutex_trylock(&vp->lock) != 0)
		return; /* a vCPU is busy with the device: kicks stay on this time */
	struct virtqueue *vq = &vp->queues[q->index].vq;
	if (vp->live && vq->enabled && !vq->broken)
		virtqueue_disable_notify(vq, q->blk->mem);
	pthread_mutex_unlock(&vp->lock);
}

/* About to sleep after polling: kicks back on, and one more look at the ring. */
static bool queue_stop_polling(void *opaque)
{
	struct blk_queue *q = opaque;
	struct virtio_pci *vp = q->blk->vp;
	bool pending = false;
	q->polling = false;
	pthread_mutex_lock(&vp->lock);
	struct virtqueue *vq = &vp->queues[q->index].vq;
	if (vp->live && vq->enabled && !vq->broken && !q->stopping)
		pending = virtqueue_enable_notify(vq, q->blk->mem);
	pthread_mutex_unlock(&vp->lock);
	return pending && q->free_list;
}

/* After a batch of completions: push every finished request and pop what came meanwhile, in
 * one visit to the ring (one lock, one interrupt decision). */
static void queue_batch_done(void *opaque)
{
	struct blk_queue *q = opaque;
	if (!q->push_pending)
		return;
	q->push_pending = false;
	virtio_pci_process_queue(q->blk->vp, q->index);
}

static void queue_serve(void *opaque)
{
	struct blk_queue *q = opaque;
	virtio_pci_process_queue(q->blk->vp, q->index);
}

/* The loop, on this thread: it is the ring's only submitter (event_loop_claim), registers the
 * image there, and drops the registration before the image can be closed. */
static void run_queue(struct blk_queue *q, struct error *e)
{
	int rc = event_loop_claim(&q->loop);
	if (rc < 0) {
		error_set(e, "cannot enable the ring: %s", strerror(-rc));
		return;
	}
	blk_io_limit_workers(&q->loop);
	blk_io_register_files(&q->loop, &q->files, &q->blk->img);
	if (event_loop_poll(&q->loop, &q->stop_op, q->blk->stop_fd, POLLIN) < 0) {
		error_set(e, "cannot queue the stop poll");
	} else {
		arm_kick(q);
		struct blk_poller poller = {
			.budget_ns = q->blk->poll_ns, .opaque = q,
			.pending = queue_pending, .serve = queue_serve,
			.worth_polling = queue_worth_polling,
			.start_polling = queue_start_polling, .stop_polling = queue_stop_polling,
			.batch_done = queue_batch_done,
		};
		blk_loop_run(&q->loop, &poller, e);
	}
	blk_io_unregister_files(&q->loop, &q->files);
}

static void *queue_thread(void *arg)
{
	struct blk_queue *q = arg;
	char tname[16];
	snprintf(tname, sizeof(tname), "virtio-blk%u", q->index);
	pthread_setname_np(pthread_self(), tname);
	struct error e = { { 0 } };
	q->kick_op.done = on_kick;
	q->stop_op.done = on_stop;
	run_queue(q, &e);
	if (e.msg[0])
		fprintf(stderr, "ember: %s: queue %u: %s\n", q->blk->name, q->index, e.msg);
	return NULL;
}

int blk_queue_init(struct virtio_blk *blk, uint16_t index, struct error *e)
{
	struct blk_queue *q = &blk->queues[index];
	q->blk = blk;
	q->index = index;
	q->reqs = calloc(BLK_QUEUE_SIZE, sizeof(*q->reqs));
	if (!q->reqs)
		return error_set(e, "%s: out of memory", blk->name);
	for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++) {
		q->reqs[i].queue = q;
		q->reqs[i].op.done = on_step_done;
		free_request(q, &q->reqs[i]);
	}
	/* Only the queue thread touches the ring: completions run when it waits, in a batch. */
	if (event_loop_init_single_thread(&q->loop, BLK_RING_ENTRIES, e) < 0)
		return error_prefix(e, "%s", blk->name);
	return 0;
}

int blk_queue_start(struct virtio_blk *blk, uint16_t index, struct error *e)
{
	struct blk_queue *q = &blk->queues[index];
	int rc = pthread_create(&q->thread, NULL, queue_thread, q);
	if (rc != 0) {
		errno = rc;
		return error_errno(e, "%s: cannot start the thread of queue %u", blk->name, index);
	}
	q->started = true;
	return 0;
}
