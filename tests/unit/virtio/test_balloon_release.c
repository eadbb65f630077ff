/* Giving memory back (balloon_release.c) on real mappings: anonymous memory, a memfd, and the
 * hugetlb rules (whole huge pages only). mincore(2) tells which pages the host still backs;
 * released memory also reads back as zeros. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/balloon_internal.h"

#define MIB (1ull << 20)
#define RAM (64 * MIB)

static struct guest_mem gm;
static struct balloon_release rel;
static struct error e;

/* 4 KiB pages of [gpa, gpa+len) the host backs. */
static uint64_t resident(uint64_t gpa, uint64_t len)
{
	unsigned char vec[4096];
	cr_assert_leq(len / 4096, sizeof(vec));
	cr_assert_eq(mincore(gm.host + gpa, len, vec), 0);
	uint64_t n = 0;
	for (uint64_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

static void touch(uint64_t gpa, uint64_t len, uint8_t v)
{
	memset(gm.host + gpa, v, len);
}

static bool all_zero(uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (gm.host[gpa + i])
			return false;
	return true;
}

static struct balloon_run run_at(uint64_t gpa, uint64_t len)
{
	return (struct balloon_run){ .gpa = gpa, .len = len, .host = gm.host + gpa };
}

static void setup_backing(enum memory_backing_kind kind)
{
	struct memory_backing b;
	memory_backing_defaults(&b);
	b.kind = kind;
	b.no_thp = true; /* 4 KiB host pages: mincore then speaks for each guest page */
	cr_assert_eq(guest_mem_init_backed(&gm, RAM, &b, &e), 0, "%s", e.msg);
}

/* A memfd that the balloon treats as hugetlb with 2 MiB pages: the whole-huge-page rules on a
 * host without a hugetlb pool (punching shmem behaves like punching hugetlbfs here). */
static void setup_pretend_hugetlb(void)
{
	setup_backing(MEMORY_BACKING_MEMFD);
	gm.backing.kind = MEMORY_BACKING_HUGETLB_2M;
	gm.mapping.page_size = 2 * MIB;
	cr_assert_eq(balloon_release_init(&rel, &gm, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	balloon_release_destroy(&rel);
	guest_mem_destroy(&gm);
}

TestSuite(balloon_release, .fini = teardown);

Test(balloon_release, anonymous_pages_go_back_with_their_neighbours_kept)
{
	setup_backing(MEMORY_BACKING_ANON);
	cr_assert_eq(balloon_release_init(&rel, &gm, &e), 0, "%s", e.msg);
	cr_expect_eq(rel.fd, -1);
	touch(16 * MIB, 4 * MIB, 0xab);
	cr_assert_eq(resident(16 * MIB, 4 * MIB), 1024);
	struct balloon_run r = run_at(17 * MIB, MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &r), MIB);
	cr_expect_eq(resident(17 * MIB, MIB), 0);
	cr_expect_eq(resident(16 * MIB, MIB), 256);
	cr_expect_eq(resident(18 * MIB, 2 * MIB), 512);
	cr_expect(all_zero(17 * MIB, MIB));
	cr_expect_eq(gm.host[17 * MIB - 1], 0xab);
	cr_expect_eq(gm.host[18 * MIB], 0xab);
	balloon_release_deflate(&rel, &r); /* nothing to do for anonymous memory */
	touch(17 * MIB, MIB, 1);
	cr_expect_eq(resident(17 * MIB, MIB), 256);
	cr_expect_eq(rel.errors, 0);
}

Test(balloon_release, reported_ranges_shrink_to_whole_pages)
{
	setup_backing(MEMORY_BACKING_ANON);
	cr_assert_eq(balloon_release_init(&rel, &gm, &e), 0, "%s", e.msg);
	touch(16 * MIB, 4 * MIB, 0xcd);
	/* [16M+100, 18M+100): the first and the last partial pages stay. */
	cr_expect_eq(balloon_release_range(&rel, gm.host + 16 * MIB + 100, 2 * MIB), 2 * MIB - 4096);
	cr_expect_eq(resident(16 * MIB, 4096), 1);
	cr_expect_eq(resident(16 * MIB + 4096, 2 * MIB - 4096), 0);
	cr_expect_eq(resident(18 * MIB, 4096), 1);
	cr_expect_eq(gm.host[16 * MIB + 99], 0xcd);
	cr_expect_eq(gm.host[18 * MIB + 99], 0xcd);
	/* Less than a page, and ranges outside the mapping, release nothing. */
	cr_expect_eq(balloon_release_range(&rel, gm.host + 20 * MIB + 1, 4096), 0);
	cr_expect_eq(balloon_release_range(&rel, gm.host + RAM - 4096, 8192), 0);
	cr_expect_eq(balloon_release_range(&rel, gm.host - 4096, 4096), 0);
	cr_expect_eq(balloon_release_range(&rel, gm.host + RAM, 0), 0);
}

Test(balloon_release, memfd_pages_are_punched_out_of_the_file)
{
	setup_backing(MEMORY_BACKING_MEMFD);
	cr_assert_eq(balloon_release_init(&rel, &gm, &e), 0, "%s", e.msg);
	cr_assert_geq(rel.fd, 0);
	touch(8 * MIB, 8 * MIB, 0x11);
	struct stat before, after;
	cr_assert_eq(fstat(rel.fd, &before), 0);
	struct balloon_run r = run_at(8 * MIB, 4 * MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &r), 4 * MIB);
	cr_assert_eq(fstat(rel.fd, &after), 0);
	cr_expect_eq((before.st_blocks - after.st_blocks) * 512, 4 * MIB, "file shrank by %lld bytes",
		     (long long)(before.st_blocks - after.st_blocks) * 512);
	cr_expect_eq(resident(8 * MIB, 4 * MIB), 0);
	cr_expect(all_zero(8 * MIB, 4 * MIB));
	cr_expect_eq(gm.host[12 * MIB], 0x11);
	cr_expect_eq(balloon_release_range(&rel, gm.host + 12 * MIB, 4 * MIB), 4 * MIB);
	cr_expect(all_zero(12 * MIB, 4 * MIB));
}

Test(balloon_release, hugetlb_gives_back_only_whole_huge_pages)
{
	setup_pretend_hugetlb();
	touch(0, 16 * MIB, 0x22);
	struct balloon_run first = run_at(4 * MIB, MIB), second = run_at(5 * MIB, MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &first), 0, "half a huge page stays");
	cr_expect_eq(balloon_release_inflate(&rel, &first), 0, "the same half again counts once");
	cr_expect_eq(gm.host[4 * MIB], 0x22);
	cr_expect_eq(balloon_release_inflate(&rel, &second), 2 * MIB, "now all of it");
	cr_expect(all_zero(4 * MIB, 2 * MIB));
	cr_expect_eq(gm.host[4 * MIB - 1], 0x22);
	cr_expect_eq(gm.host[6 * MIB], 0x22);
	cr_expect_eq(balloon_release_inflate(&rel, &second), 0, "already given back");
}

Test(balloon_release, hugetlb_run_across_huge_pages)
{
	setup_pretend_hugetlb();
	touch(0, 16 * MIB, 0x33);
	/* [7M, 10M) covers the huge page [8M, 10M) and half of [6M, 8M); [6M, 7M) then
	 * completes [6M, 8M). */
	struct balloon_run a = run_at(7 * MIB, 3 * MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &a), 2 * MIB, "[8M, 10M) is whole");
	cr_expect_eq(gm.host[7 * MIB], 0x33);
	cr_expect(all_zero(8 * MIB, 2 * MIB));
	struct balloon_run b = run_at(6 * MIB, MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &b), 2 * MIB);
	cr_expect(all_zero(6 * MIB, 2 * MIB));
}

Test(balloon_release, hugetlb_deflate_and_reset_forget_pages)
{
	setup_pretend_hugetlb();
	touch(0, 16 * MIB, 0x44);
	struct balloon_run half = run_at(0, MIB), one_page = run_at(0, 4096), rest = run_at(MIB, MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &half), 0);
	balloon_release_deflate(&rel, &one_page);
	cr_expect_eq(balloon_release_inflate(&rel, &rest), 0, "one page was taken back");
	cr_expect_eq(balloon_release_inflate(&rel, &one_page), 2 * MIB);
	/* A reset forgets inflated pages: half a page is not enough any more. */
	struct balloon_run other_half = run_at(2 * MIB, MIB), other_rest = run_at(3 * MIB, MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &other_half), 0);
	balloon_release_forget(&rel);
	cr_expect_eq(balloon_release_inflate(&rel, &other_rest), 0);
	cr_expect_eq(balloon_release_inflate(&rel, &other_half), 2 * MIB);
}

Test(balloon_release, hugetlb_reports_release_whole_huge_pages_inside)
{
	setup_pretend_hugetlb();
	touch(0, 16 * MIB, 0x55);
	cr_expect_eq(balloon_release_range(&rel, gm.host + 2 * MIB + 4096, 4 * MIB), 2 * MIB);
	cr_expect_eq(gm.host[2 * MIB + 4096], 0x55);
	cr_expect(all_zero(4 * MIB, 2 * MIB));
	cr_expect_eq(gm.host[6 * MIB], 0x55);
	cr_expect_eq(balloon_release_range(&rel, gm.host + 8 * MIB, MIB), 0, "less than a huge page");
	cr_expect_eq(gm.host[8 * MIB], 0x55);
}

static long free_huge_pages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long n = -1;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

Test(balloon_release, real_hugetlb_when_the_host_has_a_pool)
{
	struct memory_backing b;
	memory_backing_defaults(&b);
	b.kind = MEMORY_BACKING_HUGETLB_2M;
	if (guest_mem_init_backed(&gm, 8 * MIB, &b, &e) < 0)
		cr_skip_test("no 2 MiB hugetlb pool here (%s)", e.msg);
	cr_assert_eq(balloon_release_init(&rel, &gm, &e), 0, "%s", e.msg);
	cr_expect_eq(rel.huge, 2 * MIB);
	touch(0, 8 * MIB, 0x66);
	long free_before = free_huge_pages();
	struct balloon_run r = run_at(2 * MIB, 2 * MIB);
	cr_expect_eq(balloon_release_inflate(&rel, &r), 2 * MIB);
	cr_expect_eq(free_huge_pages(), free_before + 1, "the huge page went back to the pool");
	cr_expect(all_zero(2 * MIB, 2 * MIB));
	cr_expect_eq(rel.errors, 0);
}
