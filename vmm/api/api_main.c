#include "api_main.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../getopt_error.h"
#include "../vm.h"
#include "api_control.h"
#include "fc_config_file.h"
#include "logger.h"

#define EXIT_RUNTIME_ERROR 1
#define EXIT_USAGE_ERROR   2
#define MAX_INSTANCE_ID    64

enum {
	OPT_API_SOCK = 256, OPT_CONFIG_FILE, OPT_NO_API, OPT_ID, OPT_METRICS_PERIOD,
	OPT_MAX_PAYLOAD,
};

static const struct option toplevel_options[] = {
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "id", required_argument, NULL, OPT_ID },
	{ "metrics-period-ms", required_argument, NULL, OPT_METRICS_PERIOD },
	{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

bool api_is_toplevel_option(const char *arg)
{
	if (strncmp(arg, "--", 2) != 0)
		return false;
	size_t len = strcspn(arg + 2, "=");
	for (const struct option *o = toplevel_options; o->name; o++)
		if (o->val != 'h' && strlen(o->name) == len && strncmp(arg + 2, o->name, len) == 0)
			return true;
	return false;
}

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: ember --api-sock PATH [--config-file FILE] [options]\n"
		"       ember --config-file FILE --no-api [options]\n"
		"\n"
		"Runs one microVM driven by Firecracker's REST API on a Unix socket (see docs/api.md),\n"
		"or by a Firecracker JSON configuration file. With --config-file the VM boots at once;\n"
		"otherwise it boots on PUT /actions {\"action_type\": \"InstanceStart\"}. Ember exits\n"
		"with the VM's exit status when it stops.\n"
		"\n"
		"Options:\n"
		"  --api-sock PATH                    serve the API on this Unix socket (must not exist)\n"
		"  --config-file FILE                 boot the VM described in FILE\n"
		"  --no-api                           no API socket (needs --config-file)\n"
		"  --id ID                            instance id for GET / and logs (1-64 of A-Z a-z 0-9 -)\n"
		"  --metrics-period-ms MS             periodic metrics interval (default 60000)\n"
		"  --http-api-max-payload-size BYTES  largest request body (default 51200)\n"
		"  -h, --help                         show this help\n");
}

static int parse_number(const char *opt, const char *text, unsigned long min, unsigned long max,
			unsigned long *out, struct error *e)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-')
		return error_set(e, "%s: '%s' is not a number", opt, text);
	if (n < min || n > max)
		return error_set(e, "%s: %lu is out of range (%lu-%lu)", opt, n, min, max);
	*out = n;
	return 0;
}

static int check_instance_id(const char *id, struct error *e)
{
	size_t len = strlen(id);
	if (len == 0 || len > MAX_INSTANCE_ID || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"abcdefghijklmnopqrstuvwxyz0123456789-") != len)
		return error_set(e, "--id: '%s' must be 1-%d characters of A-Z, a-z, 0-9 and -", id,
				 MAX_INSTANCE_ID);
	return 0;
}

struct toplevel_args {
	struct api_options opt;
	const char *config_file;
	bool no_api;
};

static int apply_toplevel(int opt, const char *arg, struct toplevel_args *a, struct error *e)
{
	unsigned long n;
	switch (opt) {
	case OPT_API_SOCK:
		a->opt.socket_path = arg;
		return 0;
	case OPT_CONFIG_FILE:
		a->config_file = arg;
		return 0;
	case OPT_NO_API:
		a->no_api = true;
		return 0;
	case OPT_ID:
		a->opt.instance_id = arg;
		return check_instance_id(arg, e);
	case OPT_METRICS_PERIOD:
		if (parse_number("--metrics-period-ms", arg, 10, 86400000, &n, e) < 0)
			return -1;
		a->opt.metrics_period_ms = (unsigned)n;
		return 0;
	case OPT_MAX_PAYLOAD:
		if (parse_number("--http-api-max-payload-size", arg, 1024, 16 << 20, &n, e) < 0)
			return -1;
		a->opt.max_body = n;
		return 0;
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

/* 1: parsed, 0: help shown, -1: usage error (e set). */
static int parse_toplevel(int argc, char **argv, struct toplevel_args *a, struct error *e)
{
	memset(a, 0, sizeof(*a));
	optind = 0;
	opterr = 0;
	for (;;) {
		int opt = getopt_long(argc, argv, "+:h", toplevel_options, NULL);
		if (opt == -1)
			break;
		if (opt == 'h') {
			print_help(stdout);
			return 0;
		}
		if (getopt_error(opt, argv, e) < 0 || apply_toplevel(opt, optarg, a, e) < 0)
			return -1;
	}
	if (optind < argc)
		return error_set(e, "unexpected argument '%s'", argv[optind]);
	if (a->no_api && a->opt.socket_path)
		return error_set(e, "--no-api and --api-sock cannot be combined");
	if (a->no_api && !a->config_file)
		return error_set(e, "--no-api needs --config-file (nothing else could start the VM)");
	if (!a->no_api && !a->opt.socket_path)
		return error_set(e, "--api-sock PATH is required (or --config-file FILE --no-api)");
	return 1;
}

/* Creates the VM, hands it to the control thread and runs it. Returns the exit status, or -1
 * when the VM could not be created (e set, nothing left to clean up). */
static int create_and_run(struct api_control *ctl, struct vm *vm, const struct vm_config *cfg,
			  uint64_t start_ns, struct error *e)
{
	if (vm_create(vm, cfg, start_ns, e) < 0) {
		vm_destroy(vm);
		api_control_boot_done(ctl, NULL, e);
		return -1;
	}
	api_control_boot_done(ctl, vm, NULL);
	int status = vm_run(vm, e);
	if (status < 0) {
		fprintf(stderr, "ember: %s\n", e->msg);
		status = EXIT_RUNTIME_ERROR;
	}
	log_info("api", "microVM stopped with exit status %d", status);
	api_control_stop(ctl); /* before the VM goes: handlers and metrics may still use it */
	vm_destroy(vm);
	return status;
}

/* Serves the API until InstanceStart creates a VM, then runs it. A failed start is answered to
 * the client and the API keeps serving. */
static int serve_then_run(struct api_control *ctl, struct vm *vm, uint64_t start_ns)
{
	struct vm_config cfg;
	struct error e;
	while (api_control_wait_boot(ctl, &cfg) == 1) {
		int status = create_and_run(ctl, vm, &cfg, start_ns, &e);
		if (status >= 0)
			return status;
		log_error("api", "InstanceStart failed: %s", e.msg);
	}
	api_control_stop(ctl);
	return 0;
}

static int fail(struct api_control *ctl, const struct error *e)
{
	fprintf(stderr, "ember: %s\n", e->msg);
	api_control_stop(ctl);
	return EXIT_RUNTIME_ERROR;
}

/* config_file or cli_cfg (or neither: wait for InstanceStart). */
static int run(const struct api_options *opt, const char *config_file,
	       const struct vm_config *cli_cfg, uint64_t start_ns)
{
	static struct api_control ctl; /* both large; they live for the whole process */
	static struct vm vm;
	struct error e;
	if (api_control_init(&ctl, opt, start_ns, &e) < 0)
		return fail(&ctl, &e);
	struct vm_config cfg;
	if (config_file) {
		if (fc_config_file_load(config_file, &ctl.res, &ctl.metrics, ctl.opt.instance_id,
					&e) < 0 ||
		    fc_resources_vm_config(&ctl.res, &cfg, &e) < 0)
			return fail(&ctl, &e);
	} else if (cli_cfg) {
		cfg = *cli_cfg;
		if (fc_resources_from_vm_config(&ctl.res, cli_cfg, &e) < 0)
			return fail(&ctl, &e);
	}
	if (api_control_start_thread(&ctl, &e) < 0)
		return fail(&ctl, &e);
	if (!config_file && !cli_cfg)
		return serve_then_run(&ctl, &vm, start_ns);
	int status = create_and_run(&ctl, &vm, &cfg, start_ns, &e);
	if (status < 0)
		return fail(&ctl, &e);
	return status;
}

int api_main(int argc, char **argv, uint64_t start_ns)
{
	struct toplevel_args a;
	struct error e = { "" };
	/* getopt wants the program name first; argv[0] is "ember". */
	int rc = parse_toplevel(argc, argv, &a, &e);
	if (rc <= 0) {
		if (rc < 0)
			fprintf(stderr, "ember: %s\n", e.msg);
		return rc < 0 ? EXIT_USAGE_ERROR : 0;
	}
	return run(&a.opt, a.config_file, NULL, start_ns);
}

int api_run_from_cli(const struct vm_config *cfg, uint64_t start_ns)
{
	struct api_options opt = { .socket_path = cfg->api_sock_path };
	return run(&opt, cfg->config_file, cfg->config_file ? NULL : cfg, start_ns);
}
