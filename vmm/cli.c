#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"

void vm_config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = VM_CONFIG_DEFAULT_CMDLINE;
	cfg->ncpus = 1;
	cfg->mem_size = VM_CONFIG_DEFAULT_MEMORY;
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
		"  -h, --help        show this help\n"
		"\n"
		"Exit status: 0 when the guest powers off or reboots, 1 on a VM failure (triple fault,\n"
		"KVM error), 2 on a usage error; a test guest may choose its own status (port 0x501).\n",
		VM_CONFIG_DEFAULT_CMDLINE, VM_CONFIG_MAX_CPUS);
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

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY };

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int apply_option(int opt, const char *arg, struct vm_config *cfg, struct error *e)
{
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
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg, struct error *e)
{
	vm_config_defaults(cfg);
	optind = 0; /* full reset: the parser may run more than once in one process (tests) */
	opterr = 0;
	for (;;) {
		/* Leading ':' makes a missing value return ':' instead of '?'. */
		int opt = getopt_long(argc, argv, "+:h", run_options, NULL);
		if (opt == -1)
			break;
		if (opt == 'h') {
			cli_print_run_help(stdout);
			return CLI_HELP_SHOWN;
		}
		if (opt == ':') {
			error_set(e, "option '%s' needs a value", argv[optind - 1]);
			return CLI_USAGE_ERROR;
		}
		if (opt == '?') {
			if (optopt > 0 && optopt < 256)
				error_set(e, "unknown option '-%c'", optopt);
			else
				error_set(e, "unknown option '%s'", argv[optind - 1]);
			return CLI_USAGE_ERROR;
		}
		if (apply_option(opt, optarg, cfg, e) < 0)
			return CLI_USAGE_ERROR;
	}
	if (optind < argc) {
		error_set(e, "unexpected argument '%s'", argv[optind]);
		return CLI_USAGE_ERROR;
	}
	if (!cfg->kernel_path) {
		error_set(e, "--kernel is required (see 'ember run --help')");
		return CLI_USAGE_ERROR;
	}
	return CLI_PARSED;
}
