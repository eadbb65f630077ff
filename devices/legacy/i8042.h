/* A minimal i8042 keyboard controller (ports 0x60/0x64): enough for Linux to probe it and for the
 * reset line (command 0xFE), which is how `reboot=k` guests reboot. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/power.h"

struct i8042;

struct i8042 *i8042_create(const struct power_ctl *power, struct error *e);
void i8042_destroy(struct i8042 *k);
int i8042_attach(struct i8042 *k, struct io_bus *pio, struct error *e);
void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
