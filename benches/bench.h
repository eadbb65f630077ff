/* `ember bench ...`: benchmarks that ship inside the binary. */
#ifndef EMBER_BENCH_H
#define EMBER_BENCH_H

/* argv[0] is "bench". Returns the process exit status. */
int bench_main(int argc, char **argv);

#endif
