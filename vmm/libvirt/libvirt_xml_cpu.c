/* vCPUs and memory placement: <vcpu>, <vcpus>, <cputune>, <cpu>, <numatune>, <memoryBacking>
 * into --cpus, --cpu-affinity, --topology, --cpu-template, --numa-node, --memory-backing and
 * --prefault (docs/libvirt.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libvirt_units.h"
#include "libvirt_xml.h"

int lx_parse_vcpu(struct lx *p)
{
	xmlNodePtr v = lx_find(p, "/domain/vcpu");
	unsigned long long n = 1, current;
	if (v) {
		if (lx_uint_text(p, v, 1, VM_CONFIG_MAX_CPUS, &n) < 0 ||
		    lx_uint_attr(p, v, "current", 1, n, n, &current) < 0)
			return -1;
		if (current < n)
			lx_issue(p, v, "current", "%llu of %llu vCPUs online at boot: Ember has no "
				 "vCPU hotplug; ignored, all %llu start", current, n, n);
		if (lx_attr_is(v, "placement", "auto"))
			lx_issue(p, v, "placement", "numad placement: Ember does not ask numad");
	}
	p->d->cfg.ncpus = (unsigned)n;
	xmlNodePtr vcpus = lx_find(p, "/domain/vcpus");
	for (xmlNodePtr c = vcpus ? vcpus->children : NULL; c; c = c->next)
		if (lx_is(c, "vcpu") && lx_attr_is(c, "enabled", "no"))
			lx_issue(p, c, "enabled", "a vCPU offline at boot: Ember has no vCPU hotplug; "
				 "ignored, it starts");
	return 0;
}

/* cfg->cpu_affinity from `count` host CPUs, vCPU i on cpus[i]. */
static int set_affinity(struct lx *p, const uint16_t *cpus, unsigned count)
{
	size_t size = (size_t)count * 6 + 1; /* "4095," per CPU */
	char *s = malloc(size), *at = s;
	if (!s)
		return error_set(p->e, "out of memory");
	s[0] = '\0';
	for (unsigned i = 0; i < count; i++)
		at += snprintf(at, size - (size_t)(at - s), "%s%u", i ? "," : "", cpus[i]);
	free(p->d->cpu_affinity);
	p->d->cpu_affinity = s;
	p->d->cfg.cpu_affinity = s;
	return 0;
}

static int parse_cpuset(struct lx *p, xmlNodePtr node, const char *attr, struct cpu_list *list)
{
	char *text = lx_attr(node, attr);
	struct error e;
	int rc = text ? libvirt_cpuset_parse(text, list, &e) : error_set(&e, "missing");
	free(text);
	return rc < 0 ? lx_invalid(p, node, attr, "%s", e.msg) : 0;
}

/* <vcpupin vcpu='i' cpuset='c'>: Ember pins each vCPU to one host CPU of its own. Fills
 * pins[i] for those and counts them in *single; returns the number of <vcpupin>s, or -1. */
static int read_vcpupins(struct lx *p, xmlNodePtr tune, struct cpu_list *list, uint16_t *pins,
			 bool *pinned, unsigned *single)
{
	unsigned ncpus = p->d->cfg.ncpus;
	int count = 0;
	*single = 0;
	for (xmlNodePtr c = tune->children; c; c = c->next) {
		if (!lx_is(c, "vcpupin"))
			continue;
		unsigned long long v;
		if (lx_uint_attr(p, c, "vcpu", 0, ncpus - 1, ncpus, &v) < 0)
			return -1;
		if (v == ncpus)
			return lx_invalid(p, c, "vcpu", "missing");
		if (pinned[v])
			return lx_invalid(p, c, "vcpu", "vCPU %llu is pinned twice", v);
		if (parse_cpuset(p, c, "cpuset", list) < 0)
			return -1;
		pinned[v] = true;
		count++;
		if (list->n != 1) {
			lx_issue(p, c, "cpuset", "%u host CPUs for one vCPU: Ember pins each vCPU to "
				 "exactly one", list->n);
			continue;
		}
		pins[v] = list->cpu[0];
		++*single;
	}
	return count;
}

static bool pins_distinct(const uint16_t *pins, unsigned n, unsigned *dup)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (pins[i] == pins[j]) {
				*dup = pins[i];
				return false;
			}
	return true;
}

/* <vcpu cpuset>: libvirt lets every vCPU float over the set; Ember pins vCPU i to the set's
 * i-th CPU (ascending), which stays inside it. */
static int affinity_from_vcpu_cpuset(struct lx *p, struct cpu_list *list)
{
	xmlNodePtr v = lx_find(p, "/domain/vcpu");
	char *cpuset = v ? lx_attr(v, "cpuset") : NULL;
	bool wanted = cpuset && !lx_attr_is(v, "placement", "auto");
	free(cpuset);
	if (!wanted)
		return 0;
	if (parse_cpuset(p, v, "cpuset", list) < 0)
		return -1;
	if (list->n < p->d->cfg.ncpus) {
		lx_issue(p, v, "cpuset", "%u host CPUs for %u vCPUs: Ember pins each vCPU to a CPU "
			 "of its own", list->n, p->d->cfg.ncpus);
		return 0;
	}
	return set_affinity(p, list->cpu, p->d->cfg.ncpus);
}

static int pin_vcpus(struct lx *p, xmlNodePtr tune, struct cpu_list *list, uint16_t *pins,
		     bool *pinned)
{
	unsigned ncpus = p->d->cfg.ncpus, dup, single = 0;
	int count = tune ? read_vcpupins(p, tune, list, pins, pinned, &single) : 0;
	if (count < 0)
		return -1;
	if (single == ncpus) {
		if (pins_distinct(pins, ncpus, &dup))
			return set_affinity(p, pins, ncpus);
		lx_issue(p, tune, NULL, "two vCPUs pinned to host CPU %u: Ember pins each vCPU to a "
			 "CPU of its own; ignored, no pinning", dup);
		return 0;
	}
	if (count > 0 && (unsigned)count < ncpus)
		lx_issue(p, tune, NULL, "<vcpupin> for %d of %u vCPUs: Ember pins all vCPUs or none",
			 count, ncpus);
	/* <vcpu cpuset> covers the vCPUs without a <vcpupin>: with any, Ember cannot mix. */
	return count > 0 ? 0 : affinity_from_vcpu_cpuset(p, list);
}

int lx_parse_cputune(struct lx *p)
{
	static const char *const known[] = { "vcpupin", NULL };
	xmlNodePtr tune = lx_find(p, "/domain/cputune");
	struct cpu_list *list = malloc(sizeof(*list));
	uint16_t *pins = calloc(p->d->cfg.ncpus, sizeof(*pins));
	bool *pinned = calloc(p->d->cfg.ncpus, sizeof(*pinned));
	int rc = list && pins && pinned ? pin_vcpus(p, tune, list, pins, pinned)
					: error_set(p->e, "out of memory");
	free(list);
	free(pins);
	free(pinned);
	if (rc == 0 && tune)
		lx_other_children(p, tune, known, "scheduler and cgroup tuning: Ember does not set it");
	return rc;
}

/* <cpu><topology>: sockets, cores, threads; dies and clusters have no Ember equivalent. */
static int parse_topology(struct lx *p, xmlNodePtr topo)
{
	unsigned long long sockets, dies, clusters, cores, threads;
	if (lx_uint_attr(p, topo, "sockets", 1, 4096, 1, &sockets) < 0 ||
	    lx_uint_attr(p, topo, "dies", 1, 4096, 1, &dies) < 0 ||
	    lx_uint_attr(p, topo, "clusters", 1, 4096, 1, &clusters) < 0 ||
	    lx_uint_attr(p, topo, "cores", 1, 4096, 1, &cores) < 0 ||
	    lx_uint_attr(p, topo, "threads", 1, 4096, 1, &threads) < 0)
		return -1;
	unsigned long long total = sockets * dies * clusters * cores * threads;
	if (total != p->d->cfg.ncpus)
		return lx_invalid(p, topo, NULL, "%llu vCPUs, but <vcpu> says %u", total,
				  p->d->cfg.ncpus);
	if (dies > 1 || clusters > 1) {
		lx_issue(p, topo, dies > 1 ? "dies" : "clusters", "Ember's topology has sockets, "
			 "cores and threads; ignored, the vCPUs form one socket");
		return 0;
	}
	if (sockets > TOPOLOGY_MAX_SOCKETS || cores > TOPOLOGY_MAX_CORES ||
	    threads > TOPOLOGY_MAX_THREADS) {
		lx_issue(p, topo, NULL, "more than Ember's %d sockets, %d cores or %d threads; "
			 "ignored, the vCPUs form one socket", TOPOLOGY_MAX_SOCKETS,
			 TOPOLOGY_MAX_CORES, TOPOLOGY_MAX_THREADS);
		return 0;
	}
	p->d->cfg.topology.sockets = (unsigned)sockets;
	p->d->cfg.topology.cores = (unsigned)cores;
	p->d->cfg.topology.threads = (unsigned)threads;
	return 0;
}

/* QEMU's EPYC CPU model names (and their -vN versions) to Ember's templates of the same parts. */
static const char *template_for_model(const char *model)
{
	static const struct {
		const char *prefix, *template;
	} models[] = {
		{ "EPYC-Milan", "epyc-milan" },
		{ "EPYC-Genoa", "epyc-genoa" },
		{ "EPYC-Turin", "epyc-turin" },
	};
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		size_t n = strlen(models[i].prefix);
		if (strncasecmp(model, models[i].prefix, n) == 0 &&
		    (model[n] == '\0' || strncmp(model + n, "-v", 2) == 0))
			return models[i].template;
	}
	return NULL;
}

static void parse_cpu_model(struct lx *p, xmlNodePtr cpu)
{
	static const char *const host_modes[] = { "host-passthrough", "host-model", "maximum",
						  NULL };
	char *mode = lx_attr(cpu, "mode");
	xmlNodePtr model = lx_child(cpu, "model");
	if (mode && lx_name_in((const xmlChar *)mode, host_modes)) {
		free(mode);
		return; /* Ember's default CPU is the host's */
	}
	if (mode && strcmp(mode, "custom") != 0) {
		lx_issue(p, cpu, "mode", "'%s': Ember's CPU is the host's or an EPYC template", mode);
	} else if (model) {
		char *name = lx_text(model);
		const char *t = name ? template_for_model(name) : NULL;
		if (t)
			p->d->cfg.cpu_template = t;
		else
			lx_issue(p, model, NULL, "CPU model '%s': Ember's CPU is the host's or its "
				 "template of EPYC-Milan, EPYC-Genoa or EPYC-Turin; ignored, the guest "
				 "sees the host's CPU", name ? name : "");
		free(name);
	}
	free(mode);
}

int lx_parse_cpu(struct lx *p)
{
	xmlNodePtr cpu = lx_find(p, "/domain/cpu");
	if (!cpu)
		return 0;
	parse_cpu_model(p, cpu);
	for (xmlNodePtr c = cpu->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || lx_is(c, "model"))
			continue;
		if (lx_is(c, "topology")) {
			if (parse_topology(p, c) < 0)
				return -1;
		} else if (lx_is(c, "vendor")) {
			char *vendor = lx_text(c);
			if (!vendor || strcmp(vendor, "AMD") != 0)
				lx_issue(p, c, NULL, "Ember's guests see the host's vendor");
			free(vendor);
		} else if (lx_is(c, "feature")) {
			lx_issue(p, c, NULL, "CPU feature policies: Ember's CPU is the host's or a "
				 "template, a custom one being --cpu-template FILE.json");
		} else if (lx_is(c, "numa")) {
			lx_issue(p, c, NULL, "guest NUMA cells: Ember's guests have one node");
		} else {
			lx_issue(p, c, NULL, "not supported by Ember");
		}
	}
	return 0;
}

static int parse_numa_memory(struct lx *p, xmlNodePtr mem)
{
	static const char *const strict[] = { "strict", NULL };
	if (lx_attr_is(mem, "placement", "auto")) {
		lx_issue(p, mem, "placement", "numad placement: Ember does not ask numad");
		return 0;
	}
	if (!lx_attr_in(mem, "mode", strict)) {
		lx_issue(p, mem, "mode", "Ember binds guest RAM strictly to one node, MPOL_BIND");
		return 0;
	}
	struct cpu_list *nodes = malloc(sizeof(*nodes));
	if (!nodes)
		return error_set(p->e, "out of memory");
	int rc = parse_cpuset(p, mem, "nodeset", nodes);
	if (rc == 0 && nodes->n != 1)
		lx_issue(p, mem, "nodeset", "%u host nodes: Ember binds guest RAM to one, --numa-node",
			 nodes->n);
	else if (rc == 0 && nodes->cpu[0] > 1023)
		rc = lx_invalid(p, mem, "nodeset", "node %u is out of range (0-1023)", nodes->cpu[0]);
	else if (rc == 0)
		p->d->cfg.memory.numa_node = nodes->cpu[0];
	free(nodes);
	return rc;
}

int lx_parse_numatune(struct lx *p)
{
	static const char *const known[] = { "memory", NULL };
	xmlNodePtr tune = lx_find(p, "/domain/numatune");
	if (!tune)
		return 0;
	xmlNodePtr mem = lx_child(tune, "memory");
	if (mem && parse_numa_memory(p, mem) < 0)
		return -1;
	lx_other_children(p, tune, known, "per guest NUMA node policies: Ember's guests have one node");
	return 0;
}

/* <hugepages>: one page size for all of guest RAM. No <page>: the host's default huge page,
 * 2 MiB on x86. */
static int parse_hugepages(struct lx *p, xmlNodePtr huge)
{
	struct memory_backing *b = &p->d->cfg.memory;
	unsigned pages = 0;
	xmlNodePtr page = NULL;
	for (xmlNodePtr c = huge->children; c; c = c->next) {
		if (lx_is(c, "page")) {
			pages++;
			page = c;
		} else if (c->type == XML_ELEMENT_NODE) {
			lx_issue(p, c, NULL, "not supported by Ember");
		}
	}
	if (pages > 1) {
		lx_issue(p, huge, NULL, "%u page sizes: Ember backs all guest RAM with one", pages);
		return 0;
	}
	uint64_t size = 2ULL << 20;
	if (page) {
		char *nodeset = lx_attr(page, "nodeset");
		if (nodeset)
			lx_issue(p, page, "nodeset", "guest NUMA nodes: Ember's guests have one");
		free(nodeset);
		char *value = lx_attr(page, "size"), *unit = lx_attr(page, "unit");
		struct error e;
		int rc = value ? libvirt_size_parse(value, unit, 1024, &size, &e)
			       : error_set(&e, "missing");
		free(value);
		free(unit);
		if (rc < 0)
			return lx_invalid(p, page, "size", "%s", e.msg);
	}
	if (size == 2ULL << 20)
		b->kind = MEMORY_BACKING_HUGETLB_2M;
	else if (size == 1ULL << 30)
		b->kind = MEMORY_BACKING_HUGETLB_1G;
	else
		lx_issue(p, page, "size", "%llu KiB pages: Ember has 2 MiB and 1 GiB huge pages",
			 (unsigned long long)(size >> 10));
	return 0;
}

static bool is_hugetlb(const struct memory_backing *b)
{
	return b->kind == MEMORY_BACKING_HUGETLB_2M || b->kind == MEMORY_BACKING_HUGETLB_1G;
}

/* <source type>, <access mode='shared'>: a memfd unless huge pages (a hugetlbfs memfd anyway). */
static void parse_memory_source(struct lx *p, xmlNodePtr c)
{
	struct memory_backing *b = &p->d->cfg.memory;
	if (lx_is(c, "source")) {
		if (lx_attr_is(c, "type", "memfd") && !is_hugetlb(b))
			b->kind = MEMORY_BACKING_MEMFD;
		else if (lx_attr_is(c, "type", "file"))
			lx_issue(p, c, "type", "file-backed guest RAM: Ember's is anonymous, a memfd "
				 "or hugetlbfs");
	} else if (lx_attr_is(c, "mode", "shared") && !is_hugetlb(b)) {
		b->kind = MEMORY_BACKING_MEMFD; /* shareable, as vhost-user needs */
	}
}

int lx_parse_memory_backing(struct lx *p)
{
	xmlNodePtr mb = lx_find(p, "/domain/memoryBacking");
	if (!mb)
		return 0;
	xmlNodePtr huge = lx_child(mb, "hugepages");
	if (huge && parse_hugepages(p, huge) < 0)
		return -1;
	for (xmlNodePtr c = mb->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || lx_is(c, "hugepages"))
			continue;
		if (lx_is(c, "source") || lx_is(c, "access"))
			parse_memory_source(p, c);
		else if (lx_is(c, "allocation"))
			p->d->cfg.memory.prefault = lx_attr_is(c, "mode", "immediate");
		else if (lx_is(c, "locked"))
			lx_issue(p, c, NULL, "Ember does not mlock guest RAM");
		else if (!lx_is(c, "nosharepages") && !lx_is(c, "discard"))
			lx_issue(p, c, NULL, "not supported by Ember");
	}
	return 0;
}
