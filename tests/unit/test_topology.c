/* arch/x86/topology.c and topology_cpuid.c: --topology parsing, APIC id layout, the host's L3
 * domains (a fake sysfs tree), the CPUID leaves, and what a Linux guest makes of them (decoded
 * the way Linux 6.1 does for AMD: 0x8000001E, 0xB, 0x8000001D or ApicId[3] on family 17h
 * models 00h-1Fh). Also vmm/cpu_list.c. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/topology.h"
#include "cpuid_fixtures.h"
#include "vmm/cpu_list.h"

static struct topology resolved(unsigned ncpus, const char *spec, unsigned min_bits)
{
	struct topology_request req = { 0 };
	struct topology t;
	struct error e;
	if (spec)
		cr_assert_eq(topology_parse(spec, &req, &e), 0, "%s", e.msg);
	cr_assert_eq(topology_resolve(&t, ncpus, &req, NULL, min_bits, &e), 0, "%s", e.msg);
	return t;
}

static void expect_parse_error(const char *spec, const char *needle)
{
	struct topology_request req;
	struct error e = { "" };
	cr_expect_eq(topology_parse(spec, &req, &e), -1, "'%s' accepted", spec);
	cr_expect(strstr(e.msg, needle), "'%s': message '%s' lacks '%s'", spec, e.msg, needle);
}

Test(topology_parse, accepts_any_subset_and_order)
{
	struct topology_request r;
	struct error e;
	cr_assert_eq(topology_parse("threads=2,sockets=1,cores=4", &r, &e), 0, "%s", e.msg);
	cr_expect_eq(r.sockets, 1u);
	cr_expect_eq(r.cores, 4u);
	cr_expect_eq(r.threads, 2u);
	cr_expect_not(r.host_ccx);
	cr_assert_eq(topology_parse("cores=8,l3-cores=4", &r, &e), 0, "%s", e.msg);
	cr_expect_eq(r.cores_per_l3, 4u);
	cr_expect_eq(r.sockets, 0u, "unset fields stay 0");
	cr_assert_eq(topology_parse("host-ccx", &r, &e), 0, "%s", e.msg);
	cr_expect(r.host_ccx);
	cr_assert_eq(topology_parse("host-ccx,threads=1", &r, &e), 0, "%s", e.msg);
	cr_expect_eq(r.threads, 1u);
}

Test(topology_parse, rejects_bad_specs_with_a_clear_message)
{
	expect_parse_error("", "empty");
	expect_parse_error("sockets", "not key=value");
	expect_parse_error("dies=2", "unknown key 'dies'");
	expect_parse_error("cores=0", "out of range");
	expect_parse_error("threads=9", "out of range (1-8)");
	expect_parse_error("cores=x", "not a number");
	expect_parse_error("cores=2,cores=4", "given twice");
	expect_parse_error("host-ccx,cores=4", "host-ccx decides the cores");
}

Test(topology_resolve, defaults_and_mismatches)
{
	struct topology t = resolved(6, NULL, 0);
	cr_expect_eq(t.sockets, 1u);
	cr_expect_eq(t.cores_per_socket, 6u);
	cr_expect_eq(t.threads_per_core, 1u);
	cr_expect_eq(t.cores_per_l3, 6u, "one L3 per socket by default");

	struct topology_request req = { .sockets = 2, .cores = 3 };
	struct error e;
	cr_expect_eq(topology_resolve(&t, 4, &req, NULL, 0, &e), -1);
	cr_expect(strstr(e.msg, "is 6 vCPUs, but the VM has 4"), "%s", e.msg);
	req = (struct topology_request){ .threads = 2 };
	cr_expect_eq(topology_resolve(&t, 5, &req, NULL, 0, &e), -1);
	cr_expect(strstr(e.msg, "do not fill"), "%s", e.msg);
	req = (struct topology_request){ .cores = 4, .cores_per_l3 = 8 };
	cr_expect_eq(topology_resolve(&t, 4, &req, NULL, 0, &e), -1);
	cr_expect(strstr(e.msg, "l3-cores=8 is more than the 4 cores"), "%s", e.msg);
}

Test(topology_resolve, host_ccx_follows_the_host)
{
	struct host_l3 host = { .cpus = 128, .domains = 8, .threads_per_core = 2, .cores_per_l3 = 8,
				.uniform = true };
	struct topology_request req = { .host_ccx = true };
	struct topology t;
	struct error e;
	cr_assert_eq(topology_resolve(&t, 32, &req, &host, 0, &e), 0, "%s", e.msg);
	cr_expect_eq(t.threads_per_core, 2u);
	cr_expect_eq(t.cores_per_socket, 16u);
	cr_expect_eq(t.cores_per_l3, 8u);
	/* An odd vCPU count cannot be whole SMT cores: one thread per core then. */
	cr_assert_eq(topology_resolve(&t, 5, &req, &host, 0, &e), 0, "%s", e.msg);
	cr_expect_eq(t.threads_per_core, 1u);
	cr_expect_eq(t.cores_per_l3, 5u, "a CCX no larger than the VM");
	cr_expect_eq(topology_resolve(&t, 4, &req, NULL, 0, &e), -1);
}

Test(topology_apic_ids, power_of_two_counts_are_dense)
{
	struct topology t = resolved(8, "sockets=1,cores=4,threads=2", 0);
	for (unsigned i = 0; i < 8; i++)
		cr_expect_eq(topology_apic_id(&t, i), i);
	cr_expect(topology_ids_dense(&t));
	struct topology_place p;
	topology_place(&t, 5, &p);
	cr_expect_eq(p.core, 2u);
	cr_expect_eq(p.thread, 1u);
	cr_expect_eq(p.package, 0u);
}

Test(topology_apic_ids, odd_counts_leave_gaps_between_sockets)
{
	struct topology t = resolved(6, "sockets=2,cores=3", 0);
	static const uint32_t want[6] = { 0, 1, 2, 4, 5, 6 };
	uint32_t ids[6];
	topology_apic_ids(&t, ids);
	cr_expect_arr_eq(ids, want, sizeof(want));
	cr_expect_not(topology_ids_dense(&t));
}

Test(topology_apic_ids, l3_domains_get_their_own_field)
{
	/* 8 cores, 3 per L3: domains {0,1,2} {3,4,5} {6,7}; 2 bits of core, 2 bits of L3. */
	struct topology t = resolved(8, "cores=8,l3-cores=3", 0);
	static const uint32_t want[8] = { 0, 1, 2, 4, 5, 6, 8, 9 };
	uint32_t ids[8];
	topology_apic_ids(&t, ids);
	cr_expect_arr_eq(ids, want, sizeof(want));
	cr_expect_eq(t.package_shift, 4u);
}

Test(topology_apic_ids, minimum_l3_span_pads_the_core_field)
{
	/* Family 17h models 00h-1Fh: L3 = ApicId[3] and up, whatever CPUID says. */
	struct topology t = resolved(4, "sockets=2,cores=2", 3);
	static const uint32_t want[4] = { 0, 1, 8, 9 };
	uint32_t ids[4];
	topology_apic_ids(&t, ids);
	cr_expect_arr_eq(ids, want, sizeof(want));
	/* One L3 per socket and one socket: padding adds room above, ids stay dense. */
	t = resolved(8, "cores=4,threads=2", 3);
	cr_expect(topology_ids_dense(&t));
}

Test(topology_min_l3_id_bits, only_for_family_17h_early_models_and_hygon)
{
	struct kvm_cpuid2 *c = l1_epyc_table(); /* family 17h model 01h */
	cr_expect_eq(topology_min_l3_id_bits(c), 3u);
	must_find(c, 1, 0)->eax = 0x00a00f11; /* Milan */
	cr_expect_eq(topology_min_l3_id_bits(c), 0u);
	must_find(c, 1, 0)->eax = 0x00830f10; /* Rome: family 17h model 31h */
	cr_expect_eq(topology_min_l3_id_bits(c), 0u);
	must_find(c, 0, 0)->ebx = 0x6f677948; /* Hygon */
	cr_expect_eq(topology_min_l3_id_bits(c), 3u);
	free(c);
	c = intel_table();
	cr_expect_eq(topology_min_l3_id_bits(c), 0u);
	free(c);
}

/* ---- What a Linux guest decodes (arch/x86/kernel/cpu/{amd,topology,cacheinfo}.c, 6.1) ---- */

struct linux_cpu {
	uint32_t apicid;
	unsigned package, core_id, llc_id, smt_siblings;
};

static unsigned count_order(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

static struct linux_cpu linux_decode(struct kvm_cpuid2 *c)
{
	struct linux_cpu l = { 0 };
	bool topoext = must_find(c, 0x80000001, 0)->ecx & (1u << 22);
	cr_assert(topoext, "AMD guests need TopologyExtensions to see SMT");
	struct kvm_cpuid_entry2 *ids = must_find(c, 0x8000001e, 0);
	l.apicid = ids->eax;
	l.smt_siblings = bits(ids->ebx, 8, 15) + 1;
	unsigned ht = bits(must_find(c, 0xb, 0)->eax, 0, 4);
	unsigned core_plus = bits(must_find(c, 0xb, 1)->eax, 0, 4);
	l.package = l.apicid >> core_plus;
	l.core_id = (l.apicid >> ht) & ((1u << (core_plus - ht)) - 1);
	uint32_t eax1 = must_find(c, 1, 0)->eax;
	unsigned family = bits(eax1, 8, 11) + bits(eax1, 20, 27);
	unsigned model = bits(eax1, 4, 7) | bits(eax1, 16, 19) << 4;
	if (family == 0x17 && model <= 0x1f) {
		l.llc_id = l.apicid >> 3;
	} else {
		unsigned sharing = 0;
		for (uint32_t sub = 0; sub < 8; sub++) {
			struct kvm_cpuid_entry2 *e = cpuid_find(c, 0x8000001d, sub);
			if (!e || !bits(e->eax, 0, 4))
				break;
			sharing = bits(e->eax, 14, 25) + 1; /* the last leaf is the LLC */
		}
		l.llc_id = l.apicid >> count_order(sharing);
	}
	return l;
}

static void decode_all(struct kvm_cpuid2 *(*table)(void), const struct topology *t,
		       struct linux_cpu *out)
{
	for (unsigned i = 0; i < t->ncpus; i++) {
		struct kvm_cpuid2 *c = table();
		topology_write_cpuid(c, t, i);
		out[i] = linux_decode(c);
		cr_expect_eq(out[i].apicid, topology_apic_id(t, i), "vCPU %u APIC id", i);
		cr_expect_eq(bits(must_find(c, 1, 0)->ebx, 24, 31), topology_apic_id(t, i) & 0xff);
		free(c);
	}
}

static struct kvm_cpuid2 *milan_like_l1(void)
{
	struct kvm_cpuid2 *c = l1_epyc_table();
	must_find(c, 1, 0)->eax = 0x00a00f11;
	return c;
}

Test(topology_linux_view, acceptance_shape_on_the_nested_l1)
{
	/* --cpus 8 --topology sockets=1,cores=4,threads=2 on the L1's KVM (no TopoExt offered). */
	struct kvm_cpuid2 *probe = l1_epyc_table();
	struct topology t = resolved(8, "sockets=1,cores=4,threads=2", topology_min_l3_id_bits(probe));
	free(probe);
	struct linux_cpu cpu[8];
	decode_all(l1_epyc_table, &t, cpu);
	for (unsigned i = 0; i < 8; i++) {
		cr_expect_eq(cpu[i].package, 0u, "one socket");
		cr_expect_eq(cpu[i].core_id, i / 2, "vCPU %u core id", i);
		cr_expect_eq(cpu[i].smt_siblings, 2u);
		cr_expect_eq(cpu[i].llc_id, cpu[0].llc_id, "one L3 for the socket");
	}
}

Test(topology_linux_view, l3_domains_with_a_family_19h_signature)
{
	struct topology t = resolved(8, "cores=4,threads=2,l3-cores=2", 0);
	struct linux_cpu cpu[8];
	decode_all(milan_like_l1, &t, cpu);
	for (unsigned i = 0; i < 8; i++) {
		cr_expect_eq(cpu[i].llc_id, i / 4, "vCPU %u: L3 of cores %u-%u", i, i / 4 * 2,
			     i / 4 * 2 + 1);
		cr_expect_eq(cpu[i].core_id, i / 2);
	}
}

Test(topology_linux_view, sockets_stay_apart_on_family_17h)
{
	/* Without padding the ApicId[3] rule would merge both sockets' L3s. */
	struct kvm_cpuid2 *probe = l1_epyc_table();
	struct topology t = resolved(4, "sockets=2,cores=2", topology_min_l3_id_bits(probe));
	free(probe);
	struct linux_cpu cpu[4];
	decode_all(l1_epyc_table, &t, cpu);
	cr_expect_eq(cpu[1].package, 0u);
	cr_expect_eq(cpu[2].package, 1u);
	cr_expect_eq(cpu[0].llc_id, cpu[1].llc_id);
	cr_expect_neq(cpu[1].llc_id, cpu[2].llc_id);
}

Test(topology_cpuid, topoext_and_8000001e_are_provided)
{
	struct kvm_cpuid2 *c = l1_epyc_table();
	struct topology t = resolved(2, "cores=2", 0);
	/* Drop 0x8000001E altogether: it is added back (and the max leaf raised if needed). */
	struct kvm_cpuid_entry2 *ids = must_find(c, 0x8000001e, 0);
	*ids = c->entries[--c->nent];
	must_find(c, 0x80000000, 0)->eax = 0x8000001d;
	topology_write_cpuid(c, &t, 1);
	cr_expect(must_find(c, 0x80000001, 0)->ecx & (1u << 22), "TopologyExtensions");
	cr_expect_eq(must_find(c, 0x80000000, 0)->eax, 0x8000001eu);
	cr_expect_eq(must_find(c, 0x8000001e, 0)->eax, 1u);
	cr_expect_eq(bits(must_find(c, 0x8000001e, 0)->ebx, 0, 7), 1u, "core id");
	free(c);
}

Test(topology_cpuid, cache_sharing_is_the_apic_id_span)
{
	struct kvm_cpuid2 *c = epyc_table(false);
	struct topology t = resolved(12, "cores=6,threads=2,l3-cores=3", 0);
	topology_write_cpuid(c, &t, 7);
	cr_expect_eq(bits(must_find(c, 0x8000001d, 0)->eax, 14, 25), 1u, "L1d: 2 threads");
	cr_expect_eq(bits(must_find(c, 0x8000001d, 2)->eax, 14, 25), 1u, "L2: 2 threads");
	cr_expect_eq(bits(must_find(c, 0x8000001d, 3)->eax, 14, 25), 7u, "L3: 3 cores -> 8 ids");
	cr_expect_eq(must_find(c, 0x8000001d, 3)->ecx, 0x7fffu, "cache geometry kept");
	struct kvm_cpuid_entry2 *sz = must_find(c, 0x80000008, 0);
	cr_expect_eq(bits(sz->ecx, 0, 7), 11u, "NC: 12 threads");
	cr_expect_eq(bits(sz->ecx, 12, 15), 4u, "ApicIdSize: 1 SMT + 2 core + 1 L3");
	cr_expect_eq(must_find(c, 0xb, 1)->eax, 4u);
	cr_expect_eq(must_find(c, 0xb, 1)->ebx, 12u);
	free(c);

	c = intel_table();
	topology_write_cpuid(c, &t, 7);
	cr_expect_eq(bits(must_find(c, 4, 3)->eax, 14, 25), 7u, "Intel L3 per domain");
	cr_expect_eq(bits(must_find(c, 4, 3)->eax, 26, 31), 7u, "core ids in the package - 1");
	free(c);
}

Test(topology_cpuid, wide_apic_ids_get_0xb_and_0x80000026)
{
	/* 3 sockets x 80 cores: socket 2 starts at APIC id 256. */
	struct topology t = resolved(240, "sockets=3,cores=80", 0);
	struct kvm_cpuid2 *c = l1_epyc_table();
	struct kvm_cpuid_entry2 *b = must_find(c, 0xb, 0);
	*b = c->entries[--c->nent]; /* no 0xB in the template at all */
	must_find(c, 0, 0)->eax = 0xa;
	topology_write_cpuid(c, &t, 239);
	uint32_t id = topology_apic_id(&t, 239);
	cr_expect_eq(id, 256u + 79u);
	cr_expect_geq(must_find(c, 0, 0)->eax, 0xbu, "max basic leaf raised");
	cr_expect_eq(must_find(c, 0xb, 0)->edx, id, "x2APIC id");
	cr_expect_eq(must_find(c, 0xb, 1)->eax, 7u);
	cr_expect_eq(must_find(c, 0x8000001e, 0)->eax, id);
	struct kvm_cpuid_entry2 *lvl0 = must_find(c, 0x80000026, 0);
	cr_expect_eq(bits(lvl0->ecx, 8, 15), 1u, "core level");
	cr_expect_eq(must_find(c, 0x80000026, 3)->eax, 7u, "socket shift");
	cr_expect_eq(bits(must_find(c, 0x80000026, 4)->ecx, 8, 15), 0u, "terminated");
	cr_expect_eq(lvl0->edx, id);
	free(c);
}

/* ---- The host's L3 domains (a fake /sys/devices/system/cpu) ---- */

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ncpus CPUs, SMT siblings (i, i^1) when smt, L3 shared by groups of `per_l3` CPUs. */
static void fake_sysfs(char *dir, unsigned ncpus, bool smt, unsigned per_l3)
{
	strcpy(dir, "/tmp/ember-test-sysfs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		char rel[128], text[64];
		unsigned first = cpu / per_l3 * per_l3;
		snprintf(rel, sizeof(rel), "cpu%u/cache/index0/level", cpu);
		write_file(dir, rel, "1\n");
		snprintf(rel, sizeof(rel), "cpu%u/cache/index3/level", cpu);
		write_file(dir, rel, "3\n");
		snprintf(rel, sizeof(rel), "cpu%u/cache/index3/shared_cpu_list", cpu);
		snprintf(text, sizeof(text), "%u-%u\n", first, first + per_l3 - 1);
		write_file(dir, rel, text);
		snprintf(rel, sizeof(rel), "cpu%u/topology/thread_siblings_list", cpu);
		if (smt)
			snprintf(text, sizeof(text), "%u,%u\n", cpu & ~1u, cpu | 1u);
		else
			snprintf(text, sizeof(text), "%u\n", cpu);
		write_file(dir, rel, text);
	}
}

Test(topology_host_l3, two_ccxs_with_smt)
{
	char dir[64];
	fake_sysfs(dir, 16, true, 8);
	struct host_l3 h;
	struct error e;
	cr_assert_eq(topology_scan_host_l3(dir, &h, &e), 0, "%s", e.msg);
	cr_expect_eq(h.cpus, 16u);
	cr_expect_eq(h.domains, 2u);
	cr_expect_eq(h.threads_per_core, 2u);
	cr_expect_eq(h.cores_per_l3, 4u);
	cr_expect(h.uniform);
	remove_tree(dir);
}

Test(topology_host_l3, offline_cpus_are_skipped)
{
	char dir[64];
	fake_sysfs(dir, 8, false, 4);
	write_file(dir, "cpu5/online", "0\n");
	write_file(dir, "cpu5/cache/index3/shared_cpu_list", "garbage");
	write_file(dir, "cpu1/online", "1\n");
	struct host_l3 h;
	struct error e;
	cr_assert_eq(topology_scan_host_l3(dir, &h, &e), 0, "%s", e.msg);
	cr_expect_eq(h.cpus, 7u);
	cr_expect_eq(h.domains, 2u);
	cr_expect_eq(h.cores_per_l3, 4u);
	remove_tree(dir);
}

Test(topology_host_l3, no_l3_is_a_clear_error)
{
	char dir[64];
	fake_sysfs(dir, 2, false, 2);
	write_file(dir, "cpu1/cache/index3/level", "2\n");
	struct host_l3 h;
	struct error e;
	cr_expect_eq(topology_scan_host_l3(dir, &h, &e), -1);
	cr_expect(strstr(e.msg, "no L3 cache for CPU 1"), "%s", e.msg);
	cr_expect_eq(topology_scan_host_l3("/nonexistent-dir", &h, &e), -1);
	remove_tree(dir);
}

Test(topology_host_l3, this_host)
{
	struct host_l3 h;
	struct error e;
	if (topology_scan_host_l3("/sys/devices/system/cpu", &h, &e) < 0)
		cr_skip_test("%s", e.msg);
	cr_expect_geq(h.domains, 1u);
	cr_expect_geq(h.cores_per_l3 * h.threads_per_core * h.domains, h.cpus / 2);
}

/* ---- KVM ---- */

Test(topology_kvm, full_topology_accepted_by_kvm)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("no /dev/kvm: %s", strerror(errno));
	struct kvm_cpuid2 *tmpl = NULL;
	struct error e;
	cr_assert_eq(cpuid_get_supported(kvm, &tmpl, &e), 0, "%s", e.msg);
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 5UL);
	cr_assert_geq(vcpu, 0);
	struct topology t = resolved(8, "cores=4,threads=2,l3-cores=2", 0);
	cr_assert_eq(topology_apply_vcpu_cpuid(vcpu, tmpl, &t, 5, &e), 0, "%s", e.msg);
	struct kvm_cpuid2 *got = table_new();
	got->nent = CPUID_MAX_ENTRIES;
	cr_assert_eq(ioctl(vcpu, KVM_GET_CPUID2, got), 0, "%s", strerror(errno));
	cr_expect_eq(bits(must_find(got, 1, 0)->ebx, 24, 31), 5u);
	cr_expect_eq(must_find(got, 0xb, 1)->eax, 3u);
	struct kvm_cpuid_entry2 *l3 = cpuid_find(got, 4, 3);
	if (l3 && bits(l3->eax, 0, 4))
		cr_expect_eq(bits(l3->eax, 14, 25), 3u, "L3 of 2 cores x 2 threads");
	free(got);
	free(tmpl);
	close(vcpu);
	close(vm);
	close(kvm);
}

/* ---- vmm/cpu_list.c ---- */

Test(cpu_list, parses_ranges_in_order)
{
	struct cpu_list *l = malloc(sizeof(*l));
	struct error e;
	cr_assert_eq(cpu_list_parse("4-6,0,10\n", l, &e), 0, "%s", e.msg);
	static const uint16_t want[5] = { 4, 5, 6, 0, 10 };
	cr_assert_eq(l->n, 5u);
	cr_expect_arr_eq(l->cpu, want, sizeof(want));
	const char *bad[] = { "", "3-1", "1,,2", "1,1", "0-2,2", "4096", "a", "1-" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(cpu_list_parse(bad[i], l, &e), -1, "'%s' accepted", bad[i]);
	cr_expect_eq(cpu_list_parse("1,1", l, &e), -1);
	cr_expect(strstr(e.msg, "listed twice"), "%s", e.msg);
	free(l);
}
