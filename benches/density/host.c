#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "host.h"

/* Tasks per VM process, for the pid/thread estimates: Ember has a main and a vCPU thread, QEMU
 * four or five (main, vCPU, RCU, workers); kernel threads (kvm-pit, kvm-nx-lpage-recovery) come
 * on top. A generous round figure. */
#define TASKS_PER_VM 6
/* Launcher descriptors per VM: the read end of its output pipe (plus slack). */
#define FDS_PER_VM   1

static bool read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

static bool read_u64_file(const char *path, uint64_t *v)
{
	char buf[64];
	if (!read_small_file(path, buf, sizeof(buf)))
		return false;
	*v = strtoull(buf, NULL, 10);
	return true;
}

static struct density_limit *add_limit(struct density_host *h, const char *name, uint64_t value,
				       uint64_t needed)
{
	struct density_limit *l = &h->limits[h->nlimits++];
	*l = (struct density_limit){ .name = name, .value = value, .needed = needed };
	l->ok = value == DENSITY_UNLIMITED || value >= needed;
	return l;
}

static uint64_t rlim_value(rlim_t r)
{
	return r == RLIM_INFINITY ? DENSITY_UNLIMITED : (uint64_t)r;
}

static unsigned max_count(const struct density_options *o)
{
	unsigned n = 0;
	for (int v = 0; v < DENSITY_NVMMS; v++)
		if (o->want[v] && o->count[v] > n)
			n = o->count[v];
	return n;
}

static void check_nofile(struct density_host *h, unsigned n)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	bool raised = false;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		raised = setrlimit(RLIMIT_NOFILE, &rl) == 0;
		if (!raised)
			rl.rlim_cur = old;
	}
	struct density_limit *l = add_limit(h, "RLIMIT_NOFILE (open files)", rlim_value(rl.rlim_cur),
					    (uint64_t)n * FDS_PER_VM + 64);
	snprintf(l->note, sizeof(l->note), "%s; the launcher holds one pipe per VM",
		 raised ? "soft limit raised to the hard limit" : "soft = hard");
}

static void check_nproc(struct density_host *h, uint64_t tasks)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NPROC, &rl);
	struct density_limit *l = add_limit(h, "RLIMIT_NPROC (tasks per user)", rlim_value(rl.rlim_cur),
					    tasks);
	if (geteuid() == 0) {
		l->ok = true;
		snprintf(l->note, sizeof(l->note), "not enforced for root");
	} else {
		snprintf(l->note, sizeof(l->note), "every VM thread counts");
	}
}

static void check_sysctl(struct density_host *h, const char *name, const char *path,
			 uint64_t needed, const char *note)
{
	uint64_t v = 0;
	bool known = read_u64_file(path, &v);
	struct density_limit *l = add_limit(h, name, v, needed);
	snprintf(l->note, sizeof(l->note), "%s", known ? note : "unreadable");
	if (!known)
		l->ok = false;
}

static void check_memlock(struct density_host *h, unsigned n)
{
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	/* Before Linux 5.12 io_uring rings were charged to the user's locked memory: a few pages
	 * per Ember VM. Since then they are charged to the memory cgroup instead. */
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (uname(&u) == 0)
		sscanf(u.release, "%u.%u", &major, &minor);
	bool charged = major < 5 || (major == 5 && minor < 12);
	struct density_limit *l = add_limit(h, "RLIMIT_MEMLOCK (locked memory, bytes)",
					    rlim_value(rl.rlim_cur), charged ? (uint64_t)n * 16384 : 0);
	snprintf(l->note, sizeof(l->note), "%s",
		 charged ? "this kernel charges each VM's io_uring rings to it"
			 : "io_uring rings are not charged to it on this kernel (>= 5.12)");
}

static void check_overcommit(struct density_host *h)
{
	uint64_t mode = 0;
	read_u64_file("/proc/sys/vm/overcommit_memory", &mode);
	struct density_limit *l = add_limit(h, "vm.overcommit_memory", mode, 0);
	l->ok = mode != 2;
	snprintf(l->note, sizeof(l->note), "%s",
		 mode == 2 ? "strict: every VM's whole RAM is committed up front"
			   : "heuristic/always: untouched guest RAM costs nothing");
}

static void read_cpu_model(struct density_host *h)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *colon = strchr(line, ':');
			if (colon) {
				snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", colon + 2);
				h->cpu_model[strcspn(h->cpu_model, "\n")] = '\0';
			}
			break;
		}
	}
	fclose(f);
}

static void read_thp_mode(struct density_host *h)
{
	char buf[128];
	snprintf(h->thp, sizeof(h->thp), "unknown");
	if (!read_small_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)))
		return;
	char *open = strchr(buf, '['), *close = open ? strchr(open, ']') : NULL;
	if (open && close)
		snprintf(h->thp, sizeof(h->thp), "%.*s", (int)(close - open - 1), open + 1);
}

void density_host_check(struct density_host *h, const struct density_options *o)
{
	memset(h, 0, sizeof(*h));
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(h->kernel, sizeof(h->kernel), "%s %s", u.sysname, u.release);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	h->cpus = cpus > 0 ? (unsigned)cpus : 1;
	FILE *f = fopen("/proc/meminfo", "re");
	if (f) {
		if (fscanf(f, "MemTotal: %lu kB", &h->mem_total_kib) != 1)
			h->mem_total_kib = 0;
		fclose(f);
	}
	read_cpu_model(h);
	read_thp_mode(h);
	char load[128];
	if (read_small_file("/proc/loadavg", load, sizeof(load)))
		sscanf(load, "%lf %lf %lf", &h->loadavg[0], &h->loadavg[1], &h->loadavg[2]);

	unsigned n = max_count(o);
	uint64_t tasks = (uint64_t)n * TASKS_PER_VM + 1024;
	check_nofile(h, n);
	check_nproc(h, tasks);
	check_sysctl(h, "kernel.pid_max", "/proc/sys/kernel/pid_max", tasks,
		     "every VM thread takes a pid");
	check_sysctl(h, "kernel.threads-max", "/proc/sys/kernel/threads-max", tasks,
		     "host-wide task limit");
	check_sysctl(h, "vm.max_map_count", "/proc/sys/vm/max_map_count", 1024,
		     "per process; a VMM needs about a hundred mappings");
	check_memlock(h, n);
	check_sysctl(h, "fs.file-max", "/proc/sys/fs/file-max", (uint64_t)n * 16,
		     "host-wide open files; a VMM holds about ten");
	check_overcommit(h);
}

static const char *limit_text(uint64_t v, char buf[32])
{
	if (v == DENSITY_UNLIMITED)
		return "unlimited";
	snprintf(buf, 32, "%llu", (unsigned long long)v);
	return buf;
}

void density_host_print(const struct density_host *h, FILE *out)
{
	fprintf(out, "host: %s, %u CPUs (%s), %llu MiB RAM, THP %s, load average %.2f %.2f %.2f\n",
		h->kernel, h->cpus, h->cpu_model, (unsigned long long)(h->mem_total_kib >> 10), h->thp,
		h->loadavg[0], h->loadavg[1], h->loadavg[2]);
	for (unsigned i = 0; i < h->nlimits; i++) {
		const struct density_limit *l = &h->limits[i];
		char v[32], need[32];
		fprintf(out, "  %-4s %-38s %12s", l->ok ? "ok" : "LOW", l->name, limit_text(l->value, v));
		if (l->needed)
			fprintf(out, "  (needs ~%s)", limit_text(l->needed, need));
		fprintf(out, "  %s\n", l->note);
	}
}

int density_read_meminfo(struct density_meminfo *m, struct error *e)
{
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return error_errno(e, "cannot read /proc/meminfo");
	memset(m, 0, sizeof(*m));
	static const struct { const char *key; size_t off; } keys[] = {
		{ "MemFree:", offsetof(struct density_meminfo, mem_free) },
		{ "MemAvailable:", offsetof(struct density_meminfo, mem_available) },
		{ "Slab:", offsetof(struct density_meminfo, slab) },
		{ "PageTables:", offsetof(struct density_meminfo, page_tables) },
		{ "SecPageTables:", offsetof(struct density_meminfo, sec_page_tables) },
		{ "KernelStack:", offsetof(struct density_meminfo, kernel_stack) },
	};
	char line[128];
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t len = strlen(keys[i].key);
			if (strncmp(line, keys[i].key, len) == 0)
				*(uint64_t *)((char *)m + keys[i].off) = strtoull(line + len, NULL, 10);
		}
	}
	fclose(f);
	return 0;
}

int density_read_smaps_rollup(pid_t pid, uint64_t *pss, uint64_t *rss, uint64_t *pss_anon)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!read_small_file(path, buf, sizeof(buf)))
		return -1;
	*pss = *rss = *pss_anon = 0;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "Pss:", 4) == 0)
			*pss = strtoull(line + 4, NULL, 10);
		else if (strncmp(line, "Rss:", 4) == 0)
			*rss = strtoull(line + 4, NULL, 10);
		else if (strncmp(line, "Pss_Anon:", 9) == 0)
			*pss_anon = strtoull(line + 9, NULL, 10);
	}
	return 0;
}

static bool process_cpu_ticks_ns(pid_t pid, uint64_t *ns)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_small_file(path, buf, sizeof(buf)))
		return false;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	unsigned long long utime = 0, stime = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return false;
	long hz = sysconf(_SC_CLK_TCK);
	*ns = (utime + stime) * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
	return true;
}

bool density_process_cpu_ns(pid_t pid, uint64_t *ns)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	uint64_t sum = 0;
	bool any = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char file[352], buf[128];
		snprintf(file, sizeof(file), "%s/%s/schedstat", path, de->d_name);
		if (read_small_file(file, buf, sizeof(buf))) {
			sum += strtoull(buf, NULL, 10); /* first field: ns on a CPU */
			any = true;
		}
	}
	closedir(d);
	if (!any)
		return process_cpu_ticks_ns(pid, ns);
	*ns = sum;
	return true;
}

int density_read_host_cpu(uint64_t *busy_ns, uint64_t *total_ns)
{
	char buf[512];
	if (!read_small_file("/proc/stat", buf, sizeof(buf)))
		return -1;
	unsigned long long v[8] = { 0 };
	/* user nice system idle iowait irq softirq steal (guest time is already in user) */
	if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 4)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t tick_ns = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	uint64_t total = 0;
	for (int i = 0; i < 8; i++)
		total += v[i];
	*total_ns = total * tick_ns;
	*busy_ns = (total - v[3] - v[4]) * tick_ns;
	return 0;
}
