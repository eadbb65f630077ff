/* A 16550A UART as the PC16550D datasheet describes it and Linux's 8250 driver probes it.
 *
 * Transmission is instantaneous: a THR byte goes straight to out_fd, so THR and the transmitter
 * are always empty (LSR THRE|TEMT). Host input waits in a 4 KiB buffer; the guest sees it through
 * DR and RBR only, as if each byte arrived the moment the previous one was read. */
#include "serial.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Register offsets from the base port. Offsets 0 and 1 are the divisor latch when LCR.DLAB is
 * set; offset 2 reads as IIR and writes as FCR. */
enum {
	REG_RBR_THR = 0,
	REG_IER = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
	SERIAL_NPORTS = 8,
};

#define IER_RDA  0x01 /* received data available */
#define IER_THRE 0x02 /* transmitter holding register empty */
#define IER_RLS  0x04 /* receiver line status (errors, break) */
#define IER_MSI  0x08 /* modem status change */
#define IER_MASK 0x0f /* bits 4-7 read as zero; Linux tells a 16550A from an XScale UART by it */

/* IIR values, highest priority first (datasheet table IV). Bit 0 set means nothing pending. */
#define IIR_RLS  0x06
#define IIR_RDA  0x04
#define IIR_THRE 0x02
#define IIR_MSI  0x00
#define IIR_NONE 0x01
#define IIR_FIFO_ENABLED 0xc0 /* both bits set: what makes Linux's probe say "16550A" */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_STORED   0xc9 /* enable, DMA mode, RX trigger; the clear bits act and self-clear */

#define LCR_WORD_LENGTH 0x03
#define LCR_BREAK       0x40
#define LCR_DLAB        0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_PE   0x04
#define LSR_FE   0x08
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_RXFE 0x80 /* an error character is in the RX FIFO */
#define LSR_LINE_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI  0x40
#define MSR_DCD 0x80
/* Outside loopback the far end is always present and ready: carrier, DSR and CTS asserted. */
#define MSR_CONNECTED (MSR_DCD | MSR_DSR | MSR_CTS)

#define SERIAL_FIFO_DEPTH  16
#define SERIAL_RX_CAPACITY 4096
/* After host input filled the buffer, rx_ready fires once the guest has drained half of it:
 * waking the event loop for every byte read would cost more than it gains. */
#define SERIAL_RX_RESUME_SPACE (SERIAL_RX_CAPACITY / 2)
/* How long a vCPU waits on a non-blocking out_fd that is full before dropping the byte. */
#define SERIAL_OUTPUT_STALL_MS 100

/* Everything the guest can observe, as plain data (save/restore copies it as is). */
struct serial_state {
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_errors;  /* OE/PE/FE/BI/RXFE, cleared by reading LSR */
	uint8_t msr;         /* modem input lines (bits 4-7) and their change flags (bits 0-3) */
	bool thre_pending;   /* THRE interrupt latched; an IIR read reporting it clears it */
	bool irq_level;      /* level last driven on the interrupt line */
	bool rx_was_full;    /* host input filled rx: call rx_ready once there is room */
	/* Bytes the guest sent to itself in loopback mode: the UART's own receive FIFO. */
	uint8_t loop_fifo[SERIAL_FIFO_DEPTH];
	uint8_t loop_head, loop_count;
	/* Host input not yet read by the guest. */
	uint32_t rx_head, rx_count;
	uint8_t rx[SERIAL_RX_CAPACITY];
};

struct serial {
	pthread_mutex_t lock;
	struct serial_config cfg;
	char name[40];
	struct serial_state st;
};

static void serial_reset(struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	st->lcr = 0x03; /* 8N1 at 115200 baud, as firmware would leave it */
	st->dll = 1;
	st->msr = MSR_CONNECTED;
}

/* ---- receive side ---- */

static bool loopback(const struct serial_state *st)
{
	return st->mcr & MCR_LOOP;
}

/* In loopback mode the receiver is cut off from the line, so host input waits. */
static bool rx_data_ready(const struct serial_state *st)
{
	return st->loop_count > 0 || (!loopback(st) && st->rx_count > 0);
}

static uint8_t word_mask(const struct serial_state *st)
{
	return (uint8_t)((1u << (5 + (st->lcr & LCR_WORD_LENGTH))) - 1);
}

static void loop_receive(struct serial_state *st, uint8_t byte, uint8_t errors)
{
	unsigned depth = (st->fcr & FCR_ENABLE) ? SERIAL_FIFO_DEPTH : 1;
	if (st->loop_count >= depth) {
		st->lsr_errors |= LSR_OE; /* the new character is lost, the FIFO kept */
		return;
	}
	st->loop_fifo[(st->loop_head + st->loop_count) % SERIAL_FIFO_DEPTH] = byte;
	st->loop_count++;
	st->lsr_errors |= errors;
}

static void clear_loop_fifo(struct serial_state *st)
{
	st->loop_head = 0;
	st->loop_count = 0;
}

static uint8_t read_rbr(struct serial_state *st, bool *notify_rx_ready)
{
	if (st->loop_count > 0) {
		uint8_t byte = st->loop_fifo[st->loop_head];
		st->loop_head = (uint8_t)((st->loop_head + 1) % SERIAL_FIFO_DEPTH);
		st->loop_count--;
		return byte;
	}
	if (loopback(st) || st->rx_count == 0)
		return 0;
	uint8_t byte = st->rx[st->rx_head];
	st->rx_head = (st->rx_head + 1) % SERIAL_RX_CAPACITY;
	st->rx_count--;
	if (st->rx_was_full && SERIAL_RX_CAPACITY - st->rx_count >= SERIAL_RX_RESUME_SPACE) {
		st->rx_was_full = false;
		*notify_rx_ready = true;
	}
	return byte & word_mask(st);
}

/* ---- transmit side ---- */

static void write_host(int fd, uint8_t byte)
{
	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = write(fd, &byte, 1);
		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, SERIAL_OUTPUT_STALL_MS) > 0)
				continue;
		}
		return; /* output gone (closed pipe, full disk, stuck reader): drop, never hang */
	}
}

static void transmit(struct serial *s, uint8_t byte)
{
	struct serial_state *st = &s->st;
	byte &= word_mask(st);
	if (loopback(st))
		loop_receive(st, byte, 0);
	else
		write_host(s->cfg.out_fd, byte);
	st->thre_pending = true; /* the byte left at once: THR is empty again */
}

/* ---- interrupts and modem lines ---- */

static uint8_t pending_interrupt(const struct serial_state *st)
{
	if ((st->ier & IER_RLS) && (st->lsr_errors & LSR_LINE_ERRORS))
		return IIR_RLS;
	if ((st->ier & IER_RDA) && rx_data_ready(st))
		return IIR_RDA;
	if ((st->ier & IER_THRE) && st->thre_pending)
		return IIR_THRE;
	if ((st->ier & IER_MSI) && (st->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NONE;
}

/* Drives the line only when its level changes. Not gated by MCR.OUT2 (as the PC wires it):
 * Linux sets OUT2 anyway, and simpler guests that forget it still get their interrupts. */
static void update_irq(struct serial *s)
{
	bool level = pending_interrupt(&s->st) != IIR_NONE;
	if (level == s->st.irq_level)
		return;
	s->st.irq_level = level;
	irq_line_set(&s->cfg.irq, level);
}

static uint8_t modem_inputs(const struct serial_state *st)
{
	if (!loopback(st))
		return MSR_CONNECTED;
	/* Loopback wires the outputs to the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. The
	 * 8250 probe sets RTS|OUT2 in loopback and expects exactly CTS|DCD back. */
	uint8_t in = 0;
	if (st->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (st->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (st->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (st->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return in;
}

static void set_modem_inputs(struct serial_state *st, uint8_t in)
{
	uint8_t old = st->msr & ~MSR_DELTAS;
	uint8_t changed = old ^ in;
	uint8_t deltas = st->msr & MSR_DELTAS;
	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	if ((old & MSR_RI) && !(in & MSR_RI))
		deltas |= MSR_TERI; /* trailing edge of RI only */
	st->msr = in | deltas;
}

/* ---- register access ---- */

static uint8_t read_iir(struct serial_state *st)
{
	uint8_t id = pending_interrupt(st);
	if (id == IIR_THRE)
		st->thre_pending = false; /* reading IIR is how THRE is acknowledged */
	return id | ((st->fcr & FCR_ENABLE) ? IIR_FIFO_ENABLED : 0);
}

static uint8_t read_lsr(struct serial_state *st)
{
	uint8_t lsr = st->lsr_errors | LSR_THRE | LSR_TEMT;
	if (rx_data_ready(st))
		lsr |= LSR_DR;
	st->lsr_errors = 0;
	return lsr;
}

static uint8_t read_msr(struct serial_state *st)
{
	uint8_t msr = st->msr;
	st->msr &= ~MSR_DELTAS;
	return msr;
}

static uint8_t read_reg(struct serial_state *st, unsigned reg, bool *notify_rx_ready)
{
	bool dlab = st->lcr & LCR_DLAB;
	switch (reg) {
	case REG_RBR_THR:
		return dlab ? st->dll : read_rbr(st, notify_rx_ready);
	case REG_IER:
		return dlab ? st->dlm : st->ier;
	case REG_IIR_FCR:
		return read_iir(st);
	case REG_LCR:
		return st->lcr;
	case REG_MCR:
		return st->mcr;
	case REG_LSR:
		return read_lsr(st);
	case REG_MSR:
		return read_msr(st);
	case REG_SCR:
		return st->scr;
	}
	return 0xff;
}

static void write_ier(struct serial_state *st, uint8_t value)
{
	value &= IER_MASK;
	/* Enabling THRE while THR is empty (always, here) raises it at once. Linux's startup test
	 * toggles IER.THRE and marks the UART buggy if THRE does not re-assert. */
	if ((value & IER_THRE) && !(st->ier & IER_THRE))
		st->thre_pending = true;
	st->ier = value;
}

static void write_fcr(struct serial_state *st, uint8_t value)
{
	/* Host input is never discarded here: it is still "on the line", and a byte that arrives just
	 * after a reset looks no different to the guest. Only the UART's own FIFO is reset. */
	if (((value ^ st->fcr) & FCR_ENABLE) || (value & FCR_CLEAR_RX))
		clear_loop_fifo(st);
	/* The other FCR bits can only be programmed while the FIFO is enabled. The transmitter is
	 * always empty, so clearing it is a no-op. */
	st->fcr = (value & FCR_ENABLE) ? (value & FCR_STORED) : 0;
}

static void write_lcr(struct serial_state *st, uint8_t value)
{
	/* A break looped back reaches the receiver as a zero character with BI set. */
	if ((value & LCR_BREAK) && !(st->lcr & LCR_BREAK) && loopback(st))
		loop_receive(st, 0, LSR_BI | ((st->fcr & FCR_ENABLE) ? LSR_RXFE : 0));
	st->lcr = value;
}

static void write_mcr(struct serial_state *st, uint8_t value)
{
	st->mcr = value & MCR_MASK;
	set_modem_inputs(st, modem_inputs(st));
}

static void write_reg(struct serial *s, unsigned reg, uint8_t value)
{
	struct serial_state *st = &s->st;
	bool dlab = st->lcr & LCR_DLAB;
	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			st->dll = value;
		else
			transmit(s, value);
		break;
	case REG_IER:
		if (dlab)
			st->dlm = value;
		else
			write_ier(st, value);
		break;
	case REG_IIR_FCR:
		write_fcr(st, value);
		break;
	case REG_LCR:
		write_lcr(st, value);
		break;
	case REG_MCR:
		write_mcr(st, value);
		break;
	case REG_SCR:
		st->scr = value;
		break;
	default:
		break; /* LSR and MSR writes are factory-test features: ignored */
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct serial *s = opaque;
	if (size == 0 || size > 8)
		return;
	bool notify_rx_ready = false;
	pthread_mutex_lock(&s->lock);
	/* A wider access is split into byte cycles on consecutive ports, as the PC's bus does for an
	 * 8-bit device; bytes past the last register read as all-ones. */
	for (uint32_t i = 0; i < size; i++) {
		bool mine = offset < SERIAL_NPORTS && i < SERIAL_NPORTS - offset;
		unsigned reg = mine ? (unsigned)(offset + i) : 0;
		if (is_write) {
			if (mine)
				write_reg(s, reg, data[i]);
		} else {
			data[i] = mine ? read_reg(&s->st, reg, &notify_rx_ready) : 0xff;
		}
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	/* Outside the lock: the callback may well call serial_receive. */
	if (notify_rx_ready && s->cfg.rx_ready)
		s->cfg.rx_ready(s->cfg.rx_ready_opaque);
}

/* ---- host side ---- */

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&s->lock);
	struct serial_state *st = &s->st;
	size_t taken = 0;
	while (taken < n && st->rx_count < SERIAL_RX_CAPACITY) {
		uint32_t tail = (st->rx_head + st->rx_count) % SERIAL_RX_CAPACITY;
		size_t chunk = n - taken;
		if (chunk > SERIAL_RX_CAPACITY - st->rx_count)
			chunk = SERIAL_RX_CAPACITY - st->rx_count;
		if (chunk > SERIAL_RX_CAPACITY - tail)
			chunk = SERIAL_RX_CAPACITY - tail;
		memcpy(&st->rx[tail], buf + taken, chunk);
		st->rx_count += (uint32_t)chunk;
		taken += chunk;
	}
	if (st->rx_count == SERIAL_RX_CAPACITY)
		st->rx_was_full = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

size_t serial_rx_space(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	size_t space = SERIAL_RX_CAPACITY - s->st.rx_count;
	pthread_mutex_unlock(&s->lock);
	return space;
}

/* ---- lifetime ---- */

struct serial *serial_create(const struct serial_config *cfg, struct error *e)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s) {
		error_errno(e, "serial: cannot allocate the UART");
		return NULL;
	}
	int rc = pthread_mutex_init(&s->lock, NULL);
	if (rc != 0) {
		free(s);
		errno = rc;
		error_errno(e, "serial: cannot create the UART lock");
		return NULL;
	}
	s->cfg = *cfg;
	serial_reset(&s->st);
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int serial_attach(struct serial *s, struct io_bus *pio, uint16_t base, struct error *e)
{
	snprintf(s->name, sizeof(s->name), "16550A serial port 0x%x", base);
	return io_bus_add(pio, base, SERIAL_NPORTS, serial_io, s, s->name, e);
}
