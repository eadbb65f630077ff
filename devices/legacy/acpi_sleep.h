/* The HW-reduced ACPI sleep control/status registers the FADT points at. Writing SLP_EN with
 * SLP_TYP = S5 powers the VM off. */
#ifndef EMBER_ACPI_SLEEP_H
#define EMBER_ACPI_SLEEP_H

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "../../vmm/power.h"

struct acpi_sleep;

struct acpi_sleep *acpi_sleep_create(const struct power_ctl *power, struct error *e);
void acpi_sleep_destroy(struct acpi_sleep *s);
int acpi_sleep_attach(struct acpi_sleep *s, struct io_bus *pio, struct error *e);
void acpi_sleep_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
