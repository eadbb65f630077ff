/* Port-I/O and MMIO dispatch: devices claim address ranges, vCPU threads route exits to them.
 * Handlers run on vCPU threads, possibly several at once: a device protects its own state. */
#ifndef EMBER_IO_BUS_H
#define EMBER_IO_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* offset is relative to the range's base; size is 1, 2, 4 or 8. For reads the handler fills
 * data[0..size); for writes it consumes it. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
			      bool is_write);

struct io_range {
	uint64_t base;
	uint64_t len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	const char *name;        /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;   /* ranges change rarely (PCI BAR moves), are read on every exit */
	struct io_range *ranges; /* sorted by base, non-overlapping */
	unsigned nranges, cap;
};

void io_bus_init(struct io_bus *bus, const char *name);
void io_bus_destroy(struct io_bus *bus);
/* Claims [base, base+len). Fails (naming both owners) on overlap. */
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
	       const char *name, struct error *e);
int io_bus_remove(struct io_bus *bus, uint64_t base);
/* Routes one access. Returns false when no device claims addr: reads then see all-ones. */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t size, bool is_write);

#endif
