/* i8042, RTC, ACPI sleep registers and debug ports, driven through their port handlers. */
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

/* ---- i8042 ---- */

#define KBD_DATA 0
#define KBD_CMD  (PORT_I8042_CMD - PORT_I8042_DATA)

static struct i8042 *new_i8042(struct power_log *log)
{
	struct power_ctl power = { .request = record_power, .opaque = log };
	struct error e;
	struct i8042 *k = i8042_create(&power, &e);
	cr_assert_not_null(k, "%s", e.msg);
	return k;
}

static uint8_t kbd_command(struct i8042 *k, uint8_t cmd)
{
	out8(i8042_io, k, KBD_CMD, cmd);
	cr_assert(in8(i8042_io, k, KBD_CMD) & 0x01, "reply to 0x%02x is waiting", cmd);
	return in8(i8042_io, k, KBD_DATA);
}

Test(i8042, status_and_self_tests)
{
	struct power_log log = { 0 };
	struct i8042 *k = new_i8042(&log);
	uint8_t status = in8(i8042_io, k, KBD_CMD);
	cr_assert_eq(status & 0x01, 0, "nothing to read");
	cr_assert_eq(status & 0x02, 0, "never busy");
	cr_assert(status & 0x04, "system flag");
	cr_assert_eq(in8(i8042_io, k, KBD_DATA), 0, "empty data port reads 0");
	cr_assert_eq(kbd_command(k, 0xaa), 0x55);
	cr_assert_eq(in8(i8042_io, k, KBD_CMD) & 0x01, 0, "reply consumed");
	cr_assert_eq(kbd_command(k, 0xab), 0x00);
	cr_assert_eq(kbd_command(k, 0xa9), 0x02, "no mouse on the aux port");
	cr_assert_eq(log.count, 0);
	i8042_destroy(k);
}

Test(i8042, command_byte_and_interface_enables)
{
	struct power_log log = { 0 };
	struct i8042 *k = new_i8042(&log);
	uint8_t ctr = kbd_command(k, 0x20);
	cr_assert(ctr & 0x04, "SYS");
	out8(i8042_io, k, KBD_CMD, 0x60);
	out8(i8042_io, k, KBD_DATA, 0x47);
	cr_assert_eq(kbd_command(k, 0x20), 0x47);
	out8(i8042_io, k, KBD_CMD, 0xad);
	cr_assert_eq(kbd_command(k, 0x20) & 0x10, 0x10);
	out8(i8042_io, k, KBD_CMD, 0xae);
	cr_assert_eq(kbd_command(k, 0x20) & 0x10, 0x00);
	out8(i8042_io, k, KBD_CMD, 0xa7);
	cr_assert_eq(kbd_command(k, 0x20) & 0x20, 0x20);
	out8(i8042_io, k, KBD_CMD, 0xa8);
	cr_assert_eq(kbd_command(k, 0x20) & 0x20, 0x00);
	/* Clearing SYS in the command byte clears it in the status register. */
	out8(i8042_io, k, KBD_CMD, 0x60);
	out8(i8042_io, k, KBD_DATA, 0x00);
	cr_assert_eq(in8(i8042_io, k, KBD_CMD) & 0x04, 0);
	i8042_destroy(k);
}

Test(i8042, linux_aux_probe_ends_at_once)
{
	struct power_log log = { 0 };
	struct i8042 *k = new_i8042(&log);
	out8(i8042_io, k, KBD_CMD, 0xd3);
	out8(i8042_io, k, KBD_DATA, 0x5a);
	uint8_t status = in8(i8042_io, k, KBD_CMD);
	cr_assert(status & 0x01, "a reply, no timeout");
	cr_assert_eq(status & 0x20, 0, "but not flagged as mouse data");
	cr_assert_eq(in8(i8042_io, k, KBD_DATA), 0x5a);
	out8(i8042_io, k, KBD_CMD, 0xd2);
	out8(i8042_io, k, KBD_DATA, 0x33);
	cr_assert_eq(in8(i8042_io, k, KBD_DATA), 0x33);
	i8042_destroy(k);
}

Test(i8042, absent_keyboard_and_unknown_commands_stay_quiet)
{
	struct power_log log = { 0 };
	struct i8042 *k = new_i8042(&log);
	out8(i8042_io, k, KBD_DATA, 0xf2); /* "identify" to the keyboard */
	cr_assert_eq(in8(i8042_io, k, KBD_CMD) & 0x01, 0);
	out8(i8042_io, k, KBD_CMD, 0xd4);  /* to the mouse */
	out8(i8042_io, k, KBD_DATA, 0xff);
	cr_assert_eq(in8(i8042_io, k, KBD_CMD) & 0x01, 0);
	out8(i8042_io, k, KBD_CMD, 0xc7);
	cr_assert_eq(in8(i8042_io, k, KBD_CMD) & 0x01, 0);
	/* A flood of reads without collecting the replies stays bounded. */
	for (int i = 0; i < 40; i++)
		out8(i8042_io, k, KBD_CMD, 0x20);
	int replies = 0;
	while (in8(i8042_io, k, KBD_CMD) & 0x01) {
		in8(i8042_io, k, KBD_DATA);
		replies++;
	}
	cr_assert_eq(replies, 16);
	/* Ports between data and command are not the controller's. */
	cr_assert_eq(in8(i8042_io, k, 1), 0xff);
	uint8_t word[2];
	i8042_io(k, KBD_DATA, word, 2, false);
	cr_assert_eq(word[1], 0xff);
	cr_assert_eq(log.count, 0);
	i8042_destroy(k);
}

Test(i8042, reset_line)
{
	struct power_log log = { 0 };
	struct i8042 *k = new_i8042(&log);
	uint8_t outport = kbd_command(k, 0xd0);
	cr_assert_eq(outport & 0x01, 0x01, "reset line inactive");
	out8(i8042_io, k, KBD_CMD, 0xd1);
	out8(i8042_io, k, KBD_DATA, 0xdf); /* A20 on, reset untouched: what Linux writes */
	cr_assert_eq(log.count, 0);
	cr_assert_eq(kbd_command(k, 0xd0), 0xdf);
	out8(i8042_io, k, KBD_CMD, 0xff); /* pulse nothing */
	cr_assert_eq(log.count, 0);
	out8(i8042_io, k, KBD_CMD, 0xfe);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.ev, POWER_RESET);
	out8(i8042_io, k, KBD_CMD, 0xd1);
	out8(i8042_io, k, KBD_DATA, 0xde);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(log.ev, POWER_RESET);
	i8042_destroy(k);
}

Test(i8042, attach_claims_both_ports)
{
	struct power_log log = { 0 };
	struct i8042 *k = new_i8042(&log);
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	struct error e;
	cr_assert_eq(i8042_attach(k, &bus, &e), 0, "%s", e.msg);
	uint8_t v = 0xfe;
	cr_assert(io_bus_dispatch(&bus, PORT_I8042_CMD, &v, 1, true));
	cr_assert_eq(log.count, 1);
	cr_assert(io_bus_dispatch(&bus, PORT_I8042_DATA, &v, 1, false));
	cr_assert_not(io_bus_dispatch(&bus, 0x61, &v, 1, false), "port B is not ours");
	io_bus_destroy(&bus);
	i8042_destroy(k);
}

/* ---- rtc ---- */

static struct rtc *new_rtc(void)
{
	struct irq_line irq = { .vm_fd = -1, .gsi = IRQ_RTC };
	struct error e;
	struct rtc *r = rtc_create(&irq, &e);
	cr_assert_not_null(r, "%s", e.msg);
	return r;
}

static uint8_t cmos_read(struct rtc *r, uint8_t reg)
{
	out8(rtc_io, r, 0, reg);
	return in8(rtc_io, r, 1);
}

static void cmos_write(struct rtc *r, uint8_t reg, uint8_t value)
{
	out8(rtc_io, r, 0, reg);
	out8(rtc_io, r, 1, value);
}

static int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Reads the clock the way Linux does and converts it to a time_t. */
static time_t cmos_time(struct rtc *r)
{
	uint8_t b = cmos_read(r, 0x0b);
	bool bcd = !(b & 0x04);
	uint8_t raw[6];
	const uint8_t regs[6] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09 };
	uint8_t century;
	do {
		for (int i = 0; i < 6; i++)
			raw[i] = cmos_read(r, regs[i]);
		century = cmos_read(r, 0x32);
	} while (raw[0] != cmos_read(r, 0x00));
	int v[6];
	for (int i = 0; i < 6; i++)
		v[i] = bcd ? from_bcd(raw[i] & (i == 2 ? 0x7f : 0xff)) : (raw[i] & (i == 2 ? 0x7f : 0xff));
	int cent = bcd ? from_bcd(century) : century;
	if (!(b & 0x02)) /* 12-hour clock */
		v[2] = v[2] % 12 + ((raw[2] & 0x80) ? 12 : 0);
	struct tm tm = { .tm_sec = v[0], .tm_min = v[1], .tm_hour = v[2], .tm_mday = v[3],
			 .tm_mon = v[4] - 1, .tm_year = cent * 100 + v[5] - 1900 };
	return timegm(&tm);
}

static void assert_near_host_time(time_t t, long expected_offset)
{
	long diff = (long)(t - time(NULL)) - expected_offset;
	cr_assert(diff >= -2 && diff <= 2, "clock off by %ld s", diff);
}

Test(rtc, status_registers)
{
	struct rtc *r = new_rtc();
	cr_assert_eq(cmos_read(r, 0x0a) & 0x80, 0, "no update in progress");
	cr_assert_eq(cmos_read(r, 0x0b), 0x02, "24-hour BCD, no interrupts");
	cr_assert_eq(cmos_read(r, 0x0c), 0x00);
	cr_assert_eq(cmos_read(r, 0x0d), 0x80, "valid RAM and time");
	cmos_write(r, 0x0d, 0x00);
	cr_assert_eq(cmos_read(r, 0x0d), 0x80, "D is read-only");
	cmos_write(r, 0x0c, 0xff);
	cr_assert_eq(cmos_read(r, 0x0c), 0x00, "C is read-only and never flags an interrupt");
	cmos_write(r, 0x0a, 0xa6);
	cr_assert_eq(cmos_read(r, 0x0a), 0x26, "UIP is read-only");
	cr_assert_eq(in8(rtc_io, r, 0), 0xff, "index port is write-only");
	rtc_destroy(r);
}

Test(rtc, bcd_time_matches_host)
{
	struct rtc *r = new_rtc();
	uint8_t sec = cmos_read(r, 0x00);
	cr_assert((sec & 0x0f) <= 9 && (sec >> 4) <= 5, "BCD seconds 0x%02x", sec);
	assert_near_host_time(cmos_time(r), 0);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	cr_assert_eq(from_bcd(cmos_read(r, 0x32)), (tm.tm_year + 1900) / 100);
	int wday = from_bcd(cmos_read(r, 0x06));
	cr_assert(wday >= 1 && wday <= 7);
	rtc_destroy(r);
}

Test(rtc, binary_and_12_hour_modes)
{
	struct rtc *r = new_rtc();
	cmos_write(r, 0x0b, 0x06); /* binary, 24h */
	assert_near_host_time(cmos_time(r), 0);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	cr_assert_eq(cmos_read(r, 0x09), tm.tm_year % 100, "binary year");
	cr_assert_eq(cmos_read(r, 0x32), (tm.tm_year + 1900) / 100);
	cmos_write(r, 0x0b, 0x00); /* BCD, 12h */
	assert_near_host_time(cmos_time(r), 0);
	uint8_t hour = cmos_read(r, 0x04);
	int h12 = from_bcd(hour & 0x7f);
	cr_assert(h12 >= 1 && h12 <= 12, "12-hour hour 0x%02x", hour);
	cmos_write(r, 0x0b, 0x04); /* binary, 12h */
	assert_near_host_time(cmos_time(r), 0);
	rtc_destroy(r);
}

Test(rtc, guest_sets_the_clock)
{
	struct rtc *r = new_rtc();
	/* As Linux does: hold SET, write every field, release. 2031-07-04 13:14:15 UTC. */
	cmos_write(r, 0x0b, 0x82);
	cmos_write(r, 0x00, 0x15);
	cmos_write(r, 0x02, 0x14);
	cmos_write(r, 0x04, 0x13);
	cmos_write(r, 0x07, 0x04);
	cmos_write(r, 0x08, 0x07);
	cmos_write(r, 0x09, 0x31);
	cmos_write(r, 0x32, 0x20);
	cr_assert_eq(cmos_read(r, 0x00), 0x15, "frozen while SET is held");
	cmos_write(r, 0x0b, 0x02);
	struct tm want = { .tm_sec = 15, .tm_min = 14, .tm_hour = 13, .tm_mday = 4, .tm_mon = 6,
			   .tm_year = 131 };
	time_t set_to = timegm(&want);
	time_t got = cmos_time(r);
	cr_assert(got >= set_to && got <= set_to + 2, "clock reads %lld", (long long)got);
	cr_assert_eq(cmos_read(r, 0x06), 0x06, "2031-07-04 is a Friday");

	/* One field while running: the year only. */
	cmos_write(r, 0x09, 0x32);
	cr_assert_eq(cmos_read(r, 0x09), 0x32);
	cr_assert_eq(cmos_read(r, 0x08), 0x07);

	/* Nonsense (bad BCD, minute 75) leaves the clock alone. */
	time_t before = cmos_time(r);
	cmos_write(r, 0x00, 0xaa);
	cmos_write(r, 0x02, 0x75);
	time_t after = cmos_time(r);
	cr_assert(after >= before && after <= before + 2);
	rtc_destroy(r);
}

Test(rtc, twelve_hour_writes)
{
	struct rtc *r = new_rtc();
	/* The hour register is read in the mode in force when SET is released. */
	cmos_write(r, 0x0b, 0x80); /* SET, BCD, 12h */
	cmos_write(r, 0x04, 0x92); /* 12 PM = noon */
	cmos_write(r, 0x0b, 0x00); /* release, still 12h */
	cr_assert_eq(cmos_read(r, 0x04), 0x92);
	cmos_write(r, 0x0b, 0x02); /* switch to 24h to read it */
	cr_assert_eq(cmos_read(r, 0x04), 0x12);
	cmos_write(r, 0x0b, 0x80);
	cmos_write(r, 0x04, 0x12); /* 12 AM = midnight */
	cmos_write(r, 0x0b, 0x00);
	cmos_write(r, 0x0b, 0x02);
	cr_assert_eq(cmos_read(r, 0x04), 0x00);
	cmos_write(r, 0x0b, 0x80);
	cmos_write(r, 0x04, 0x13); /* no 13 o'clock in 12h mode: refused */
	cmos_write(r, 0x0b, 0x00);
	cmos_write(r, 0x0b, 0x02);
	cr_assert_eq(cmos_read(r, 0x04), 0x00);
	rtc_destroy(r);
}

Test(rtc, nvram_round_trip)
{
	struct rtc *r = new_rtc();
	for (int reg = 0x0e; reg < 0x80; reg++)
		if (reg != 0x32)
			cmos_write(r, (uint8_t)reg, (uint8_t)(reg ^ 0xa5));
	for (int reg = 0x0e; reg < 0x80; reg++)
		if (reg != 0x32)
			cr_assert_eq(cmos_read(r, (uint8_t)reg), (uint8_t)(reg ^ 0xa5), "reg 0x%x", reg);
	/* The NMI-mask bit of the index is not part of the register number. */
	cmos_write(r, 0x80 | 0x40, 0x3c);
	cr_assert_eq(cmos_read(r, 0x40), 0x3c);
	/* Alarm registers are plain storage. */
	cmos_write(r, 0x01, 0x59);
	cr_assert_eq(cmos_read(r, 0x01), 0x59);
	/* A 16-bit write to 0x70 is an index and a data cycle. */
	uint8_t pair[2] = { 0x50, 0x99 };
	rtc_io(r, 0, pair, 2, true);
	cr_assert_eq(cmos_read(r, 0x50), 0x99);
	uint8_t wide[4];
	out8(rtc_io, r, 0, 0x50);
	rtc_io(r, 1, wide, 4, false);
	cr_assert_eq(wide[0], 0x99);
	cr_assert_eq(wide[1], 0xff);
	rtc_destroy(r);
}

/* ---- acpi_sleep ---- */

static struct acpi_sleep *new_sleep(struct power_log *log)
{
	struct power_ctl power = { .request = record_power, .opaque = log };
	struct error e;
	struct acpi_sleep *s = acpi_sleep_create(&power, &e);
	cr_assert_not_null(s, "%s", e.msg);
	return s;
}

Test(acpi_sleep, s5_powers_off)
{
	struct power_log log = { 0 };
	struct acpi_sleep *s = new_sleep(&log);
	out8(acpi_sleep_io, s, 0, (ACPI_S5_SLEEP_TYPE << 2) | 0x20);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.ev, POWER_OFF);
	cr_assert_eq(log.status, 0);
	acpi_sleep_destroy(s);
}

Test(acpi_sleep, other_writes_are_ignored)
{
	struct power_log log = { 0 };
	struct acpi_sleep *s = new_sleep(&log);
	out8(acpi_sleep_io, s, 0, ACPI_S5_SLEEP_TYPE << 2); /* no SLP_EN */
	out8(acpi_sleep_io, s, 0, (3 << 2) | 0x20);        /* S3 */
	out8(acpi_sleep_io, s, 0, (1 << 2) | 0x20);        /* S1 */
	out8(acpi_sleep_io, s, 1, 0xff);                   /* status: write-1-to-clear */
	out8(acpi_sleep_io, s, 1, (ACPI_S5_SLEEP_TYPE << 2) | 0x20);
	cr_assert_eq(log.count, 0);
	cr_assert_eq(in8(acpi_sleep_io, s, 1), 0, "WAK_STS clear");
	cr_assert_eq(in8(acpi_sleep_io, s, 0), 0);
	cr_assert_eq(in8(acpi_sleep_io, s, 2), 0xff);
	acpi_sleep_destroy(s);
}

Test(acpi_sleep, attached_at_the_fadt_ports)
{
	struct power_log log = { 0 };
	struct acpi_sleep *s = new_sleep(&log);
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	struct error e;
	cr_assert_eq(acpi_sleep_attach(s, &bus, &e), 0, "%s", e.msg);
	uint8_t v = (ACPI_S5_SLEEP_TYPE << 2) | 0x20;
	cr_assert(io_bus_dispatch(&bus, PORT_ACPI_SLEEP_CONTROL, &v, 1, true));
	cr_assert_eq(log.count, 1);
	cr_assert(io_bus_dispatch(&bus, PORT_ACPI_SLEEP_STATUS, &v, 1, false));
	cr_assert_eq(v, 0);
	io_bus_destroy(&bus);
	acpi_sleep_destroy(s);
}

/* ---- debug_port ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct debug_port *new_debug_port(struct power_log *log, struct io_bus *bus)
{
	struct power_ctl power = { .request = record_power, .opaque = log };
	struct error e;
	struct debug_port *d = debug_port_create(&power, now_ns(), &e);
	cr_assert_not_null(d, "%s", e.msg);
	io_bus_init(bus, "pio");
	cr_assert_eq(debug_port_attach(d, bus, &e), 0, "%s", e.msg);
	return d;
}

Test(debug_port, exit_status_from_any_width)
{
	struct power_log log = { 0 };
	struct io_bus bus;
	struct debug_port *d = new_debug_port(&log, &bus);
	uint8_t b = 3;
	cr_assert(io_bus_dispatch(&bus, PORT_EMBER_TEST_EXIT, &b, 1, true));
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.ev, POWER_EXIT);
	cr_assert_eq(log.status, 3);
	uint8_t w[2] = { 0x42, 0x01 };
	cr_assert(io_bus_dispatch(&bus, PORT_EMBER_TEST_EXIT, w, 2, true));
	cr_assert_eq(log.status, 0x42);
	uint8_t dw[4] = { 0x01, 0x56, 0x34, 0x12 };
	cr_assert(io_bus_dispatch(&bus, PORT_EMBER_TEST_EXIT, dw, 4, true));
	cr_assert_eq(log.count, 3);
	cr_assert_eq(log.status, 1);
	/* Reads are harmless zeros. */
	cr_assert(io_bus_dispatch(&bus, PORT_EMBER_TEST_EXIT, dw, 4, false));
	cr_assert_eq(dw[0] | dw[1] | dw[2] | dw[3], 0);
	cr_assert_eq(log.count, 3);
	io_bus_destroy(&bus);
	debug_port_destroy(d);
}

Test(debug_port, ready_time_recorded_and_logged_once)
{
	struct power_log log = { 0 };
	struct io_bus bus;
	struct debug_port *d = new_debug_port(&log, &bus);
	cr_assert_eq(debug_port_ready_us(d), -1);

	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	int saved_stderr = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	uint8_t b = 1;
	cr_assert(io_bus_dispatch(&bus, PORT_EMBER_BOOT_TIMER, &b, 1, true));
	int64_t first = debug_port_ready_us(d);
	usleep(2000);
	uint8_t dw[4] = { 1, 2, 3, 4 };
	cr_assert(io_bus_dispatch(&bus, PORT_EMBER_BOOT_TIMER, dw, 4, true));
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(fds[1]);

	cr_assert_geq(first, 0);
	cr_assert_lt(first, 1000000, "well under a second after create");
	cr_assert_eq(debug_port_ready_us(d), first, "the first write counts");
	char out[128] = { 0 };
	ssize_t n = read(fds[0], out, sizeof(out) - 1);
	cr_assert_gt(n, 0);
	char want[64];
	snprintf(want, sizeof(want), "ember: guest-ready-us=%lld\n", (long long)first);
	cr_assert_str_eq(out, want, "logged exactly once");
	cr_assert_eq(log.count, 0);
	close(fds[0]);
	io_bus_destroy(&bus);
	debug_port_destroy(d);
}

/* ---- all together ---- */

Test(legacy, every_device_attaches_to_one_bus)
{
	struct power_log log = { 0 };
	struct power_ctl power = { .request = record_power, .opaque = &log };
	struct error e;
	struct io_bus bus;
	io_bus_init(&bus, "pio");
	struct serial *s = new_serial(-1);
	struct i8042 *k = i8042_create(&power, &e);
	struct rtc *r = new_rtc();
	struct acpi_sleep *sl = acpi_sleep_create(&power, &e);
	struct debug_port *d = debug_port_create(&power, now_ns(), &e);
	cr_assert_eq(serial_attach(s, &bus, PORT_COM1, &e), 0, "%s", e.msg);
	cr_assert_eq(i8042_attach(k, &bus, &e), 0, "%s", e.msg);
	cr_assert_eq(rtc_attach(r, &bus, &e), 0, "%s", e.msg);
	cr_assert_eq(acpi_sleep_attach(sl, &bus, &e), 0, "%s", e.msg);
	cr_assert_eq(debug_port_attach(d, &bus, &e), 0, "%s", e.msg);
	/* A second UART on the same ports is refused, naming the first. */
	struct serial *s2 = new_serial(-1);
	cr_assert_eq(serial_attach(s2, &bus, PORT_COM1 + 4, &e), -1);
	cr_assert(strstr(e.msg, "0x3f8") && strstr(e.msg, "0x3fc"), "message: %s", e.msg);
	/* Each port reaches its device. */
	uint8_t v = 0;
	cr_assert(io_bus_dispatch(&bus, PORT_COM1 + 5, &v, 1, false));
	cr_assert_eq(v, 0x60);
	v = 0x0d;
	cr_assert(io_bus_dispatch(&bus, PORT_RTC, &v, 1, true));
	cr_assert(io_bus_dispatch(&bus, PORT_RTC + 1, &v, 1, false));
	cr_assert_eq(v, 0x80);
	io_bus_destroy(&bus);
	serial_destroy(s2);
	serial_destroy(s);
	i8042_destroy(k);
	rtc_destroy(r);
	acpi_sleep_destroy(sl);
	debug_port_destroy(d);
}
