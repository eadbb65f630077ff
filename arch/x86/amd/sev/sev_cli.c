#include "sev_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sev_cli_internal.h"

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: ember sev COMMAND [options]\n"
		"\n"
		"Commands:\n"
		"  measure         predict the launch digest of an SEV, SEV-ES or SEV-SNP guest\n"
		"                  (or a full SEV/SEV-ES LAUNCH_MEASURE blob with --launch-blob)\n"
		"  verify-report   check an SEV-SNP attestation report against its VCEK and AMD's "
		"chain\n"
		"\n"
		"'ember sev COMMAND --help' describes each command's options.\n");
}

int sev_cli_parse_u64(const char *text, uint64_t max, const char *name, uint64_t *out,
		      struct error *e)
{
	if (!text || !*text || *text == '-' || *text == '+' || *text == ' ')
		return error_set(e, "%s: '%s' is not a number", name, text ? text : "");
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 0);
	if (errno || *end != '\0')
		return error_set(e, "%s: '%s' is not a number", name, text);
	if (v > max)
		return error_set(e, "%s: %s is out of range (at most %llu)", name, text,
				 (unsigned long long)max);
	*out = v;
	return 0;
}

int sev_main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return SEV_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "measure") == 0)
		return sev_cli_measure(argc - 1, argv + 1);
	if (strcmp(cmd, "verify-report") == 0)
		return sev_cli_verify_report(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		print_usage(stdout);
		return SEV_EXIT_OK;
	}
	fprintf(stderr, "ember sev: unknown command '%s' (see 'ember sev --help')\n", cmd);
	return SEV_EXIT_USAGE;
}
