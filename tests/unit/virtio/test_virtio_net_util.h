/* Shared by the virtio-net device tests: a real TAP interface in a private network namespace
 * (each Criterion test runs in its own process, which unshares its own namespace), an AF_PACKET
 * socket on it playing "the host network" (what it sends, the device receives from the TAP; what
 * the device writes to the TAP, it receives), and the guest side through the pretend driver.
 * Needs root and /dev/net/tun; tests skip otherwise. */
#ifndef EMBER_TEST_VIRTIO_NET_UTIL_H
#define EMBER_TEST_VIRTIO_NET_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/net.h"
#include "devices/virtio/net_hdr.h"
#include "devices/virtio/virtio_spec.h"
#include "virtio_pci_test_driver.h"

#define NT_TAP "emt0"
#define NT_RXQ VIRTIO_NET_RX_QUEUE
#define NT_TXQ VIRTIO_NET_TX_QUEUE
#define NT_HDR 12

#define NT_F(bit) VIRTIO_BIT(VIRTIO_NET_F_##bit)
/* What a Linux guest takes: everything offered but MTU. */
#define NT_FEATURES                                                                                \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | NT_F(CSUM) | NT_F(GUEST_CSUM) | NT_F(MAC) |              \
	 NT_F(GUEST_TSO4) | NT_F(GUEST_TSO6) | NT_F(GUEST_ECN) | NT_F(GUEST_UFO) |                 \
	 NT_F(HOST_TSO4) | NT_F(HOST_TSO6) | NT_F(HOST_ECN) | NT_F(HOST_UFO) | NT_F(MRG_RXBUF) |   \
	 NT_F(STATUS))

struct nt {
	struct vdrv d;
	struct virtio_net *net;
	struct vd_ring rx, tx;
	int pkt;             /* AF_PACKET socket on the TAP */
	int ifindex;
	uint16_t rx_used_seen, tx_used_seen;
};

/* Unshares a network namespace and creates the device on NT_TAP with `opts` ("tap=emt0,..."),
 * then brings the interface up with `mtu` (0: leave it) and opens the packet socket. Skips the
 * test without root or /dev/net/tun. */
void nt_setup(struct nt *t, const char *opts, unsigned mtu);
void nt_teardown(struct nt *t);

/* Negotiates `features`, sets up both queues (size 256) with vectors 1 (rx) and 2 (tx), config
 * vector 0, DRIVER_OK. */
void nt_bring_up(struct nt *t, uint64_t features);

/* Offers one receive buffer of `len` bytes (one descriptor); returns its guest address. */
uint64_t nt_post_rx(struct nt *t, uint32_t len);
/* Sends a guest frame: header `hdr` (NULL: zeros) then `frame`; `split` > 1 cuts header and frame
 * into that many descriptors each. Kicks. Returns the chain head. */
uint16_t nt_send(struct nt *t, const uint8_t *hdr, const uint8_t *frame, uint32_t len,
		 unsigned split);

/* Waits (up to ms) for the used index of a queue to reach `want`. */
bool nt_wait_used(struct nt *t, struct vd_ring *r, uint16_t want, unsigned ms);
bool nt_wait_status(struct nt *t, uint8_t bit, unsigned ms);

/* Host side: send a frame out of the TAP interface (towards the guest) / receive one the guest
 * sent whose payload starts with `magic` at offset 14 (other traffic is skipped). -1: timeout. */
void nt_host_send(struct nt *t, const uint8_t *frame, uint32_t len);
int nt_host_recv(struct nt *t, uint8_t *buf, uint32_t cap, uint32_t magic, unsigned ms);

/* An Ethernet frame of `len` bytes: broadcast destination, a local source, EtherType 0x88b5
 * (local experimental), then `magic` (4 bytes) and a byte pattern from `seed`. */
void nt_frame(uint8_t *buf, uint32_t len, uint32_t magic, uint8_t seed);

struct virtio_net_counters nt_counters(struct nt *t);
/* Reads the device configuration (offset, size). */
uint64_t nt_config(struct nt *t, unsigned offset, unsigned size);
/* Deletes the TAP interface (`ip link del`). */
void nt_delete_tap(struct nt *t);
void nt_sleep_ms(unsigned ms);
uint64_t nt_now_ms(void);

#endif
