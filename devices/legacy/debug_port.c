/* Ember's own ports for test guests (exit with a status) and boot timing (guest-ready mark). */
#include "debug_port.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../arch/x86/layout.h"

/* Both ports take 1-, 2- or 4-byte writes, so each claims 4 ports: a 4-byte access must not
 * straddle the end of its range. */
#define DEBUG_PORT_WIDTH 4

struct debug_port {
	struct power_ctl power;
	uint64_t start_ns;            /* CLOCK_MONOTONIC at process start */
	_Atomic int64_t ready_us;     /* -1 until the guest's first ready write */
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
			 bool is_write)
{
	struct debug_port *d = opaque;
	if (!is_write) {
		memset(data, 0, size);
		return;
	}
	/* Only a write that starts at the port itself counts; the status is its low byte (the
	 * value is little-endian), as an exit status cannot carry more. */
	if (offset == 0)
		power_request(&d->power, POWER_EXIT, data[0]);
}

static void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
			  bool is_write)
{
	struct debug_port *d = opaque;
	(void)offset;
	if (!is_write) {
		memset(data, 0, size);
		return;
	}
	uint64_t now = monotonic_ns();
	int64_t us = now > d->start_ns ? (int64_t)((now - d->start_ns) / 1000) : 0;
	int64_t unset = -1;
	/* Several vCPUs may write at once: only the first one records and logs. */
	if (!atomic_compare_exchange_strong(&d->ready_us, &unset, us))
		return;
	char line[64];
	int len = snprintf(line, sizeof(line), "ember: guest-ready-us=%lld\n", (long long)us);
	ssize_t rc = write(STDERR_FILENO, line, (size_t)len); /* one write: one unbroken line */
	(void)rc;
}

struct debug_port *debug_port_create(const struct power_ctl *power, uint64_t start_ns,
				     struct error *e)
{
	struct debug_port *d = calloc(1, sizeof(*d));
	if (!d) {
		error_errno(e, "debug port: cannot allocate the test/boot-timer ports");
		return NULL;
	}
	if (power)
		d->power = *power;
	d->start_ns = start_ns;
	atomic_init(&d->ready_us, -1);
	return d;
}

void debug_port_destroy(struct debug_port *d)
{
	free(d);
}

int debug_port_attach(struct debug_port *d, struct io_bus *pio, struct error *e)
{
	if (io_bus_add(pio, PORT_EMBER_TEST_EXIT, DEBUG_PORT_WIDTH, test_exit_io, d,
		       "ember test-exit port", e) < 0)
		return -1;
	if (io_bus_add(pio, PORT_EMBER_BOOT_TIMER, DEBUG_PORT_WIDTH, boot_timer_io, d,
		       "ember boot-timer port", e) < 0) {
		io_bus_remove(pio, PORT_EMBER_TEST_EXIT);
		return -1;
	}
	return 0;
}

int64_t debug_port_ready_us(const struct debug_port *d)
{
	return atomic_load(&d->ready_us);
}
