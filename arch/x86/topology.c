/* Topology counts, `--topology`, APIC id assignment and the host's L3 domains (the CPUID side is
 * in topology_cpuid.c). */
#include "topology.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/cpu_list.h"

/* ---- Counts and APIC ids ---- */

/* Bits needed to number n distinct things (0 for n <= 1). */
static unsigned order_of(unsigned n)
{
	unsigned bits = 0;
	while (bits < 32 && (1ull << bits) < n)
		bits++;
	return bits;
}

static unsigned div_up(unsigned a, unsigned b)
{
	return (a + b - 1) / b;
}

void topology_layout(struct topology *t, unsigned min_l3_id_bits)
{
	if (!t->ncpus)
		t->ncpus = 1;
	if (!t->sockets)
		t->sockets = 1;
	if (!t->threads_per_core)
		t->threads_per_core = 1;
	if (!t->cores_per_socket)
		t->cores_per_socket = div_up(t->ncpus, t->threads_per_core * t->sockets);
	if (!t->cores_per_l3 || t->cores_per_l3 > t->cores_per_socket)
		t->cores_per_l3 = t->cores_per_socket;
	t->smt_bits = order_of(t->threads_per_core);
	t->core_bits = order_of(t->cores_per_l3);
	if (t->smt_bits + t->core_bits < min_l3_id_bits)
		t->core_bits = min_l3_id_bits - t->smt_bits;
	t->l3_bits = order_of(div_up(t->cores_per_socket, t->cores_per_l3));
	t->package_shift = t->smt_bits + t->core_bits + t->l3_bits;
}

void topology_place(const struct topology *t, unsigned index, struct topology_place *p)
{
	unsigned per_package = t->threads_per_core * t->cores_per_socket;
	p->thread = index % t->threads_per_core;
	p->core = (index / t->threads_per_core) % t->cores_per_socket;
	p->package = index / per_package;
	p->l3 = p->core / t->cores_per_l3;
	unsigned core_in_l3 = p->core % t->cores_per_l3;
	p->apic_id = ((uint32_t)p->package << t->package_shift) |
		     ((uint32_t)p->l3 << (t->smt_bits + t->core_bits)) |
		     ((uint32_t)core_in_l3 << t->smt_bits) | p->thread;
}

uint32_t topology_apic_id(const struct topology *t, unsigned index)
{
	struct topology_place p;
	topology_place(t, index, &p);
	return p.apic_id;
}

void topology_apic_ids(const struct topology *t, uint32_t *ids)
{
	for (unsigned i = 0; i < t->ncpus; i++)
		ids[i] = topology_apic_id(t, i);
}

bool topology_ids_dense(const struct topology *t)
{
	/* Ids grow with the index, so they are dense exactly when the last one is ncpus - 1. */
	return topology_apic_id(t, t->ncpus - 1) == t->ncpus - 1;
}

/* ---- --topology ---- */

static int parse_count(const char *key, const char *value, unsigned max, unsigned *out,
		       struct error *e)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0')
		return error_set(e, "--topology: %s='%s' is not a number", key, value);
	if (v < 1 || v > (long)max)
		return error_set(e, "--topology: %s=%ld is out of range (1-%u)", key, v, max);
	if (*out)
		return error_set(e, "--topology: %s is given twice", key);
	*out = (unsigned)v;
	return 0;
}

static int parse_item(char *item, struct topology_request *req, struct error *e)
{
	if (strcmp(item, "host-ccx") == 0) {
		req->host_ccx = true;
		return 0;
	}
	char *eq = strchr(item, '=');
	if (!eq)
		return error_set(e, "--topology: '%s' is not key=value or host-ccx", item);
	*eq = '\0';
	const char *value = eq + 1;
	if (strcmp(item, "sockets") == 0)
		return parse_count(item, value, TOPOLOGY_MAX_SOCKETS, &req->sockets, e);
	if (strcmp(item, "cores") == 0)
		return parse_count(item, value, TOPOLOGY_MAX_CORES, &req->cores, e);
	if (strcmp(item, "threads") == 0)
		return parse_count(item, value, TOPOLOGY_MAX_THREADS, &req->threads, e);
	if (strcmp(item, "l3-cores") == 0)
		return parse_count(item, value, TOPOLOGY_MAX_CORES, &req->cores_per_l3, e);
	return error_set(e, "--topology: unknown key '%s' (sockets, cores, threads, l3-cores, "
			    "host-ccx)", item);
}

int topology_parse(const char *text, struct topology_request *req, struct error *e)
{
	memset(req, 0, sizeof(*req));
	char buf[128];
	if (strlen(text) >= sizeof(buf))
		return error_set(e, "--topology: '%.32s...' is too long", text);
	if (!*text)
		return error_set(e, "--topology: empty");
	strcpy(buf, text);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if (parse_item(item, req, e) < 0)
			return -1;
	if (req->host_ccx && (req->cores || req->cores_per_l3))
		return error_set(e, "--topology: host-ccx decides the cores; drop cores= and l3-cores=");
	return 0;
}

static unsigned host_ccx_threads(unsigned ncpus, unsigned sockets, const struct host_l3 *host)
{
	unsigned t = host->threads_per_core;
	return t > 1 && t <= TOPOLOGY_MAX_THREADS && ncpus % (t * sockets) == 0 ? t : 1;
}

int topology_resolve(struct topology *t, unsigned ncpus, const struct topology_request *req,
		     const struct host_l3 *host, unsigned min_l3_id_bits, struct error *e)
{
	memset(t, 0, sizeof(*t));
	if (req->host_ccx && !host)
		return error_set(e, "--topology host-ccx: the host's L3 layout is unknown");
	unsigned sockets = req->sockets ? req->sockets : 1;
	unsigned threads = req->threads;
	if (!threads)
		threads = req->host_ccx ? host_ccx_threads(ncpus, sockets, host) : 1;
	if (ncpus % (sockets * threads))
		return error_set(e, "--topology: %u vCPUs do not fill %u socket(s) of %u-thread cores",
				 ncpus, sockets, threads);
	unsigned cores = req->cores ? req->cores : ncpus / (sockets * threads);
	if (sockets * cores * threads != ncpus)
		return error_set(e, "--topology: %u socket(s) x %u cores x %u threads is %u vCPUs, "
				    "but the VM has %u (--cpus)", sockets, cores, threads,
				 sockets * cores * threads, ncpus);
	if (cores > TOPOLOGY_MAX_CORES)
		return error_set(e, "--topology: %u cores per socket is more than %d", cores,
				 TOPOLOGY_MAX_CORES);
	unsigned per_l3 = req->cores_per_l3 ? req->cores_per_l3 : cores;
	if (req->host_ccx)
		per_l3 = host->cores_per_l3 && host->cores_per_l3 < cores ? host->cores_per_l3 : cores;
	if (per_l3 > cores)
		return error_set(e, "--topology: l3-cores=%u is more than the %u cores of a socket",
				 per_l3, cores);
	*t = (struct topology){ .ncpus = ncpus, .sockets = sockets, .cores_per_socket = cores,
				.threads_per_core = threads, .cores_per_l3 = per_l3 };
	topology_layout(t, min_l3_id_bits);
	if (t->package_shift + order_of(sockets) > 31)
		return error_set(e, "--topology: APIC ids would need more than 31 bits");
	return 0;
}

void topology_describe(const struct topology *t, char *buf, unsigned size)
{
	snprintf(buf, size, "%u socket%s x %u core%s x %u thread%s, L3 per %u core%s",
		 t->sockets, t->sockets == 1 ? "" : "s", t->cores_per_socket,
		 t->cores_per_socket == 1 ? "" : "s", t->threads_per_core,
		 t->threads_per_core == 1 ? "" : "s", t->cores_per_l3,
		 t->cores_per_l3 == 1 ? "" : "s");
}

/* ---- The host's L3 domains ---- */

static int read_small_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static bool cpu_online(const char *cpu_dir, unsigned cpu)
{
	char path[512], buf[8];
	snprintf(path, sizeof(path), "%s/cpu%u/online", cpu_dir, cpu);
	/* No "online" file: a CPU that cannot go offline (cpu0 on most systems). */
	return read_small_file(path, buf, sizeof(buf)) < 0 || buf[0] == '1';
}

/* The L3 shared_cpu_list of `cpu` (the cache index whose level is 3). */
static int read_l3_list(const char *cpu_dir, unsigned cpu, struct cpu_list *l, struct error *e)
{
	char path[512], buf[4096];
	for (unsigned idx = 0; idx < 16; idx++) {
		snprintf(path, sizeof(path), "%s/cpu%u/cache/index%u/level", cpu_dir, cpu, idx);
		if (read_small_file(path, buf, sizeof(buf)) < 0 || atoi(buf) != 3)
			continue;
		snprintf(path, sizeof(path), "%s/cpu%u/cache/index%u/shared_cpu_list", cpu_dir, cpu,
			 idx);
		if (read_small_file(path, buf, sizeof(buf)) < 0)
			return error_errno(e, "cannot read %s", path);
		if (cpu_list_parse(buf, l, e) < 0)
			return error_prefix(e, "%s", path);
		return 0;
	}
	return error_set(e, "the host reports no L3 cache for CPU %u (%s/cpu%u/cache)", cpu, cpu_dir,
			 cpu);
}

static unsigned list_min(const struct cpu_list *l)
{
	unsigned m = CPU_LIST_MAX;
	for (unsigned i = 0; i < l->n; i++)
		if (l->cpu[i] < m)
			m = l->cpu[i];
	return m;
}

static int count_siblings(const char *cpu_dir, unsigned cpu, unsigned *out, struct error *e)
{
	char path[512], buf[4096];
	snprintf(path, sizeof(path), "%s/cpu%u/topology/thread_siblings_list", cpu_dir, cpu);
	if (read_small_file(path, buf, sizeof(buf)) < 0) {
		*out = 1; /* no SMT information: count every CPU as a core */
		return 0;
	}
	struct cpu_list *l = malloc(sizeof(*l));
	if (!l)
		return error_set(e, "out of memory");
	int rc = cpu_list_parse(buf, l, e);
	*out = l->n ? l->n : 1;
	free(l);
	return rc < 0 ? error_prefix(e, "%s", path) : 0;
}

/* Online CPU numbers below cpu_dir, ascending, as a bitmap. */
static int online_cpus(const char *cpu_dir, bool *online, unsigned *count, struct error *e)
{
	DIR *d = opendir(cpu_dir);
	if (!d)
		return error_errno(e, "cannot list %s", cpu_dir);
	*count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (strncmp(n, "cpu", 3) != 0 || !isdigit((unsigned char)n[3]))
			continue;
		char *end;
		unsigned long cpu = strtoul(n + 3, &end, 10);
		if (*end || cpu >= CPU_LIST_MAX || !cpu_online(cpu_dir, (unsigned)cpu))
			continue;
		online[cpu] = true;
		(*count)++;
	}
	closedir(d);
	if (!*count)
		return error_set(e, "no online CPUs under %s", cpu_dir);
	return 0;
}

static int scan_domains(const char *cpu_dir, const bool *online, struct host_l3 *out,
			unsigned *first_domain_size, struct error *e)
{
	struct cpu_list *l = malloc(sizeof(*l));
	bool *leader_seen = calloc(CPU_LIST_MAX, sizeof(bool));
	int rc = 0;
	if (!l || !leader_seen) {
		rc = error_set(e, "out of memory");
		goto out;
	}
	*first_domain_size = 0;
	out->uniform = true;
	for (unsigned cpu = 0; cpu < CPU_LIST_MAX && rc == 0; cpu++) {
		if (!online[cpu])
			continue;
		if ((rc = read_l3_list(cpu_dir, cpu, l, e)) < 0)
			break;
		unsigned leader = list_min(l);
		if (leader >= CPU_LIST_MAX || leader_seen[leader])
			continue;
		leader_seen[leader] = true;
		out->domains++;
		if (!*first_domain_size)
			*first_domain_size = l->n;
		else if (l->n != *first_domain_size)
			out->uniform = false;
	}
out:
	free(l);
	free(leader_seen);
	return rc;
}

int topology_scan_host_l3(const char *cpu_dir, struct host_l3 *out, struct error *e)
{
	memset(out, 0, sizeof(*out));
	bool *online = calloc(CPU_LIST_MAX, sizeof(bool));
	if (!online)
		return error_set(e, "out of memory");
	unsigned first = 0, first_size = 0;
	int rc = online_cpus(cpu_dir, online, &out->cpus, e);
	if (rc == 0)
		rc = scan_domains(cpu_dir, online, out, &first_size, e);
	while (rc == 0 && !online[first])
		first++;
	if (rc == 0)
		rc = count_siblings(cpu_dir, first, &out->threads_per_core, e);
	free(online);
	if (rc < 0)
		return error_prefix(e, "host L3 layout");
	out->cores_per_l3 = first_size / out->threads_per_core;
	if (!out->cores_per_l3)
		out->cores_per_l3 = 1;
	return 0;
}
