#include "cli_tuning.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_list.h"
#include "exits.h"

const char cli_tuning_help[] =
	"  --topology SPEC   sockets=S,cores=C,threads=T[,l3-cores=N] or host-ccx: how vCPUs\n"
	"                    are grouped into cores, L3 domains and sockets (default: one\n"
	"                    socket, one thread per core, one L3)\n"
	"  --cpu-template T  host (default), epyc-milan, epyc-genoa, epyc-turin, or a\n"
	"                    Firecracker custom CPU template (.json)\n"
	"  --memory-backing B  anon (default), memfd, hugetlb2m, hugetlb1g; anon and memfd\n"
	"                    use THP unless followed by ,thp=off\n"
	"  --numa-node N     allocate guest RAM on host NUMA node N\n"
	"  --prefault        allocate all guest RAM before the guest starts\n"
	"  --cpu-affinity L  pin vCPU i to the i-th host CPU of list L (e.g. 2-5,8)\n"
	"  --dedicated-cores  vCPUs own their cores: HLT/PAUSE/MWAIT do not exit\n"
	"  --halt-poll-ns N  KVM halt polling for this VM (0 disables)\n"
	"  --memory-stats    when the VM stops, report how guest RAM was backed and mapped\n";

void cli_tuning_defaults(struct vm_config *cfg)
{
	memory_backing_defaults(&cfg->memory);
	cfg->halt_poll_ns = EXITS_HALT_POLL_DEFAULT;
}

static int parse_long(const char *flag, const char *text, long long min, long long max,
		      long long *out, struct error *e)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end != '\0')
		return error_set(e, "%s: '%s' is not a number", flag, text);
	if (v < min || v > max)
		return error_set(e, "%s: %lld is out of range (%lld-%lld)", flag, v, min, max);
	*out = v;
	return 0;
}

int cli_tuning_apply(int opt, const char *arg, struct vm_config *cfg, struct error *e)
{
	long long v;
	struct cpu_list *list;
	int rc;
	switch (opt) {
	case OPT_TOPOLOGY:
		return topology_parse(arg, &cfg->topology, e);
	case OPT_CPU_TEMPLATE:
		cfg->cpu_template = arg;
		return 0;
	case OPT_MEMORY_BACKING:
		return memory_backing_parse(arg, &cfg->memory, e);
	case OPT_NUMA_NODE:
		if (parse_long("--numa-node", arg, 0, 1023, &v, e) < 0)
			return -1;
		cfg->memory.numa_node = (int)v;
		return 0;
	case OPT_CPU_AFFINITY:
		if (!(list = malloc(sizeof(*list))))
			return error_set(e, "out of memory");
		rc = cpu_list_parse(arg, list, e);
		free(list);
		if (rc < 0)
			return error_prefix(e, "--cpu-affinity");
		cfg->cpu_affinity = arg;
		return 0;
	case OPT_PREFAULT:
		cfg->memory.prefault = true;
		return 0;
	case OPT_DEDICATED_CORES:
		cfg->dedicated_cores = true;
		return 0;
	case OPT_HALT_POLL_NS:
		return parse_long("--halt-poll-ns", arg, 0, EXITS_HALT_POLL_MAX_NS, &cfg->halt_poll_ns,
				  e);
	case OPT_MEMORY_STATS:
		cfg->memory_stats = true;
		return 0;
	}
	return error_set(e, "internal: unhandled tuning option %d", opt);
}

static int check_affinity(const struct vm_config *cfg, struct error *e)
{
	struct cpu_list *list = malloc(sizeof(*list));
	if (!list)
		return error_set(e, "out of memory");
	int rc = cpu_list_parse(cfg->cpu_affinity, list, e);
	if (rc == 0 && list->n < cfg->ncpus)
		rc = error_set(e, "--cpu-affinity: %u host CPU%s listed for %u vCPUs", list->n,
			       list->n == 1 ? "" : "s", cfg->ncpus);
	free(list);
	return rc;
}

int cli_tuning_finish(struct vm_config *cfg, bool cpus_given, struct error *e)
{
	struct topology_request *req = &cfg->topology;
	if (!cpus_given && req->cores && !req->host_ccx) {
		unsigned n = (req->sockets ? req->sockets : 1) * req->cores *
			     (req->threads ? req->threads : 1);
		if (n > VM_CONFIG_MAX_CPUS)
			return error_set(e, "--topology describes %u vCPUs, more than %d", n,
					 VM_CONFIG_MAX_CPUS);
		cfg->ncpus = n;
	}
	/* host-ccx is checked when the VM is built: it needs the host's layout. */
	struct topology t;
	if (!req->host_ccx && topology_resolve(&t, cfg->ncpus, req, NULL, 0, e) < 0)
		return -1;
	if (cfg->cpu_affinity && check_affinity(cfg, e) < 0)
		return -1;
	return 0;
}
