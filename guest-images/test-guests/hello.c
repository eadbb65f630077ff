/* The smallest guest: one line on COM1, then a reset through the i8042 (0xfe to port 0x64). */
#include "rt/rt.h"

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	console_printf("Hello from Ember test guest\n");
	i8042_reset();
}
