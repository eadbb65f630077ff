/* placeholder until the density benchmark lands */
#include <stdio.h>

#include "bench.h"

int bench_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember bench: not built yet\n");
	return 2;
}
