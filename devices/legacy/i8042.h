/* A minimal i8042 keyboard controller (ports 0x60/0x64): enough for Linux to probe it, for the
 * reset line (command 0xFE), which is how `reboot=k` guests reboot, and for Ctrl-Alt-Del on
 * IRQ 1. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/irq.h"
#include "../../vmm/power.h"

struct i8042;

/* The keyboard's ISA interrupt (arch/x86/layout.h has COM1's and the RTC's). */
#define IRQ_I8042_KBD 1

struct i8042 *i8042_create(const struct power_ctl *power, struct error *e);
void i8042_destroy(struct i8042 *k);
int i8042_attach(struct i8042 *k, struct io_bus *pio, struct error *e);
void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);
/* Connects IRQ 1; without it key presses are only seen by polling guests. */
void i8042_set_irq(struct i8042 *k, const struct irq_line *kbd_irq);
/* Types Ctrl-Alt-Del (press and release) on the keyboard, like Firecracker's SendCtrlAltDel.
 * Fails when the keyboard buffer has no room for the whole sequence. Safe from any thread. */
int i8042_send_ctrl_alt_del(struct i8042 *k, struct error *e);

#endif
