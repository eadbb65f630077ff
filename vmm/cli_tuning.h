/* The CPU and memory tuning flags of `ember run` (docs/epyc.md): --topology, --cpu-template,
 * --memory-backing, --numa-node, --cpu-affinity, --prefault, --dedicated-cores, --halt-poll-ns,
 * --memory-stats. cli.c's getopt table includes CLI_TUNING_OPTIONS and hands these options to
 * cli_tuning_apply. */
#ifndef EMBER_CLI_TUNING_H
#define EMBER_CLI_TUNING_H

#include <getopt.h>
#include <stdbool.h>

#include "error.h"
#include "vm_config.h"

enum {
	OPT_TUNING_FIRST = 512,
	OPT_TOPOLOGY = OPT_TUNING_FIRST,
	OPT_CPU_TEMPLATE,
	OPT_MEMORY_BACKING,
	OPT_NUMA_NODE,
	OPT_CPU_AFFINITY,
	OPT_PREFAULT,
	OPT_DEDICATED_CORES,
	OPT_HALT_POLL_NS,
	OPT_MEMORY_STATS,
	OPT_TUNING_END,
};

#define CLI_TUNING_OPTIONS                                                   \
	{ "topology", required_argument, NULL, OPT_TOPOLOGY },               \
	{ "cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE },       \
	{ "memory-backing", required_argument, NULL, OPT_MEMORY_BACKING },   \
	{ "numa-node", required_argument, NULL, OPT_NUMA_NODE },             \
	{ "cpu-affinity", required_argument, NULL, OPT_CPU_AFFINITY },       \
	{ "prefault", no_argument, NULL, OPT_PREFAULT },                     \
	{ "dedicated-cores", no_argument, NULL, OPT_DEDICATED_CORES },       \
	{ "halt-poll-ns", required_argument, NULL, OPT_HALT_POLL_NS },       \
	{ "memory-stats", no_argument, NULL, OPT_MEMORY_STATS }

/* The help lines of these options. */
extern const char cli_tuning_help[];

/* Defaults that are not zero (called by vm_config_defaults). */
void cli_tuning_defaults(struct vm_config *cfg);

/* One option (OPT_TUNING_FIRST <= opt < OPT_TUNING_END). */
int cli_tuning_apply(int opt, const char *arg, struct vm_config *cfg, struct error *e);

/* After all options: derives --cpus from a full --topology when --cpus was not given, and checks
 * the topology and --cpu-affinity against the vCPU count. */
int cli_tuning_finish(struct vm_config *cfg, bool cpus_given, struct error *e);

#endif
