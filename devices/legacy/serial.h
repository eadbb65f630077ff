/* A 16550A UART (COM1 at 0x3f8, IRQ 4) bridged to host file descriptors. */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/irq.h"

struct serial;

struct serial_config {
	int out_fd;                 /* guest THR bytes go here (stdout); -1 discards */
	struct irq_line irq;
	/* Called (from a vCPU thread) when the receive buffer had been full and has room again, so
	 * the event loop can resume reading input. May be NULL. */
	void (*rx_ready)(void *opaque);
	void *rx_ready_opaque;
};

struct serial *serial_create(const struct serial_config *cfg, struct error *e);
void serial_destroy(struct serial *s);
/* Registers the 8 ports at base. */
int serial_attach(struct serial *s, struct io_bus *pio, uint16_t base, struct error *e);
/* Host input for the guest: queues up to n bytes, returns how many were taken (0 when full). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n);
size_t serial_rx_space(struct serial *s);
/* The port handler itself (exposed for unit tests). */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
