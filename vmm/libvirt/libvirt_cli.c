#include "libvirt_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/api_main.h"
#include "../cli_tuning.h"
#include "../getopt_error.h"
#include "../vm_runner.h"
#include "libvirt_connect.h"
#include "libvirt_domain.h"

static int run_vm(const struct vm_config *cfg, uint64_t start_ns)
{
	if (cfg->api_sock_path)
		return api_run_from_cli(cfg, start_ns);
	return vm_run_config(cfg, start_ns);
}

/* Everything Ember cannot honour in one message, or (lenient) one warning per item. Returns 0
 * when the VM may run. */
static int report_issues(const struct libvirt_domain *d, bool lenient)
{
	const struct libvirt_issues *l = &d->issues;
	if (l->n == 0)
		return 0;
	if (lenient && l->nfatal == 0) {
		libvirt_issues_warn(l, d->name, stderr);
		return 0;
	}
	char *list = libvirt_issues_join(l, lenient);
	fprintf(stderr, "ember: libvirt domain '%s': %s%s\n", d->name, list ? list : "out of memory",
		l->nfatal ? "" : " (--libvirt-lenient ignores them)");
	free(list);
	return -1;
}

/* Parses, checks and runs one domain's XML. `source` names it in messages. */
static int run_domain_xml(const char *xml, size_t len, const char *source,
			  const struct vm_config *cli, uint64_t start_ns)
{
	static struct libvirt_domain d; /* the VM's strings point into it */
	struct libvirt_parse_options opt = { .vsock_uds = cli->libvirt_vsock_uds };
	struct error e = { "" };
	int status = EXIT_RUNTIME_ERROR;
	if (libvirt_domain_parse(&d, xml, len, &opt, &e) < 0)
		fprintf(stderr, "ember: libvirt domain %s: %s\n", source, e.msg);
	else if (report_issues(&d, cli->libvirt_lenient) == 0) {
		if (libvirt_domain_apply_cli(&d, cli, &e) < 0)
			fprintf(stderr, "ember: libvirt domain '%s': %s\n", d.name, e.msg);
		else
			status = run_vm(&d.cfg, start_ns);
	}
	libvirt_domain_free(&d);
	return status;
}

/* The whole file, NUL-terminated, refusing anything larger than a domain could be. */
static char *read_file(const char *path, size_t *len, struct error *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		error_errno(e, "cannot open '%s'", path);
		return NULL;
	}
	char *buf = malloc(LIBVIRT_XML_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, LIBVIRT_XML_MAX_BYTES + 1, f) : 0;
	if (!buf)
		error_set(e, "out of memory");
	else if (ferror(f))
		error_errno(e, "cannot read '%s'", path);
	else if (n > LIBVIRT_XML_MAX_BYTES)
		error_set(e, "'%s' is larger than %u bytes: not a domain", path,
			  LIBVIRT_XML_MAX_BYTES);
	else {
		fclose(f);
		buf[n] = '\0';
		*len = n;
		return buf;
	}
	fclose(f);
	free(buf);
	return NULL;
}

int libvirt_run_from_cli(const struct vm_config *cfg, uint64_t start_ns)
{
	struct error e = { "" };
	size_t len;
	char *xml = read_file(cfg->libvirt_xml, &len, &e);
	if (!xml) {
		fprintf(stderr, "ember: --libvirt-xml: %s\n", e.msg);
		return EXIT_RUNTIME_ERROR;
	}
	char source[64];
	snprintf(source, sizeof(source), "'%.50s'", cfg->libvirt_xml);
	int status = run_domain_xml(xml, len, source, cfg, start_ns);
	free(xml);
	return status;
}

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: ember libvirt run --domain NAME [--connect URI] [options]\n"
		"       ember libvirt run --define FILE [--domain NAME] [--connect URI] [options]\n"
		"\n"
		"Runs a domain defined in libvirt under Ember: its persistent definition is read\n"
		"through libvirt (virsh dumpxml --inactive) and mapped to Ember's devices and\n"
		"tuning (docs/libvirt.md). Whatever Ember cannot honour is listed in one message.\n"
		"A file instead of a connection: ember run --libvirt-xml FILE.\n"
		"\n"
		"Options:\n"
		"  --connect URI     libvirt connection (default: libvirt's default URI), e.g.\n"
		"                    qemu:///system or test:///path/to/node.xml\n"
		"  --domain NAME     the domain's name or UUID (required without --define); it\n"
		"                    must not be running\n"
		"  --define FILE     first define the domain in FILE on the connection (as virsh\n"
		"                    define; read-write); it stays defined after ember exits\n"
		"  --libvirt-lenient warn about what Ember cannot honour and run without it\n"
		"  --vsock-uds PATH  host Unix socket of the domain's <vsock> (else <ember:vsock\n"
		"                    uds=...> in its <metadata>)\n"
		"  --api-sock PATH   serve the Firecracker-style API on this Unix socket\n"
		"%s"
		"  -h, --help        show this help\n",
		cli_tuning_help);
}

enum { OPT_CONNECT = 256, OPT_DOMAIN, OPT_DEFINE, OPT_LENIENT, OPT_VSOCK_UDS, OPT_API_SOCK };

static const struct option run_options[] = {
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "define", required_argument, NULL, OPT_DEFINE },
	{ "libvirt-lenient", no_argument, NULL, OPT_LENIENT },
	{ "vsock-uds", required_argument, NULL, OPT_VSOCK_UDS },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	CLI_TUNING_OPTIONS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct run_args {
	const char *uri, *domain, *define_file;
	struct vm_config cli; /* tuning, --api-sock, --libvirt-lenient, --vsock-uds */
};

static int apply_option(int opt, const char *arg, struct run_args *a, struct error *e)
{
	if (opt >= OPT_TUNING_FIRST && opt < OPT_TUNING_END)
		return cli_tuning_apply(opt, arg, &a->cli, e);
	switch (opt) {
	case OPT_CONNECT:
		a->uri = arg;
		return 0;
	case OPT_DOMAIN:
		a->domain = arg;
		return 0;
	case OPT_DEFINE:
		a->define_file = arg;
		return 0;
	case OPT_LENIENT:
		a->cli.libvirt_lenient = true;
		return 0;
	case OPT_VSOCK_UDS:
		a->cli.libvirt_vsock_uds = arg;
		return 0;
	case OPT_API_SOCK:
		a->cli.api_sock_path = arg;
		return 0;
	}
	return error_set(e, "internal: unhandled option %d", opt);
}

/* 1: run, 0: help shown, -1: usage error in e. argv[0] is "run". */
static int parse_run(int argc, char **argv, struct run_args *a, struct error *e)
{
	memset(a, 0, sizeof(*a));
	vm_config_defaults(&a->cli);
	optind = 0;
	opterr = 0;
	for (;;) {
		int opt = getopt_long(argc, argv, "+:h", run_options, NULL);
		if (opt == -1)
			break;
		if (opt == 'h') {
			print_help(stdout);
			return 0;
		}
		if (getopt_error(opt, argv, e) < 0 || apply_option(opt, optarg, a, e) < 0)
			return -1;
	}
	if (optind < argc)
		return error_set(e, "unexpected argument '%s'", argv[optind]);
	if (!a->domain && !a->define_file)
		return error_set(e, "--domain or --define is required (see 'ember libvirt --help')");
	return 1;
}

/* The domain's XML through libvirt, after defining --define's file when given. */
static char *fetch_xml(const struct run_args *a, struct error *e)
{
	if (!a->define_file)
		return libvirt_fetch_domain_xml(a->uri, a->domain, NULL, NULL, e);
	size_t len;
	char *define_xml = read_file(a->define_file, &len, e);
	if (!define_xml) {
		error_prefix(e, "--define");
		return NULL;
	}
	char source[80];
	snprintf(source, sizeof(source), "'%.60s'", a->define_file);
	char *xml = libvirt_fetch_domain_xml(a->uri, a->domain, define_xml, source, e);
	free(define_xml);
	return xml;
}

static int cmd_run(int argc, char **argv, uint64_t start_ns)
{
	struct run_args a;
	struct error e = { "" };
	int rc = parse_run(argc, argv, &a, &e);
	if (rc <= 0) {
		if (rc < 0)
			fprintf(stderr, "ember libvirt run: %s\n", e.msg);
		return rc < 0 ? EXIT_USAGE_ERROR : 0;
	}
	char *xml = fetch_xml(&a, &e);
	if (!xml) {
		fprintf(stderr, "ember: libvirt: %s\n", e.msg);
		return EXIT_RUNTIME_ERROR;
	}
	char source[80];
	snprintf(source, sizeof(source), "'%.60s'", a.domain ? a.domain : a.define_file);
	int status = run_domain_xml(xml, strlen(xml), source, &a.cli, start_ns);
	free(xml);
	return status;
}

int libvirt_main(int argc, char **argv, uint64_t start_ns)
{
	if (argc < 2) {
		print_help(stderr);
		return EXIT_USAGE_ERROR;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1, start_ns);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		print_help(stdout);
		return 0;
	}
	fprintf(stderr, "ember libvirt: unknown command '%s' (see 'ember libvirt --help')\n",
		argv[1]);
	return EXIT_USAGE_ERROR;
}
