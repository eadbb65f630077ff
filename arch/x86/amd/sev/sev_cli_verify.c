/* `ember sev verify-report`: print an SNP attestation report and verify it. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sev_cli_internal.h"
#include "sev_report.h"
#include "sev_verify.h"

struct verify_opts {
	const char *report, *vcek, *ask, *ark;
	bool quiet;
};

static void print_verify_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember sev verify-report REPORT --vcek VCEK [--ask ASK --ark ARK]\n"
		"                               [--quiet]\n"
		"\n"
		"REPORT is a 1184-byte SEV-SNP attestation report, raw or as hex text. Prints\n"
		"its fields, then verifies its ECDSA P-384 signature with the VCEK certificate\n"
		"(DER or PEM) and that the VCEK was issued for the report's TCB and chip. With\n"
		"--ask and --ark also verifies AMD's chain: ARK self-signed, ARK -> ASK,\n"
		"ASK -> VCEK.\n"
		"Exit status: 0 verified, 1 verification failed, 2 usage error.\n");
}

enum { OPT_VCEK = 256, OPT_ASK, OPT_ARK, OPT_QUIET, OPT_HELP };

static const struct option verify_options[] = {
	{ "vcek", required_argument, NULL, OPT_VCEK },
	{ "ask", required_argument, NULL, OPT_ASK },
	{ "ark", required_argument, NULL, OPT_ARK },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Returns 0 parsed, 1 help shown, -1 usage error. */
static int parse_verify_args(int argc, char **argv, struct verify_opts *o, struct error *e)
{
	*o = (struct verify_opts){ 0 };
	optind = 0;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", verify_options, NULL)) != -1) {
		switch (opt) {
		case OPT_VCEK: o->vcek = optarg; break;
		case OPT_ASK: o->ask = optarg; break;
		case OPT_ARK: o->ark = optarg; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_HELP:
			print_verify_usage(stdout);
			return 1;
		default:
			if (optopt)
				return error_set(e, "option '%s' needs a value", argv[optind - 1]);
			return error_set(e, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return error_set(e, "a REPORT file is required");
	if (optind + 1 < argc)
		return error_set(e, "unexpected argument '%s'", argv[optind + 1]);
	o->report = argv[optind];
	if (!o->vcek)
		return error_set(e, "--vcek is required");
	if (!o->ask != !o->ark)
		return error_set(e, "--ask and --ark go together");
	return 0;
}

struct verify_certs {
	X509 *vcek, *ask, *ark;
};

static void free_certs(struct verify_certs *c)
{
	X509_free(c->vcek);
	X509_free(c->ask);
	X509_free(c->ark);
}

static int load_certs(const struct verify_opts *o, struct verify_certs *c, struct error *e)
{
	*c = (struct verify_certs){ 0 };
	if (sev_cert_load(o->vcek, &c->vcek, e) < 0)
		return -1;
	if (o->ask && sev_cert_load(o->ask, &c->ask, e) < 0)
		return -1;
	if (o->ark && sev_cert_load(o->ark, &c->ark, e) < 0)
		return -1;
	return 0;
}

static int run_verify(const struct verify_opts *o, struct error *e)
{
	uint8_t raw[SEV_REPORT_SIZE];
	struct sev_report report;
	struct verify_certs certs;
	if (sev_report_load(o->report, raw, e) < 0 ||
	    sev_report_parse(&report, raw, sizeof(raw), e) < 0)
		return -1;
	if (!o->quiet)
		sev_report_print(&report, stdout);
	int rc = -1;
	if (load_certs(o, &certs, e) < 0)
		goto out;
	/* The signature first: a tampered report is reported as such, not as a TCB mismatch. */
	if (sev_verify_report_signature(raw, certs.vcek, e) < 0 ||
	    sev_verify_vcek_matches(&report, certs.vcek, e) < 0)
		goto out;
	if (certs.ark && sev_verify_chain(certs.ark, certs.ask, certs.vcek, e) < 0)
		goto out;
	printf("verified: report signature (ECDSA P-384/SHA-384) with the VCEK; VCEK matches "
	       "the report's TCB and chip\n");
	if (certs.ark)
		printf("verified: certificate chain ARK (self-signed) -> ASK -> VCEK "
		       "(RSA-PSS/SHA-384)\n");
	else
		printf("not checked: certificate chain (give --ask and --ark)\n");
	rc = 0;
out:
	free_certs(&certs);
	return rc;
}

int sev_cli_verify_report(int argc, char **argv)
{
	struct verify_opts o;
	struct error e = { "" };
	int parsed = parse_verify_args(argc, argv, &o, &e);
	if (parsed > 0)
		return SEV_EXIT_OK;
	if (parsed < 0) {
		fprintf(stderr, "ember sev verify-report: %s\n", e.msg);
		return SEV_EXIT_USAGE;
	}
	if (run_verify(&o, &e) < 0) {
		fflush(stdout);
		fprintf(stderr, "ember sev verify-report: FAILED: %s\n", e.msg);
		return SEV_EXIT_FAILED;
	}
	return SEV_EXIT_OK;
}
