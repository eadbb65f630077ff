/* The ACPI PM timer: see acpi_pm_timer.h. */
#include "acpi_pm_timer.h"

#include <stdlib.h>
#include <time.h>

#define PM_TIMER_PORTS 4
#define NS_PER_S       1000000000ULL

/* The counter is (ticks of the host's CLOCK_MONOTONIC + offset) & mask. */
struct acpi_pm_timer {
	uint32_t offset; /* written only at restore, before vCPUs run */
};

/* ns * 3579545 / 1e9 without overflowing 64 bits for any ns. */
static uint64_t ticks(uint64_t ns)
{
	return ns / NS_PER_S * ACPI_PM_TIMER_HZ + ns % NS_PER_S * ACPI_PM_TIMER_HZ / NS_PER_S;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint32_t acpi_pm_timer_value(const struct acpi_pm_timer *t, uint64_t ns)
{
	return (uint32_t)((ticks(ns) + t->offset) & ACPI_PM_TIMER_MASK);
}

void acpi_pm_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	const struct acpi_pm_timer *t = opaque;
	if (is_write)
		return; /* the counter is read-only */
	uint32_t v = acpi_pm_timer_value(t, now_ns());
	/* Byte and word reads see the matching slice of the 32-bit register. */
	for (uint32_t i = 0; i < size; i++)
		data[i] = offset + i < PM_TIMER_PORTS ? (uint8_t)(v >> (8 * (offset + i))) : 0xff;
}

struct acpi_pm_timer *acpi_pm_timer_create(struct error *e)
{
	struct acpi_pm_timer *t = calloc(1, sizeof(*t));
	if (!t)
		error_set(e, "acpi pm timer: out of memory");
	return t;
}

void acpi_pm_timer_destroy(struct acpi_pm_timer *t)
{
	free(t);
}

int acpi_pm_timer_attach(struct acpi_pm_timer *t, struct io_bus *pio, uint16_t port,
			 struct error *e)
{
	return io_bus_add(pio, port, PM_TIMER_PORTS, acpi_pm_timer_io, t, "acpi pm timer", e);
}

/* Restoring on another host (another clock origin) continues from the saved value. */
void acpi_pm_timer_save(const struct acpi_pm_timer *t, struct acpi_pm_timer_state *out)
{
	out->counter = acpi_pm_timer_value(t, now_ns());
}

void acpi_pm_timer_restore(struct acpi_pm_timer *t, const struct acpi_pm_timer_state *in)
{
	t->offset = (uint32_t)((in->counter - ticks(now_ns())) & ACPI_PM_TIMER_MASK);
}
