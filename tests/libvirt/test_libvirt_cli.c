/* The command-line side: `ember run --libvirt-xml` flags and their conflicts (cli.c), and the
 * tuning flags added on top of a domain (libvirt_domain_apply_cli). */
#include "libvirt_test.h"
#include "vmm/cli.h"

static enum cli_result parse(struct vm_config *cfg, struct error *e, int argc, const char **argv)
{
	static char *copy[32]; /* getopt permutes argv */
	for (int i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	copy[argc] = NULL;
	return cli_parse_run(argc, copy, cfg, e);
}

#define PARSE(cfg, e, ...)                                                              \
	({                                                                              \
		const char *args_[] = { "run", __VA_ARGS__ };                               \
		parse(cfg, e, (int)(sizeof(args_) / sizeof(args_[0])), args_);              \
	})

Test(libvirt_cli, libvirt_xml_flags)
{
	struct vm_config cfg;
	struct error e = { "" };
	cr_assert_eq(PARSE(&cfg, &e, "--libvirt-xml", "d.xml", "--libvirt-lenient", "--vsock-uds",
			   "/v.sock"), CLI_PARSED, "%s", e.msg);
	cr_assert_str_eq(cfg.libvirt_xml, "d.xml");
	cr_assert(cfg.libvirt_lenient);
	cr_assert_str_eq(cfg.libvirt_vsock_uds, "/v.sock");
	cr_assert_null(cfg.kernel_path, "no --kernel needed: the domain has one");
	/* Tuning flags go with it; their check waits for the domain's vCPU count. */
	cr_assert_eq(PARSE(&cfg, &e, "--libvirt-xml", "d.xml", "--topology", "sockets=2",
			   "--cpu-affinity", "0-7", "--dedicated-cores", "--api-sock", "/a.sock"),
		     CLI_PARSED, "%s", e.msg);
}

static void usage_error(struct vm_config *cfg, enum cli_result r, const struct error *e,
			const char *msg)
{
	(void)cfg;
	cr_assert_eq(r, CLI_USAGE_ERROR);
	cr_assert(strstr(e->msg, msg), "'%s' lacks '%s'", e->msg, msg);
}

Test(libvirt_cli, conflicts)
{
	struct vm_config cfg;
	struct error e = { "" };
	usage_error(&cfg, PARSE(&cfg, &e, "--libvirt-xml", "d.xml", "--kernel", "k"), &e,
		    "--libvirt-xml cannot be combined with '--kernel'");
	usage_error(&cfg, PARSE(&cfg, &e, "--cpus", "2", "--libvirt-xml", "d.xml"), &e,
		    "'--cpus'");
	usage_error(&cfg, PARSE(&cfg, &e, "--libvirt-xml", "d.xml", "--disk", "path=/x"), &e,
		    "'--disk'");
	usage_error(&cfg, PARSE(&cfg, &e, "--libvirt-xml", "d.xml", "--config-file", "c.json"), &e,
		    "both describe the VM");
	usage_error(&cfg, PARSE(&cfg, &e, "--kernel", "k", "--libvirt-lenient"), &e,
		    "--libvirt-lenient needs --libvirt-xml");
	usage_error(&cfg, PARSE(&cfg, &e, "--kernel", "k", "--vsock-uds", "/v"), &e,
		    "--vsock-uds needs --libvirt-xml");
	usage_error(&cfg, PARSE(&cfg, &e, "--libvirt-xml"), &e, "needs a value");
}

/* The command line's cfg for `--libvirt-xml x` plus the given tuning flags. */
static void cli_cfg(struct vm_config *cfg, int argc, const char **argv)
{
	static const char *args[32] = { "run", "--libvirt-xml", "x.xml" };
	for (int i = 0; i < argc; i++)
		args[3 + i] = argv[i];
	struct error e = { "" };
	cr_assert_eq(parse(cfg, &e, argc + 3, args), CLI_PARSED, "%s", e.msg);
}

#define CLI(cfg, ...)                                                                   \
	do {                                                                            \
		const char *flags_[] = { __VA_ARGS__ };                                     \
		cli_cfg(cfg, (int)(sizeof(flags_) / sizeof(flags_[0])), flags_);            \
	} while (0)

Test(libvirt_cli, tuning_flags_add_to_the_domain)
{
	struct libvirt_domain d;
	struct vm_config cli;
	struct error e = { "" };
	test_parse_fixture("q35-implicit.xml", &d);
	CLI(&cli, "--topology", "cores=1,threads=2", "--cpu-affinity", "2,3", "--dedicated-cores",
	    "--halt-poll-ns", "0", "--cpu-template", "epyc-genoa", "--memory-backing", "hugetlb2m",
	    "--numa-node", "0", "--prefault", "--memory-stats", "--api-sock", "/a.sock");
	cr_assert_eq(libvirt_domain_apply_cli(&d, &cli, &e), 0, "%s", e.msg);
	cr_assert_eq(d.cfg.topology.threads, 2);
	cr_assert_str_eq(d.cfg.cpu_affinity, "2,3");
	cr_assert(d.cfg.dedicated_cores);
	cr_assert_eq(d.cfg.halt_poll_ns, 0);
	cr_assert_str_eq(d.cfg.cpu_template, "epyc-genoa");
	cr_assert_eq(d.cfg.memory.kind, MEMORY_BACKING_HUGETLB_2M);
	cr_assert_eq(d.cfg.memory.numa_node, 0);
	cr_assert(d.cfg.memory.prefault);
	cr_assert(d.cfg.memory_stats);
	cr_assert_str_eq(d.cfg.api_sock_path, "/a.sock");
	cr_assert_eq(d.cfg.ncpus, 2, "the vCPU count stays the domain's");
	libvirt_domain_free(&d);
}

static void apply_fails(const char *fixture, struct vm_config *cli, const char *msg)
{
	struct libvirt_domain d;
	struct error e = { "" };
	test_parse_fixture(fixture, &d);
	cr_assert_eq(libvirt_domain_apply_cli(&d, cli, &e), -1);
	cr_assert(strstr(e.msg, msg), "'%s' lacks '%s'", e.msg, msg);
	libvirt_domain_free(&d);
}

Test(libvirt_cli, a_setting_in_two_places_is_refused)
{
	struct vm_config cli;
	CLI(&cli, "--topology", "sockets=1,cores=4");
	apply_fails("full.xml", &cli, "--topology conflicts with the domain's /domain/cpu/topology");
	CLI(&cli, "--cpu-affinity", "0-3");
	apply_fails("full.xml", &cli, "--cpu-affinity conflicts");
	CLI(&cli, "--memory-backing", "memfd");
	apply_fails("full.xml", &cli, "--memory-backing conflicts");
	CLI(&cli, "--numa-node", "0");
	apply_fails("full.xml", &cli, "--numa-node conflicts");
	CLI(&cli, "--cpu-template", "epyc-turin");
	apply_fails("pinning.xml", &cli, "--cpu-template conflicts");
}

Test(libvirt_cli, tuning_is_checked_against_the_domains_vcpus)
{
	struct vm_config cli;
	CLI(&cli, "--cpu-affinity", "0");
	apply_fails("q35-implicit.xml", &cli, "1 host CPU listed for 2 vCPUs");
	CLI(&cli, "--topology", "sockets=2,cores=2");
	apply_fails("q35-implicit.xml", &cli, "but the VM has 2");
}
