/* The confidential-guest companions of `ember run --sev` (docs/sev.md): --sev-features,
 * --sev-dh-cert, --sev-session, --sev-measurement-out, --sev-secret. cli.c's getopt table
 * includes CLI_SEV_OPTIONS and hands these options to cli_sev_apply. */
#ifndef EMBER_CLI_SEV_H
#define EMBER_CLI_SEV_H

#include <getopt.h>

#include "error.h"
#include "vm_config.h"

enum {
	OPT_SEV_FIRST = 640,
	OPT_SEV_FEATURES = OPT_SEV_FIRST,
	OPT_SEV_DH_CERT,
	OPT_SEV_SESSION,
	OPT_SEV_MEASUREMENT_OUT,
	OPT_SEV_SECRET,
	OPT_SEV_END,
};

#define CLI_SEV_OPTIONS                                                            \
	{ "sev-features", required_argument, NULL, OPT_SEV_FEATURES },             \
	{ "sev-dh-cert", required_argument, NULL, OPT_SEV_DH_CERT },               \
	{ "sev-session", required_argument, NULL, OPT_SEV_SESSION },               \
	{ "sev-measurement-out", required_argument, NULL, OPT_SEV_MEASUREMENT_OUT }, \
	{ "sev-secret", required_argument, NULL, OPT_SEV_SECRET }

/* The help lines of these options. */
extern const char cli_sev_help[];

/* One option (OPT_SEV_FIRST <= opt < OPT_SEV_END). */
int cli_sev_apply(int opt, const char *arg, struct vm_config *cfg, struct error *e);

/* After all options: the companions need --sev, and the mode they make sense for. */
int cli_sev_check(const struct vm_config *cfg, struct error *e);

#endif
