/* The host side of virtio-net: a TAP interface opened with IFF_VNET_HDR, so every frame read or
 * written carries a 12-byte virtio-net header (checksum and segmentation offload information)
 * in front of it. The fd is non-blocking; readiness is waited for on the device's io_uring loop.
 *
 * TAP offloads (TUNSETOFFLOAD) say what the *reader* can take: TUN_F_CSUM lets the kernel hand
 * over frames with a partial checksum, TUN_F_TSO4/6/UFO oversized GSO frames. Ember sets them
 * from what the guest driver accepted (GUEST_CSUM, GUEST_TSO4, ...). Frames the guest sends
 * may always carry offload requests: the kernel completes them in software when needed. */
#ifndef EMBER_VIRTIO_TAP_H
#define EMBER_VIRTIO_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/error.h"

#define TAP_VNET_HDR_LEN 12   /* struct virtio_net_hdr_v1 (virtio 1.x: num_buffers included) */

/* TUNSETOFFLOAD flags, as <linux/if_tun.h> numbers them. */
#define TAP_OFFLOAD_CSUM    0x01u
#define TAP_OFFLOAD_TSO4    0x02u
#define TAP_OFFLOAD_TSO6    0x04u
#define TAP_OFFLOAD_TSO_ECN 0x08u
#define TAP_OFFLOAD_UFO     0x10u

struct tap {
	int fd;
	char name[16];
	unsigned offloads;    /* last TAP_OFFLOAD_* set */
};

/* Attaches to the TAP interface `name` (created if it does not exist and we may: it then goes
 * away with the fd) with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte header, no offloads. */
int tap_open(struct tap *t, const char *name, struct error *e);
void tap_close(struct tap *t);

/* -1 with errno set (and e filled) on failure. */
int tap_set_offloads(struct tap *t, unsigned offloads, struct error *e);

/* readv/writev of one frame (header included). Return bytes or -errno. A read never returns more
 * than the iovecs hold: a larger frame is silently truncated (the rest is lost). */
ssize_t tap_read(struct tap *t, const struct iovec *iov, int iovcnt);
ssize_t tap_write(struct tap *t, const struct iovec *iov, int iovcnt);

/* Errors that mean the interface is gone (deleted while attached): no frame will pass again. */
bool tap_error_is_fatal(int err);

#endif
