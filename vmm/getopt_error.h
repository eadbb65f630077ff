/* The one-line messages for what getopt_long refuses, shared by every subcommand's parser. */
#ifndef EMBER_GETOPT_ERROR_H
#define EMBER_GETOPT_ERROR_H

#include "error.h"

/* For a getopt_long loop whose optstring starts with ':' (so a missing value returns ':'
 * rather than '?'): -1 with the message in e when opt is ':' or '?', else 0. Call it right
 * after getopt_long, while optind and optopt still describe that option. */
int getopt_error(int opt, char *const argv[], struct error *e);

#endif
