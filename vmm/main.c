/* ember: one binary, several subcommands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../arch/x86/amd/caps.h"
#include "../arch/x86/amd/sev/sev_cli.h"
#include "../benches/bench.h"
#include "api/api_main.h"
#include "cli.h"
#include "error.h"
#include "libvirt/libvirt_cli.h"
#include "vm_runner.h"

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember COMMAND [options]\n"
		"       ember --api-sock PATH [--config-file FILE]   (Firecracker-style API, see docs/api.md)\n"
		"       ember --config-file FILE --no-api\n"
		"\n"
		"Ember is a KVM virtual machine monitor for AMD EPYC hosts.\n"
		"\n"
		"Commands:\n"
		"  run       boot a guest (see 'ember run --help')\n"
		"  caps      show what this host offers a VMM ('ember caps --json' for JSON)\n"
		"  sev       SEV/SEV-ES/SEV-SNP launch digests and attestation reports\n"
		"  bench     benchmarks ('ember bench density')\n"
		"  libvirt   run a domain defined in libvirt ('ember libvirt --help')\n"
		"  version   print the version\n"
		"  help      show this help\n");
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmd_run(int argc, char **argv, uint64_t start_ns)
{
	struct vm_config cfg;
	struct error e = { "" };
	switch (cli_parse_run(argc, argv, &cfg, &e)) {
	case CLI_HELP_SHOWN:
		return 0;
	case CLI_USAGE_ERROR:
		fprintf(stderr, "ember run: %s\n", e.msg);
		return EXIT_USAGE_ERROR;
	case CLI_PARSED:
		break;
	}
	if (cfg.libvirt_xml)
		return libvirt_run_from_cli(&cfg, start_ns);
	if (cfg.api_sock_path || cfg.config_file)
		return api_run_from_cli(&cfg, start_ns);
	return vm_run_config(&cfg, start_ns);
}

int main(int argc, char **argv)
{
	uint64_t start_ns = monotonic_ns();
	/* A closed stdout must not kill the VM: the serial port drops output instead. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE_ERROR;
	}
	const char *cmd = argv[1];
	if (api_is_toplevel_option(cmd))
		return api_main(argc, argv, start_ns);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1, start_ns);
	if (strcmp(cmd, "caps") == 0)
		return caps_main(argc - 1, argv + 1);
	if (strcmp(cmd, "sev") == 0)
		return sev_main(argc - 1, argv + 1);
	if (strcmp(cmd, "bench") == 0)
		return bench_main(argc - 1, argv + 1);
	if (strcmp(cmd, "libvirt") == 0)
		return libvirt_main(argc - 1, argv + 1, start_ns);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("ember %s\n", EMBER_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		print_usage(stdout);
		return 0;
	}
	fprintf(stderr, "ember: unknown command '%s' (see 'ember --help')\n", cmd);
	return EXIT_USAGE_ERROR;
}
