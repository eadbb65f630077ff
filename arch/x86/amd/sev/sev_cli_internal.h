/* Pieces shared by the `ember sev` subcommands. */
#ifndef EMBER_SEV_CLI_INTERNAL_H
#define EMBER_SEV_CLI_INTERNAL_H

#include <stdint.h>

#include "../../../../vmm/error.h"

/* Exit statuses: verified / computed, failed (bad file, verification failed), bad usage. */
#define SEV_EXIT_OK 0
#define SEV_EXIT_FAILED 1
#define SEV_EXIT_USAGE 2

/* Parses an unsigned number (decimal or 0x hex) no larger than max; name goes in the message. */
int sev_cli_parse_u64(const char *text, uint64_t max, const char *name, uint64_t *out,
		      struct error *e);

int sev_cli_measure(int argc, char **argv);
int sev_cli_verify_report(int argc, char **argv);

#endif
