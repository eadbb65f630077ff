/* What the density benchmark measures on a fleet of ready VMs: host memory (PSS of the VMM
 * processes plus the kernel-side growth in /proc/meminfo) and host CPU while they idle. */
#ifndef EMBER_DENSITY_MEASURE_H
#define EMBER_DENSITY_MEASURE_H

#include "fleet.h"

struct density_mem_point {
	unsigned vms;                 /* live, ready VMs summed */
	uint64_t pss_kib, rss_kib, pss_anon_kib;
	/* /proc/meminfo growth since the baseline, kB (may be negative: noise) */
	int64_t slab_kib, page_tables_kib, sec_page_tables_kib, kernel_stack_kib;
	int64_t mem_free_drop_kib;    /* cross-check: everything the host lost */
	double seconds;               /* time the sampling took */
};

struct density_cpu {
	unsigned vms;                 /* VMs sampled at both ends of the window */
	double seconds;               /* actual window */
	uint64_t vmm_ns;              /* CPU time of the VMM processes in the window */
	uint64_t host_busy_ns, host_total_ns;
};

struct density_stats {
	unsigned n;
	double min, p50, p90, p99, max, mean;
};

/* Reads every ready, live VM's smaps_rollup (storing it in the VM record) and /proc/meminfo. */
void density_measure_memory(struct density_fleet *f, const struct density_meminfo *base,
			    struct density_mem_point *p);
int64_t density_kernel_kib(const struct density_mem_point *p);
/* Memory per VM as the issue defines it: (PSS + kernel growth) / VMs, in KiB. */
double density_per_vm_kib(const struct density_mem_point *p);

/* Samples the VMs' CPU time across an idle window of `seconds` (returns early if interrupted). */
void density_measure_cpu(struct density_fleet *f, double seconds, struct density_cpu *c);

/* Sorts v in place. */
void density_stats(double *v, unsigned n, struct density_stats *s);

#endif
