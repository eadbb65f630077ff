/* Unit tests of the density benchmark's pure parts: option parsing and statistics. The end-to-end
 * run is covered by smoke.sh (an integration test: it needs /dev/kvm and QEMU). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "density.h"
#include "measure.h"

static int parse(struct density_options *o, struct error *e, int argc, const char *const *argv)
{
	return density_parse_options(argc, (char **)argv, o, e);
}

Test(density_options, defaults)
{
	struct density_options o;
	struct error e = { "" };
	const char *argv[] = { "density", "--no-progress" };
	cr_assert_eq(parse(&o, &e, 2, argv), 0, "%s", e.msg);
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		cr_expect(o.want[v]);
		cr_expect_eq(o.count[v], 100);
	}
	cr_expect_eq(o.concurrency, 8);
	cr_expect_eq(o.guest, DENSITY_GUEST_SMALL);
	cr_expect_eq(o.guest_mem, 32ULL << 20);
	cr_expect_eq(o.idle_seconds, 10.0);
	cr_expect_eq(o.boot_timeout, 30.0);
	cr_expect_eq(o.max_failures, 0);
	cr_expect_eq(o.progress, 0);
	cr_expect_null(o.out_dir);
}

Test(density_options, count_for_all_and_for_one_vmm)
{
	struct density_options o;
	struct error e = { "" };
	const char *argv[] = { "density", "--count", "2000", "--count", "qemu=500", "--vmm",
			       "ember,qemu", "--guest", "linux", "--memory", "256M" };
	cr_assert_eq(parse(&o, &e, 11, argv), 0, "%s", e.msg);
	cr_expect_eq(o.count[DENSITY_EMBER], 2000);
	cr_expect_eq(o.count[DENSITY_QEMU], 500);
	cr_expect(o.want[DENSITY_EMBER] && o.want[DENSITY_QEMU] && !o.want[DENSITY_KVMTOOL]);
	cr_expect_eq(o.guest, DENSITY_GUEST_LINUX);
	cr_expect_eq(o.guest_mem, 256ULL << 20);
	cr_expect_eq(o.boot_timeout, 300.0, "the Linux guest gets a longer boot timeout");
}

Test(density_options, lkvm_is_kvmtool)
{
	struct density_options o;
	struct error e = { "" };
	const char *argv[] = { "density", "--vmm", "lkvm" };
	cr_assert_eq(parse(&o, &e, 3, argv), 0, "%s", e.msg);
	cr_expect(o.want[DENSITY_KVMTOOL] && !o.want[DENSITY_EMBER] && !o.want[DENSITY_QEMU]);
}

/* Each bad command line fails with a message naming the problem. */
struct bad_case {
	const char *args[4];
	int argc;
	const char *message;
};

Test(density_options, bad_input_is_named)
{
	static const struct bad_case cases[] = {
		{ { "density", "--count", "0" }, 3, "out of range" },
		{ { "density", "--count", "lots" }, 3, "not a number" },
		{ { "density", "--count", "xen=5" }, 3, "unknown VMM 'xen'" },
		{ { "density", "--vmm", "ember,firecracker" }, 3, "unknown VMM 'firecracker'" },
		{ { "density", "--guest", "windows" }, 3, "neither" },
		{ { "density", "--memory", "1K" }, 3, "whole MiB" },
		{ { "density", "--idle-seconds", "-1" }, 3, "out of range" },
		{ { "density", "--mem-points", "99" }, 3, "out of range" },
		{ { "density", "--initrd", "/x" }, 3, "--initrd needs --kernel" },
		{ { "density", "--frobnicate" }, 2, "unknown option" },
		{ { "density", "--count" }, 2, "needs a value" },
		{ { "density", "extra" }, 2, "unexpected argument" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct density_options o;
		struct error e = { "" };
		cr_expect_eq(parse(&o, &e, cases[i].argc, cases[i].args), -1, "case %zu accepted", i);
		cr_expect(strstr(e.msg, cases[i].message), "case %zu: '%s' lacks '%s'", i, e.msg,
			  cases[i].message);
	}
}

Test(density_stats, nearest_rank_percentiles)
{
	double v[100];
	for (int i = 0; i < 100; i++)
		v[i] = 100 - i; /* 100 .. 1, unsorted on purpose */
	struct density_stats s;
	density_stats(v, 100, &s);
	cr_expect_eq(s.n, 100);
	cr_expect_eq(s.min, 1);
	cr_expect_eq(s.max, 100);
	cr_expect_eq(s.p50, 50);
	cr_expect_eq(s.p90, 90);
	cr_expect_eq(s.p99, 99);
	cr_expect_eq(s.mean, 50.5);
}

Test(density_stats, small_and_empty_sets)
{
	double one[] = { 7.5 };
	struct density_stats s;
	density_stats(one, 1, &s);
	cr_expect(s.n == 1 && s.min == 7.5 && s.p50 == 7.5 && s.p99 == 7.5 && s.max == 7.5);
	double three[] = { 3, 1, 2 };
	density_stats(three, 3, &s);
	cr_expect_eq(s.p50, 2);
	cr_expect_eq(s.p90, 3);
	density_stats(NULL, 0, &s);
	cr_expect_eq(s.n, 0);
}

Test(density_memory, per_vm_is_pss_plus_kernel_growth)
{
	struct density_mem_point p = {
		.vms = 4, .pss_kib = 4000, .slab_kib = 300, .page_tables_kib = 60,
		.sec_page_tables_kib = 20, .kernel_stack_kib = 20,
	};
	cr_expect_eq(density_kernel_kib(&p), 400);
	cr_expect_eq(density_per_vm_kib(&p), 1100.0);
	p.vms = 0;
	cr_expect_eq(density_per_vm_kib(&p), 0.0);
}
