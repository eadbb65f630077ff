/* One run of the density benchmark: per VMM, a single-launch phase (sequential launches, each
 * torn down before the next) and a density phase (N VMs, C booting at once, memory sampled on
 * the way, CPU over an idle window, then teardown). */
#ifndef EMBER_DENSITY_RUN_H
#define EMBER_DENSITY_RUN_H

#include "host.h"
#include "measure.h"
#include "vmm.h"

struct density_vmm_run {
	bool wanted, available;
	char skip_reason[256];
	struct density_launch launch;
	char command[2048];

	struct density_fleet single;
	bool single_ran;
	double single_teardown_s;     /* summed over the single launches */

	struct density_fleet fleet;
	bool fleet_ran;
	unsigned requested;
	struct density_meminfo base;  /* /proc/meminfo before the first launch */
	struct density_mem_point points[DENSITY_MAX_MEM_POINTS];
	unsigned npoints;
	struct density_cpu cpu;
	bool cpu_measured;
	double teardown_s;
	unsigned teardown_killed;
};

struct density_run {
	struct density_options opt;
	struct density_host host;
	struct density_guest_files guest;
	char out_dir[PATH_MAX];
	char command[4096];           /* the exact command, for the report */
	char started[40];             /* local time, ISO 8601 */
	double wall_seconds;
	bool interrupted;
	struct density_vmm_run vmm[DENSITY_NVMMS];
	char plot_note[256];          /* why plots are missing, or "" */
};

/* Derived numbers, shared by every output format. */
struct density_summary {
	struct density_stats single_ttr_ms, single_self_ms, ttr_ms, self_ms, exec_ms;
	unsigned launched, ready, failed;
	double launch_seconds, launch_rate;
	const struct density_mem_point *last;  /* the final memory sample, or NULL */
	double mem_per_vm_kib, pss_per_vm_kib, kernel_per_vm_kib, mem_free_per_vm_kib;
	double cpu_percent, cpu_percent_per_vm, host_busy_percent;
	double single_teardown_ms;
};

void density_summarize(const struct density_vmm_run *r, struct density_summary *s);
/* Whether the density phase reached its target without a VM failing. */
bool density_vmm_complete(const struct density_vmm_run *r);

/* report.c: results.json, results.csv, summary.md in run->out_dir. */
int density_write_reports(const struct density_run *run, struct error *e);
/* plot.c: ttr.png and mem.png through gnuplot; sets run->plot_note when it cannot. */
void density_write_plots(struct density_run *run);
/* The short table printed at the end. */
void density_print_summary(const struct density_run *run, FILE *out);

#endif
