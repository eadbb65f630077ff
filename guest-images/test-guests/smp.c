/* Brings up every CPU the MADT lists, like an OS: INIT + STARTUP IPIs, real mode -> long mode
 * (x2APIC when an APIC id needs it). Each AP prints a line and bumps a counter; the BSP waits for
 * all (1.5 s plus 20 ms per CPU at most: hundreds of vCPUs share a few host cores), then powers
 * off via ACPI, or exits with status 1 if some never arrived. */
#include "rt/rt.h"

#define CHECK_IN_TIMEOUT_MS 1500
#define CHECK_IN_MS_PER_CPU 20

static struct smp_cpus cpus;
static uint32_t checked_in;

static void check_in(uint32_t cpu_index)
{
	console_printf("cpu %u (apic %u) checked in\n", cpu_index, smp_this_apic_id());
	__atomic_add_fetch(&checked_in, 1, __ATOMIC_RELEASE);
}

static uint32_t timeout_ms(uint32_t cpus)
{
	return CHECK_IN_TIMEOUT_MS + CHECK_IN_MS_PER_CPU * cpus;
}

static uint32_t wait_for_check_ins(uint32_t expected)
{
	uint64_t start = rdtsc();
	uint64_t timeout = tsc_hz() / 1000 * timeout_ms(expected);
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
		       timeout_ms(cpus.count));
	return 1;
}
