/* virtio-rng (virtio v1.2, 5.4): one request queue; the device fills each buffer the driver
 * offers with bytes from the host's getrandom(2). It runs on its own thread with its own
 * io_uring loop, where the queue's kicks arrive as eventfd reads. */
#ifndef EMBER_VIRTIO_RNG_H
#define EMBER_VIRTIO_RNG_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"

/* Bytes served per request at most: bounds the work one kick can cost (a request may ask for
 * up to 4 GiB). The driver simply asks again. */
#define VIRTIO_RNG_MAX_REQUEST 4096
#define VIRTIO_RNG_QUEUE_SIZE  256

struct virtio_rng;
struct virtio_pci;

/* Plugs a virtio-rng function into `bus` and starts its thread. vm_fd -1: no KVM (tests). */
struct virtio_rng *virtio_rng_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     struct error *e);
/* Stops the thread and unplugs the device. Call after the vCPUs have stopped. */
void virtio_rng_destroy(struct virtio_rng *rng);

/* For tests and statistics. */
struct virtio_pci *virtio_rng_transport(struct virtio_rng *rng);
uint64_t virtio_rng_bytes_served(struct virtio_rng *rng);

/* Totals since creation, for metrics (each read atomically; any thread). */
struct virtio_rng_counters {
	uint64_t requests;     /* buffers filled and given back */
	uint64_t bytes;        /* random bytes written into them */
	uint64_t host_fails;   /* getrandom(2) failures (the buffer went back short) */
};
void virtio_rng_get_counters(struct virtio_rng *rng, struct virtio_rng_counters *out);

#endif
