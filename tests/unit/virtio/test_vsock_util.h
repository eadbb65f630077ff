/* Shared by the virtio-vsock device tests: the device on its thread (no KVM) with the pretend
 * driver playing a Linux guest (rx buffers of a 44-byte header descriptor plus a 4 KiB payload
 * descriptor, two-descriptor tx packets, event buffers), and the host side on real Unix sockets
 * in a private temporary directory. */
#ifndef EMBER_TEST_VSOCK_UTIL_H
#define EMBER_TEST_VSOCK_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/vsock.h"
#include "devices/virtio/vsock_packet.h"
#include "virtio_pci_test_driver.h"

#define VT_CID        42u
#define VT_RX_BUFS    64
#define VT_RX_PAYLOAD 4096
#define VT_EVENT_BUFS 4
#define VT_BUF_ALLOC  (256u << 10)  /* what the pretend guest advertises by default */

struct vt {
	struct vdrv d;
	struct virtio_vsock *vs;
	struct vd_ring rx, tx, ev;
	char dir[64];
	char uds[VSOCK_UDS_PATH_MAX + 1];
	uint64_t rx_hdr[VT_RX_BUFS], rx_data[VT_RX_BUFS];
	int head_to_buf[256];
	uint16_t rx_seen, ev_seen, tx_sent;
	uint64_t tx_buf;          /* header + 64 KiB payload */
	uint64_t ev_buf[VT_EVENT_BUFS];
	uint32_t rx_payload;      /* payload descriptor size of each rx buffer */
};

/* A device for guest CID VT_CID listening on <tmpdir>/v.sock. */
void vt_setup(struct vt *t);
void vt_teardown(struct vt *t);

/* DRIVER_OK with three queues (vectors 1-3, config 0), VT_RX_BUFS rx buffers of `payload`
 * bytes each after a header descriptor, VT_EVENT_BUFS event buffers. */
void vt_bring_up(struct vt *t, uint32_t payload);

/* A header from the guest: src VT_CID:gport, dst 2:hport, stream, buf_alloc VT_BUF_ALLOC. */
struct vsock_hdr vt_hdr(uint16_t op, uint32_t gport, uint32_t hport);
/* Sends a packet (header descriptor + payload descriptor when len > 0), kicks, and waits for the
 * device to return it. */
void vt_send(struct vt *t, const struct vsock_hdr *h, const void *payload, uint32_t len);
/* Sends raw bytes as a tx chain of one descriptor (writable if `writable`). */
void vt_send_raw(struct vt *t, const void *bytes, uint32_t len, bool writable);

/* Waits up to ms for the next packet to the guest: its header in *h and payload into buf (at most
 * cap bytes); returns false on timeout. The buffer is offered again. */
bool vt_recv(struct vt *t, struct vsock_hdr *h, void *buf, uint32_t cap, unsigned ms);
/* Asserts that no packet arrives within ms. */
void vt_expect_silence(struct vt *t, unsigned ms);
/* Waits for the next event: its id, or -1 on timeout. */
int vt_event(struct vt *t, unsigned ms);

/* Host side. */
char *vt_port_path(struct vt *t, uint32_t port, char buf[108]);
int vt_host_listen(struct vt *t, uint32_t port);
/* Connects to the uds and sends `line` (e.g. "CONNECT 1234\n"); blocking socket. */
int vt_host_connect_raw(struct vt *t, const char *line);
/* Reads the device's answer line ("OK 1073741824\n"): its length, 0 on EOF, -1 on timeout. */
int vt_host_read_line(int fd, char *buf, unsigned cap, unsigned ms);
/* Reads exactly n bytes within ms (false otherwise). */
bool vt_host_read_all(int fd, void *buf, uint32_t n, unsigned ms);
/* Waits until fd reads EOF (or an error such as ECONNRESET): true, false on timeout. */
bool vt_host_wait_closed(int fd, unsigned ms);
int vt_accept(int listener, unsigned ms);

/* A guest → host connection through the device: REQUEST, RESPONSE, and the accepted host
 * socket (returned). */
int vt_guest_connect(struct vt *t, int listener, uint32_t gport, uint32_t hport);
/* A host → guest connection: CONNECT, REQUEST seen by the guest, RESPONSE, "OK"; returns the
 * host socket and the host port in *hport. */
int vt_host_connect(struct vt *t, uint32_t gport, uint32_t *hport);

struct virtio_vsock_counters vt_counters(struct vt *t);
void vt_fill(uint8_t *buf, uint32_t len, uint32_t seed);
void vt_sleep_ms(unsigned ms);

#endif
