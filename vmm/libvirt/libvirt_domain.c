/* libvirt_domain_apply_cli: the XML describes the VM; flags add Ember's own tuning on top. */
#include <string.h>

#include "../cli_tuning.h"
#include "libvirt_domain.h"

static bool topology_set(const struct topology_request *t)
{
	return t->sockets || t->cores || t->threads || t->cores_per_l3 || t->host_ccx;
}

static int conflict(struct error *e, const char *flag, const char *where)
{
	return error_set(e, "%s conflicts with the domain's %s: say it in one place", flag, where);
}

int libvirt_domain_apply_cli(struct libvirt_domain *d, const struct vm_config *cli,
			     struct error *e)
{
	struct vm_config *cfg = &d->cfg;
	if (topology_set(&cli->topology)) {
		if (topology_set(&cfg->topology))
			return conflict(e, "--topology", "/domain/cpu/topology");
		cfg->topology = cli->topology;
	}
	if (cli->cpu_template) {
		if (cfg->cpu_template)
			return conflict(e, "--cpu-template", "/domain/cpu/model");
		cfg->cpu_template = cli->cpu_template;
	}
	if (cli->memory.kind != MEMORY_BACKING_ANON || cli->memory.no_thp) {
		if (cfg->memory.kind != MEMORY_BACKING_ANON)
			return conflict(e, "--memory-backing", "/domain/memoryBacking");
		cfg->memory.kind = cli->memory.kind;
		cfg->memory.no_thp = cli->memory.no_thp;
	}
	if (cli->memory.numa_node >= 0) {
		if (cfg->memory.numa_node >= 0)
			return conflict(e, "--numa-node", "/domain/numatune");
		cfg->memory.numa_node = cli->memory.numa_node;
	}
	if (cli->cpu_affinity) {
		if (cfg->cpu_affinity)
			return conflict(e, "--cpu-affinity", "vCPU pinning (/domain/vcpu/@cpuset or "
					"/domain/cputune)");
		cfg->cpu_affinity = cli->cpu_affinity;
	}
	cfg->memory.prefault |= cli->memory.prefault;
	cfg->dedicated_cores = cli->dedicated_cores;
	cfg->halt_poll_ns = cli->halt_poll_ns;
	cfg->memory_stats = cli->memory_stats;
	cfg->api_sock_path = cli->api_sock_path;
	/* The vCPU count is the domain's: check the topology and pinning against it. */
	return cli_tuning_finish(cfg, true, e);
}
