/* vmm/memory_backing.c, guest_mem_init_backed, vmm/memory_report.c and vmm/kvm_stats.c: backing
 * kinds, alignment for large NPT pages, hugetlb pool errors, NUMA node checks, prefault, smaps
 * accounting (a synthetic smaps file and this process's own), KVM's page-size statistics. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/guest_mem.h"
#include "vmm/kvm_stats.h"
#include "vmm/memory_backing.h"
#include "vmm/memory_report.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static struct memory_backing backing(const char *spec)
{
	struct memory_backing b;
	struct error e;
	memory_backing_defaults(&b);
	if (spec)
		cr_assert_eq(memory_backing_parse(spec, &b, &e), 0, "%s", e.msg);
	return b;
}

Test(memory_backing_parse, kinds_and_thp_option)
{
	struct memory_backing b = backing(NULL);
	cr_expect_eq(b.kind, MEMORY_BACKING_ANON);
	cr_expect_not(b.no_thp, "THP on by default");
	cr_expect_eq(b.numa_node, -1);
	cr_expect_eq(backing("memfd").kind, MEMORY_BACKING_MEMFD);
	cr_expect_eq(backing("hugetlb2m").kind, MEMORY_BACKING_HUGETLB_2M);
	cr_expect_eq(backing("hugetlb1g").kind, MEMORY_BACKING_HUGETLB_1G);
	cr_expect(backing("anon,thp=off").no_thp);
	cr_expect_not(backing("memfd,thp=on").no_thp);
	cr_expect_str_eq(memory_backing_name(MEMORY_BACKING_HUGETLB_1G), "hugetlb1g");

	static const struct { const char *spec, *needle; } bad[] = {
		{ "anonymous", "'anonymous' is not anon, memfd" },
		{ "", "'' is not anon" },
		{ "hugetlb2m,thp=off", "hugetlb2m takes no options" },
		{ "anon,thp=maybe", "unknown option 'thp=maybe'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct memory_backing b2;
		struct error e = { "" };
		memory_backing_defaults(&b2);
		cr_expect_eq(memory_backing_parse(bad[i].spec, &b2, &e), -1, "'%s'", bad[i].spec);
		cr_expect(strstr(e.msg, bad[i].needle), "'%s': %s", bad[i].spec, e.msg);
	}
}

Test(memory_backing_map, anon_is_aligned_for_large_pages)
{
	struct memory_backing b = backing(NULL);
	struct memory_mapping m;
	struct error e;
	cr_assert_eq(memory_backing_map(&b, 64 * MIB, &m, &e), 0, "%s", e.msg);
	cr_expect_eq((uintptr_t)m.host % (2 * MIB), 0u, "2M aligned");
	cr_expect_eq(m.fd, -1);
	m.host[64 * MIB - 1] = 1;
	memory_backing_unmap(&m);
	/* 1 GiB and more: 1 GiB aligned (address space only; nothing is touched). */
	cr_assert_eq(memory_backing_map(&b, 5 * GIB, &m, &e), 0, "%s", e.msg);
	cr_expect_eq((uintptr_t)m.host % GIB, 0u, "1G aligned");
	memory_backing_unmap(&m);
	cr_expect_eq(memory_backing_alignment(MEMORY_BACKING_HUGETLB_1G, 2 * GIB), GIB);
	cr_expect_eq(memory_backing_alignment(MEMORY_BACKING_ANON, 512 * MIB), 2 * MIB);
}

Test(memory_backing_map, memfd_is_shared_through_its_fd)
{
	struct memory_backing b = backing("memfd");
	struct memory_mapping m;
	struct error e;
	cr_assert_eq(memory_backing_map(&b, 4 * MIB, &m, &e), 0, "%s", e.msg);
	cr_assert_geq(m.fd, 0);
	memcpy(m.host + 12345, "ember", 5);
	char buf[6] = "";
	cr_assert_eq(pread(m.fd, buf, 5, 12345), 5);
	cr_expect_str_eq(buf, "ember");
	memory_backing_unmap(&m);
	cr_expect_eq(m.fd, -1);
}

static unsigned long free_huge_pages(const char *size_kb)
{
	char path[128];
	unsigned long n = 0;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%skB/free_hugepages", size_kb);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

Test(memory_backing_map, hugetlb_without_a_pool_fails_clearly)
{
	struct memory_backing b = backing("hugetlb2m");
	struct memory_mapping m;
	struct error e;
	/* Ask for more than the pool has free (4 more pages than free). */
	uint64_t size = (free_huge_pages("2048") + 4) * 2 * MIB;
	cr_assert_eq(memory_backing_map(&b, size, &m, &e), -1, "mapped %llu MiB of hugetlb",
		     (unsigned long long)(size >> 20));
	cr_expect(strstr(e.msg, "hugetlb2m: cannot reserve") || strstr(e.msg, "memfd_create"),
		  "%s", e.msg);
	cr_expect(strstr(e.msg, "nr_hugepages") || strstr(e.msg, "no 2M huge pages"), "%s", e.msg);
	cr_expect_null(m.host);
}

Test(memory_backing_map, hugetlb_needs_whole_pages)
{
	struct memory_backing b = backing("hugetlb2m");
	struct memory_mapping m;
	struct error e;
	cr_expect_eq(memory_backing_map(&b, 3 * MIB, &m, &e), -1);
	cr_expect(strstr(e.msg, "not a multiple of 2 MiB pages"), "%s", e.msg);
}

Test(memory_backing_map, hugetlb_with_a_pool_works)
{
	if (free_huge_pages("2048") < 4)
		cr_skip_test("fewer than 4 free 2M huge pages");
	struct memory_backing b = backing("hugetlb2m");
	struct memory_mapping m;
	struct error e;
	cr_assert_eq(memory_backing_map(&b, 8 * MIB, &m, &e), 0, "%s", e.msg);
	cr_expect_eq(m.page_size, 2 * MIB);
	m.host[0] = 1;
	memory_backing_unmap(&m);
}

Test(memory_backing_map, numa_nodes_are_checked)
{
	struct error e;
	cr_expect_eq(memory_backing_check_node(1023, &e), -1);
	cr_expect(strstr(e.msg, "--numa-node 1023: this host has no such node (online nodes:"),
		  "%s", e.msg);
	cr_expect_eq(memory_backing_check_node(-2, &e), -1);
	if (access("/sys/devices/system/node/node0", F_OK) != 0)
		cr_skip_test("no NUMA sysfs");
	cr_expect_eq(memory_backing_check_node(0, &e), 0, "%s", e.msg);
	struct memory_backing b = backing(NULL);
	b.numa_node = 0;
	struct memory_mapping m;
	cr_assert_eq(memory_backing_map(&b, 4 * MIB, &m, &e), 0, "%s", e.msg);
	memory_backing_unmap(&m);
}

/* ---- guest_mem and smaps ---- */

Test(guest_mem_backed, high_ram_keeps_large_page_alignment)
{
	struct memory_backing b = backing(NULL);
	struct guest_mem gm;
	struct error e;
	cr_assert_eq(guest_mem_init_backed(&gm, 5 * GIB, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(gm.nregions, 2u);
	cr_expect_eq(gm.regions[1].gpa, 4 * GIB);
	/* GPA and host address agree modulo 1 GiB in both memslots. */
	cr_expect_eq((uintptr_t)gm.regions[0].host % GIB, gm.regions[0].gpa % GIB);
	cr_expect_eq((uintptr_t)gm.regions[1].host % GIB, gm.regions[1].gpa % GIB);
	guest_mem_destroy(&gm);
}

Test(guest_mem_backed, prefault_and_smaps_accounting)
{
	struct memory_backing b = backing(NULL);
	b.prefault = true;
	struct guest_mem gm;
	struct error e;
	cr_assert_eq(guest_mem_init_backed(&gm, 32 * MIB, &b, &e), 0, "%s", e.msg);
	struct memory_usage u = { 0 };
	cr_assert_eq(memory_usage_smaps(&gm, "/proc/self/smaps", &u, &e), 0, "%s", e.msg);
	cr_expect_eq(u.rss, 32 * MIB, "prefault made all of it resident");
	guest_mem_destroy(&gm);

	/* Without prefault, untouched RAM costs nothing. */
	b.prefault = false;
	b.no_thp = true;
	cr_assert_eq(guest_mem_init_backed(&gm, 32 * MIB, &b, &e), 0, "%s", e.msg);
	memset(gm.host, 1, 4096 * 3);
	cr_assert_eq(memory_usage_smaps(&gm, "/proc/self/smaps", &u, &e), 0, "%s", e.msg);
	cr_expect_eq(u.rss, 3 * 4096u);
	cr_expect_eq(u.thp, 0u, "thp=off");
	guest_mem_destroy(&gm);
}

Test(memory_report, synthetic_smaps)
{
	char path[] = "/tmp/ember-test-smaps-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("7f0000000000-7f0000200000 rw-p 00000000 00:00 0\n"
	      "Rss:                2048 kB\n"
	      "AnonHugePages:      2048 kB\n"
	      "7f0000200000-7f0040000000 rw-s 00000000 00:01 1  /memfd:ember-guest-ram (deleted)\n"
	      "Rss:                4096 kB\n"
	      "ShmemPmdMapped:     4096 kB\n"
	      "Shared_Hugetlb:     1024 kB\n"
	      "7f0040000000-7f0040001000 rw-p 00000000 00:00 0\n"
	      "Rss:                   4 kB\n", f);
	fclose(f);
	struct guest_mem gm = { .host = (uint8_t *)0x7f0000100000, .size = 0x3ff00000 };
	struct memory_usage u = { 0 };
	struct error e;
	cr_assert_eq(memory_usage_smaps(&gm, path, &u, &e), 0, "%s", e.msg);
	cr_expect_eq(u.rss, 6 * MIB, "the VMA after guest RAM is not counted");
	cr_expect_eq(u.thp, 6 * MIB);
	cr_expect_eq(u.hugetlb, 1 * MIB);
	unlink(path);
	cr_expect_eq(memory_usage_smaps(&gm, "/nonexistent", &u, &e), -1);
}

Test(memory_report, print_line)
{
	struct guest_mem gm = { .size = 512 * MIB };
	memory_backing_defaults(&gm.backing);
	struct memory_usage u = { .rss = 66 * MIB, .thp = 64 * MIB, .kvm_known = true,
				  .pages_4k = 24, .pages_2m = 32 };
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	memory_usage_print(&gm, &u, f);
	fclose(f);
	cr_expect_str_eq(buf, "ember: guest RAM 512 MiB (anon, THP): 66 MiB resident, 64 MiB in "
			      "THP, 0 MiB in hugetlb pages; KVM maps 4K x 24, 2M x 32 (64 MiB), "
			      "1G x 0 (0 MiB)\n");
}

/* ---- KVM statistics ---- */

Test(kvm_stats, page_sizes_of_a_vm)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("no /dev/kvm: %s", strerror(errno));
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	if (ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0)
		cr_skip_test("no KVM_CAP_BINARY_STATS_FD");
	static const char *const names[] = { "pages_4k", "pages_2m", "pages_1g", "no_such_stat" };
	uint64_t v[4];
	struct error e;
	cr_expect_eq(kvm_stats_read(vm, names, v, 4, &e), 3, "%s", e.msg);
	cr_expect_eq(v[0], 0u, "nothing mapped in a new VM");
	cr_expect_eq(v[3], KVM_STATS_MISSING);
	struct memory_usage u;
	cr_expect_eq(memory_usage_kvm(vm, &u, &e), 0, "%s", e.msg);
	cr_expect(u.kvm_known);
	cr_expect_eq(kvm_stats_read(kvm, names, v, 1, &e), -1, "/dev/kvm itself has no stats fd");
	close(vm);
	close(kvm);
}
