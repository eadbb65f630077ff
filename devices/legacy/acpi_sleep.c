/* The HW-reduced ACPI sleep registers (ACPI 6.x, 4.8.3.7 and 4.8.3.8) the FADT's
 * SLEEP_CONTROL_REG and SLEEP_STATUS_REG point at: one byte each, adjacent ports. */
#include "acpi_sleep.h"

#include <errno.h>
#include <stdlib.h>

#include "../../arch/x86/layout.h"

#define SLEEP_OFF_CONTROL 0
#define SLEEP_OFF_STATUS  (PORT_ACPI_SLEEP_STATUS - PORT_ACPI_SLEEP_CONTROL)
#define SLEEP_NPORTS      (SLEEP_OFF_STATUS + 1)

_Static_assert(PORT_ACPI_SLEEP_STATUS == PORT_ACPI_SLEEP_CONTROL + 1,
	       "the sleep device claims control and status as one 2-port range");

#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  0x07
#define SLP_EN        0x20

struct acpi_sleep {
	struct power_ctl power; /* no guest-visible state: nothing to save */
};

static void write_control(struct acpi_sleep *s, uint8_t value)
{
	if (!(value & SLP_EN))
		return;
	unsigned type = (value >> SLP_TYP_SHIFT) & SLP_TYP_MASK;
	/* Only \_S5 is advertised, so a conforming guest never asks for S1-S4, and a VM cannot be
	 * suspended from inside anyway: other types are ignored. (The guest then polls WAK_STS,
	 * which never sets: it stays in its sleep loop rather than running on confused.) */
	if (type == ACPI_S5_SLEEP_TYPE)
		power_request(&s->power, POWER_OFF, 0);
}

void acpi_sleep_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct acpi_sleep *s = opaque;
	if (size == 0 || size > 8)
		return;
	/* Wider accesses split into byte cycles on consecutive ports. */
	for (uint32_t i = 0; i < size; i++) {
		bool mine = offset < SLEEP_NPORTS && i < SLEEP_NPORTS - offset;
		if (!is_write)
			/* Control is write-only; status reads 0 (WAK_STS clear) and its write-1-to-clear
			 * bits have nothing to clear. Bytes past the range float high. */
			data[i] = mine ? 0 : 0xff;
		else if (mine && offset + i == SLEEP_OFF_CONTROL)
			write_control(s, data[i]);
	}
}

struct acpi_sleep *acpi_sleep_create(const struct power_ctl *power, struct error *e)
{
	struct acpi_sleep *s = calloc(1, sizeof(*s));
	if (!s) {
		error_errno(e, "acpi sleep: cannot allocate the sleep registers");
		return NULL;
	}
	if (power)
		s->power = *power;
	return s;
}

void acpi_sleep_destroy(struct acpi_sleep *s)
{
	free(s);
}

int acpi_sleep_attach(struct acpi_sleep *s, struct io_bus *pio, struct error *e)
{
	return io_bus_add(pio, PORT_ACPI_SLEEP_CONTROL, SLEEP_NPORTS, acpi_sleep_io, s,
			  "acpi sleep control/status", e);
}
