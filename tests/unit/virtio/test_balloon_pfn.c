/* The guest's page numbers → checked, coalesced runs (balloon_pfn.c), on a made-up RAM layout:
 * low RAM up to the 32-bit hole at 3 GiB and high RAM from 4 GiB, the way guest_mem lays out a
 * large guest. Nothing is mapped: run building only does address arithmetic. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/balloon_internal.h"

#define GIB (1ull << 30)
#define PFN(gpa) ((uint32_t)((gpa) >> 12))

static struct guest_mem gm;
static uint8_t *const fake_host = (uint8_t *)(uintptr_t)0x7f0000000000ull;

static void two_regions(void)
{
	memset(&gm, 0, sizeof(gm));
	gm.host = fake_host;
	gm.size = 4 * GIB;
	gm.nregions = 2;
	gm.regions[0] = (struct guest_mem_region){ .gpa = 0, .size = 3 * GIB, .host = fake_host };
	gm.regions[1] = (struct guest_mem_region){ .gpa = 4 * GIB, .size = GIB,
						   .host = fake_host + 3 * GIB };
}

TestSuite(balloon_pfn, .init = two_regions);

static struct balloon_run runs[64];
static struct balloon_pfn_counts counts;

static size_t to_runs(uint32_t *pfns, size_t n)
{
	memset(&counts, 0, sizeof(counts));
	memset(runs, 0, sizeof(runs));
	return balloon_pfns_to_runs(&gm, pfns, n, runs, &counts);
}

static void expect_run(size_t i, uint64_t gpa, uint64_t pages)
{
	cr_expect_eq(runs[i].gpa, gpa, "run %zu starts at 0x%llx", i,
		     (unsigned long long)runs[i].gpa);
	cr_expect_eq(runs[i].len, pages * 4096, "run %zu is %llu bytes", i,
		     (unsigned long long)runs[i].len);
	uint8_t *host = gpa >= 4 * GIB ? fake_host + 3 * GIB + (gpa - 4 * GIB) : fake_host + gpa;
	cr_expect_eq(runs[i].host, host, "run %zu host pointer", i);
}

Test(balloon_pfn, unordered_pages_coalesce_into_sorted_runs)
{
	uint32_t pfns[] = { 105, 103, 104, 110, 111, 107, 100 };
	cr_assert_eq(to_runs(pfns, 7), 4);
	expect_run(0, 100 * 4096, 1);
	expect_run(1, 103 * 4096, 3);
	expect_run(2, 107 * 4096, 1);
	expect_run(3, 110 * 4096, 2);
	cr_expect_eq(counts.pages, 7);
	cr_expect_eq(counts.ignored, 0);
	cr_expect_eq(counts.duplicates, 0);
}

Test(balloon_pfn, a_linux_batch_in_descending_order_is_one_run)
{
	uint32_t pfns[256];
	for (uint32_t i = 0; i < 256; i++)
		pfns[i] = PFN(64ull << 20) + 255 - i;
	cr_assert_eq(to_runs(pfns, 256), 1);
	expect_run(0, 64ull << 20, 256);
}

Test(balloon_pfn, duplicates_count_once)
{
	uint32_t pfns[] = { 7, 7, 8, 7, 8 };
	cr_assert_eq(to_runs(pfns, 5), 1);
	expect_run(0, 7 * 4096, 2);
	cr_expect_eq(counts.pages, 2);
	cr_expect_eq(counts.duplicates, 3);
}

Test(balloon_pfn, pages_outside_ram_are_ignored)
{
	uint32_t pfns[] = {
		PFN(3 * GIB),            /* first page of the hole */
		PFN(3 * GIB + 12345678), /* inside the hole */
		PFN(4 * GIB - 4096),     /* last page of the hole */
		PFN(5 * GIB),            /* just past the end of high RAM */
		UINT32_MAX,              /* 16 TiB - 4 KiB */
		PFN(3 * GIB - 4096),     /* last page of low RAM: valid */
		PFN(5 * GIB - 4096),     /* last page of high RAM: valid */
	};
	cr_assert_eq(to_runs(pfns, 7), 2);
	expect_run(0, 3 * GIB - 4096, 1);
	expect_run(1, 5 * GIB - 4096, 1);
	cr_expect_eq(counts.ignored, 5);
	cr_expect_eq(counts.pages, 2);
}

Test(balloon_pfn, runs_do_not_cross_the_hole)
{
	/* The last low page and the first high page are adjacent in the host mapping but not in
	 * the guest: two runs. */
	uint32_t pfns[] = { PFN(3 * GIB - 8192), PFN(3 * GIB - 4096), PFN(4 * GIB),
			    PFN(4 * GIB + 4096) };
	cr_assert_eq(to_runs(pfns, 4), 2);
	expect_run(0, 3 * GIB - 8192, 2);
	expect_run(1, 4 * GIB, 2);
}

Test(balloon_pfn, a_small_guest_without_high_ram)
{
	gm.nregions = 1;
	gm.size = 512ull << 20;
	gm.regions[0].size = gm.size;
	uint32_t pfns[] = { PFN(gm.size - 4096), PFN(gm.size), PFN(4 * GIB), 0 };
	cr_assert_eq(to_runs(pfns, 4), 2);
	expect_run(0, 0, 1);
	expect_run(1, gm.size - 4096, 1);
	cr_expect_eq(counts.ignored, 2);
}

Test(balloon_pfn, nothing_in_nothing_out)
{
	cr_expect_eq(to_runs(NULL, 0), 0);
	uint32_t pfns[] = { UINT32_MAX, UINT32_MAX };
	cr_expect_eq(to_runs(pfns, 2), 0);
	cr_expect_eq(counts.ignored, 1);
	cr_expect_eq(counts.duplicates, 1);
}

Test(balloon_pfn, counts_accumulate_across_batches)
{
	memset(&counts, 0, sizeof(counts));
	uint32_t a[] = { 1, 2 }, b[] = { 3, UINT32_MAX };
	balloon_pfns_to_runs(&gm, a, 2, runs, &counts);
	balloon_pfns_to_runs(&gm, b, 2, runs, &counts);
	cr_expect_eq(counts.pages, 3);
	cr_expect_eq(counts.ignored, 1);
}
