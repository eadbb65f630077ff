/* Legacy devices and the I/O bus, driven through their port handlers as a vCPU would. */
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

/* ---- helpers ---- */

static uint8_t in8(io_handler_fn fn, void *dev, uint64_t offset)
{
	uint8_t b = 0xa5;
	fn(dev, offset, &b, 1, false);
	return b;
}

static void out8(io_handler_fn fn, void *dev, uint64_t offset, uint8_t value)
{
	fn(dev, offset, &value, 1, true);
}

struct power_log {
	int count;
	enum power_event ev;
	int status;
};

static void record_power(void *opaque, enum power_event ev, int status)
{
	struct power_log *log = opaque;
	log->count++;
	log->ev = ev;
	log->status = status;
}

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

/* ---- serial ---- */

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

static struct serial *new_serial(int out_fd)
{
	struct serial_config cfg = { .out_fd = out_fd, .irq = { .vm_fd = -1, .gsi = IRQ_COM1 } };
	struct error e;
	struct serial *s = serial_create(&cfg, &e);
	cr_assert_not_null(s, "%s", e.msg);
	return s;
}

static uint8_t uart_in(struct serial *s, unsigned reg)
{
	return in8(serial_io, s, reg);
}

static void uart_out(struct serial *s, unsigned reg, uint8_t value)
{
	out8(serial_io, s, reg, value);
}

Test(serial, thr_bytes_reach_out_fd)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	struct serial *s = new_serial(fds[1]);
	const char *msg = "hello, ember\n";
	for (const char *p = msg; *p; p++) {
		cr_assert(uart_in(s, LSR) & 0x20, "THRE before every byte");
		uart_out(s, THR, (uint8_t)*p);
	}
	char got[64] = { 0 };
	ssize_t n = read(fds[0], got, sizeof(got) - 1);
	cr_assert_eq(n, (ssize_t)strlen(msg));
	cr_assert_str_eq(got, msg);
	serial_destroy(s);
	close(fds[0]);
	close(fds[1]);
}

Test(serial, discards_output_without_fd_and_after_reader_left)
{
	struct serial *s = new_serial(-1);
	uart_out(s, THR, 'x');
	cr_assert_eq(uart_in(s, LSR), 0x60);
	serial_destroy(s);

	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	signal(SIGPIPE, SIG_IGN);
	close(fds[0]);
	s = new_serial(fds[1]);
	uart_out(s, THR, 'y'); /* EPIPE: dropped, no hang */
	cr_assert_eq(uart_in(s, LSR), 0x60);
	serial_destroy(s);
	close(fds[1]);
}

Test(serial, word_length_masks_data)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	struct serial *s = new_serial(fds[1]);
	uart_out(s, LCR, 0x02); /* 7 data bits */
	uart_out(s, THR, 0xc1);
	uint8_t got = 0;
	cr_assert_eq(read(fds[0], &got, 1), 1);
	cr_assert_eq(got, 0x41);
	serial_destroy(s);
	close(fds[0]);
	close(fds[1]);
}

Test(serial, reset_state_looks_like_an_idle_16550a)
{
	struct serial *s = new_serial(-1);
	cr_assert_eq(uart_in(s, LSR), 0x60, "THRE|TEMT, nothing received");
	cr_assert_eq(uart_in(s, IIR), 0x01, "no interrupt, FIFOs off");
	cr_assert_eq(uart_in(s, IER), 0x00);
	cr_assert_eq(uart_in(s, MSR) & 0xf0, 0xb0, "DCD, DSR, CTS");
	/* The 8250 probe: IER's upper nibble reads as zero. */
	uart_out(s, IER, 0xff);
	cr_assert_eq(uart_in(s, IER), 0x0f);
	uart_out(s, IER, 0);
	/* FIFO enabled: both IIR FIFO bits, which is what says "16550A". */
	uart_out(s, FCR, 0x01);
	cr_assert_eq(uart_in(s, IIR) >> 6, 3);
	cr_assert_eq(uart_in(s, IIR) & 0x30, 0, "no 64-byte FIFO bit (not a 16750)");
	uart_out(s, FCR, 0x21);
	cr_assert_eq(uart_in(s, IIR) >> 5, 6);
	uart_out(s, FCR, 0x00);
	cr_assert_eq(uart_in(s, IIR), 0x01);
	uart_out(s, SCR, 0x5a);
	cr_assert_eq(uart_in(s, SCR), 0x5a);
	serial_destroy(s);
}

Test(serial, divisor_latch_round_trip)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	struct serial *s = new_serial(fds[1]);
	uart_out(s, IER, 0x05);
	uart_out(s, LCR, 0x83); /* DLAB + 8N1 */
	uart_out(s, DLL, 0x0c);
	uart_out(s, DLM, 0x01);
	cr_assert_eq(uart_in(s, DLL), 0x0c);
	cr_assert_eq(uart_in(s, DLM), 0x01);
	cr_assert_eq(uart_in(s, LCR), 0x83);
	uart_out(s, LCR, 0x03);
	cr_assert_eq(uart_in(s, IER), 0x05, "IER untouched by divisor writes");
	uart_out(s, LCR, 0x83);
	cr_assert_eq(uart_in(s, DLL), 0x0c);
	cr_assert_eq(uart_in(s, DLM), 0x01);
	uint8_t byte;
	cr_assert_eq(read(fds[0], &byte, 1), -1, "divisor writes are not transmitted");
	serial_destroy(s);
	close(fds[0]);
	close(fds[1]);
}

Test(serial, loopback_echoes_and_mirrors_modem_lines)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	struct serial *s = new_serial(fds[1]);
	/* What the 8250 probe does: loop + RTS + OUT2 must read back as CTS + DCD. */
	uart_out(s, MCR, 0x1a);
	cr_assert_eq(uart_in(s, MSR) & 0xf0, 0x90);
	uart_out(s, MCR, 0x15); /* loop + DTR + OUT1 */
	cr_assert_eq(uart_in(s, MSR) & 0xf0, 0x60, "DSR + RI");
	uart_out(s, THR, 'Z');
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0x01);
	cr_assert_eq(uart_in(s, RBR), 'Z');
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0x00);
	uint8_t byte;
	cr_assert_eq(read(fds[0], &byte, 1), -1, "looped bytes never leave");
	uart_out(s, MCR, 0x00);
	cr_assert_eq(uart_in(s, MSR) & 0xf0, 0xb0, "back on the line");
	serial_destroy(s);
	close(fds[0]);
	close(fds[1]);
}

Test(serial, msr_deltas_are_reported_once)
{
	struct serial *s = new_serial(-1);
	uart_out(s, MCR, 0x10); /* loop with every output low: CTS, DSR, DCD drop */
	cr_assert_eq(uart_in(s, MSR), 0x0b, "DCTS | DDSR | DDCD");
	cr_assert_eq(uart_in(s, MSR), 0x00);
	uart_out(s, MCR, 0x14); /* RI up */
	cr_assert_eq(uart_in(s, MSR), 0x40, "rising RI is not TERI");
	uart_out(s, MCR, 0x10); /* RI down */
	cr_assert_eq(uart_in(s, MSR), 0x04, "TERI on the trailing edge");
	serial_destroy(s);
}

Test(serial, line_status_overrun_and_break)
{
	struct serial *s = new_serial(-1);
	uart_out(s, MCR, 0x10); /* loopback, FIFO off: room for one character */
	uart_out(s, THR, 'a');
	uart_out(s, THR, 'b');
	cr_assert_eq(uart_in(s, LSR), 0x63, "DR | OE | THRE | TEMT");
	cr_assert_eq(uart_in(s, LSR), 0x61, "OE clears when read");
	cr_assert_eq(uart_in(s, RBR), 'a', "the FIFO keeps the old character");
	/* With the FIFO on, 16 characters fit. */
	uart_out(s, FCR, 0x07);
	for (int i = 0; i < 16; i++)
		uart_out(s, THR, (uint8_t)i);
	cr_assert_eq(uart_in(s, LSR) & 0x02, 0);
	uart_out(s, THR, 99);
	cr_assert_eq(uart_in(s, LSR) & 0x02, 0x02);
	uart_out(s, FCR, 0x03); /* clear RX */
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0);
	/* A break, looped back: a NUL character with BI (and the FIFO error bit). */
	uart_out(s, LCR, 0x43);
	cr_assert_eq(uart_in(s, LSR), 0xf1, "RXFE | BI | THRE | TEMT | DR");
	cr_assert_eq(uart_in(s, RBR), 0x00);
	cr_assert_eq(uart_in(s, LSR), 0x60);
	serial_destroy(s);
}

Test(serial, iir_priorities)
{
	struct serial *s = new_serial(-1);
	uart_out(s, MCR, 0x10);  /* loopback (MSR deltas pending now) */
	uart_out(s, THR, 'x');   /* one character in the 1-byte FIFO */
	uart_out(s, THR, 'y');   /* overrun */
	cr_assert_eq(uart_in(s, IIR), 0x01, "nothing enabled, nothing pending");
	uart_out(s, IER, 0x0f);
	cr_assert_eq(uart_in(s, IIR), 0x06, "line status first");
	uart_in(s, LSR);
	cr_assert_eq(uart_in(s, IIR), 0x04, "then received data");
	cr_assert_eq(uart_in(s, IIR), 0x04, "reading IIR does not acknowledge data");
	cr_assert_eq(uart_in(s, RBR), 'x');
	cr_assert_eq(uart_in(s, IIR), 0x02, "then THRE");
	cr_assert_eq(uart_in(s, IIR), 0x00, "reading IIR acknowledged THRE; modem status last");
	uart_in(s, MSR);
	cr_assert_eq(uart_in(s, IIR), 0x01);
	/* Disabling an interrupt hides it. */
	uart_out(s, THR, 'z');
	uart_out(s, IER, 0x00);
	cr_assert_eq(uart_in(s, IIR), 0x01);
	serial_destroy(s);
}

Test(serial, thre_reasserts_when_enabled_as_linux_tests)
{
	struct serial *s = new_serial(-1);
	uart_out(s, FCR, 0x01);
	uart_out(s, IER, 0x02);
	cr_assert_eq(uart_in(s, IIR), 0xc2, "enabling THRE with THR empty raises it");
	cr_assert_eq(uart_in(s, IIR), 0xc1, "the IIR read acknowledged it");
	uart_out(s, IER, 0x00);
	uart_out(s, IER, 0x02);
	cr_assert_eq(uart_in(s, IIR), 0xc2, "re-asserted: Linux must not flag UART_BUG_THRE");
	uart_out(s, IER, 0x02); /* no 0->1 transition: stays acknowledged */
	cr_assert_eq(uart_in(s, IIR), 0xc1);
	uart_out(s, THR, 'a'); /* THR empties at once: THRE again */
	cr_assert_eq(uart_in(s, IIR), 0xc2);
	serial_destroy(s);
}

Test(serial, received_bytes_in_order)
{
	struct serial *s = new_serial(-1);
	uart_out(s, IER, 0x01);
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0);
	cr_assert_eq(serial_receive(s, (const uint8_t *)"abc", 3), 3);
	cr_assert_eq(serial_rx_space(s), 4096 - 3);
	cr_assert_eq(uart_in(s, IIR), 0x04);
	for (const char *p = "abc"; *p; p++) {
		cr_assert_eq(uart_in(s, LSR) & 0x01, 0x01);
		cr_assert_eq(uart_in(s, RBR), (uint8_t)*p);
	}
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0);
	cr_assert_eq(uart_in(s, IIR), 0x01);
	cr_assert_eq(uart_in(s, RBR), 0, "empty RBR reads 0");
	cr_assert_eq(serial_rx_space(s), 4096);
	serial_destroy(s);
}

Test(serial, host_input_survives_fifo_reset_and_waits_out_loopback)
{
	struct serial *s = new_serial(-1);
	cr_assert_eq(serial_receive(s, (const uint8_t *)"hi", 2), 2);
	uart_out(s, FCR, 0x07);
	uart_out(s, FCR, 0x00);
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0x01);
	uart_out(s, MCR, 0x10);
	cr_assert_eq(uart_in(s, LSR) & 0x01, 0, "the receiver is off the line in loopback");
	uart_out(s, THR, '!');
	uart_out(s, MCR, 0x00);
	cr_assert_eq(uart_in(s, RBR), '!', "looped character still in the FIFO");
	cr_assert_eq(uart_in(s, RBR), 'h');
	cr_assert_eq(uart_in(s, RBR), 'i');
	serial_destroy(s);
}

struct rx_ready_log {
	int calls;
	struct serial *s;
	size_t space_seen;
};

static void on_rx_ready(void *opaque)
{
	struct rx_ready_log *log = opaque;
	log->calls++;
	log->space_seen = serial_rx_space(log->s); /* re-entering the device must not deadlock */
}

Test(serial, rx_ready_after_full_buffer_drains)
{
	static struct rx_ready_log log;
	struct serial_config cfg = { .out_fd = -1, .irq = { .vm_fd = -1 }, .rx_ready = on_rx_ready,
				     .rx_ready_opaque = &log };
	struct error e;
	struct serial *s = serial_create(&cfg, &e);
	cr_assert_not_null(s);
	log.s = s;

	static uint8_t input[5000];
	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (uint8_t)(i * 13);
	size_t taken = serial_receive(s, input, sizeof(input));
	cr_assert_eq(taken, 4096);
	cr_assert_eq(serial_rx_space(s), 0);
	cr_assert_eq(serial_receive(s, input, 10), 0, "full: nothing taken");

	size_t read_count = 0;
	while (log.calls == 0 && read_count < 4096) {
		cr_assert_eq(uart_in(s, RBR), input[read_count], "byte %zu", read_count);
		read_count++;
	}
	cr_assert_eq(log.calls, 1, "rx_ready fired");
	cr_assert_gt(log.space_seen, 0);
	cr_assert_eq(log.space_seen, read_count);
	/* Draining the rest does not call again... */
	while (uart_in(s, LSR) & 0x01)
		uart_in(s, RBR);
	cr_assert_eq(log.calls, 1);
	/* ...and input that never fills the buffer never calls at all. */
	cr_assert_eq(serial_receive(s, input, 100), 100);
	while (uart_in(s, LSR) & 0x01)
		uart_in(s, RBR);
	cr_assert_eq(log.calls, 1);
	/* A buffer filled again, even exactly, calls again. */
	cr_assert_eq(serial_receive(s, input, 4096), 4096);
	while (uart_in(s, LSR) & 0x01)
		uart_in(s, RBR);
	cr_assert_eq(log.calls, 2);
	serial_destroy(s);
}

Test(serial, wide_and_stray_accesses)
{
	struct serial *s = new_serial(-1);
	/* A 16-bit write splits into two byte cycles: DLL then DLM. */
	uart_out(s, LCR, 0x83);
	uint8_t word[2] = { 0x34, 0x12 };
	serial_io(s, DLL, word, 2, true);
	cr_assert_eq(uart_in(s, DLL), 0x34);
	cr_assert_eq(uart_in(s, DLM), 0x12);
	uart_out(s, LCR, 0x03);
	uart_out(s, SCR, 0x77);
	uint8_t dword[4];
	serial_io(s, MCR, dword, 4, false);
	cr_assert_eq(dword[0], 0x00, "MCR");
	cr_assert_eq(dword[1], 0x60, "LSR");
	cr_assert_eq(dword[2] & 0xf0, 0xb0, "MSR");
	cr_assert_eq(dword[3], 0x77, "SCR");
	/* Bytes beyond the eight registers float high; writes there are dropped. */
	serial_io(s, 6, dword, 4, false);
	cr_assert_eq(dword[1], 0x77);
	cr_assert_eq(dword[2], 0xff);
	cr_assert_eq(dword[3], 0xff);
	cr_assert_eq(in8(serial_io, s, 100), 0xff);
	cr_assert_eq(in8(serial_io, s, UINT64_MAX), 0xff);
	out8(serial_io, s, UINT64_MAX, 0x55);
	uint8_t big[16];
	memset(big, 0x11, sizeof(big));
	serial_io(s, 0, big, 0, false);
	serial_io(s, 0, big, 16, false); /* no such access: ignored */
	cr_assert_eq(big[0], 0x11);
	cr_assert_eq(uart_in(s, SCR), 0x77);
	serial_destroy(s);
}

struct feeder {
	struct serial *s;
	int total;
};

static void *feed(void *opaque)
{
	struct feeder *f = opaque;
	for (int i = 0; i < f->total;) {
		uint8_t chunk[37];
		int n = f->total - i < 37 ? f->total - i : 37;
		for (int k = 0; k < n; k++)
			chunk[k] = (uint8_t)(i + k);
		i += (int)serial_receive(f->s, chunk, (size_t)n);
	}
	return NULL;
}

Test(serial, concurrent_input_and_guest_reads)
{
	struct serial *s = new_serial(-1);
	struct feeder f = { .s = s, .total = 200000 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, feed, &f), 0);
	for (int i = 0; i < f.total;) {
		if (!(uart_in(s, LSR) & 0x01))
			continue;
		uint8_t b = uart_in(s, RBR);
		cr_assert_eq(b, (uint8_t)i, "byte %d", i);
		i++;
	}
	pthread_join(t, NULL);
	cr_assert_eq(serial_rx_space(s), 4096);
	serial_destroy(s);
}

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
