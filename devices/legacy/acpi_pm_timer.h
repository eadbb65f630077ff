/* The ACPI power-management timer (ACPI 6.3, 4.8.3.3): a free-running 24-bit counter at
 * 3.579545 MHz, read as 32 bits at PM_TMR_BLK. Ember's guests do not need it (their FADT is
 * HW-reduced: no PM timer), but firmware does: OVMF times every delay with it, at PMBASE + 8 of
 * the Q35 LPC function (devices/pci/pci_q35.c fixes PMBASE at 0x600). Reads only; the counter
 * follows the host's CLOCK_MONOTONIC. */
#ifndef EMBER_ACPI_PM_TIMER_H
#define EMBER_ACPI_PM_TIMER_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"

#define ACPI_PM_TIMER_HZ   3579545ULL
#define ACPI_PM_TIMER_MASK 0xffffffu /* TMR_VAL_EXT clear: 24 bits */

struct acpi_pm_timer;

/* Plain state: the counter's value when it was saved; it runs on from there after restore. */
struct acpi_pm_timer_state {
	uint32_t counter;
};

struct acpi_pm_timer *acpi_pm_timer_create(struct error *e);
void acpi_pm_timer_destroy(struct acpi_pm_timer *t);
/* Claims the 4 ports at `port`. */
int acpi_pm_timer_attach(struct acpi_pm_timer *t, struct io_bus *pio, uint16_t port,
			 struct error *e);
/* The counter value for a host time in nanoseconds (exposed for tests). */
uint32_t acpi_pm_timer_value(const struct acpi_pm_timer *t, uint64_t now_ns);
void acpi_pm_timer_save(const struct acpi_pm_timer *t, struct acpi_pm_timer_state *out);
void acpi_pm_timer_restore(struct acpi_pm_timer *t, const struct acpi_pm_timer_state *in);
void acpi_pm_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
