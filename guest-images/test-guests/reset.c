/* Resets through the i8042 keyboard controller's pulse-reset command. */
#include "rt/rt.h"

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	console_printf("reset: resetting via the i8042\n");
	i8042_reset();
}
