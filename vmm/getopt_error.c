#include "getopt_error.h"

#include <getopt.h>

int getopt_error(int opt, char *const argv[], struct error *e)
{
	if (opt == ':')
		return error_set(e, "option '%s' needs a value", argv[optind - 1]);
	if (opt != '?')
		return 0;
	/* optopt names an unknown short option even inside a group like -xv; it is 0 for a long
	 * one, which argv then shows whole. */
	if (optopt > 0 && optopt < 256)
		return error_set(e, "unknown option '-%c'", optopt);
	return error_set(e, "unknown option '%s'", argv[optind - 1]);
}
