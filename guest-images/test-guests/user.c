/* Exercises the CPL3 round trip later benchmark guests rely on: a loop at CPL3 (native speed on
 * PVM hosts), a check that user code really ran at CPL3 and that we are back at CPL0, and port
 * I/O from CPL3 with IOPL 3 where the host honours it (PVM does not). Powers off via ACPI on
 * success, exits with 1 otherwise. */
#include "rt/rt.h"

#define SUM_LIMIT UINT64_C(10000000)
#define EXPECTED_SUM (SUM_LIMIT * (SUM_LIMIT + 1) / 2)

static uint64_t sum_to(uint64_t limit)
{
	uint64_t sum = 0;

	for (uint64_t i = 1; i <= limit; i++) {
		sum += i;
		__asm__ volatile("" : "+r"(sum)); /* keep the loop: no closed form */
	}
	return sum;
}

static uint64_t privilege_level(uint64_t unused)
{
	(void)unused;
	return current_cpl();
}

static uint64_t print_from_user(uint64_t arg)
{
	console_printf("user: CPL%u writes COM1 itself (IOPL 3)\n", current_cpl());
	return arg + 1;
}

int guest_main(const struct hvm_start_info *si)
{
	uint64_t cpl, sum, echoed, start, ticks;

	(void)si;
	cpl = user_call(privilege_level, 0);
	start = rdtsc();
	sum = user_call(sum_to, SUM_LIMIT);
	ticks = rdtsc() - start;
	console_printf("user: CPL%lu computed sum(1..%lu) = %lu in %lu TSC ticks\n", cpl,
		       SUM_LIMIT, sum, ticks);
	if (user_has_iopl3()) {
		echoed = user_call_io(print_from_user, 41);
	} else {
		console_printf("user: host does not honour IOPL 3 at CPL3; no port I/O from CPL3\n");
		echoed = 42;
	}
	if (cpl != 3 || sum != EXPECTED_SUM || echoed != 42 || current_cpl() != 0) {
		console_printf("user: FAILED (cpl %lu, sum %lu, expected %lu, echo %lu)\n", cpl,
			       sum, EXPECTED_SUM, echoed);
		return 1;
	}
	console_printf("user: ok\n");
	acpi_poweroff();
}
