/* The I/O bus: range claims, overlaps, dispatch, unclaimed accesses. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/legacy/acpi_sleep.h"
#include "devices/legacy/debug_port.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/rtc.h"
#include "devices/legacy/serial.h"
#include "vmm/io_bus.h"
#include "port_io.h"

/* ---- io_bus ---- */

struct hit {
	int count;
	uint64_t offset;
	uint32_t size;
	bool is_write;
	uint8_t value;
};

static void record_hit(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct hit *h = opaque;
	h->count++;
	h->offset = offset;
	h->size = size;
	h->is_write = is_write;
	if (is_write)
		h->value = data[0];
	else
		memset(data, 0x42, size);
}

Test(io_bus, dispatches_to_the_owning_range)
{
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	struct hit a = { 0 }, b = { 0 }, c = { 0 };
	struct error e;
	/* Added out of order; the table must end up sorted. */
	cr_assert_eq(io_bus_add(&bus, 0x3f8, 8, record_hit, &b, "com1", &e), 0);
	cr_assert_eq(io_bus_add(&bus, 0x60, 1, record_hit, &a, "kbd", &e), 0);
	cr_assert_eq(io_bus_add(&bus, 0x600, 2, record_hit, &c, "sleep", &e), 0);
	cr_assert_eq(bus.nranges, 3);
	cr_assert(bus.ranges[0].base < bus.ranges[1].base && bus.ranges[1].base < bus.ranges[2].base);

	uint8_t v = 0x77;
	cr_assert(io_bus_dispatch(&bus, 0x3fd, &v, 1, true));
	cr_assert_eq(b.count, 1);
	cr_assert_eq(b.offset, 5);
	cr_assert_eq(b.value, 0x77);
	cr_assert_eq(a.count + c.count, 0);

	uint8_t word[2] = { 0 };
	cr_assert(io_bus_dispatch(&bus, 0x600, word, 2, false));
	cr_assert_eq(c.count, 1);
	cr_assert_eq(c.size, 2);
	cr_assert_eq(word[0], 0x42);
	cr_assert_eq(word[1], 0x42);

	cr_assert(io_bus_dispatch(&bus, 0x60, &v, 1, false));
	cr_assert_eq(a.count, 1);
	io_bus_destroy(&bus);
}

Test(io_bus, rejects_overlaps_naming_both_owners)
{
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	struct hit h = { 0 };
	struct error e = { { 0 } };
	cr_assert_eq(io_bus_add(&bus, 0x3f8, 8, record_hit, &h, "com1", &e), 0);
	cr_assert_eq(io_bus_add(&bus, 0x3f0, 9, record_hit, &h, "floppy", &e), -1);
	cr_assert(strstr(e.msg, "floppy") && strstr(e.msg, "com1"), "message: %s", e.msg);
	cr_assert_eq(io_bus_add(&bus, 0x3ff, 1, record_hit, &h, "tail", &e), -1);
	cr_assert(strstr(e.msg, "tail") && strstr(e.msg, "com1"), "message: %s", e.msg);
	cr_assert_eq(io_bus_add(&bus, 0x3fa, 1, record_hit, &h, "inside", &e), -1);
	cr_assert_eq(io_bus_add(&bus, 0x300, 0x200, record_hit, &h, "around", &e), -1);
	/* Touching neighbours are fine. */
	cr_assert_eq(io_bus_add(&bus, 0x3f0, 8, record_hit, &h, "below", &e), 0);
	cr_assert_eq(io_bus_add(&bus, 0x400, 4, record_hit, &h, "above", &e), 0);
	cr_assert_eq(bus.nranges, 3);
	/* Empty or wrapping ranges are refused too. */
	cr_assert_eq(io_bus_add(&bus, 0x1000, 0, record_hit, &h, "empty", &e), -1);
	cr_assert_eq(io_bus_add(&bus, UINT64_MAX - 1, 4, record_hit, &h, "wraps", &e), -1);
	cr_assert_eq(io_bus_add(&bus, UINT64_MAX, 1, record_hit, &h, "last byte", &e), 0);
	io_bus_destroy(&bus);
}

Test(io_bus, unclaimed_reads_are_all_ones)
{
	struct io_bus bus;
	io_bus_init(&bus, "mmio");
	struct hit h = { 0 };
	struct error e;
	cr_assert_eq(io_bus_add(&bus, 0x1000, 0x10, record_hit, &h, "dev", &e), 0);
	uint8_t buf[8];
	memset(buf, 0, sizeof(buf));
	cr_assert_not(io_bus_dispatch(&bus, 0x2000, buf, 8, false));
	for (int i = 0; i < 8; i++)
		cr_assert_eq(buf[i], 0xff);
	memset(buf, 0, sizeof(buf));
	cr_assert_not(io_bus_dispatch(&bus, 0xfff, buf, 1, false)); /* just below */
	cr_assert_eq(buf[0], 0xff);
	/* Straddling the end of a range: the device must never see it. */
	cr_assert_not(io_bus_dispatch(&bus, 0x100c, buf, 8, false));
	cr_assert_eq(buf[7], 0xff);
	cr_assert(io_bus_dispatch(&bus, 0x1008, buf, 8, false));
	cr_assert_eq(h.count, 1);
	/* Unclaimed writes are dropped; invalid sizes never reach a device. */
	cr_assert_not(io_bus_dispatch(&bus, 0x3000, buf, 4, true));
	cr_assert_not(io_bus_dispatch(&bus, 0x1000, buf, 0, false));
	cr_assert_not(io_bus_dispatch(&bus, 0x1000, buf, 16, true));
	cr_assert_eq(h.count, 1);
	io_bus_destroy(&bus);
}

Test(io_bus, remove_frees_the_range)
{
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	struct hit a = { 0 }, b = { 0 };
	struct error e;
	cr_assert_eq(io_bus_add(&bus, 0x70, 2, record_hit, &a, "rtc", &e), 0);
	cr_assert_eq(io_bus_add(&bus, 0x80, 1, record_hit, &b, "post", &e), 0);
	cr_assert_eq(io_bus_remove(&bus, 0x71), -1); /* only a range's base names it */
	cr_assert_eq(io_bus_remove(&bus, 0x70), 0);
	cr_assert_eq(io_bus_remove(&bus, 0x70), -1);
	uint8_t v = 0;
	cr_assert_not(io_bus_dispatch(&bus, 0x70, &v, 1, false));
	cr_assert_eq(v, 0xff);
	cr_assert(io_bus_dispatch(&bus, 0x80, &v, 1, false));
	cr_assert_eq(a.count, 0);
	cr_assert_eq(b.count, 1);
	/* The freed ports can be claimed again. */
	cr_assert_eq(io_bus_add(&bus, 0x70, 2, record_hit, &a, "rtc again", &e), 0);
	io_bus_destroy(&bus);
}

Test(io_bus, many_ranges_binary_search)
{
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	static struct hit hits[200];
	struct error e;
	/* Interleaved insertion order, 200 ranges of 4 ports with 4-port gaps. */
	for (int i = 0; i < 200; i++) {
		int k = (i * 7) % 200;
		cr_assert_eq(io_bus_add(&bus, 0x1000 + (uint64_t)k * 8, 4, record_hit, &hits[k], "r",
					&e), 0, "range %d: %s", k, e.msg);
	}
	for (int k = 0; k < 200; k++) {
		uint8_t v = 1;
		cr_assert(io_bus_dispatch(&bus, 0x1000 + (uint64_t)k * 8 + 3, &v, 1, true));
		cr_assert_eq(hits[k].count, 1);
		cr_assert_eq(hits[k].offset, 3);
		cr_assert_not(io_bus_dispatch(&bus, 0x1000 + (uint64_t)k * 8 + 4, &v, 1, true));
	}
	io_bus_destroy(&bus);
}
