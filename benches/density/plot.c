/* ttr.png and mem.png: data files and a gnuplot script in the output directory, then gnuplot. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"
#include "spawn.h"

static const char *const titles[DENSITY_NVMMS] = { "Ember", "QEMU microvm", "kvmtool" };

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Writes one gnuplot data block: sorted times to ready (ms) and the fraction of VMs ready by
 * then. Returns false when the fleet has no ready VM. */
static bool write_cdf_block(FILE *f, const struct density_fleet *fl)
{
	if (!fl->vms || !fl->ready)
		return false;
	double *v = malloc(fl->launched * sizeof(*v));
	if (!v)
		return false;
	unsigned n = 0;
	for (unsigned i = 0; i < fl->launched; i++)
		if (fl->vms[i].state == VM_READY)
			v[n++] = (double)(fl->vms[i].ready_ns - fl->vms[i].spawn_ns) / 1e6;
	qsort(v, n, sizeof(*v), compare_double);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%.4f %.6f\n", v[i], (double)(i + 1) / n);
	fputs("\n\n", f);
	free(v);
	return n > 0;
}

static FILE *open_out(const struct density_run *run, const char *name)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", run->out_dir, name);
	return fopen(path, "we");
}

static void ttr_plot(const struct density_run *run, FILE *gp)
{
	FILE *dat = open_out(run, "ttr.dat");
	if (!dat)
		return;
	char plot[2048] = "";
	size_t len = 0;
	unsigned index = 0;
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		const struct density_vmm_run *r = &run->vmm[v];
		if (!r->available)
			continue;
		static const char *const phase[2] = { "", " single launches" };
		const struct density_fleet *fleets[2] = { &r->fleet, &r->single };
		for (int k = 0; k < 2; k++) {
			if (!write_cdf_block(dat, fleets[k]))
				continue;
			len += (size_t)snprintf(plot + len, sizeof(plot) - len,
				"%s'%s/ttr.dat' index %u using 1:2 with steps lw 2 dt %d lc %d title '%s%s'",
				len ? ", " : "", run->out_dir, index++, k ? 2 : 1, v + 1, titles[v], phase[k]);
			if (len >= sizeof(plot))
				len = sizeof(plot) - 1;
		}
	}
	fclose(dat);
	if (!index)
		return;
	char counts[160] = "";
	size_t n = 0;
	for (int v = 0; v < DENSITY_NVMMS && n < sizeof(counts); v++)
		if (run->vmm[v].available && run->vmm[v].fleet_ran)
			n += (size_t)snprintf(counts + n, sizeof(counts) - n, "%s%s %u", n ? ", " : "",
					      titles[v], run->vmm[v].fleet.launched);
	fprintf(gp, "set output '%s/ttr.png'\n"
		    "set title 'Time to ready, %u booting at once (VMs launched: %s)'\n"
		    "set xlabel 'ms from process start to guest ready (log scale)'\n"
		    "set ylabel 'fraction of VMs ready'\n"
		    "set logscale x\nset yrange [0:1.02]\nset key bottom right\n"
		    "plot %s\nunset logscale x\nset autoscale y\n",
		run->out_dir, run->opt.concurrency, counts, plot);
}

static void mem_plot(const struct density_run *run, FILE *gp)
{
	FILE *dat = open_out(run, "mem.dat");
	if (!dat)
		return;
	char plot[2048] = "";
	size_t len = 0;
	unsigned index = 0;
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		const struct density_vmm_run *r = &run->vmm[v];
		if (!r->available || !r->npoints)
			continue;
		for (unsigned k = 0; k < r->npoints; k++) {
			const struct density_mem_point *p = &r->points[k];
			fprintf(dat, "%u %.1f %.1f %.1f\n", p->vms, density_per_vm_kib(p),
				(double)p->pss_kib / p->vms, (double)density_kernel_kib(p) / p->vms);
		}
		fputs("\n\n", dat);
		len += (size_t)snprintf(plot + len, sizeof(plot) - len,
			"%s'%s/mem.dat' index %u using 1:($2/1024) with linespoints lw 2 pt 7 lc %d "
			"title '%s'", len ? ", " : "", run->out_dir, index++, v + 1, titles[v]);
		if (len >= sizeof(plot))
			len = sizeof(plot) - 1;
	}
	fclose(dat);
	if (!index)
		return;
	fprintf(gp, "set output '%s/mem.png'\n"
		    "set title 'Host memory per idle VM (PSS + Slab, PageTables, SecPageTables, "
		    "KernelStack growth)'\n"
		    "set xlabel 'idle VMs up (log scale)'\nset ylabel 'MiB per VM'\n"
		    "set logscale x\nset yrange [0:*]\nset key top right\n"
		    "plot %s, 1 with lines dt 2 lc rgb 'gray40' title 'goal for Ember: 1 MiB'\n",
		run->out_dir, plot);
}

/* Runs gnuplot on the script; returns its exit status, or -1 when it cannot start. */
static int run_gnuplot(const char *gnuplot, const char *script, char *msg, size_t size)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC), fd = -1;
	if (null_fd < 0)
		return -1;
	char *argv[] = { (char *)gnuplot, (char *)script, NULL };
	uint64_t t;
	struct error e = { "" };
	pid_t pid = density_spawn(argv, null_fd, &fd, &t, &e);
	close(null_fd);
	if (pid < 0) {
		snprintf(msg, size, "%s", e.msg);
		return -1;
	}
	size_t len = 0;
	ssize_t n;
	char buf[512];
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (len + 1 < size) {
			size_t take = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
			memcpy(msg + len, buf, take);
			len += take;
		}
	msg[len] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	close(fd);
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void density_write_plots(struct density_run *run)
{
	char gnuplot[PATH_MAX];
	if (!density_find_in_path("gnuplot", gnuplot, sizeof(gnuplot))) {
		snprintf(run->plot_note, sizeof(run->plot_note),
			 "gnuplot not found; install gnuplot-nox");
		return;
	}
	char script[PATH_MAX + 32];
	snprintf(script, sizeof(script), "%s/plots.gp", run->out_dir);
	FILE *gp = fopen(script, "we");
	if (!gp) {
		snprintf(run->plot_note, sizeof(run->plot_note), "cannot write %.200s", script);
		return;
	}
	fputs("set terminal pngcairo size 960,560 font ',10'\nset grid\n", gp);
	ttr_plot(run, gp);
	mem_plot(run, gp);
	fclose(gp);
	char msg[200] = "";
	int rc = run_gnuplot(gnuplot, script, msg, sizeof(msg));
	if (rc != 0) {
		snprintf(run->plot_note, sizeof(run->plot_note), "gnuplot failed (%d): %.200s", rc, msg);
		return;
	}
	char png[PATH_MAX + 32];
	static const char *const names[] = { "ttr.png", "mem.png" };
	for (int i = 0; i < 2; i++) {
		snprintf(png, sizeof(png), "%s/%s", run->out_dir, names[i]);
		if (access(png, R_OK) != 0) {
			snprintf(run->plot_note, sizeof(run->plot_note), "no data for %s", names[i]);
			return;
		}
	}
}
