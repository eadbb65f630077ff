/* Ember's own ports for test guests and boot timing:
 *  - PORT_EMBER_TEST_EXIT (0x501): a write of N ends the VM with exit status N (POWER_EXIT).
 *  - PORT_EMBER_BOOT_TIMER (0x440): any write marks "guest ready"; Ember logs guest-ready-us=N
 *    (microseconds since process start) to stderr once. */
#ifndef EMBER_DEBUG_PORT_H
#define EMBER_DEBUG_PORT_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/power.h"

struct debug_port;

struct debug_port *debug_port_create(const struct power_ctl *power, uint64_t start_ns,
				     struct error *e);
void debug_port_destroy(struct debug_port *d);
int debug_port_attach(struct debug_port *d, struct io_bus *pio, struct error *e);
/* Microseconds from process start to the guest's ready write, or -1 if not yet. */
int64_t debug_port_ready_us(const struct debug_port *d);

#endif
