/* vmm/exits.c (dedicated cores, halt polling, the KVM PV leaf), vmm/cli_tuning.c (the tuning
 * flags of `ember run`) and vmm/cpu_model.c on a real VM where /dev/kvm opens. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpuid_fixtures.h"
#include "vmm/cli.h"
#include "vmm/cpu_model.h"
#include "vmm/exits.h"

#define PV_BIT(f) (1u << (f))
#define PV_UNHALT 7
#define PV_TLB_FLUSH 9
#define PV_SCHED_YIELD 13
#define PV_MSI_EXT_DEST_ID 15
#define PV_HC_MAP_GPA_RANGE 16
#define PV_MIGRATION_CONTROL 17

static struct kvm_cpuid2 *pv_table(void)
{
	struct kvm_cpuid2 *c = intel_table();
	/* Everything KVM may offer, including what needs userspace help. */
	must_find(c, 0x40000001, 0)->eax = 0x01007efb | PV_BIT(PV_MSI_EXT_DEST_ID) |
					   PV_BIT(PV_HC_MAP_GPA_RANGE) | PV_BIT(PV_MIGRATION_CONTROL);
	return c;
}

Test(exits_pv_cpuid, default_keeps_kvm_only_features)
{
	struct kvm_cpuid2 *c = pv_table();
	struct exits_state st = { 0 };
	exits_pv_cpuid(c, &st);
	struct kvm_cpuid_entry2 *pv = must_find(c, 0x40000001, 0);
	cr_expect_eq(pv->eax, 0x01007efbu, "kvmclock, PV EOI, PV TLB flush, sched yield, unhalt...");
	cr_expect(pv->eax & PV_BIT(PV_TLB_FLUSH));
	cr_expect(pv->eax & PV_BIT(PV_SCHED_YIELD));
	cr_expect(pv->eax & PV_BIT(PV_UNHALT));
	cr_expect_eq(pv->edx, 0u, "no REALTIME hint");
	free(c);
}

Test(exits_pv_cpuid, dedicated_cores_without_hlt_exits)
{
	struct kvm_cpuid2 *c = pv_table();
	struct exits_state st = { .disabled = KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE,
				  .dedicated_cores = true };
	exits_pv_cpuid(c, &st);
	struct kvm_cpuid_entry2 *pv = must_find(c, 0x40000001, 0);
	cr_expect_not(pv->eax & PV_BIT(PV_UNHALT), "PV unhalt cannot wake a guest-mode HLT");
	cr_expect(pv->eax & PV_BIT(PV_TLB_FLUSH));
	cr_expect_eq(pv->edx, 1u, "KVM_HINTS_REALTIME");
	free(c);
	/* Dedicated cores on a host that keeps HLT exiting: PV unhalt stays useful. */
	c = pv_table();
	st.disabled = KVM_X86_DISABLE_EXITS_PAUSE;
	exits_pv_cpuid(c, &st);
	cr_expect(must_find(c, 0x40000001, 0)->eax & PV_BIT(PV_UNHALT));
	free(c);
}

Test(exits_describe, names)
{
	char buf[64];
	exits_describe(KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE, buf, sizeof(buf));
	cr_expect_str_eq(buf, "hlt,pause");
	exits_describe(0, buf, sizeof(buf));
	cr_expect_str_eq(buf, "none");
}

static int open_kvm_or_skip(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("cannot open /dev/kvm: %s", strerror(errno));
	return fd;
}

Test(exits_kvm, dedicated_cores_disable_what_the_host_allows)
{
	int kvm = open_kvm_or_skip();
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	struct exits_config cfg = { .dedicated_cores = true, .halt_poll_ns = 0 };
	struct exits_state st;
	struct error e;
	cr_assert_eq(exits_configure(vm, &cfg, &st, &e), 0, "%s", e.msg);
	cr_expect_eq(st.disabled, st.allowed & (KVM_X86_DISABLE_EXITS_HLT |
						KVM_X86_DISABLE_EXITS_PAUSE |
						KVM_X86_DISABLE_EXITS_MWAIT));
	cr_expect_eq(st.halt_poll_ns, 0);
	/* After a vCPU exists KVM refuses: Ember must configure exits first. */
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	cr_assert_geq(vcpu, 0);
	if (st.disabled) {
		cr_expect_eq(exits_configure(vm, &cfg, &st, &e), -1);
		cr_expect(strstr(e.msg, "KVM_CAP_X86_DISABLE_EXITS"), "%s", e.msg);
	}
	close(vcpu);
	close(vm);
	close(kvm);
}

/* ---- the flags ---- */

static enum cli_result parse(struct vm_config *cfg, struct error *e, int argc, const char **argv)
{
	static char *copy[32];
	for (int i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	copy[argc] = NULL;
	return cli_parse_run(argc, copy, cfg, e);
}

#define PARSE(cfg, e, ...)                                                              \
	({                                                                              \
		const char *args_[] = { "run", "--kernel", "k", __VA_ARGS__ };              \
		parse(cfg, e, (int)(sizeof(args_) / sizeof(args_[0])), args_);              \
	})

Test(cli_tuning, defaults)
{
	struct vm_config cfg;
	vm_config_defaults(&cfg);
	cr_expect_eq(cfg.memory.kind, MEMORY_BACKING_ANON);
	cr_expect_eq(cfg.memory.numa_node, -1);
	cr_expect_eq(cfg.halt_poll_ns, EXITS_HALT_POLL_DEFAULT);
	cr_expect_null(cfg.cpu_template);
	cr_expect_not(cfg.dedicated_cores);
}

Test(cli_tuning, every_flag)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--cpus", "8", "--topology", "sockets=1,cores=4,threads=2",
			   "--cpu-template", "epyc-milan", "--memory-backing", "memfd,thp=off",
			   "--numa-node", "0", "--cpu-affinity", "0-7", "--prefault",
			   "--dedicated-cores", "--halt-poll-ns", "50000", "--memory-stats"),
		     CLI_PARSED, "%s", e.msg);
	cr_expect_eq(cfg.topology.threads, 2u);
	cr_expect_str_eq(cfg.cpu_template, "epyc-milan");
	cr_expect_eq(cfg.memory.kind, MEMORY_BACKING_MEMFD);
	cr_expect(cfg.memory.no_thp);
	cr_expect_eq(cfg.memory.numa_node, 0);
	cr_expect(cfg.memory.prefault);
	cr_expect_str_eq(cfg.cpu_affinity, "0-7");
	cr_expect(cfg.dedicated_cores);
	cr_expect_eq(cfg.halt_poll_ns, 50000);
	cr_expect(cfg.memory_stats);
}

Test(cli_tuning, topology_sets_the_cpu_count_unless_given)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--topology", "sockets=2,cores=3,threads=2"), CLI_PARSED, "%s",
		     e.msg);
	cr_expect_eq(cfg.ncpus, 12u);
	cr_expect_eq(PARSE(&cfg, &e, "--cpus", "4", "--topology", "sockets=2,cores=3"),
		     CLI_USAGE_ERROR);
	cr_expect(strstr(e.msg, "2 socket(s) x 3 cores x 1 threads is 6 vCPUs, but the VM has 4"),
		  "%s", e.msg);
	cr_expect_eq(PARSE(&cfg, &e, "--topology", "sockets=16,cores=64,threads=2"), CLI_USAGE_ERROR);
	cr_expect(strstr(e.msg, "2048 vCPUs, more than 1024"), "%s", e.msg);
	/* Without cores=, the count comes from --cpus. */
	cr_assert_eq(PARSE(&cfg, &e, "--cpus", "8", "--topology", "threads=2"), CLI_PARSED, "%s",
		     e.msg);
	cr_expect_eq(cfg.ncpus, 8u);
}

Test(cli_tuning, bad_values_are_usage_errors)
{
	static const struct { const char *flag, *value, *needle; } bad[] = {
		{ "--topology", "cores=0", "--topology: cores=0 is out of range" },
		{ "--memory-backing", "hugepages", "'hugepages' is not anon" },
		{ "--numa-node", "-1", "--numa-node: -1 is out of range" },
		{ "--cpu-affinity", "3-1", "--cpu-affinity: range 3-1 is reversed" },
		{ "--halt-poll-ns", "1e9", "--halt-poll-ns: '1e9' is not a number" },
		{ "--halt-poll-ns", "200000000", "out of range" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_config cfg;
		struct error e = { "" };
		cr_expect_eq(PARSE(&cfg, &e, bad[i].flag, bad[i].value), CLI_USAGE_ERROR, "%s %s",
			     bad[i].flag, bad[i].value);
		cr_expect(strstr(e.msg, bad[i].needle), "%s %s: %s", bad[i].flag, bad[i].value, e.msg);
	}
	struct vm_config cfg;
	struct error e = { "" };
	cr_expect_eq(PARSE(&cfg, &e, "--cpus", "4", "--cpu-affinity", "0,1"), CLI_USAGE_ERROR);
	cr_expect(strstr(e.msg, "2 host CPUs listed for 4 vCPUs"), "%s", e.msg);
}

/* ---- cpu_model on a real VM ---- */

Test(cpu_model_kvm, prepare_and_setup_vcpus)
{
	int kvm = open_kvm_or_skip();
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	cr_assert_eq(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0, "%s", strerror(errno));
	struct vm_config cfg;
	vm_config_defaults(&cfg);
	cfg.ncpus = 8;
	struct error e;
	cr_assert_eq(topology_parse("cores=4,threads=2,l3-cores=2", &cfg.topology, &e), 0);
	cfg.dedicated_cores = true;
	struct cpu_model m;
	struct kvm_cpuid2 *cpuid = NULL;
	cr_assert_eq(cpu_model_prepare(&m, &cfg, kvm, vm, &cpuid, &e), 0, "%s", e.msg);
	cr_expect(m.full_topology, "L3 domains need more than struct cpuid_topology");
	cr_expect(must_find(cpuid, 0x40000001, 0)->edx & 1, "REALTIME hint");
	struct cpuid_topology plain;
	cpu_model_plain_topology(&m, &plain);
	cr_expect_eq(plain.threads_per_core, 2u);
	for (unsigned i = 0; i < 2; i++) {
		int vcpu = ioctl(vm, KVM_CREATE_VCPU, (unsigned long)i);
		cr_assert_geq(vcpu, 0);
		cr_assert_eq(cpuid_apply(vcpu, cpuid, &plain, i, &e), 0, "%s", e.msg);
		cr_expect_eq(cpu_model_setup_vcpu(&m, cpuid, vcpu, i, &e), 0, "%s", e.msg);
		close(vcpu);
	}
	cpu_model_free(&m);
	free(cpuid);
	close(vm);

	/* Gaps in the APIC ids: a vCPU created with id = index is caught. */
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	cr_assert_eq(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0);
	cfg.ncpus = 6;
	cfg.dedicated_cores = false;
	cr_assert_eq(topology_parse("sockets=2,cores=3", &cfg.topology, &e), 0);
	cr_assert_eq(cpu_model_prepare(&m, &cfg, kvm, vm, &cpuid, &e), 0, "%s", e.msg);
	cpu_model_plain_topology(&m, &plain);
	int ok = 0, bad = 0;
	for (unsigned i = 0; i < 6; i++) {
		int vcpu = ioctl(vm, KVM_CREATE_VCPU, (unsigned long)i);
		cr_assert_geq(vcpu, 0);
		cr_assert_eq(cpuid_apply(vcpu, cpuid, &plain, i, &e), 0, "%s", e.msg);
		if (cpu_model_setup_vcpu(&m, cpuid, vcpu, i, &e) == 0)
			ok++;
		else
			bad++;
		close(vcpu);
	}
	cr_expect_eq(ok, 3, "socket 0 ids match");
	cr_expect_eq(bad, 3, "socket 1 ids (4-6) differ from vcpu ids 3-5");
	cr_expect(strstr(e.msg, "vCPU 5: KVM gave it APIC id 5, the topology says 6"), "%s", e.msg);
	cpu_model_free(&m);
	free(cpuid);
	close(vm);
	close(kvm);
}
