/* Host facts the density benchmark depends on: resource limits, checked and reported before any
 * VM starts, and the /proc counters it measures with. */
#ifndef EMBER_DENSITY_HOST_H
#define EMBER_DENSITY_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "density.h"

#define DENSITY_UNLIMITED UINT64_MAX
#define DENSITY_MAX_LIMITS 10

struct density_limit {
	const char *name;  /* e.g. "kernel.pid_max" */
	uint64_t value;    /* DENSITY_UNLIMITED for none */
	uint64_t needed;   /* estimate for this run; 0: nothing to compare */
	bool ok;
	char note[128];
};

struct density_host {
	char kernel[160];
	char cpu_model[96];
	unsigned cpus;
	uint64_t mem_total_kib;
	char thp[32];      /* transparent_hugepage/enabled: the selected mode */
	double loadavg[3]; /* at the start: other work on the host skews every timing */
	struct density_limit limits[DENSITY_MAX_LIMITS];
	unsigned nlimits;
};

/* Raises RLIMIT_NOFILE's soft limit to the hard one, then fills h. Problems are reported in h
 * (ok = false), not refused: the run records how far it got. */
void density_host_check(struct density_host *h, const struct density_options *o);
void density_host_print(const struct density_host *h, FILE *out);

int density_read_meminfo(struct density_meminfo *m, struct error *e);
/* PSS, RSS and anonymous PSS of one process (kB, from /proc/PID/smaps_rollup). */
int density_read_smaps_rollup(pid_t pid, uint64_t *pss, uint64_t *rss, uint64_t *pss_anon);
/* CPU time of all of a process's threads in ns (/proc/PID/task/x/schedstat), or of the process
 * in clock ticks when schedstat is missing. Returns false when the process is gone. */
bool density_process_cpu_ns(pid_t pid, uint64_t *ns);
/* Host CPU time from /proc/stat, in ns: busy (all but idle and iowait) and total. */
int density_read_host_cpu(uint64_t *busy_ns, uint64_t *total_ns);

#endif
