/* Bridges the host's stdin to the guest's serial port (or another sink: --console virtio) on the
 * event loop: raw mode on a terminal (restored on exit), Ctrl-A x to quit, back-pressure when the
 * UART's buffer is full (input is held, never dropped), EOF on a pipe simply ends input. */
#ifndef EMBER_CONSOLE_H
#define EMBER_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "../devices/legacy/serial.h"
#include "event_loop.h"

struct console {
	int in_fd;
	struct serial *serial;
	/* Where input goes instead of the UART (--console virtio: virtio_console_receive), with
	 * serial_receive's contract: returns the bytes taken, and a short count is followed by a
	 * console_wake when there is room again. NULL: the serial port. */
	size_t (*sink)(void *opaque, const uint8_t *buf, size_t n);
	void *sink_opaque;
	struct event_loop *loop;
	void (*quit)(void *opaque); /* Ctrl-A x */
	void *quit_opaque;

	struct ev_op input_ready;   /* in_fd readable */
	struct ev_op room_ready;    /* the UART drained: wake_fd signalled */
	int wake_fd;                /* eventfd written by serial's rx_ready (vCPU thread) */
	uint8_t held[512];          /* read from in_fd, not yet taken by the UART */
	size_t held_start, held_end;
	bool escape_pending;        /* previous byte was Ctrl-A */
	bool is_tty;
	bool closed;
	struct termios saved_termios;
};

/* Sets up the wake eventfd; call before creating the serial port (its rx_ready callback is
 * console_wake). */
int console_init(struct console *c, int in_fd, struct event_loop *loop, struct error *e);
/* Sends input to `sink` rather than to the serial port; call before console_start. */
void console_set_sink(struct console *c, size_t (*sink)(void *opaque, const uint8_t *buf, size_t n),
		      void *opaque);
/* Puts a terminal in raw mode and starts reading. */
int console_start(struct console *c, struct serial *serial, struct error *e);
/* serial_config.rx_ready callback: the UART (or the sink) has room again. Called from a vCPU
 * thread (or the sink's device thread). */
void console_wake(void *opaque);
/* Restores the terminal; idempotent. */
void console_restore(struct console *c);
void console_destroy(struct console *c);

#endif
