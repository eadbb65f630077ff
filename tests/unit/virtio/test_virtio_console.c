/* virtio-console end to end without KVM: the device runs on its own thread and io_uring loop,
 * guest output goes to a pipe, host input comes in through virtio_console_receive; the test
 * plays the guest driver through the PCI bus (virtio_pci_test_driver). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/console.h"
#include "devices/virtio/virtio_pci.h"
#include "virtio_pci_test_driver.h"

#define V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)
/* MSI-X vectors: 0 configuration, 1 receiveq, 2 transmitq. */
#define RX_VECTOR 1
#define TX_VECTOR 2

static struct vdrv d;
static struct virtio_console *vc;
static struct vd_ring rxq, txq;
static int out_pipe[2] = { -1, -1 };
static atomic_int rx_ready_calls;

static void on_rx_ready(void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&rx_ready_calls, 1);
}

static struct virtio_console *create(int tty_fd)
{
	struct virtio_console_config cfg = { .out_fd = out_pipe[1], .tty_fd = tty_fd,
					     .rx_ready = on_rx_ready };
	struct virtio_console *c = virtio_console_create(d.bus, -1, &d.gm, &cfg, &d.e);
	cr_assert_not_null(c, "%s", d.e.msg);
	vd_probe(&d, 1);
	return c;
}

static void setup(void)
{
	vd_setup(&d);
	cr_assert_eq(pipe2(out_pipe, O_CLOEXEC), 0);
	atomic_store(&rx_ready_calls, 0);
	vc = create(-1);
}

static void teardown(void)
{
	virtio_console_destroy(vc);
	vd_teardown(&d);
	for (int i = 0; i < 2; i++)
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
}

TestSuite(virtio_console, .init = setup, .fini = teardown, .timeout = 30);

static void bring_up(uint64_t features)
{
	vd_msix_on(&d, 3);
	vd_negotiate(&d, features);
	vd_write(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	vd_queue_setup(&d, &rxq, VIRTIO_CONSOLE_RECEIVEQ, 64, RX_VECTOR);
	vd_queue_setup(&d, &txq, VIRTIO_CONSOLE_TRANSMITQ, 64, TX_VECTOR);
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&d) & VIRTIO_STATUS_DRIVER_OK);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Waits (up to 5 s) for the ring's used->idx to reach `want`. */
static bool wait_used(struct vd_ring *r, uint16_t want)
{
	for (int i = 0; i < 5000 && vd_used_idx(&d, r) != want; i++)
		sleep_ms(1);
	return vd_used_idx(&d, r) == want;
}

static bool wait_status(uint8_t bit)
{
	for (int i = 0; i < 5000 && !(vd_status(&d) & bit); i++)
		sleep_ms(1);
	return vd_status(&d) & bit;
}

/* Reads exactly n bytes of guest output (up to 5 s). */
static size_t read_output(void *buf, size_t n)
{
	size_t got = 0;
	int flags = fcntl(out_pipe[0], F_GETFL);
	fcntl(out_pipe[0], F_SETFL, flags | O_NONBLOCK);
	for (int i = 0; i < 5000 && got < n; i++) {
		ssize_t r = read(out_pipe[0], (char *)buf + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else
			sleep_ms(1);
	}
	fcntl(out_pipe[0], F_SETFL, flags);
	return got;
}

/* Offers one device-readable buffer holding `text` on the transmitq. */
static void transmit(const char *text)
{
	size_t n = strlen(text);
	uint64_t buf = vd_alloc(&d, (uint32_t)n);
	memcpy(vd_host(&d, buf, n), text, n);
	vd_offer(&d, &txq, vd_desc(&d, &txq, buf, (uint32_t)n, 0, 0));
}

/* Offers one device-writable buffer of n bytes on the receiveq; returns its address. */
static uint64_t offer_input_buffer(uint32_t n)
{
	uint64_t buf = vd_alloc(&d, n);
	vd_offer(&d, &rxq, vd_desc(&d, &rxq, buf, n, VIRTQ_DESC_F_WRITE, 0));
	return buf;
}

Test(virtio_console, identity_and_configuration)
{
	cr_expect_eq(vd_cfg_read(&d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_CONSOLE);
	cr_expect_eq(vd_cfg_read(&d, PCI_CLASS_DEVICE, 2), 0x0780);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), VIRTIO_CONSOLE_QUEUE_SIZE);
	cr_expect_eq(d.device_len, VIRTIO_CONSOLE_CFG_SIZE);
	/* Not a terminal: no VIRTIO_CONSOLE_F_SIZE, and no MULTIPORT ever. */
	cr_expect_eq(vd_device_features(&d), VIRTIO_PCI_TRANSPORT_FEATURES);
	cr_expect_eq(vd_mmio_read(&d, d.device + VIRTIO_CONSOLE_CFG_COLS, 2), 0);
	cr_expect_eq(vd_mmio_read(&d, d.device + 4, 4), 1, "max_nr_ports");
	cr_expect_eq(vd_mmio_read(&d, d.device + 10, 4), 0, "past the configuration reads 0");
}

Test(virtio_console, transmit_reaches_out_fd_and_interrupts)
{
	bring_up(V1);
	transmit("hello, ");
	transmit("host\n");
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	char out[16] = { 0 };
	cr_assert_eq(read_output(out, 12), 12);
	cr_expect_str_eq(out, "hello, host\n");
	cr_assert(wait_used(&txq, 2));
	cr_expect_eq(vd_used(&d, &txq, 0).len, 0, "nothing written into a transmit buffer");
	cr_expect_geq(vd_msix_count(&d, TX_VECTOR), 1);
	cr_expect_eq(virtio_console_bytes_out(vc), 12);
}

Test(virtio_console, input_staged_before_the_driver_is_delivered)
{
	cr_expect_eq(virtio_console_receive(vc, (const uint8_t *)"ls\r", 3), 3);
	bring_up(V1 | VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	uint64_t buf = offer_input_buffer(64);
	vd_kick(&d, VIRTIO_CONSOLE_RECEIVEQ);
	cr_assert(wait_used(&rxq, 1));
	cr_expect_eq(vd_used(&d, &rxq, 0).len, 3);
	cr_expect_eq(memcmp(vd_host(&d, buf, 3), "ls\r", 3), 0);
	cr_expect_geq(vd_msix_count(&d, RX_VECTOR), 1);
	/* Input arriving while buffers wait goes straight in. */
	buf = offer_input_buffer(64);
	vd_kick(&d, VIRTIO_CONSOLE_RECEIVEQ);
	cr_expect_eq(virtio_console_receive(vc, (const uint8_t *)"x", 1), 1);
	cr_assert(wait_used(&rxq, 2));
	cr_expect_eq(*(char *)vd_host(&d, buf, 1), 'x');
	cr_expect_eq(virtio_console_bytes_in(vc), 4);
}

Test(virtio_console, input_back_pressure_holds_every_byte)
{
	static uint8_t in[3 * VIRTIO_CONSOLE_RX_STAGING];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	size_t taken = virtio_console_receive(vc, in, sizeof(in));
	cr_assert_eq(taken, VIRTIO_CONSOLE_RX_STAGING, "staging takes what fits");
	cr_expect_eq(virtio_console_receive(vc, in + taken, 1), 0);
	cr_expect_eq(atomic_load(&rx_ready_calls), 0);
	bring_up(V1);
	/* The guest reads in 1000-byte buffers; the host offers more whenever there is room. */
	static uint8_t got[sizeof(in)];
	size_t delivered = 0;
	for (uint16_t round = 1; delivered < sizeof(in) && round < 100; round++) {
		uint64_t buf = offer_input_buffer(1000);
		vd_kick(&d, VIRTIO_CONSOLE_RECEIVEQ);
		cr_assert(wait_used(&rxq, round), "round %u", round);
		uint32_t len = vd_used(&d, &rxq, (uint16_t)(round - 1)).len;
		memcpy(got + delivered, vd_host(&d, buf, len), len);
		delivered += len;
		if (taken < sizeof(in))
			taken += virtio_console_receive(vc, in + taken, sizeof(in) - taken);
	}
	cr_expect_eq(delivered, sizeof(in));
	cr_expect_eq(memcmp(got, in, sizeof(in)), 0, "bytes lost or reordered");
	cr_expect_geq(atomic_load(&rx_ready_calls), 1, "room was never signalled");
}

Test(virtio_console, output_back_pressure_keeps_buffers_until_written)
{
	cr_assert_geq(fcntl(out_pipe[1], F_SETPIPE_SZ, 4096), 4096);
	int cap = fcntl(out_pipe[1], F_GETPIPE_SZ);
	bring_up(V1);
	enum { CHUNK = 4096, CHUNKS = 16 };
	static uint8_t want[CHUNK * CHUNKS];
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i % 251);
	for (int i = 0; i < CHUNKS; i++) {
		uint64_t buf = vd_alloc(&d, CHUNK);
		memcpy(vd_host(&d, buf, CHUNK), want + i * CHUNK, CHUNK);
		vd_offer(&d, &txq, vd_desc(&d, &txq, buf, CHUNK, 0, 0));
	}
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	sleep_ms(100);
	uint16_t used = vd_used_idx(&d, &txq);
	cr_expect_leq((size_t)used * CHUNK, (size_t)VIRTIO_CONSOLE_TX_BUFFER + (size_t)cap + CHUNK,
		      "%u buffers taken with nobody reading the output", used);
	cr_expect_lt(used, CHUNKS);
	static uint8_t got[sizeof(want)];
	cr_assert_eq(read_output(got, sizeof(got)), sizeof(got));
	cr_expect_eq(memcmp(got, want, sizeof(want)), 0);
	cr_expect(wait_used(&txq, CHUNKS));
}

Test(virtio_console, chain_larger_than_the_output_buffer)
{
	bring_up(V1 | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	enum { BIG = 3 * VIRTIO_CONSOLE_TX_BUFFER + 100 };
	uint64_t a = vd_alloc(&d, BIG), b = vd_alloc(&d, 5);
	uint8_t *p = vd_host(&d, a, BIG);
	for (int i = 0; i < BIG; i++)
		p[i] = (uint8_t)('a' + i % 26);
	memcpy(vd_host(&d, b, 5), "tail\n", 5);
	/* Two readable descriptors through an indirect table. */
	uint64_t table = vd_alloc(&d, 32);
	struct virtq_desc ind[2] = { { a, BIG, VIRTQ_DESC_F_NEXT, 1 }, { b, 5, 0, 0 } };
	memcpy(vd_host(&d, table, 32), ind, 32);
	vd_offer(&d, &txq, vd_desc(&d, &txq, table, 32, VIRTQ_DESC_F_INDIRECT, 0));
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	static uint8_t got[BIG + 5];
	cr_assert_eq(read_output(got, sizeof(got)), sizeof(got));
	cr_expect_eq(memcmp(got, p, BIG), 0);
	cr_expect_eq(memcmp(got + BIG, "tail\n", 5), 0);
	cr_expect(wait_used(&txq, 1));
}

Test(virtio_console, hostile_chains_need_reset_then_recover)
{
	bring_up(V1);
	/* A transmit buffer past the end of RAM. */
	vd_offer(&d, &txq, vd_desc(&d, &txq, VD_RAM - 8, 64, 0, 0));
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	cr_assert(wait_status(VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	cr_expect_eq(vd_msix_count(&d, 0), 1, "configuration interrupt");

	/* A receive chain with a readable buffer after a writable one. */
	bring_up(V1);
	cr_expect_eq(virtio_console_receive(vc, (const uint8_t *)"q", 1), 1);
	uint64_t w = vd_alloc(&d, 8), r = vd_alloc(&d, 8);
	uint16_t second = vd_desc(&d, &rxq, r, 8, 0, 0);
	vd_offer(&d, &rxq, vd_desc(&d, &rxq, w, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, second));
	vd_kick(&d, VIRTIO_CONSOLE_RECEIVEQ);
	cr_assert(wait_status(VIRTIO_STATUS_DEVICE_NEEDS_RESET));

	/* After a reset everything works, and the staged input was kept. */
	bring_up(V1);
	uint64_t buf = offer_input_buffer(8);
	vd_kick(&d, VIRTIO_CONSOLE_RECEIVEQ);
	cr_assert(wait_used(&rxq, 1));
	cr_expect_eq(*(char *)vd_host(&d, buf, 1), 'q');
	transmit("ok\n");
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	char out[4] = { 0 };
	cr_assert_eq(read_output(out, 3), 3);
	cr_expect_str_eq(out, "ok\n");
}

Test(virtio_console, closed_output_is_discarded_not_fatal)
{
	signal(SIGPIPE, SIG_IGN); /* as ember's main() does */
	close(out_pipe[0]);
	out_pipe[0] = -1;
	bring_up(V1);
	for (int i = 0; i < 8; i++)
		transmit("into the void\n");
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	cr_expect(wait_used(&txq, 8), "the guest must not hang on a dead stdout");
	transmit("more\n");
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	cr_expect(wait_used(&txq, 9));
	cr_expect_eq(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

Test(virtio_console, shutdown_writes_what_the_guest_queued)
{
	bring_up(V1);
	transmit("last words\n");
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	virtio_console_destroy(vc);
	vc = NULL;
	char out[16] = { 0 };
	cr_assert_eq(read_output(out, 11), 11);
	cr_expect_str_eq(out, "last words\n");
}

/* A pseudo-terminal of 100x40 as the console's terminal. */
static int open_pty(unsigned short cols, unsigned short rows)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(master, 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	cr_assert_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
	return master;
}

Test(virtio_console, window_size_from_a_terminal)
{
	virtio_console_destroy(vc);
	vd_teardown(&d);
	vd_setup(&d);
	int pty = open_pty(100, 40);
	vc = create(pty);
	cr_expect(vd_device_features(&d) & VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	cr_expect_eq(vd_mmio_read(&d, d.device + VIRTIO_CONSOLE_CFG_COLS, 2), 100);
	cr_expect_eq(vd_mmio_read(&d, d.device + VIRTIO_CONSOLE_CFG_ROWS, 2), 40);
	bring_up(V1 | VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	uint8_t gen = (uint8_t)vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1);
	virtio_console_resize(vc); /* unchanged: nothing happens */
	cr_expect_eq(vd_msix_count(&d, 0), 0);
	struct winsize ws = { .ws_row = 50, .ws_col = 132 };
	cr_assert_eq(ioctl(pty, TIOCSWINSZ, &ws), 0);
	virtio_console_resize(vc);
	cr_expect_eq(vd_mmio_read(&d, d.device + VIRTIO_CONSOLE_CFG_COLS, 2), 132);
	cr_expect_eq(vd_mmio_read(&d, d.device + VIRTIO_CONSOLE_CFG_ROWS, 2), 50);
	cr_expect_neq((uint8_t)vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1), gen);
	cr_expect_eq(vd_msix_count(&d, 0), 1, "configuration change interrupt");

	/* The size is the device's snapshot record. */
	struct virtio_pci *vp = virtio_console_transport(vc);
	static uint8_t snap[4096];
	size_t len = 0;
	cr_assert_eq(virtio_pci_save(vp, snap, sizeof(snap), &len, &d.e), 0, "%s", d.e.msg);
	struct virtio_console_state s;
	memcpy(&s, snap + len - sizeof(s), sizeof(s));
	cr_expect_eq(s.cols, 132);
	cr_expect_eq(s.rows, 50);
	cr_expect_eq(virtio_pci_restore(vp, snap, len, &d.e), 0, "%s", d.e.msg);
	snap[len - 1] = 0xee; /* a reserved byte */
	cr_expect_eq(virtio_pci_restore(vp, snap, len, &d.e), -1);
	close(pty);
}

Test(virtio_console, output_to_a_regular_file)
{
	virtio_console_destroy(vc);
	vd_teardown(&d);
	vd_setup(&d);
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	int saved = out_pipe[1];
	out_pipe[1] = fileno(f);
	vc = create(-1);
	out_pipe[1] = saved;
	bring_up(V1);
	/* COM1 writes to the same open file with write(2): the two must not overwrite each other. */
	cr_assert_eq(write(fileno(f), "serial\n", 7), 7);
	transmit("first\n");
	transmit("second\n");
	vd_kick(&d, VIRTIO_CONSOLE_TRANSMITQ);
	cr_assert(wait_used(&txq, 2));
	cr_assert_eq(write(fileno(f), "serial\n", 7), 7);
	char out[64] = { 0 };
	cr_assert_eq(pread(fileno(f), out, sizeof(out) - 1, 0), 7 + 6 + 7 + 7);
	cr_expect_str_eq(out, "serial\nfirst\nsecond\nserial\n");
	fclose(f);
}
