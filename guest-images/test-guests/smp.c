/* Brings up every CPU the MADT lists, like an OS: INIT + STARTUP IPIs, real mode -> long mode.
 * Each AP prints a line and bumps a counter; the BSP waits (about 1.5 s at most) for all, then
 * powers off via ACPI, or exits with status 1 if some never arrived. */
#include "rt/rt.h"

#define CHECK_IN_TIMEOUT_MS 1500

static struct smp_cpus cpus;
static uint32_t checked_in;

static void check_in(uint32_t cpu_index)
{
	console_printf("cpu %u (apic %u) checked in\n", cpu_index, smp_this_apic_id());
	__atomic_add_fetch(&checked_in, 1, __ATOMIC_RELEASE);
}

static uint32_t wait_for_check_ins(uint32_t expected)
{
	uint64_t start = rdtsc();
	uint64_t timeout = tsc_hz() / 1000 * CHECK_IN_TIMEOUT_MS;
	uint32_t seen;

	while ((seen = __atomic_load_n(&checked_in, __ATOMIC_ACQUIRE)) < expected &&
	       rdtsc() - start < timeout)
		cpu_relax();
	return seen;
}

int guest_main(const struct hvm_start_info *si)
{
	uint32_t seen;

	(void)si;
	if (smp_read_madt(&cpus))
		return 1;
	console_printf("smp: MADT lists %u CPUs\n", cpus.count);
	check_in(0);
	smp_start_aps(&cpus, check_in);
	seen = wait_for_check_ins(cpus.count);
	if (seen == cpus.count) {
		console_printf("smp: %u/%u CPUs checked in\n", seen, cpus.count);
		acpi_poweroff();
	}
	console_printf("smp: only %u/%u CPUs checked in after %u ms\n", seen, cpus.count,
		       CHECK_IN_TIMEOUT_MS);
	return 1;
}
