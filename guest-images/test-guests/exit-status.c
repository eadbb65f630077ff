/* Ends the VM through Ember's test-exit port with a known status (tests expect 42). */
#include "rt/rt.h"

#define EXPECTED_STATUS 42

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	console_printf("exit-status: exiting with status %u\n", EXPECTED_STATUS);
	guest_exit(EXPECTED_STATUS);
}
