/* virtio-rng: an entropy source for the guest (virtio v1.2, 5.4), fed by getrandom(2). The
 * device has no configuration and no feature bits; its one queue ("requestq") carries
 * device-writable buffers that the device fills with random bytes. */
#include "rng.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../vmm/event_loop.h"
#include "virtio_pci.h"

/* Buffers per request: Linux uses one; a few more are harmless, many more are a guest error. */
#define RNG_MAX_SEGMENTS 64
#define RNG_RING_ENTRIES 8

struct virtio_rng {
	struct virtio_pci *vp;
	const struct guest_mem *mem;
	struct event_loop loop;
	int stop_fd;
	struct ev_op stop_op;
	pthread_t thread;
	bool started;
	atomic_uint_fast64_t bytes_served, requests, host_fails;
	struct iovec iov[RNG_MAX_SEGMENTS]; /* used on the device thread only */
};

/* Fills the chain's writable part with random bytes, at most VIRTIO_RNG_MAX_REQUEST. Returns
 * the bytes written (short only if getrandom fails, which the driver handles by asking again;
 * *failed is set then). */
static uint32_t fill_random(const struct virtq_chain *c, bool *failed)
{
	uint32_t written = 0;
	for (uint32_t i = c->nout; i < c->nout + c->nin && written < VIRTIO_RNG_MAX_REQUEST; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t want = c->iov[i].iov_len;
		if (want > VIRTIO_RNG_MAX_REQUEST - written)
			want = VIRTIO_RNG_MAX_REQUEST - written;
		size_t got = 0;
		while (got < want) {
			ssize_t n = getrandom(p + got, want - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*failed = true;
				return written + (uint32_t)got;
			}
			got += (size_t)n;
		}
		written += (uint32_t)got;
	}
	return written;
}

static int rng_queue_notify(void *opaque, struct virtqueue *vq, uint16_t index, struct error *e)
{
	struct virtio_rng *rng = opaque;
	struct virtq_chain c;
	(void)index;
	for (;;) {
		virtq_chain_init(&c, rng->iov, RNG_MAX_SEGMENTS);
		int r = virtqueue_pop(vq, rng->mem, &c, e);
		if (r <= 0)
			return r;
		bool failed = false;
		uint32_t written = fill_random(&c, &failed);
		if (virtqueue_push(vq, rng->mem, c.head, written, e) < 0)
			return -1;
		atomic_fetch_add(&rng->bytes_served, written);
		atomic_fetch_add(&rng->requests, 1);
		if (failed)
			atomic_fetch_add(&rng->host_fails, 1);
	}
}

static const struct virtio_device_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.class_code = VIRTIO_PCI_CLASS_OTHER,
	.num_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.config_size = 0,
	.queue_notify = rng_queue_notify,
};

static void on_stop(struct ev_op *op, int res)
{
	struct virtio_rng *rng = container_of(op, struct virtio_rng, stop_op);
	(void)res;
	event_loop_stop(&rng->loop);
}

static void *rng_thread(void *arg)
{
	struct virtio_rng *rng = arg;
	pthread_setname_np(pthread_self(), "virtio-rng");
	struct error e = { { 0 } };
	rng->stop_op.done = on_stop;
	if (event_loop_poll(&rng->loop, &rng->stop_op, rng->stop_fd, POLLIN) < 0)
		error_set(&e, "cannot queue the stop poll");
	else if (virtio_pci_start(rng->vp, &rng->loop, &e) == 0)
		event_loop_run(&rng->loop, &e);
	if (e.msg[0])
		fprintf(stderr, "ember: virtio-rng: %s\n", e.msg);
	return NULL;
}

struct virtio_rng *virtio_rng_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     struct error *e)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng) {
		error_set(e, "virtio-rng: out of memory");
		return NULL;
	}
	rng->mem = mem;
	rng->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rng->stop_fd < 0) {
		error_errno(e, "virtio-rng: eventfd");
		free(rng);
		return NULL;
	}
	if (event_loop_init(&rng->loop, RNG_RING_ENTRIES, e) < 0 ||
	    !(rng->vp = virtio_pci_create(bus, vm_fd, mem, &rng_ops, rng, e))) {
		virtio_rng_destroy(rng);
		return NULL;
	}
	int rc = pthread_create(&rng->thread, NULL, rng_thread, rng);
	if (rc != 0) {
		errno = rc;
		error_errno(e, "virtio-rng: cannot start its thread");
		virtio_rng_destroy(rng);
		return NULL;
	}
	rng->started = true;
	return rng;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	if (rng->started) {
		uint64_t one = 1;
		if (write(rng->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd */
		}
		pthread_join(rng->thread, NULL);
	}
	/* The ring first: its pending kick reads point into the transport's queues. */
	event_loop_destroy(&rng->loop);
	virtio_pci_destroy(rng->vp);
	close(rng->stop_fd);
	free(rng);
}

struct virtio_pci *virtio_rng_transport(struct virtio_rng *rng)
{
	return rng->vp;
}

uint64_t virtio_rng_bytes_served(struct virtio_rng *rng)
{
	return atomic_load(&rng->bytes_served);
}

void virtio_rng_get_counters(struct virtio_rng *rng, struct virtio_rng_counters *out)
{
	out->requests = atomic_load(&rng->requests);
	out->bytes = atomic_load(&rng->bytes_served);
	out->host_fails = atomic_load(&rng->host_fails);
}
