/* `ember bench ...`: benchmarks built into the ember binary. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "density/density.h"

static void print_usage(FILE *out)
{
	fprintf(out, "Usage: ember bench BENCHMARK [options]\n"
		     "\n"
		     "Benchmarks:\n"
		     "  density   how many idle VMs this host holds, how fast they start, what each\n"
		     "            costs; Ember next to QEMU microvm and kvmtool ('ember bench density\n"
		     "            --help')\n");
}

int bench_main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (strcmp(name, "density") == 0)
		return density_main(argc - 1, argv + 1);
	if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		print_usage(stdout);
		return 0;
	}
	fprintf(stderr, "ember bench: unknown benchmark '%s' (see 'ember bench --help')\n", name);
	return 2;
}
