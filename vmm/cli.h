/* Command-line front end of `ember run`: flags in, a validated struct vm_config out. */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <stdio.h>

#include "error.h"
#include "vm_config.h"

enum cli_result {
	CLI_PARSED,      /* cfg is valid: run the VM */
	CLI_HELP_SHOWN,  /* --help was printed: exit 0 */
	CLI_USAGE_ERROR, /* e holds the problem: exit 2 */
};

/* argv[0] is "run". Pointers in cfg refer into argv. */
enum cli_result cli_parse_run(int argc, char **argv, struct vm_config *cfg, struct error *e);
void cli_print_run_help(FILE *out);

#endif
