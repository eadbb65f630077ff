/* virtio-vsock (virtio v1.2, 5.10): stream sockets between the guest and host processes, with
 * Firecracker's host-side convention on Unix sockets (`--vsock cid=N,uds=PATH`):
 *
 *   host → guest  a host process connects to PATH, writes "CONNECT <port>\n", gets back
 *                 "OK <hostport>\n" once the guest's listener on <port> accepted, then the byte
 *                 stream; a guest that refuses (RST) gets the Unix socket closed.
 *   guest → host  a guest connection to CID 2 port P becomes a new connection to the Unix socket
 *                 "PATH_P"; if nobody listens there the guest gets RST (ECONNRESET/ECONNREFUSED).
 *
 * Three queues: rx (0, packets to the guest), tx (1, packets from it), event (2, the transport
 * reset event after a restore or device reset). Credit-based flow control both ways (5.10.6.3):
 * the device never sends a connection more than the guest's advertised free buffer, stops reading
 * a Unix socket while the guest has no credit, and advertises a bounded per-connection buffer
 * for what the guest sends, so a host peer that stops reading only stalls its own connection.
 *
 * The device runs on its own thread and io_uring loop: kicks, accepts and Unix-socket readiness
 * (io_uring poll) all complete there; socket reads and writes are non-blocking. See
 * docs/devices.md. */
#ifndef EMBER_VIRTIO_VSOCK_H
#define EMBER_VIRTIO_VSOCK_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"
#include "vsock_options.h"

#define VIRTIO_VSOCK_QUEUE_SIZE 256
#define VIRTIO_VSOCK_RX_QUEUE   0
#define VIRTIO_VSOCK_TX_QUEUE   1
#define VIRTIO_VSOCK_EVENT_QUEUE 2

/* Connections at once (both directions, host connections still sending their CONNECT line
 * included). Beyond it, guest requests get RST and host connections are closed. */
#define VIRTIO_VSOCK_MAX_CONNECTIONS 256
/* The receive buffer the device advertises per connection (buf_alloc) for guest → host bytes:
 * what it holds at most while the host peer does not read. Allocated only when needed. */
#define VIRTIO_VSOCK_CONN_BUFFER (256u << 10)

/* Per-device counters (totals since creation), for metrics. */
#define VIRTIO_VSOCK_COUNTERS(X)                                                                \
	X(rx_packets)           /* packets delivered to the guest */                            \
	X(rx_bytes)             /* their payload bytes */                                        \
	X(tx_packets)           /* packets the guest sent (well formed or not) */                \
	X(tx_bytes)             /* payload bytes of its RW packets that were accepted */         \
	X(conns_from_host)      /* host → guest connections the guest accepted */                \
	X(conns_from_guest)     /* guest → host connections made to PATH_P */                    \
	X(conns_refused)        /* guest requests answered RST, host CONNECTs the guest refused */ \
	X(conns_closed)         /* connections ended, any way */                                 \
	X(rst_sent)             /* RST packets to the guest */                                   \
	X(rst_received)         /* RST packets from the guest */                                 \
	X(malformed)            /* packets dropped: bad header, forged source, bad chain */      \
	X(protocol_errors)      /* valid packets out of place (credit overrun, wrong state): RST */ \
	X(credit_updates)       /* CREDIT_UPDATE packets sent */                                 \
	X(credit_stalls)        /* times a connection ran out of guest credit (reading paused) */ \
	X(rx_buffer_waits)      /* times packets waited for the guest to offer rx buffers */     \
	X(rst_dropped)          /* RSTs not sent because too many were waiting */                \
	X(host_errors)          /* Unix-socket failures (reset by the host peer, accept errors) */ \
	X(host_bad_connects)    /* host connections without a valid "CONNECT <port>\n" */        \
	X(transport_resets)     /* TRANSPORT_RESET events delivered */

struct virtio_vsock_counters {
#define VIRTIO_VSOCK_COUNTER_FIELD(name) uint64_t name;
	VIRTIO_VSOCK_COUNTERS(VIRTIO_VSOCK_COUNTER_FIELD)
#undef VIRTIO_VSOCK_COUNTER_FIELD
	uint64_t active_connections; /* at the time of the call */
};

struct virtio_vsock;
struct virtio_pci;

/* Listens on opts->uds_path (a stale socket left by a dead process is replaced; anything else
 * there is an error), plugs a virtio-vsock function into `bus` and starts the device thread.
 * vm_fd -1: no KVM (tests). */
struct virtio_vsock *virtio_vsock_create(struct pci_bus *bus, int vm_fd,
					 const struct guest_mem *mem,
					 const struct vsock_options *opts, struct error *e);
/* Stops the thread, closes every connection, removes the listening socket's file and unplugs the
 * function. Call after the vCPUs have stopped. */
void virtio_vsock_destroy(struct virtio_vsock *vs);

void virtio_vsock_get_counters(struct virtio_vsock *vs, struct virtio_vsock_counters *out);
const struct vsock_options *virtio_vsock_options(const struct virtio_vsock *vs);
struct virtio_pci *virtio_vsock_transport(struct virtio_vsock *vs);

#endif
