/* Ctrl-Alt-Del on the i8042 keyboard (Firecracker's SendCtrlAltDel): the scan codes, their
 * translation, and the keyboard waiting while its interface is disabled. */
#include <criterion/criterion.h>

#include "devices/legacy/i8042.h"
#include "tests/unit/port_io.h"

#define KBD_DATA 0
#define KBD_CMD  (PORT_I8042_CMD - PORT_I8042_DATA)

static struct i8042 *new_kbd(void)
{
	struct error e;
	struct i8042 *k = i8042_create(NULL, &e);
	cr_assert_not_null(k, "%s", e.msg);
	i8042_set_irq(k, &(struct irq_line){ .vm_fd = -1, .gsi = IRQ_I8042_KBD });
	return k;
}

static size_t drain(struct i8042 *k, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (n < max && (in8(i8042_io, k, KBD_CMD) & 0x01))
		out[n++] = in8(i8042_io, k, KBD_DATA);
	return n;
}

Test(i8042_keys, ctrl_alt_del_in_set_1_when_translating)
{
	static const uint8_t expected[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	struct i8042 *k = new_kbd();
	struct error e;
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), 0, "%s", e.msg);
	uint8_t got[32];
	size_t n = drain(k, got, sizeof(got));
	cr_assert_eq(n, sizeof(expected));
	cr_assert_arr_eq(got, expected, sizeof(expected));
	i8042_destroy(k);
}

Test(i8042_keys, ctrl_alt_del_in_set_2_without_translation)
{
	static const uint8_t expected[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					    0xf0, 0x11, 0xf0, 0x14 };
	struct i8042 *k = new_kbd();
	out8(i8042_io, k, KBD_CMD, 0x60);
	out8(i8042_io, k, KBD_DATA, 0x05); /* keyboard interrupt + system flag, no translation */
	struct error e;
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), 0, "%s", e.msg);
	uint8_t got[32];
	cr_assert_eq(drain(k, got, sizeof(got)), sizeof(expected));
	cr_assert_arr_eq(got, expected, sizeof(expected));
	i8042_destroy(k);
}

Test(i8042_keys, keys_wait_while_the_keyboard_is_disabled)
{
	struct i8042 *k = new_kbd();
	struct error e;
	out8(i8042_io, k, KBD_CMD, 0xad); /* disable the keyboard interface */
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), 0, "%s", e.msg);
	cr_assert_eq(in8(i8042_io, k, KBD_CMD) & 0x01, 0, "nothing while disabled");
	/* A controller reply is not mixed up with the waiting keys. */
	out8(i8042_io, k, KBD_CMD, 0xaa);
	cr_assert_eq(in8(i8042_io, k, KBD_DATA), 0x55);
	out8(i8042_io, k, KBD_CMD, 0xae); /* enable: the keys come */
	cr_assert(in8(i8042_io, k, KBD_CMD) & 0x01);
	cr_assert_eq(in8(i8042_io, k, KBD_DATA), 0x1d);
	i8042_destroy(k);
}

Test(i8042_keys, a_full_keyboard_buffer_refuses_the_whole_sequence)
{
	struct i8042 *k = new_kbd();
	struct error e;
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), -1, "a guest that reads no keys fills up");
	cr_assert(strstr(e.msg, "full"), "%s", e.msg);
	uint8_t got[64];
	cr_assert_eq(drain(k, got, sizeof(got)), 16, "two whole sequences, no partial third");
	cr_assert_eq(i8042_send_ctrl_alt_del(k, &e), 0, "room again once read");
	i8042_destroy(k);
}
