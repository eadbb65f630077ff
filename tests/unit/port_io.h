/* Shared by the device unit tests: drive a port handler the way a vCPU exit would. */
#ifndef EMBER_TEST_PORT_IO_H
#define EMBER_TEST_PORT_IO_H

#include <criterion/criterion.h>

#include "arch/x86/layout.h"
#include "devices/legacy/serial.h"
#include "vmm/io_bus.h"
#include "vmm/power.h"

static inline uint8_t in8(io_handler_fn fn, void *dev, uint64_t offset)
{
	uint8_t b = 0xa5;
	fn(dev, offset, &b, 1, false);
	return b;
}

static inline void out8(io_handler_fn fn, void *dev, uint64_t offset, uint8_t value)
{
	fn(dev, offset, &value, 1, true);
}

struct power_log {
	int count;
	enum power_event ev;
	int status;
};

static inline void record_power(void *opaque, enum power_event ev, int status)
{
	struct power_log *log = opaque;
	log->count++;
	log->ev = ev;
	log->status = status;
}


static inline struct serial *new_serial(int out_fd)
{
	struct serial_config cfg = { .out_fd = out_fd, .irq = { .vm_fd = -1, .gsi = IRQ_COM1 } };
	struct error e;
	struct serial *s = serial_create(&cfg, &e);
	cr_assert_not_null(s, "%s", e.msg);
	return s;
}

#endif
