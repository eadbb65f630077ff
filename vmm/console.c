#include "console.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CTRL_A 0x01

static void console_arm_input(struct console *c);

int console_init(struct console *c, int in_fd, struct event_loop *loop, struct error *e)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->loop = loop;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return error_errno(e, "eventfd");
	return 0;
}

void console_wake(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;
	if (write(c->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so a wake-up is pending anyway. */
	}
}

static void enter_raw_mode(struct console *c)
{
	if (!isatty(c->in_fd) || tcgetattr(c->in_fd, &c->saved_termios) < 0)
		return;
	struct termios raw = c->saved_termios;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep host output readable; the guest owns input only */
	if (tcsetattr(c->in_fd, TCSANOW, &raw) == 0)
		c->is_tty = true;
}

void console_restore(struct console *c)
{
	if (c->is_tty) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved_termios);
		c->is_tty = false;
	}
}

/* Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A; on a pipe every byte goes to the guest. Returns
 * the number of bytes left in buf to deliver (compacted in place). */
static size_t filter_escapes(struct console *c, uint8_t *buf, size_t n, bool *quit)
{
	if (!c->is_tty)
		return n;
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];
		if (c->escape_pending) {
			c->escape_pending = false;
			if (b == 'x' || b == 'X') {
				*quit = true;
				return out;
			}
			if (b != CTRL_A)
				buf[out++] = CTRL_A;
			buf[out++] = b;
		} else if (b == CTRL_A) {
			c->escape_pending = true;
		} else {
			buf[out++] = b;
		}
	}
	return out;
}

/* Offers held bytes to the UART (or the sink). Returns true when all were taken. */
static bool deliver_held(struct console *c)
{
	while (c->held_start < c->held_end) {
		const uint8_t *p = c->held + c->held_start;
		size_t left = c->held_end - c->held_start;
		size_t n = c->sink ? c->sink(c->sink_opaque, p, left) : serial_receive(c->serial, p, left);
		if (n == 0)
			return false;
		c->held_start += n;
	}
	c->held_start = c->held_end = 0;
	return true;
}

static void wait_for_room(struct console *c)
{
	event_loop_poll(c->loop, &c->room_ready, c->wake_fd, POLLIN);
}

static void on_room_ready(struct ev_op *op, int res)
{
	struct console *c = container_of(op, struct console, room_ready);
	uint64_t count;
	(void)res;
	if (read(c->wake_fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: another wake already drained it */
	}
	if (deliver_held(c))
		console_arm_input(c);
	else
		wait_for_room(c);
}

static void on_input_ready(struct ev_op *op, int res)
{
	struct console *c = container_of(op, struct console, input_ready);
	if (res < 0 && res != -EINTR) {
		c->closed = true;
		return;
	}
	ssize_t n = read(c->in_fd, c->held, sizeof(c->held));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		console_arm_input(c);
		return;
	}
	if (n <= 0) { /* EOF or a dead fd: the guest just gets no more input */
		c->closed = true;
		return;
	}
	bool quit = false;
	c->held_start = 0;
	c->held_end = filter_escapes(c, c->held, (size_t)n, &quit);
	if (quit) {
		c->held_end = 0;
		if (c->quit)
			c->quit(c->quit_opaque);
		return;
	}
	if (deliver_held(c))
		console_arm_input(c);
	else
		wait_for_room(c);
}

static void console_arm_input(struct console *c)
{
	if (!c->closed)
		event_loop_poll(c->loop, &c->input_ready, c->in_fd, POLLIN);
}

void console_set_sink(struct console *c, size_t (*sink)(void *opaque, const uint8_t *buf, size_t n),
		      void *opaque)
{
	c->sink = sink;
	c->sink_opaque = opaque;
}

int console_start(struct console *c, struct serial *serial, struct error *e)
{
	(void)e;
	c->serial = serial;
	c->input_ready.done = on_input_ready;
	c->room_ready.done = on_room_ready;
	enter_raw_mode(c);
	console_arm_input(c);
	return 0;
}

void console_destroy(struct console *c)
{
	console_restore(c);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->wake_fd = -1;
}
