/* libvirt's value syntaxes: sizes with units, cpusets with exclusions. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmm/libvirt/libvirt_units.h"

static uint64_t size_of(const char *number, const char *unit)
{
	uint64_t bytes = 0;
	struct error e = { "" };
	cr_assert_eq(libvirt_size_parse(number, unit, 1024, &bytes, &e), 0, "%s %s: %s", number,
		     unit ? unit : "(none)", e.msg);
	return bytes;
}

static void size_fails(const char *number, const char *unit, const char *msg)
{
	uint64_t bytes;
	struct error e = { "" };
	cr_assert_eq(libvirt_size_parse(number, unit, 1024, &bytes, &e), -1, "%s %s", number,
		     unit);
	cr_assert(strstr(e.msg, msg), "'%s' lacks '%s'", e.msg, msg);
}

Test(libvirt_units, every_unit_of_formatdomain)
{
	cr_assert_eq(size_of("3", NULL), 3 * 1024, "no unit: the element's default (KiB)");
	cr_assert_eq(size_of("3", ""), 3 * 1024);
	cr_assert_eq(size_of("3", "b"), 3);
	cr_assert_eq(size_of("3", "bytes"), 3);
	cr_assert_eq(size_of("3", "KB"), 3000);
	cr_assert_eq(size_of("3", "k"), 3 * 1024);
	cr_assert_eq(size_of("3", "KiB"), 3 * 1024);
	cr_assert_eq(size_of("3", "MB"), 3000000);
	cr_assert_eq(size_of("3", "M"), 3ULL << 20);
	cr_assert_eq(size_of("3", "MiB"), 3ULL << 20);
	cr_assert_eq(size_of("3", "GB"), 3000000000ULL);
	cr_assert_eq(size_of("3", "G"), 3ULL << 30);
	cr_assert_eq(size_of("3", "GiB"), 3ULL << 30);
	cr_assert_eq(size_of("3", "TB"), 3000000000000ULL);
	cr_assert_eq(size_of("3", "T"), 3ULL << 40);
	cr_assert_eq(size_of("3", "TiB"), 3ULL << 40);
	cr_assert_eq(size_of("3", "PiB"), 3ULL << 50);
	cr_assert_eq(size_of("3", "EB"), 3000000000000000000ULL);
	cr_assert_eq(size_of("1", "E"), 1ULL << 60);
	cr_assert_eq(size_of("2", "gib"), 2ULL << 30, "units are case-insensitive");
	cr_assert_eq(size_of("2", "m"), 2ULL << 20);
	cr_assert_eq(size_of("  524288\n ", "KiB"), 512ULL << 20, "white space around the number");
}

Test(libvirt_units, bad_sizes)
{
	size_fails("3", "KiBs", "unknown unit 'KiBs'");
	size_fails("3", "x", "unknown unit");
	size_fails("3", "Kb2", "unknown unit");
	size_fails("", "KiB", "is not a number");
	size_fails("-3", "KiB", "is not a number");
	size_fails("+3", "KiB", "is not a number");
	size_fails("1.5", "GiB", "is not a number");
	size_fails("0x10", "KiB", "is not a number");
	size_fails("3 4", "KiB", "is not a number");
	size_fails("16", "EiB", "too large");
	size_fails("99999999999999999999", "b", "out of range");
}

static const char *cpus_of(const char *text)
{
	static struct cpu_list list;
	static char out[256];
	struct error e = { "" };
	cr_assert_eq(libvirt_cpuset_parse(text, &list, &e), 0, "%s: %s", text, e.msg);
	out[0] = '\0';
	for (unsigned i = 0; i < list.n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? "," : "",
			 list.cpu[i]);
	return out;
}

Test(libvirt_units, cpusets)
{
	cr_assert_str_eq(cpus_of("3"), "3");
	cr_assert_str_eq(cpus_of("0-3"), "0,1,2,3");
	cr_assert_str_eq(cpus_of("1-4,^3,6"), "1,2,4,6", "formatdomain's example");
	cr_assert_str_eq(cpus_of("8,2,5-6"), "2,5,6,8", "ascending: a set has no order");
	cr_assert_str_eq(cpus_of("0-3,2"), "0,1,2,3", "repeats are the same CPU");
	cr_assert_str_eq(cpus_of("^1,0-2"), "0,1,2", "an exclusion before its range does nothing");
	cr_assert_str_eq(cpus_of(" 1 - 2 , ^ 2 "), "1", "white space");
	cr_assert_str_eq(cpus_of("4095"), "4095");
}

static void cpuset_fails(const char *text, const char *msg)
{
	struct cpu_list list;
	struct error e = { "" };
	cr_assert_eq(libvirt_cpuset_parse(text, &list, &e), -1, "%s", text);
	cr_assert(strstr(e.msg, msg), "%s: '%s' lacks '%s'", text, e.msg, msg);
}

Test(libvirt_units, bad_cpusets)
{
	cpuset_fails("", "empty");
	cpuset_fails(",", "not a number");
	cpuset_fails("0-1,^0,^1", "leaves nothing");
	cpuset_fails("3-1", "reversed");
	cpuset_fails("4096", "below 4096");
	cpuset_fails("a", "not a number");
	cpuset_fails("1-", "not a range");
	cpuset_fails("^1-3", "not N, N-M or ^N");
	cpuset_fails("1,,2", "not a number");
	cpuset_fails("-1", "not a number");
}

Test(libvirt_units, plain_numbers)
{
	unsigned long long v;
	struct error e = { "" };
	cr_assert_eq(libvirt_uint_parse(" 42 ", 100, &v, &e), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(libvirt_uint_parse("101", 100, &v, &e), -1);
	cr_assert(strstr(e.msg, "out of range"), "%s", e.msg);
	cr_assert_eq(libvirt_uint_parse("4x", 100, &v, &e), -1);
	cr_assert(strstr(e.msg, "not a number"), "%s", e.msg);
	cr_assert_eq(libvirt_uint_parse(NULL, 100, &v, &e), -1);
}
