/* The 16550A UART driven through its port handler as a vCPU would. */
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

/* ---- serial ---- */

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };


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
