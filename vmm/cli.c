#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_sev.h"
#include "cli_tuning.h"
#include "getopt_error.h"
#include "size.h"

void vm_config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = VM_CONFIG_DEFAULT_CMDLINE;
	cfg->ncpus = 1;
	cfg->mem_size = VM_CONFIG_DEFAULT_MEMORY;
	cli_tuning_defaults(cfg);
}

void cli_print_run_help(FILE *out)
{
	fprintf(out,
		"Usage: ember run --kernel PATH [options]\n"
		"\n"
		"Boots a guest. The kernel is a Linux bzImage (64-bit boot protocol) or an ELF\n"
		"image with a PVH entry note (vmlinux, Ember's test guests). COM1 is bridged to\n"
		"stdin/stdout; on a terminal, Ctrl-A x quits.\n"
		"\n"
		"Options:\n"
		"  --kernel PATH     kernel to boot (required)\n"
		"  --initrd PATH     initial ramdisk\n"
		"  --cmdline STR     kernel command line (default \"%s\")\n"
		"  --cpus N          number of vCPUs, 1-%d (default 1)\n"
		"  --memory SIZE     guest RAM with K/M/G suffix; a bare number is MiB (default 512M)\n"
		"  --console KIND    serial (COM1, the default) or virtio: stdin goes to a virtio-console\n"
		"                    device (the guest's hvc0, default cmdline console=hvc0); COM1\n"
		"                    output still reaches stdout\n"
		"  --rng             add a virtio-rng device (virtio-pci) fed by the host's getrandom\n"
		"  --disk SPEC       add a virtio-blk disk (repeatable): path=FILE[,readonly=on]\n"
		"                    [,direct=on][,queues=N][,serial=ID][,poll_us=N]; FILE is a raw\n"
		"                    image or a block device; poll_us: queue threads busy-poll up to\n"
		"                    N microseconds after activity (default 0: off)\n"
		"  --io-engine E     how disks reach their images: io_uring (default) or sync\n"
		"  --net SPEC        add a virtio-net device on a host TAP (repeatable):\n"
		"                    tap=NAME[,id=ID][,mac=MAC][,mtu=N][,rx-bw=R][,rx-ops=R]\n"
		"                    [,tx-bw=R][,tx-ops=R]; R is a token bucket SIZE:REFILL_MS[:BURST]\n"
		"                    (docs/devices.md)\n"
		"  --balloon SPEC    add a virtio-balloon device: size=MiB (taken from the guest at\n"
		"                    boot)[,deflate_on_oom=on][,free_page_reporting=on]\n"
		"                    [,stats=SECONDS] (docs/devices.md)\n"
		"  --vsock SPEC      add a virtio-vsock device: cid=N,uds=PATH[,id=ID]; host processes\n"
		"                    reach guest port P by sending \"CONNECT P\\n\" on the Unix socket\n"
		"                    PATH, guest connections to host port P go to PATH_P\n"
		"  --api-sock PATH   serve the Firecracker-style API on this Unix socket (docs/api.md)\n"
		"  --config-file F   take the VM from a Firecracker JSON config file instead of the\n"
		"                    flags above\n"
		"  --libvirt-xml F   take the VM from a libvirt domain XML file (virsh dumpxml) instead\n"
		"                    of the flags above; tuning flags may be added (docs/libvirt.md)\n"
		"  --libvirt-lenient  run the domain without what Ember cannot honour (warnings)\n"
		"  --vsock-uds PATH  the host Unix socket of the domain's <vsock>\n"
		"  --sev MODE        a confidential guest: sev, sev-es or snp (needs an AMD EPYC host\n"
		"                    with it enabled; see docs/sev.md)\n"
		"  --sev-policy P    the guest policy (default 0x1 sev, 0x5 sev-es, 0x30000 snp)\n"
		"  --firmware PATH   boot through this firmware image (OVMF.fd), which loads --kernel,\n"
		"                    --initrd and --cmdline over fw_cfg; --kernel is then optional\n"
		"                    (docs/firmware.md). With --sev: an OvmfPkg/AmdSev build\n"
		"%s"
		"%s"
		"  -h, --help        show this help\n"
		"\n"
		"Exit status: 0 when the guest powers off or reboots, 1 on a VM failure (triple fault,\n"
		"KVM error), 2 on a usage error; a test guest may choose its own status (port 0x501).\n",
		VM_CONFIG_DEFAULT_CMDLINE, VM_CONFIG_MAX_CPUS, cli_sev_help, cli_tuning_help);
}

static int parse_cpus(const char *text, unsigned *ncpus, struct error *e)
{
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (errno || end == text || *end != '\0')
		return error_set(e, "--cpus: '%s' is not a number", text);
	if (n < 1 || n > VM_CONFIG_MAX_CPUS)
		return error_set(e, "--cpus: %ld is out of range (1-%d)", n, VM_CONFIG_MAX_CPUS);
	*ncpus = (unsigned)n;
	return 0;
}

static int parse_memory(const char *text, uint64_t *mem, struct error *e)
{
	if (size_parse(text, mem, e) < 0)
		return error_prefix(e, "--memory");
	if (*mem < VM_CONFIG_MIN_MEMORY)
		return error_set(e, "--memory: %s is too small (minimum 2M)", text);
	if (*mem > VM_CONFIG_MAX_MEMORY)
		return error_set(e, "--memory: %s is too large (maximum 1T)", text);
	if (*mem & 0xfff)
		return error_set(e, "--memory: %s is not a multiple of 4K", text);
	return 0;
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_CONSOLE, OPT_DISK,
       OPT_IO_ENGINE, OPT_NET, OPT_RNG, OPT_API_SOCK, OPT_CONFIG_FILE, OPT_SEV, OPT_SEV_POLICY,
       OPT_FIRMWARE, OPT_BALLOON, OPT_VSOCK };

/* The libvirt front end's flags (vmm/libvirt, docs/libvirt.md). */
enum { OPT_LIBVIRT_XML = 400, OPT_LIBVIRT_LENIENT, OPT_VSOCK_UDS };

/* --disk SPEC, once per disk. */
static int add_disk(const char *spec, struct vm_config *cfg, struct error *e)
{
	if (cfg->ndisks >= VIRTIO_BLK_MAX_DISKS)
		return error_set(e, "--disk: at most %d disks", VIRTIO_BLK_MAX_DISKS);
	if (virtio_blk_parse_disk(spec, &cfg->disks[cfg->ndisks], e) < 0)
		return -1;
	cfg->ndisks++;
	return 0;
}

/* --net SPEC, once per network device. */
static int add_net(const char *spec, struct vm_config *cfg, struct error *e)
{
	if (cfg->nnets >= NET_MAX_DEVICES)
		return error_set(e, "--net: at most %d network devices", NET_MAX_DEVICES);
	if (net_options_parse(spec, cfg->nnets, &cfg->nets[cfg->nnets], e) < 0 ||
	    net_options_check_list(cfg->nets, cfg->nnets + 1, e) < 0)
		return error_prefix(e, "--net");
	cfg->nnets++;
	return 0;
}

/* --console KIND. */
static int parse_console(const char *text, enum vm_console *console, struct error *e)
{
	if (strcmp(text, "serial") == 0)
		*console = VM_CONSOLE_SERIAL;
	else if (strcmp(text, "virtio") == 0)
		*console = VM_CONSOLE_VIRTIO;
	else
		return error_set(e, "--console: '%s' is not serial or virtio", text);
	return 0;
}

/* --sev MODE. */
static int parse_sev(const char *text, enum vm_sev_mode *mode, struct error *e)
{
	if (strcmp(text, "sev") == 0)
		*mode = VM_SEV_SEV;
	else if (strcmp(text, "sev-es") == 0)
		*mode = VM_SEV_ES;
	else if (strcmp(text, "snp") == 0)
		*mode = VM_SEV_SNP;
	else
		return error_set(e, "--sev: '%s' is not sev, sev-es or snp", text);
	return 0;
}

static int parse_sev_policy(const char *text, uint64_t *policy, struct error *e)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 0);
	if (errno || end == text || *end != '\0' || text[0] == '-' || n == 0)
		return error_set(e, "--sev-policy: '%s' is not a policy (for example 0x30000)", text);
	*policy = n;
	return 0;
}

/* The confidential-guest flags go together: OVMF is what the PSP measures and boots. (--firmware
 * alone boots an ordinary guest through OVMF: docs/firmware.md.) */
static int check_sev(const struct vm_config *cfg, struct error *e)
{
	if (cfg->sev == VM_SEV_OFF && cfg->sev_policy)
		return error_set(e, "--sev-policy needs --sev");
	if (cfg->sev != VM_SEV_OFF && !cfg->firmware_path)
		return error_set(e, "--sev needs --firmware OVMF.fd (an OvmfPkg/AmdSev build; see "
				 "docs/sev.md)");
	return cli_sev_check(cfg, e);
}

/* --libvirt-xml describes the whole VM, as --config-file does; its two companions need it. */
static int check_libvirt(const struct vm_config *cfg, const char *vm_flag, struct error *e)
{
	if (cfg->libvirt_xml && vm_flag)
		return error_set(e, "--libvirt-xml cannot be combined with '--%s': the domain "
				 "describes the VM", vm_flag);
	if (cfg->libvirt_xml && cfg->config_file)
		return error_set(e, "--libvirt-xml and --config-file both describe the VM: use one");
	if (!cfg->libvirt_xml && cfg->libvirt_lenient)
		return error_set(e, "--libvirt-lenient needs --libvirt-xml");
	if (!cfg->libvirt_xml && cfg->libvirt_vsock_uds)
		return error_set(e, "--vsock-uds needs --libvirt-xml (with flags, --vsock cid=N,"
				 "uds=PATH)");
	return 0;
}

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "io-engine", required_argument, NULL, OPT_IO_ENGINE },
	{ "net", required_argument, NULL, OPT_NET },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "libvirt-xml", required_argument, NULL, OPT_LIBVIRT_XML },
	{ "libvirt-lenient", no_argument, NULL, OPT_LIBVIRT_LENIENT },
	{ "vsock-uds", required_argument, NULL, OPT_VSOCK_UDS },
	{ "sev", required_argument, NULL, OPT_SEV },
	{ "sev-policy", required_argument, NULL, OPT_SEV_POLICY },
	{ "firmware", required_argument, NULL, OPT_FIRMWARE },
	CLI_SEV_OPTIONS,
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	CLI_TUNING_OPTIONS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int apply_option(int opt, const char *arg, struct vm_config *cfg, struct error *e)
{
	if (opt >= OPT_TUNING_FIRST && opt < OPT_TUNING_END)
		return cli_tuning_apply(opt, arg, cfg, e);
	if (opt >= OPT_SEV_FIRST && opt < OPT_SEV_END)
		return cli_sev_apply(opt, arg, cfg, e);
	switch (opt) {
	case OPT_KERNEL:
		cfg->kernel_path = arg;
		return 0;
	case OPT_INITRD:
		cfg->initrd_path = arg;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = arg;
		return 0;
	case OPT_CPUS:
		return parse_cpus(arg, &cfg->ncpus, e);
	case OPT_MEMORY:
		return parse_memory(arg, &cfg->mem_size, e);
	case OPT_CONSOLE:
		return parse_console(arg, &cfg->console, e);
	case OPT_DISK:
		return add_disk(arg, cfg, e);
	case OPT_IO_ENGINE:
		return virtio_blk_parse_engine(arg, &cfg->io_engine, e);
	case OPT_NET:
		return add_net(arg, cfg, e);
	case OPT_RNG:
		cfg->rng = true;
		return 0;
	case OPT_API_SOCK:
		cfg->api_sock_path = arg;
		return 0;
	case OPT_CONFIG_FILE:
		cfg->config_file = arg;
		return 0;
	case OPT_LIBVIRT_XML:
		cfg->libvirt_xml = arg;
		return 0;
	case OPT_LIBVIRT_LENIENT:
		cfg->libvirt_lenient = true;
		return 0;
	case OPT_VSOCK_UDS:
		cfg->libvirt_vsock_uds = arg;
		return 0;
	case OPT_SEV:
		return parse_sev(arg, &cfg->sev, e);
	case OPT_SEV_POLICY:
		return parse_sev_policy(arg, &cfg->sev_policy, e);
	case OPT_FIRMWARE:
		cfg->firmware_path = arg;
		return 0;
	case OPT_BALLOON:
		if (cfg->balloon.enabled)
			return error_set(e, "--balloon: given twice (a VM has one balloon)");
		return balloon_options_parse(arg, &cfg->balloon, e);
	case OPT_VSOCK:
		if (cfg->vsock.enabled)
			return error_set(e, "--vsock: given twice (a VM has one vsock device)");
		return vsock_options_parse(arg, &cfg->vsock, e) < 0 ? error_prefix(e, "--vsock") : 0;
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg, struct error *e)
{
	vm_config_defaults(cfg);
	optind = 0; /* full reset: the parser may run more than once in one process (tests) */
	opterr = 0;
	bool cpus_given = false, cmdline_given = false;
	const char *vm_flag = NULL; /* a flag that describes the VM (not with --config-file) */
	for (;;) {
		/* Leading ':' makes a missing value return ':' instead of '?'. */
		int longindex = -1;
		int opt = getopt_long(argc, argv, "+:h", run_options, &longindex);
		if (opt == -1)
			break;
		if (opt == 'h') {
			cli_print_run_help(stdout);
			return CLI_HELP_SHOWN;
		}
		if (getopt_error(opt, argv, e) < 0 || apply_option(opt, optarg, cfg, e) < 0)
			return CLI_USAGE_ERROR;
		cpus_given |= opt == OPT_CPUS;
		cmdline_given |= opt == OPT_CMDLINE;
		if (longindex >= 0 && ((opt >= OPT_KERNEL && opt <= OPT_RNG) ||
				       (opt >= OPT_SEV && opt <= OPT_FIRMWARE) || opt == OPT_BALLOON ||
				       (opt >= OPT_SEV_FIRST && opt < OPT_SEV_END) ||
				       opt == OPT_VSOCK))
			vm_flag = run_options[longindex].name;
	}
	if (optind < argc) {
		error_set(e, "unexpected argument '%s'", argv[optind]);
		return CLI_USAGE_ERROR;
	}
	if (cfg->config_file && vm_flag) {
		error_set(e, "--config-file cannot be combined with '--%s': the file describes the VM",
			  vm_flag);
		return CLI_USAGE_ERROR;
	}
	if (check_libvirt(cfg, vm_flag, e) < 0)
		return CLI_USAGE_ERROR;
	if (check_sev(cfg, e) < 0)
		return CLI_USAGE_ERROR;
	if (!cfg->kernel_path && !cfg->config_file && !cfg->libvirt_xml && !cfg->firmware_path) {
		error_set(e, "--kernel is required (see 'ember run --help')");
		return CLI_USAGE_ERROR;
	}
	/* With --libvirt-xml the vCPU count comes from the XML: vmm/libvirt checks the tuning. */
	if (!cfg->libvirt_xml && cli_tuning_finish(cfg, cpus_given, e) < 0)
		return CLI_USAGE_ERROR;
	if (cfg->console == VM_CONSOLE_VIRTIO && !cmdline_given)
		cfg->cmdline = VM_CONFIG_VIRTIO_CONSOLE_CMDLINE;
	return CLI_PARSED;
}
