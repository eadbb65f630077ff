/* Powers off through ACPI S5: RSDP -> XSDT -> FADT sleep register, saying which one first. */
#include "rt/rt.h"

int guest_main(const struct hvm_start_info *si)
{
	static const char *const kinds[] = {
		[ACPI_S5_SLEEP_CONTROL_REG] = "FADT SLEEP_CONTROL_REG",
		[ACPI_S5_PM1_CNT] = "FADT PM1a_CNT",
		[ACPI_S5_EMBER_PORT] = "no FADT sleep register, Ember's port",
	};
	struct acpi_s5_plan plan;

	(void)si;
	acpi_s5_plan(&plan);
	console_printf("poweroff: ACPI S5 via %s (%s %lx), SLP_TYP %u%s\n", kinds[plan.kind],
		       plan.space_id == 1 ? "port" : "address", plan.address, plan.slp_typ,
		       plan.slp_typ_from_dsdt ? " from \\_S5" : " (default)");
	acpi_poweroff();
}
