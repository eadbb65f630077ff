/* Command line of `ember bench density`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../vmm/getopt_error.h"
#include "../../vmm/size.h"
#include "density.h"

#define DEFAULT_COUNT         100
#define DEFAULT_CONCURRENCY   8
#define DEFAULT_SINGLE        20
#define DEFAULT_IDLE_SECONDS  10.0
#define DEFAULT_SETTLE        2.0
#define DEFAULT_MEM_POINTS    4
#define DEFAULT_GUEST_MEM     (32ULL << 20)
#define DEFAULT_MIN_AVAILABLE (2ULL << 20)   /* KiB: 2 GiB */
#define MAX_COUNT             100000
#define DEFAULT_BOOT_TIMEOUT  30.0   /* the Linux guest gets ten times this */

static const char *const vmm_names[DENSITY_NVMMS] = { "ember", "qemu", "kvmtool" };

void density_print_help(void)
{
	printf("Usage: ember bench density [options]\n"
	       "\n"
	       "Starts N idle VMs of each VMM, C at a time, and measures time to ready, launch\n"
	       "rate, host memory per VM, host CPU of the idle VMs and teardown time. Writes\n"
	       "results.json, results.csv, summary.md, ttr.png and mem.png (see docs/density.md).\n"
	       "\n"
	       "Options:\n"
	       "  --count N | VMM=N    VMs to start per VMM (default %d); VMM=N sets one VMM only,\n"
	       "                       e.g. --count 2000 --count qemu=500\n"
	       "  --concurrency C      VMs booting at the same time (default %d)\n"
	       "  --vmm LIST           ember,qemu,kvmtool (default all; a missing one is reported)\n"
	       "  --guest small|linux  small: the benchmark's idle test guest (default);\n"
	       "                       linux: the default Linux guest (.cache/guest)\n"
	       "  --memory SIZE        guest RAM (default 32M)\n"
	       "  --single N           sequential launches for the single-launch time to ready\n"
	       "                       (default %d; 0 skips)\n"
	       "  --idle-seconds S     CPU measurement window with all VMs idle (default %.0f)\n"
	       "  --mem-points K       memory samples on the way to N (default %d, max %d)\n"
	       "  --min-available SIZE stop launching when MemAvailable falls below (default 2G)\n"
	       "  --settle S           pause before each memory baseline (default %.0f)\n"
	       "  --boot-timeout S     a VM not ready after S seconds has failed (default %.0f;\n"
	       "                       %.0f with --guest linux)\n"
	       "  --max-failures K     keep launching past up to K failed VMs (default 0: stop at the\n"
	       "                       first); failures are reported either way\n"
	       "  --hold S             keep the VMs up S seconds after measuring, for cross-checks\n"
	       "                       (pids in OUT/pids-VMM.txt while OUT/holding-VMM exists)\n"
	       "  --out DIR            output directory (default build/density-<timestamp>)\n"
	       "  --ember PATH         Ember binary to measure (default: this one)\n"
	       "  --qemu PATH          QEMU binary (default qemu-system-x86_64 from PATH)\n"
	       "  --lkvm PATH          kvmtool binary (default lkvm from PATH)\n"
	       "  --kernel PATH        boot this kernel instead of the chosen guest's\n"
	       "  --initrd PATH        with --kernel: its initrd\n"
	       "  --progress, --no-progress  live progress line (default: when stderr is a tty)\n"
	       "  -h, --help           show this help\n",
	       DEFAULT_COUNT, DEFAULT_CONCURRENCY, DEFAULT_SINGLE, DEFAULT_IDLE_SECONDS,
	       DEFAULT_MEM_POINTS, DENSITY_MAX_MEM_POINTS, DEFAULT_SETTLE, DEFAULT_BOOT_TIMEOUT,
	       DEFAULT_BOOT_TIMEOUT * 10);
}

static int parse_uint(const char *opt, const char *text, unsigned min, unsigned max, unsigned *v,
		      struct error *e)
{
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (errno || end == text || *end != '\0')
		return error_set(e, "%s: '%s' is not a number", opt, text);
	if (n < (long)min || n > (long)max)
		return error_set(e, "%s: %ld is out of range (%u-%u)", opt, n, min, max);
	*v = (unsigned)n;
	return 0;
}

static int parse_seconds(const char *opt, const char *text, double max, double *v, struct error *e)
{
	char *end;
	errno = 0;
	double d = strtod(text, &end);
	if (errno || end == text || *end != '\0' || d != d)
		return error_set(e, "%s: '%s' is not a number of seconds", opt, text);
	if (d < 0 || d > max)
		return error_set(e, "%s: %s is out of range (0-%.0f)", opt, text, max);
	*v = d;
	return 0;
}

static int vmm_by_name(const char *name, size_t len)
{
	for (int v = 0; v < DENSITY_NVMMS; v++)
		if (strlen(vmm_names[v]) == len && strncmp(name, vmm_names[v], len) == 0)
			return v;
	if (len == 4 && strncmp(name, "lkvm", 4) == 0)
		return DENSITY_KVMTOOL;
	return -1;
}

static int parse_vmm_list(const char *text, struct density_options *o, struct error *e)
{
	for (int v = 0; v < DENSITY_NVMMS; v++)
		o->want[v] = false;
	const char *p = text;
	bool any = false;
	while (*p) {
		size_t len = strcspn(p, ",");
		int v = vmm_by_name(p, len);
		if (v < 0)
			return error_set(e, "--vmm: unknown VMM '%.*s' (ember, qemu, kvmtool)", (int)len, p);
		o->want[v] = any = true;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!any)
		return error_set(e, "--vmm: no VMM named");
	return 0;
}

static int parse_count(const char *text, struct density_options *o, struct error *e)
{
	const char *eq = strchr(text, '=');
	unsigned n;
	if (!eq) {
		if (parse_uint("--count", text, 1, MAX_COUNT, &n, e) < 0)
			return -1;
		for (int v = 0; v < DENSITY_NVMMS; v++)
			o->count[v] = n;
		return 0;
	}
	int v = vmm_by_name(text, (size_t)(eq - text));
	if (v < 0)
		return error_set(e, "--count: unknown VMM '%.*s'", (int)(eq - text), text);
	if (parse_uint("--count", eq + 1, 1, MAX_COUNT, &n, e) < 0)
		return -1;
	o->count[v] = n;
	return 0;
}

static int parse_size_kib(const char *opt, const char *text, uint64_t *kib, struct error *e)
{
	uint64_t bytes;
	if (size_parse(text, &bytes, e) < 0)
		return error_prefix(e, "%s", opt);
	*kib = bytes >> 10;
	return 0;
}

static int parse_guest_mem(const char *text, uint64_t *bytes, struct error *e)
{
	if (size_parse(text, bytes, e) < 0)
		return error_prefix(e, "--memory");
	if (*bytes < (2ULL << 20) || *bytes > (64ULL << 30) || (*bytes & ((1ULL << 20) - 1)))
		return error_set(e, "--memory: %s must be whole MiB between 2M and 64G", text);
	return 0;
}

enum {
	OPT_COUNT = 256, OPT_CONCURRENCY, OPT_VMM, OPT_GUEST, OPT_MEMORY, OPT_SINGLE, OPT_IDLE,
	OPT_MEM_POINTS, OPT_MIN_AVAILABLE, OPT_SETTLE, OPT_HOLD, OPT_OUT, OPT_EMBER, OPT_QEMU,
	OPT_LKVM, OPT_KERNEL, OPT_INITRD, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_BOOT_TIMEOUT,
	OPT_MAX_FAILURES,
};

static const struct option density_long_options[] = {
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "vmm", required_argument, NULL, OPT_VMM },
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "single", required_argument, NULL, OPT_SINGLE },
	{ "idle-seconds", required_argument, NULL, OPT_IDLE },
	{ "mem-points", required_argument, NULL, OPT_MEM_POINTS },
	{ "min-available", required_argument, NULL, OPT_MIN_AVAILABLE },
	{ "settle", required_argument, NULL, OPT_SETTLE },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "max-failures", required_argument, NULL, OPT_MAX_FAILURES },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "ember", required_argument, NULL, OPT_EMBER },
	{ "qemu", required_argument, NULL, OPT_QEMU },
	{ "lkvm", required_argument, NULL, OPT_LKVM },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int apply_option(int opt, const char *arg, struct density_options *o, struct error *e)
{
	switch (opt) {
	case OPT_COUNT:
		return parse_count(arg, o, e);
	case OPT_CONCURRENCY:
		return parse_uint("--concurrency", arg, 1, 4096, &o->concurrency, e);
	case OPT_VMM:
		return parse_vmm_list(arg, o, e);
	case OPT_GUEST:
		if (strcmp(arg, "small") == 0)
			o->guest = DENSITY_GUEST_SMALL;
		else if (strcmp(arg, "linux") == 0)
			o->guest = DENSITY_GUEST_LINUX;
		else
			return error_set(e, "--guest: '%s' is neither 'small' nor 'linux'", arg);
		return 0;
	case OPT_MEMORY:
		return parse_guest_mem(arg, &o->guest_mem, e);
	case OPT_SINGLE:
		return parse_uint("--single", arg, 0, 10000, &o->single_launches, e);
	case OPT_IDLE:
		return parse_seconds("--idle-seconds", arg, 3600, &o->idle_seconds, e);
	case OPT_MEM_POINTS:
		return parse_uint("--mem-points", arg, 1, DENSITY_MAX_MEM_POINTS, &o->mem_points, e);
	case OPT_MIN_AVAILABLE:
		return parse_size_kib("--min-available", arg, &o->min_available_kib, e);
	case OPT_SETTLE:
		return parse_seconds("--settle", arg, 600, &o->settle_seconds, e);
	case OPT_HOLD:
		return parse_seconds("--hold", arg, 86400, &o->hold_seconds, e);
	case OPT_MAX_FAILURES:
		return parse_uint("--max-failures", arg, 0, MAX_COUNT, &o->max_failures, e);
	case OPT_BOOT_TIMEOUT:
		return parse_seconds("--boot-timeout", arg, 86400, &o->boot_timeout, e);
	case OPT_OUT:
		o->out_dir = arg;
		return 0;
	case OPT_EMBER:
	case OPT_QEMU:
	case OPT_LKVM:
		o->vmm_path[opt - OPT_EMBER] = arg;
		return 0;
	case OPT_KERNEL:
		o->kernel = arg;
		return 0;
	case OPT_INITRD:
		o->initrd = arg;
		return 0;
	case OPT_PROGRESS:
	case OPT_NO_PROGRESS:
		o->progress = opt == OPT_PROGRESS;
		return 0;
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

static void set_defaults(struct density_options *o)
{
	memset(o, 0, sizeof(*o));
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		o->want[v] = true;
		o->count[v] = DEFAULT_COUNT;
	}
	o->concurrency = DEFAULT_CONCURRENCY;
	o->single_launches = DEFAULT_SINGLE;
	o->guest = DENSITY_GUEST_SMALL;
	o->guest_mem = DEFAULT_GUEST_MEM;
	o->idle_seconds = DEFAULT_IDLE_SECONDS;
	o->settle_seconds = DEFAULT_SETTLE;
	o->mem_points = DEFAULT_MEM_POINTS;
	o->min_available_kib = DEFAULT_MIN_AVAILABLE;
	o->progress = -1;
	o->boot_timeout = -1;
}

/* Returns 1 when --help was shown, 0 when o is ready, -1 on a usage error. */
int density_parse_options(int argc, char **argv, struct density_options *o, struct error *e)
{
	set_defaults(o);
	optind = 0;
	opterr = 0;
	for (;;) {
		int opt = getopt_long(argc, argv, "+:h", density_long_options, NULL);
		if (opt == -1)
			break;
		if (opt == 'h') {
			density_print_help();
			return 1;
		}
		if (getopt_error(opt, argv, e) < 0 || apply_option(opt, optarg, o, e) < 0)
			return -1;
	}
	if (optind < argc)
		return error_set(e, "unexpected argument '%s'", argv[optind]);
	if (o->initrd && !o->kernel)
		return error_set(e, "--initrd needs --kernel");
	if (o->progress < 0)
		o->progress = isatty(STDERR_FILENO);
	if (o->boot_timeout < 0)
		o->boot_timeout = DEFAULT_BOOT_TIMEOUT * (o->guest == DENSITY_GUEST_LINUX ? 10 : 1);
	return 0;
}

const char *density_vmm_name(enum density_vmm v)
{
	return vmm_names[v];
}
