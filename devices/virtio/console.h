/* virtio-console (virtio v1.2, 5.3): one console port (no MULTIPORT), i.e. two queues, port 0's
 * receiveq (queue 0, host -> guest) and transmitq (queue 1, guest -> host). The guest sees it as
 * /dev/hvc0. It runs on its own thread with its own io_uring loop:
 *
 *  - input: virtio_console_receive (called on the control loop by vmm/console.c, which owns
 *    stdin, raw mode and Ctrl-A x) copies bytes into a staging buffer and wakes the device
 *    thread, which moves them into the buffers the driver offers on the receiveq. When the
 *    staging buffer is full it takes fewer bytes and calls rx_ready once there is room again,
 *    so input is held, never dropped (the same contract as serial_receive);
 *  - output: transmitq buffers are copied into an output buffer and written to out_fd with
 *    io_uring writes; while a write is in flight the device takes no more buffers (the guest
 *    waits, nothing is dropped). At shutdown the output still buffered is written (bounded
 *    wait).
 *
 * VIRTIO_CONSOLE_F_SIZE is offered when tty_fd is a terminal: cols/rows come from TIOCGWINSZ,
 * and virtio_console_resize re-reads them (SIGWINCH) and raises a configuration change. */
#ifndef EMBER_VIRTIO_CONSOLE_H
#define EMBER_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../pci/pci.h"

#define VIRTIO_CONSOLE_QUEUE_SIZE   256
#define VIRTIO_CONSOLE_RECEIVEQ     0
#define VIRTIO_CONSOLE_TRANSMITQ    1
/* Device feature bits (5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE       0
#define VIRTIO_CONSOLE_F_MULTIPORT  1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2
/* Configuration layout (5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr. */
#define VIRTIO_CONSOLE_CFG_COLS     0
#define VIRTIO_CONSOLE_CFG_ROWS     2
#define VIRTIO_CONSOLE_CFG_SIZE     12
/* Host input held for the guest before stdin stops being read (back-pressure). */
#define VIRTIO_CONSOLE_RX_STAGING   4096
/* Guest output taken per write to out_fd. */
#define VIRTIO_CONSOLE_TX_BUFFER    16384
/* Buffers per chain: Linux uses one; more than this is a guest error. */
#define VIRTIO_CONSOLE_MAX_SEGMENTS 64

struct virtio_console_config {
	int out_fd;                      /* guest output goes here (stdout) */
	int tty_fd;                      /* terminal for the window size; -1 or not a tty: none */
	void (*rx_ready)(void *opaque);  /* room again after a short virtio_console_receive */
	void *rx_ready_opaque;
};

/* The device's own snapshot record (the transport's comes first, virtio_pci_save). */
struct virtio_console_state {
	uint16_t cols, rows;
	uint8_t reserved[4];
};

struct virtio_console;
struct virtio_pci;

/* Plugs a virtio-console function into `bus` and starts its thread. vm_fd -1: no KVM (tests). */
struct virtio_console *virtio_console_create(struct pci_bus *bus, int vm_fd,
					     const struct guest_mem *mem,
					     const struct virtio_console_config *cfg,
					     struct error *e);
/* Writes out buffered output (waiting at most a second), stops the thread, unplugs the device.
 * Call after the vCPUs have stopped. NULL is fine. */
void virtio_console_destroy(struct virtio_console *vc);

/* Host input for the guest; `opaque` is the struct virtio_console (the shape of vmm/console.c's
 * input sink). Takes as many bytes as there is room for and returns that count; after a short
 * count, cfg.rx_ready is called (from the device thread) when room comes back. Any thread. */
size_t virtio_console_receive(void *opaque, const uint8_t *buf, size_t n);

/* The terminal's size may have changed (SIGWINCH): re-read it and, if it did change, tell the
 * driver (configuration change interrupt). No-op without VIRTIO_CONSOLE_F_SIZE. Any thread. */
void virtio_console_resize(struct virtio_console *vc);

/* For tests and statistics. */
struct virtio_pci *virtio_console_transport(struct virtio_console *vc);
uint64_t virtio_console_bytes_in(struct virtio_console *vc);   /* delivered to the guest */
uint64_t virtio_console_bytes_out(struct virtio_console *vc);  /* written to out_fd */

#endif
