/* `ember bench density`: the run, phase by phase. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "spawn.h"

#define TEARDOWN_GRACE_S 30.0

volatile sig_atomic_t density_interrupted;

uint64_t density_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool density_sleep(double seconds)
{
	uint64_t end = density_now_ns() + (uint64_t)(seconds * 1e9);
	for (;;) {
		if (density_interrupted)
			return false;
		uint64_t now = density_now_ns();
		if (now >= end)
			return true;
		uint64_t slice = end - now < 100000000ull ? end - now : 100000000ull;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)slice };
		nanosleep(&ts, NULL);
	}
}

/* ---- signals: Ctrl-C means "stop, tear down, report what was measured" ---- */

static void on_interrupt(int sig)
{
	(void)sig;
	density_interrupted = 1;
}

static void install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: sleeps end early */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	density_spawn_set_handled_signals(sigs, (int)(sizeof(sigs) / sizeof(sigs[0])));
	atexit(density_fleet_kill_all);
}

/* ---- progress ---- */

struct progress_ctx {
	bool live;
	const char *name;
	unsigned target;
	uint64_t avail_kib;
	uint64_t avail_read_ns;
};

static void show_progress(const struct density_fleet *f, void *opaque)
{
	struct progress_ctx *p = opaque;
	if (!p->live)
		return;
	uint64_t now = density_now_ns();
	if (now - p->avail_read_ns > 500000000ull) {
		struct density_meminfo m;
		if (density_read_meminfo(&m, NULL) == 0)
			p->avail_kib = m.mem_available;
		p->avail_read_ns = now;
	}
	double secs = f->first_spawn_ns ? (double)(now - f->first_spawn_ns) / 1e9 : 0;
	fprintf(stderr, "\r\033[K[%s] %u/%u launched, %u ready, %u booting, %u failed, %.0f VM/s, "
		"MemAvailable %.1f GiB", p->name, f->launched, p->target, f->ready, f->booting,
		f->failed, secs > 0 ? f->ready / secs : 0.0, (double)p->avail_kib / (1 << 20));
}

static void end_progress(const struct progress_ctx *p)
{
	if (p->live)
		fprintf(stderr, "\r\033[K");
}

/* ---- phases ---- */

static void run_single(struct density_run *run, struct density_vmm_run *r)
{
	unsigned n = run->opt.single_launches;
	struct error e = { "" };
	if (!n || density_interrupted)
		return;
	if (density_fleet_init(&r->single, &r->launch, n, &e) < 0) {
		fprintf(stderr, "[%s] single launches: %s\n", r->launch.name, e.msg);
		density_fleet_stop(&r->single);
		return;
	}
	r->single_ran = true;
	r->single.boot_timeout_ns = (uint64_t)(run->opt.boot_timeout * 1e9);
	for (unsigned i = 0; i < n && !density_interrupted; i++) {
		density_fleet_launch(&r->single, i + 1, 1, 0);
		unsigned killed;
		r->single_teardown_s += density_fleet_teardown(&r->single, TEARDOWN_GRACE_S, &killed);
		if (r->single.stop_reason[0])
			break;
	}
	density_fleet_stop(&r->single);
	struct density_summary s;
	density_summarize(r, &s);
	fprintf(stderr, "[%s] single launch: %u launched, %u ready, time to ready median %.2f ms "
		"(min %.2f, max %.2f)%s%s\n", r->launch.name, r->single.launched, s.single_ttr_ms.n,
		s.single_ttr_ms.p50,
		s.single_ttr_ms.min, s.single_ttr_ms.max, r->single.stop_reason[0] ? "; stopped: " : "",
		r->single.stop_reason);
}

/* Memory sample points on the way to n: n, n/2, n/4, ... (at most k, at least 1 VM), rising. */
static unsigned mem_targets(unsigned n, unsigned k, unsigned *t)
{
	unsigned count = 0, v = n;
	while (count < k && v >= 1) {
		if (count == 0 || t[count - 1] != v)
			t[count++] = v;
		v /= 2;
	}
	for (unsigned i = 0; i < count / 2; i++) {
		unsigned x = t[i];
		t[i] = t[count - 1 - i];
		t[count - 1 - i] = x;
	}
	return count;
}

static void write_pids(const struct density_run *run, const struct density_vmm_run *r)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/pids-%s.txt", run->out_dir, r->launch.name);
	FILE *f = fopen(path, "we");
	if (!f)
		return;
	for (unsigned i = 0; i < r->fleet.launched; i++)
		if (r->fleet.vms[i].state == VM_READY && !r->fleet.vms[i].exited)
			fprintf(f, "%d\n", (int)r->fleet.vms[i].pid);
	fclose(f);
}

/* --hold: an outside observer may measure the VMs while OUT/holding-VMM exists. */
static void hold_vms(const struct density_run *run, const struct density_vmm_run *r)
{
	if (run->opt.hold_seconds <= 0 || density_interrupted)
		return;
	write_pids(run, r);
	char marker[PATH_MAX + 64];
	snprintf(marker, sizeof(marker), "%s/holding-%s", run->out_dir, r->launch.name);
	int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "[%s] holding %u VMs for %.0f s (pids in %s/pids-%s.txt)\n", r->launch.name,
		r->fleet.ready, run->opt.hold_seconds, run->out_dir, r->launch.name);
	density_sleep(run->opt.hold_seconds);
	unlink(marker);
}

static void launch_and_sample(struct density_run *run, struct density_vmm_run *r,
			      struct progress_ctx *p)
{
	unsigned targets[DENSITY_MAX_MEM_POINTS];
	unsigned nt = mem_targets(r->requested, run->opt.mem_points, targets);
	for (unsigned t = 0; t < nt; t++) {
		density_fleet_launch(&r->fleet, targets[t], run->opt.concurrency,
				     run->opt.min_available_kib);
		end_progress(p);
		if (density_interrupted)
			break;
		struct density_mem_point *pt = &r->points[r->npoints];
		density_measure_memory(&r->fleet, &r->base, pt);
		if (pt->vms) {
			r->npoints++;
			fprintf(stderr, "[%s] %u VMs up: %.0f KiB per VM (PSS %.0f + kernel %.0f)\n",
				r->launch.name, pt->vms, density_per_vm_kib(pt),
				(double)pt->pss_kib / pt->vms, (double)density_kernel_kib(pt) / pt->vms);
		}
		if (r->fleet.stop_reason[0])
			break;
	}
}

static void run_density(struct density_run *run, struct density_vmm_run *r)
{
	struct error e = { "" };
	if (density_interrupted)
		return;
	density_sleep(run->opt.settle_seconds);
	density_read_meminfo(&r->base, NULL);
	if (density_fleet_init(&r->fleet, &r->launch, r->requested + run->opt.max_failures, &e) < 0) {
		fprintf(stderr, "[%s] %s\n", r->launch.name, e.msg);
		density_fleet_stop(&r->fleet);
		return;
	}
	r->fleet_ran = true;
	r->fleet.boot_timeout_ns = (uint64_t)(run->opt.boot_timeout * 1e9);
	r->fleet.max_failures = run->opt.max_failures;
	struct progress_ctx p = { .live = run->opt.progress, .name = r->launch.name,
				  .target = r->requested };
	r->fleet.progress = show_progress;
	r->fleet.progress_opaque = &p;

	launch_and_sample(run, r, &p);
	if (r->fleet.stop_reason[0])
		fprintf(stderr, "[%s] stopped launching: %s\n", r->launch.name, r->fleet.stop_reason);
	if (!density_interrupted && r->fleet.ready) {
		fprintf(stderr, "[%s] measuring CPU of %u idle VMs for %.0f s\n", r->launch.name,
			r->fleet.ready, run->opt.idle_seconds);
		density_measure_cpu(&r->fleet, run->opt.idle_seconds, &r->cpu);
		r->cpu_measured = !density_interrupted;
		hold_vms(run, r);
	}
	r->teardown_s = density_fleet_teardown(&r->fleet, TEARDOWN_GRACE_S, &r->teardown_killed);
	fprintf(stderr, "[%s] teardown of %u VMs: %.3f s%s\n", r->launch.name, r->fleet.launched,
		r->teardown_s, r->teardown_killed ? " (some needed SIGKILL)" : "");
	density_fleet_stop(&r->fleet);
}

/* ---- set-up ---- */

static void format_command(struct density_run *run, int argc, char **argv)
{
	size_t n = (size_t)snprintf(run->command, sizeof(run->command), "ember bench");
	for (int i = 0; i < argc && n < sizeof(run->command); i++)
		n += (size_t)snprintf(run->command + n, sizeof(run->command) - n, " %s", argv[i]);
}

static int make_dirs(const char *path, struct error *e)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return error_errno(e, "cannot create %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return error_errno(e, "cannot create %s", tmp);
	return 0;
}

static int prepare_out_dir(struct density_run *run, struct error *e)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(run->started, sizeof(run->started), "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (run->opt.out_dir) {
		snprintf(run->out_dir, sizeof(run->out_dir), "%s", run->opt.out_dir);
	} else {
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		snprintf(run->out_dir, sizeof(run->out_dir), "build/density-%s", stamp);
	}
	return make_dirs(run->out_dir, e);
}

static void setup_vmms(struct density_run *run)
{
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		struct density_vmm_run *r = &run->vmm[v];
		r->wanted = run->opt.want[v];
		r->requested = run->opt.count[v];
		if (!r->wanted)
			continue;
		struct error e = { "" };
		if (density_launch_setup(&r->launch, (enum density_vmm)v, &run->opt, &run->guest, &e) < 0) {
			r->launch.name = density_vmm_name((enum density_vmm)v);
			snprintf(r->skip_reason, sizeof(r->skip_reason), "%s", e.msg);
			fprintf(stderr, "%s\n", e.msg);
			continue;
		}
		r->available = true;
		density_launch_format(&r->launch, r->command, sizeof(r->command));
		fprintf(stderr, "[%s] %s\n", r->launch.name, r->command);
	}
}

static int finish(struct density_run *run, uint64_t start_ns)
{
	run->wall_seconds = (double)(density_now_ns() - start_ns) / 1e9;
	run->interrupted = density_interrupted;
	density_write_plots(run);
	struct error e = { "" };
	if (density_write_reports(run, &e) < 0) {
		fprintf(stderr, "ember bench density: %s\n", e.msg);
		return 1;
	}
	density_print_summary(run, stdout);
	printf("report: %s/summary.md (results.json, results.csv%s)\n", run->out_dir,
	       run->plot_note[0] ? "; no plots" : ", ttr.png, mem.png");
	if (run->plot_note[0])
		printf("plots: %s\n", run->plot_note);
	if (run->interrupted)
		return 130;
	for (int v = 0; v < DENSITY_NVMMS; v++)
		if (run->vmm[v].available && !density_vmm_complete(&run->vmm[v]))
			return 1;
	return 0;
}

static void free_run(struct density_run *run)
{
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		density_fleet_free(&run->vmm[v].single);
		density_fleet_free(&run->vmm[v].fleet);
	}
	free(run);
}

int density_main(int argc, char **argv)
{
	uint64_t start_ns = density_now_ns();
	struct density_run *run = calloc(1, sizeof(*run));
	struct error e = { "" };
	if (!run) {
		fprintf(stderr, "ember bench density: out of memory\n");
		return 1;
	}
	int rc = density_parse_options(argc, argv, &run->opt, &e);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "ember bench density: %s\n", e.msg);
		free(run);
		return rc < 0 ? 2 : 0;
	}
	format_command(run, argc, argv);
	install_signals();
	density_host_check(&run->host, &run->opt);
	density_host_print(&run->host, stderr);
	if (density_guest_find(&run->guest, &run->opt, &e) < 0 || prepare_out_dir(run, &e) < 0) {
		fprintf(stderr, "ember bench density: %s\n", e.msg);
		free(run);
		return 1;
	}
	setup_vmms(run);
	for (int v = 0; v < DENSITY_NVMMS && !density_interrupted; v++) {
		struct density_vmm_run *r = &run->vmm[v];
		if (!r->available)
			continue;
		run_single(run, r);
		run_density(run, r);
	}
	rc = finish(run, start_ns);
	free_run(run);
	return rc;
}
