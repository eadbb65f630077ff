/* virtio-net (virtio v1.2, 5.1) on a host TAP interface: one receive and one transmit queue,
 * checksum and segmentation offloads passed through to the TAP (IFF_VNET_HDR + TUNSETOFFLOAD),
 * mergeable receive buffers, MAC/status/MTU in the device configuration, and token-bucket rate
 * limiting per direction (Firecracker's semantics; devices/rate_limiter.h).
 *
 * The device runs on its own thread with its own io_uring loop: guest kicks arrive as eventfd
 * reads, TAP readiness as an io_uring poll, rate-limiter waits as io_uring timeouts. Frames move
 * with readv/writev between the TAP and guest memory (received frames land directly in the
 * guest's buffers). Malformed frames from the guest are counted and dropped; a TAP deleted while
 * the VM runs turns the link down (the guest sees it in the status field) and later frames are
 * dropped; the VM keeps running either way. See docs/devices.md. */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"
#include "../rate_limiter.h"
#include "net_options.h"

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RX_QUEUE   0
#define VIRTIO_NET_TX_QUEUE   1

/* Per-device counters (totals since creation), for metrics. */
#define VIRTIO_NET_COUNTERS(X)                                                                  \
	X(rx_frames)            /* frames delivered to the guest */                             \
	X(rx_bytes)             /* their bytes, virtio-net header excluded */                    \
	X(tx_frames)            /* frames written to the TAP */                                  \
	X(tx_bytes)                                                                              \
	X(rx_dropped_bad_header) /* TAP frames with offloads the guest did not accept */         \
	X(rx_dropped_truncated) /* TAP frames larger than the buffers the guest offered */      \
	X(rx_bad_buffers)       /* receive buffers with readable parts or under 12 bytes */      \
	X(rx_buffer_waits)      /* frames waited for the guest to offer receive buffers */       \
	X(rx_rate_limited)      /* times the receive limiter made frames wait */                 \
	X(tx_malformed)         /* bad header, too short, too long: dropped */                   \
	X(tx_bad_chains)        /* transmit chains with device-writable parts: dropped */        \
	X(tx_tap_errors)        /* frames the host kernel refused */                             \
	X(tx_dropped_link_down) /* frames dropped because the TAP is gone */                     \
	X(tx_rate_limited)      /* times the transmit limiter made frames wait */                \
	X(tap_read_errors)      /* failed reads from the TAP (other than "no frame") */          \
	X(tap_gone)             /* 1 once the TAP interface disappeared */

struct virtio_net_counters {
#define VIRTIO_NET_COUNTER_FIELD(name) uint64_t name;
	VIRTIO_NET_COUNTERS(VIRTIO_NET_COUNTER_FIELD)
#undef VIRTIO_NET_COUNTER_FIELD
};

struct virtio_net;
struct virtio_pci;

/* Attaches to the TAP in `opts`, plugs a virtio-net function into `bus` and starts the device
 * thread. vm_fd -1: no KVM (tests). */
struct virtio_net *virtio_net_create(struct pci_bus *bus, int vm_fd, const struct guest_mem *mem,
				     const struct net_options *opts, struct error *e);
/* Stops the thread, unplugs the function, closes the TAP. Call after the vCPUs have stopped. */
void virtio_net_destroy(struct virtio_net *net);

/* Changes the rate limiters while the VM runs (from any thread; e.g. the API's PATCH
 * /network-interfaces/{id}). NULL leaves a direction alone; within an update, a bucket marked
 * RATE_LIMITER_KEEP is kept, one SET with size or refill time 0 is disabled, any other replaces
 * it (full). All or nothing: -1 changes nothing. As in Firecracker, a limiter that is blocked
 * at that moment lets its current wait run out first. */
int virtio_net_update_rate_limiters(struct virtio_net *net, const struct rate_limiter_update *rx,
				    const struct rate_limiter_update *tx, struct error *e);
void virtio_net_get_rate_limiters(struct virtio_net *net, struct rate_limiter_config *rx,
				  struct rate_limiter_config *tx);

/* A consistent-enough copy of the counters (each one read atomically). */
void virtio_net_get_counters(struct virtio_net *net, struct virtio_net_counters *out);

const struct net_options *virtio_net_options(const struct virtio_net *net); /* id, tap, mac... */
struct virtio_pci *virtio_net_transport(struct virtio_net *net);

#endif
