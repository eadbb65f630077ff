/* summary.md of a density run, and the table printed at the end of it. */
#include <stdio.h>
#include <string.h>

#include "report.h"

struct column {
	const struct density_vmm_run *r;
	struct density_summary s;
};

static const char *const titles[DENSITY_NVMMS] = { "Ember", "QEMU microvm", "kvmtool" };

static unsigned collect(const struct density_run *run, struct column *cols)
{
	unsigned n = 0;
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		if (!run->vmm[v].wanted)
			continue;
		cols[n].r = &run->vmm[v];
		density_summarize(&run->vmm[v], &cols[n].s);
		n++;
	}
	return n;
}

/* One table cell: "—" when the VMM did not run or the value was not measured. */
static void cell(FILE *f, const struct column *c, bool measured, const char *fmt, double v)
{
	fputs(" | ", f);
	if (!c->r->available) {
		fputs("not run", f);
		return;
	}
	if (!measured) {
		fputs("—", f);
		return;
	}
	fprintf(f, fmt, v);
}

static void goal(FILE *f, const struct column *ember, bool measured, bool met, const char *text)
{
	if (!ember || !ember->r->available || !measured)
		fprintf(f, " | %s |\n", text);
	else
		fprintf(f, " | %s %s |\n", text, met ? "(met)" : "(**not met**)");
}

static const struct column *find_ember(const struct column *cols, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (cols[i].r->launch.vmm == DENSITY_EMBER && cols[i].r->available)
			return &cols[i];
	return NULL;
}

static void results_table(FILE *f, const struct density_run *run, const struct column *cols,
			  unsigned n)
{
	const struct column *em = find_ember(cols, n);
	fputs("| Measure", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, " | %s", titles[cols[i].r->launch.vmm]);
	fputs(" | Goal (Ember, small guest) |\n|---", f);
	for (unsigned i = 0; i <= n; i++)
		fputs("|---", f);
	fputs("|\n", f);

	fputs("| Idle VMs up (ready / requested)", f);
	for (unsigned i = 0; i < n; i++) {
		fputs(" | ", f);
		if (cols[i].r->available)
			fprintf(f, "%u / %u%s", cols[i].s.ready, cols[i].r->requested,
				cols[i].s.failed ? " (some failed: see below)" : "");
		else
			fputs("not run", f);
	}
	goal(f, em, em && em->r->fleet_ran, em && em->s.ready >= DENSITY_GOAL_VMS, "≥ 2000");

	fputs("| Single launch: time to ready, median (ms)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.single_ttr_ms.n, "%.2f", cols[i].s.single_ttr_ms.p50);
	goal(f, em, em && em->s.single_ttr_ms.n, em && em->s.single_ttr_ms.p50 <= DENSITY_GOAL_TTR_MS,
	     "≤ 3 ms");

	fputs("| Single launch: Ember's own guest-ready-us, median (ms)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.single_self_ms.n, "%.2f", cols[i].s.single_self_ms.p50);
	fputs(" | |\n", f);

	fprintf(f, "| Time to ready at concurrency %u: p50 / p90 / p99 (ms)", run->opt.concurrency);
	for (unsigned i = 0; i < n; i++) {
		fputs(" | ", f);
		const struct density_stats *t = &cols[i].s.ttr_ms;
		if (!cols[i].r->available)
			fputs("not run", f);
		else if (!t->n)
			fputs("—", f);
		else
			fprintf(f, "%.1f / %.1f / %.1f", t->p50, t->p90, t->p99);
	}
	fputs(" | |\n", f);

	fputs("| Launch rate (VMs/s)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.launch_seconds > 0, "%.0f", cols[i].s.launch_rate);
	goal(f, em, em && em->s.launch_seconds > 0, em && em->s.launch_rate >= DENSITY_GOAL_RATE,
	     "≥ 300");

	fputs("| Host memory per idle VM: PSS + kernel (KiB)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.last != NULL, "%.0f", cols[i].s.mem_per_vm_kib);
	goal(f, em, em && em->s.last, em && em->s.mem_per_vm_kib <= DENSITY_GOAL_KIB_PER_VM,
	     "≤ 1024 KiB");

	fputs("| &nbsp;&nbsp;PSS of the VMM process (KiB)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.last != NULL, "%.0f", cols[i].s.pss_per_vm_kib);
	fputs(" | |\n| &nbsp;&nbsp;kernel: Slab + PageTables + SecPageTables + KernelStack (KiB)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.last != NULL, "%.0f", cols[i].s.kernel_per_vm_kib);
	fputs(" | |\n| &nbsp;&nbsp;cross-check: MemFree drop per VM (KiB)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].s.last != NULL, "%.0f", cols[i].s.mem_free_per_vm_kib);
	fputs(" | |\n", f);

	fprintf(f, "| Host CPU of all idle VMs over %.0f s (%% of one CPU)", run->opt.idle_seconds);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].r->cpu_measured, "%.3f", cols[i].s.cpu_percent);
	fputs(" | |\n| &nbsp;&nbsp;host busy during the window (% of all CPUs)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].r->cpu_measured, "%.1f", cols[i].s.host_busy_percent);
	fputs(" | |\n| Teardown of all VMs (s)", f);
	for (unsigned i = 0; i < n; i++)
		cell(f, &cols[i], cols[i].r->fleet_ran, "%.3f", cols[i].r->teardown_s);
	fputs(" | |\n", f);
}

static void memory_points_table(FILE *f, const struct column *cols, unsigned n)
{
	fputs("\n## Memory per VM against N\n\n| VMM | VMs | per VM (KiB) | PSS (KiB) | kernel (KiB) "
	      "| MemFree drop (KiB) |\n|---|---|---|---|---|---|\n", f);
	for (unsigned i = 0; i < n; i++) {
		const struct density_vmm_run *r = cols[i].r;
		for (unsigned k = 0; k < r->npoints; k++) {
			const struct density_mem_point *p = &r->points[k];
			fprintf(f, "| %s | %u | %.0f | %.0f | %.0f | %.0f |\n", titles[r->launch.vmm], p->vms,
				density_per_vm_kib(p), (double)p->pss_kib / p->vms,
				(double)density_kernel_kib(p) / p->vms, (double)p->mem_free_drop_kib / p->vms);
		}
	}
}

static void host_table(FILE *f, const struct density_host *h)
{
	fprintf(f, "\n## Host\n\n%s, %u CPUs (%s), %llu MiB RAM, transparent huge pages: %s, load "
		   "average at the start %.2f %.2f %.2f.\n\n"
		   "| Limit | Value | Needed (about) | OK | Note |\n|---|---|---|---|---|\n",
		h->kernel, h->cpus, h->cpu_model, (unsigned long long)(h->mem_total_kib >> 10), h->thp,
		h->loadavg[0], h->loadavg[1], h->loadavg[2]);
	for (unsigned i = 0; i < h->nlimits; i++) {
		const struct density_limit *l = &h->limits[i];
		fprintf(f, "| %s | ", l->name);
		if (l->value == DENSITY_UNLIMITED)
			fputs("unlimited", f);
		else
			fprintf(f, "%llu", (unsigned long long)l->value);
		if (l->needed)
			fprintf(f, " | %llu", (unsigned long long)l->needed);
		else
			fputs(" | ", f);
		fprintf(f, " | %s | %s |\n", l->ok ? "yes" : "**no**", l->note);
	}
}

static void notes(FILE *f, const struct density_run *run, const struct column *cols, unsigned n)
{
	fputs("\n## VMMs and stop reasons\n\n", f);
	for (unsigned i = 0; i < n; i++) {
		const struct density_vmm_run *r = cols[i].r;
		if (!r->available) {
			fprintf(f, "- **%s**: not run: %s\n", titles[r->launch.vmm], r->skip_reason);
			continue;
		}
		fprintf(f, "- **%s** (%s): `%s`\n", titles[r->launch.vmm], r->launch.version, r->command);
		if (r->single.stop_reason[0])
			fprintf(f, "  - single launches stopped: %s\n", r->single.stop_reason);
		if (r->fleet.stop_reason[0])
			fprintf(f, "  - stopped launching: %s\n", r->fleet.stop_reason);
		else if (r->fleet.failure[0])
			fprintf(f, "  - %u VM(s) failed (tolerated by --max-failures); the first: %s\n",
				r->fleet.failed, r->fleet.failure);
	}
	if (run->interrupted)
		fputs("\n**The run was interrupted; the numbers above are partial.**\n", f);
}

int density_write_markdown(const struct density_run *run, struct error *e)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/summary.md", run->out_dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return error_errno(e, "cannot write %s", path);
	struct column cols[DENSITY_NVMMS];
	unsigned n = collect(run, cols);
	fprintf(f, "# Density benchmark\n\n`%s`\n\nStarted %s, took %.0f s. Guest: %s, %llu MiB "
		   "RAM, 1 vCPU. Single launches: %u per VMM. Idle window: %.0f s.\n\n",
		run->command, run->started, run->wall_seconds,
		run->opt.guest == DENSITY_GUEST_LINUX ? "the default Linux guest"
						      : "the small idle guest (benches/density/guest)",
		(unsigned long long)(run->opt.guest_mem >> 20), run->opt.single_launches,
		run->opt.idle_seconds);
	results_table(f, run, cols, n);
	memory_points_table(f, cols, n);
	if (run->plot_note[0])
		fprintf(f, "\nPlots: not drawn (%s).\n", run->plot_note);
	else
		fputs("\n![time to ready](ttr.png)\n\n![memory per VM against N](mem.png)\n", f);
	host_table(f, &run->host);
	notes(f, run, cols, n);
	fputs("\nTime to ready: from just before the VMM process is created (clone+exec) to the "
	      "moment the launcher reads the guest's ready mark from the VMM's output. Memory per "
	      "VM: PSS of the VMM processes (/proc/PID/smaps_rollup) plus the growth of Slab, "
	      "PageTables, SecPageTables and KernelStack in /proc/meminfo since before the first "
	      "launch, divided by the VMs up. Details: docs/density.md.\n", f);
	if (fclose(f) != 0)
		return error_errno(e, "cannot write %s", path);
	return 0;
}

void density_print_summary(const struct density_run *run, FILE *out)
{
	struct column cols[DENSITY_NVMMS];
	unsigned n = collect(run, cols);
	fprintf(out, "\n%-10s %9s %11s %16s %9s %10s %9s %9s\n", "vmm", "ready", "single ms",
		"ttr p50/p99 ms", "VMs/s", "KiB/VM", "CPU %", "down s");
	for (unsigned i = 0; i < n; i++) {
		const struct density_vmm_run *r = cols[i].r;
		const struct density_summary *s = &cols[i].s;
		if (!r->available) {
			fprintf(out, "%-10s %s\n", r->launch.name, r->skip_reason);
			continue;
		}
		char ready[32], ttr[40];
		snprintf(ready, sizeof(ready), "%u/%u", s->ready, r->requested);
		snprintf(ttr, sizeof(ttr), "%.1f/%.1f", s->ttr_ms.p50, s->ttr_ms.p99);
		fprintf(out, "%-10s %9s %11.2f %16s %9.0f %10.0f %9.3f %9.3f\n", r->launch.name, ready,
			s->single_ttr_ms.p50, ttr, s->launch_rate, s->mem_per_vm_kib, s->cpu_percent,
			r->teardown_s);
	}
}
