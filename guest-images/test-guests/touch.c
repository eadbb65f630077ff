/* Touches guest RAM from CPL3 so the host has to back it: one write per 4 KiB page over
 * `touch=MiB` (default 64) of RAM starting at the first 2 MiB boundary above 16 MiB. Then,
 * on request (command line):
 *   passes=N   N more passes that read one word per 4 KiB page in a scattered order and print
 *              their time: with the memory already mapped, this is TLB reach (how large the
 *              host's mappings of guest RAM are)
 *   hold=S     wait S seconds at CPL3 (a test reads the VMM's /proc/PID/smaps meanwhile)
 *   halt=1     halt with interrupts off instead of powering off (the VMM is stopped by a
 *              signal; measures what a halted vCPU costs the host)
 * then powers off via ACPI. CPL3 runs natively on PVM hosts; the loops run there. Exits with 1
 * if the region does not fit in RAM. */
#include "rt/cmdline.h"
#include "rt/memmap.h"
#include "rt/rt.h"

#define MIB             ((uint64_t)1 << 20)
#define START_MIN       (16 * MIB)
#define DEFAULT_MIB     64
#define PAGE            ((uint64_t)4096)

struct touch_job {
	uint64_t start, len;
	uint64_t hold_ticks;
};

static struct touch_job job;

static uint64_t ticks_to_us(uint64_t ticks)
{
	return ticks / (tsc_hz() / 1000000);
}

static uint64_t touch_pages(uint64_t arg)
{
	const struct touch_job *j = (const struct touch_job *)(uintptr_t)arg;
	for (uint64_t off = 0; off < j->len; off += PAGE)
		*(volatile uint8_t *)(uintptr_t)(j->start + off) = (uint8_t)(off >> 12);
	return j->len / PAGE;
}

/* Reads one word per page, visiting pages in a scattered order (a stride coprime with the
 * page count), so every access needs a fresh TLB entry unless mappings are large. */
static uint64_t read_pages(uint64_t arg)
{
	const struct touch_job *j = (const struct touch_job *)(uintptr_t)arg;
	uint64_t pages = j->len / PAGE, sum = 0, stride = 40503, p = 0;
	while (pages % stride == 0)
		stride += 2;
	for (uint64_t n = 0; n < pages; n++) {
		sum += *(volatile uint64_t *)(uintptr_t)(j->start + p * PAGE);
		p = (p + stride) % pages;
	}
	return sum;
}

static uint64_t hold(uint64_t arg)
{
	const struct touch_job *j = (const struct touch_job *)(uintptr_t)arg;
	uint64_t start = rdtsc();
	while (rdtsc() - start < j->hold_ticks)
		cpu_relax();
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	uint64_t mib = cmdline_number("touch", DEFAULT_MIB);
	uint64_t hold_s = cmdline_number("hold", 0);
	uint64_t end = memmap_ram_end(si, START_MIN);
	job.start = START_MIN;
	job.len = mib * MIB;
	job.hold_ticks = hold_s * tsc_hz();
	if (!end || job.start + job.len > end) {
		console_printf("touch: %lu MiB from 16 MiB do not fit in RAM (ends at %lu MiB)\n", mib,
			       end / MIB);
		return 1;
	}
	uint64_t t0 = rdtsc();
	uint64_t pages = user_call(touch_pages, (uint64_t)(uintptr_t)&job);
	uint64_t ticks = rdtsc() - t0;
	console_printf("touch: touched %lu MiB (%lu pages) from CPL3 in %lu us\n", mib, pages,
		       ticks_to_us(ticks));
	for (uint64_t pass = 0, n = cmdline_number("passes", 0); pass < n && job.len; pass++) {
		t0 = rdtsc();
		user_call(read_pages, (uint64_t)(uintptr_t)&job);
		console_printf("touch: read pass %lu: %lu us\n", pass + 1, ticks_to_us(rdtsc() - t0));
	}
	if (hold_s) {
		console_printf("touch: holding for %lu s\n", hold_s);
		user_call(hold, (uint64_t)(uintptr_t)&job);
	}
	if (cmdline_number("halt", 0)) {
		console_printf("touch: halting\n");
		halt_forever();
	}
	console_printf("touch: done\n");
	acpi_poweroff();
}
