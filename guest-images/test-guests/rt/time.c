/* TSC-based delays. The frequency comes from CPUID when the CPU or hypervisor reports it;
 * otherwise we assume 3 GHz, which keeps timeouts within a factor of ~2 on current hosts. */
#include "rt.h"

#define ASSUMED_TSC_HZ 3000000000ull

static uint64_t detect_tsc_hz(void)
{
	uint32_t max_leaf = cpuid(0, 0).eax;

	if (max_leaf >= 0x15) {
		struct cpuid_regs r = cpuid(0x15, 0); /* TSC/crystal ratio EBX/EAX, crystal Hz ECX */
		if (r.eax && r.ebx && r.ecx)
			return (uint64_t)r.ecx * r.ebx / r.eax;
	}
	if (max_leaf >= 0x16) {
		uint32_t base_mhz = cpuid(0x16, 0).eax;
		if (base_mhz)
			return (uint64_t)base_mhz * 1000000;
	}
	if (cpuid(1, 0).ecx & (1u << 31)) { /* hypervisor present: timing leaf 0x40000010 */
		if (cpuid(0x40000000, 0).eax >= 0x40000010) {
			uint32_t khz = cpuid(0x40000010, 0).eax;
			if (khz)
				return (uint64_t)khz * 1000;
		}
	}
	return ASSUMED_TSC_HZ;
}

uint64_t tsc_hz(void)
{
	static uint64_t hz;

	if (!hz)
		hz = detect_tsc_hz();
	return hz;
}

void delay_us(uint64_t us)
{
	uint64_t start = rdtsc();
	uint64_t ticks = tsc_hz() / 1000000 * us;

	while (rdtsc() - start < ticks)
		cpu_relax();
}
