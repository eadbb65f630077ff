/* A PS/2 keyboard controller with no mouse and a keyboard that only ever types Ctrl-Alt-Del: it
 * answers the controller commands Linux's i8042 driver probes with, at once, and its reset line
 * (command 0xFE, or output port bit 0) reboots the VM.
 *
 * Every command that expects a reply gets one immediately, so a guest never waits out a
 * controller timeout. Bytes sent to the keyboard are dropped: the keyboard answers no commands,
 * so Linux finds it only with i8042.dumbkbd (as in Firecracker's default command line) and
 * otherwise reports no keyboard after its own (background) timeout.
 *
 * The keyboard's key presses (i8042_send_ctrl_alt_del, Firecracker's SendCtrlAltDel) wait in the
 * keyboard's own buffer and move to the output buffer one byte at a time, when it is empty and the
 * keyboard interface is enabled, raising IRQ 1 if the command byte enables it. */
#include "i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../arch/x86/layout.h"

/* Offsets from the data port; i8042_io takes offsets in this space. */
#define I8042_OFF_DATA 0
#define I8042_OFF_CMD  (PORT_I8042_CMD - PORT_I8042_DATA)
#define I8042_NPORTS   (I8042_OFF_CMD + 1)

#define STATUS_OBF      0x01 /* output buffer full: a byte waits on the data port */
#define STATUS_SYS      0x04 /* system flag, mirrors the command byte's SYS bit */
#define STATUS_CMD      0x08 /* last write went to the command port */
#define STATUS_UNLOCKED 0x10 /* keyboard not inhibited by the key lock */

/* The command byte (controller RAM byte 0). */
#define CTR_KBD_INT 0x01
#define CTR_SYS     0x04
#define CTR_KBD_DIS 0x10
#define CTR_AUX_DIS 0x20
#define CTR_XLATE   0x40

#define OUTPORT_RESET 0x01 /* active low: writing 0 resets the CPU */
#define OUTPORT_A20   0x02

#define SELF_TEST_PASSED   0x55
#define INTERFACE_OK       0x00
/* The aux interface test's "clock line stuck high": what an empty mouse port looks like. */
#define INTERFACE_NO_CLOCK 0x02

#define I8042_RAM_SIZE 32
#define I8042_QUEUE_SIZE 16
#define I8042_KBD_BUFFER_SIZE 16

/* Ctrl, Alt, Del pressed then released, in scan code set 2 (what the keyboard sends) and set 1
 * (what the controller hands on when translation, CTR_XLATE, is on). */
static const uint8_t ctrl_alt_del_set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					     0xf0, 0x11, 0xf0, 0x14 };
static const uint8_t ctrl_alt_del_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };

/* Plain device state (save/restore copies it as is). */
struct i8042_state {
	uint8_t ram[I8042_RAM_SIZE]; /* ram[0] is the command byte */
	uint8_t output_port;
	uint8_t pending;             /* command waiting for its data byte, or 0 */
	bool last_write_cmd;
	uint8_t out[I8042_QUEUE_SIZE];
	uint8_t out_head, out_count;
	uint8_t kbd[I8042_KBD_BUFFER_SIZE]; /* bytes the keyboard has yet to hand over */
	uint8_t kbd_head, kbd_count;
};

struct i8042 {
	pthread_mutex_t lock;
	struct power_ctl power;
	struct irq_line kbd_irq;
	bool has_kbd_irq;
	struct i8042_state st;
};

static void i8042_reset(struct i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	/* What firmware leaves: keyboard interrupt and translation on, self-test passed, no mouse. */
	st->ram[0] = CTR_KBD_INT | CTR_SYS | CTR_AUX_DIS | CTR_XLATE;
	st->output_port = OUTPORT_RESET | OUTPORT_A20;
}

static void queue_byte(struct i8042_state *st, uint8_t byte)
{
	if (st->out_count == I8042_QUEUE_SIZE)
		return; /* a guest issuing commands without reading the replies loses the newest */
	st->out[(st->out_head + st->out_count) % I8042_QUEUE_SIZE] = byte;
	st->out_count++;
}

static uint8_t read_data(struct i8042_state *st)
{
	if (st->out_count == 0)
		return 0;
	uint8_t byte = st->out[st->out_head];
	st->out_head = (uint8_t)((st->out_head + 1) % I8042_QUEUE_SIZE);
	st->out_count--;
	return byte;
}

static uint8_t read_status(const struct i8042_state *st)
{
	uint8_t status = STATUS_UNLOCKED;
	if (st->out_count > 0)
		status |= STATUS_OBF;
	if (st->ram[0] & CTR_SYS)
		status |= STATUS_SYS;
	if (st->last_write_cmd)
		status |= STATUS_CMD;
	return status;
}

/* Returns true when the command asks for a CPU reset. */
static bool run_command(struct i8042_state *st, uint8_t cmd)
{
	st->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		queue_byte(st, st->ram[cmd & 0x1f]); /* read controller RAM (0x20: command byte) */
		return false;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
		st->pending = cmd; /* the data byte follows on port 0x60 */
		return false;
	}
	/* 0xF0-0xFF pulse the output port lines whose bits are clear in the low nibble; bit 0 is the
	 * CPU reset line, so 0xFE (and every even one) resets. */
	if (cmd >= 0xf0)
		return !(cmd & OUTPORT_RESET);
	switch (cmd) {
	case 0xa7: /* disable aux interface */
		st->ram[0] |= CTR_AUX_DIS;
		break;
	case 0xa8: /* enable aux interface */
		st->ram[0] &= ~CTR_AUX_DIS;
		break;
	case 0xa9: /* aux interface test: there is no mouse port, which Linux then gives up on */
		queue_byte(st, INTERFACE_NO_CLOCK);
		break;
	case 0xaa: /* controller self-test */
		st->ram[0] |= CTR_SYS;
		queue_byte(st, SELF_TEST_PASSED);
		break;
	case 0xab: /* keyboard interface test */
		queue_byte(st, INTERFACE_OK);
		break;
	case 0xad: /* disable keyboard interface */
		st->ram[0] |= CTR_KBD_DIS;
		break;
	case 0xae: /* enable keyboard interface */
		st->ram[0] &= ~CTR_KBD_DIS;
		break;
	case 0xd0: /* read output port */
		queue_byte(st, st->output_port);
		break;
	default:
		break; /* not implemented: no reply (a guest's own timeout ends its wait) */
	}
	return false;
}

/* A data byte for the pending command, or for the (absent) keyboard. Returns true on reset. */
static bool write_data(struct i8042_state *st, uint8_t byte)
{
	uint8_t cmd = st->pending;
	st->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		st->ram[cmd & 0x1f] = byte;
		return false;
	}
	switch (cmd) {
	case 0xd1: /* write output port. A20 is not emulated: KVM guest memory never wraps at 1 MiB */
		st->output_port = byte;
		return !(byte & OUTPORT_RESET);
	case 0xd2: /* write keyboard output buffer: reads back as if the keyboard sent it */
		queue_byte(st, byte);
		break;
	case 0xd3:
		/* "Write aux output buffer" should read back flagged as mouse data. There is no mouse
		 * port, so it comes back unflagged: Linux's loop test fails at once and, with the aux
		 * test above, it drops the mouse port instead of waiting for an IRQ 12 that never
		 * comes. */
		queue_byte(st, byte);
		break;
	default:
		break; /* 0xd4 (to the mouse) or a byte for the keyboard: nobody is there */
	}
	return false;
}

/* Moves one keyboard byte to the empty output buffer; returns true when that asks for IRQ 1. */
static bool feed_keyboard(struct i8042_state *st)
{
	if (st->kbd_count == 0 || st->out_count > 0 || (st->ram[0] & CTR_KBD_DIS))
		return false;
	queue_byte(st, st->kbd[st->kbd_head]);
	st->kbd_head = (uint8_t)((st->kbd_head + 1) % I8042_KBD_BUFFER_SIZE);
	st->kbd_count--;
	return st->ram[0] & CTR_KBD_INT;
}

/* Under k->lock. ISA IRQ 1 is edge-triggered: one pulse per byte. */
static void feed_keyboard_and_signal(struct i8042 *k)
{
	if (feed_keyboard(&k->st) && k->has_kbd_irq)
		irq_line_pulse(&k->kbd_irq);
}

void i8042_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct i8042 *k = opaque;
	if (size == 0 || size > 8)
		return;
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	/* Wider accesses split into byte cycles on consecutive ports; ports 0x61-0x63 are not ours
	 * and read as all-ones. */
	for (uint32_t i = 0; i < size; i++) {
		uint64_t port = offset + i;
		bool data_port = offset == I8042_OFF_DATA && i == 0;
		bool cmd_port = offset <= I8042_OFF_CMD && port == I8042_OFF_CMD;
		if (is_write) {
			if (data_port) {
				k->st.last_write_cmd = false;
				reset |= write_data(&k->st, data[i]);
			} else if (cmd_port) {
				k->st.last_write_cmd = true;
				reset |= run_command(&k->st, data[i]);
			}
		} else {
			data[i] = data_port ? read_data(&k->st) : cmd_port ? read_status(&k->st) : 0xff;
		}
	}
	feed_keyboard_and_signal(k);
	pthread_mutex_unlock(&k->lock);
	/* Outside the lock: the VM may stop vCPUs in response. */
	if (reset)
		power_request(&k->power, POWER_RESET, 0);
}

static void data_port_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
			 bool is_write)
{
	i8042_io(opaque, I8042_OFF_DATA + offset, data, size, is_write);
}

static void cmd_port_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	i8042_io(opaque, I8042_OFF_CMD + offset, data, size, is_write);
}

struct i8042 *i8042_create(const struct power_ctl *power, struct error *e)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k) {
		error_errno(e, "i8042: cannot allocate the keyboard controller");
		return NULL;
	}
	int rc = pthread_mutex_init(&k->lock, NULL);
	if (rc != 0) {
		free(k);
		errno = rc;
		error_errno(e, "i8042: cannot create the controller lock");
		return NULL;
	}
	if (power)
		k->power = *power;
	i8042_reset(&k->st);
	return k;
}

void i8042_set_irq(struct i8042 *k, const struct irq_line *kbd_irq)
{
	pthread_mutex_lock(&k->lock);
	k->kbd_irq = *kbd_irq;
	k->has_kbd_irq = true;
	pthread_mutex_unlock(&k->lock);
}

int i8042_send_ctrl_alt_del(struct i8042 *k, struct error *e)
{
	pthread_mutex_lock(&k->lock);
	bool xlate = k->st.ram[0] & CTR_XLATE;
	const uint8_t *seq = xlate ? ctrl_alt_del_set1 : ctrl_alt_del_set2;
	size_t len = xlate ? sizeof(ctrl_alt_del_set1) : sizeof(ctrl_alt_del_set2);
	if ((size_t)(I8042_KBD_BUFFER_SIZE - k->st.kbd_count) < len) {
		pthread_mutex_unlock(&k->lock);
		return error_set(e, "i8042: the keyboard buffer is full (the guest reads no keys)");
	}
	for (size_t i = 0; i < len; i++) {
		k->st.kbd[(k->st.kbd_head + k->st.kbd_count) % I8042_KBD_BUFFER_SIZE] = seq[i];
		k->st.kbd_count++;
	}
	feed_keyboard_and_signal(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int i8042_attach(struct i8042 *k, struct io_bus *pio, struct error *e)
{
	if (io_bus_add(pio, PORT_I8042_DATA, 1, data_port_io, k, "i8042 keyboard controller data",
		       e) < 0)
		return -1;
	if (io_bus_add(pio, PORT_I8042_CMD, 1, cmd_port_io, k, "i8042 keyboard controller command",
		       e) < 0) {
		io_bus_remove(pio, PORT_I8042_DATA);
		return -1;
	}
	return 0;
}
