/* Powers off through ACPI S5: RSDP -> XSDT -> FADT sleep control register. */
#include "rt/rt.h"

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	console_printf("poweroff: powering off via ACPI S5\n");
	acpi_poweroff();
}
