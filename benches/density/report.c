/* results.json and results.csv of a density run. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fleet.h"
#include "report.h"

/* A number with a fixed number of decimals in the JSON text (json-c would print 17 digits). */
static json_object *num(double v, int decimals)
{
	char text[64];
	snprintf(text, sizeof(text), "%.*f", decimals, v);
	return json_object_new_double_s(v, text);
}

static json_object *stats_json(const struct density_stats *s)
{
	if (!s->n)
		return NULL; /* null: nothing measured */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "n", json_object_new_int64(s->n));
	json_object_object_add(o, "min", num(s->min, 3));
	json_object_object_add(o, "p50", num(s->p50, 3));
	json_object_object_add(o, "p90", num(s->p90, 3));
	json_object_object_add(o, "p99", num(s->p99, 3));
	json_object_object_add(o, "max", num(s->max, 3));
	json_object_object_add(o, "mean", num(s->mean, 3));
	return o;
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *host_json(const struct density_host *h)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "kernel", json_object_new_string(h->kernel));
	json_object_object_add(o, "cpu_model", json_object_new_string(h->cpu_model));
	json_object_object_add(o, "cpus", json_object_new_int64(h->cpus));
	json_object_object_add(o, "mem_total_mib",
			       json_object_new_int64((int64_t)(h->mem_total_kib >> 10)));
	json_object_object_add(o, "transparent_hugepage", json_object_new_string(h->thp));
	json_object *load = json_object_new_array();
	for (int i = 0; i < 3; i++)
		json_object_array_add(load, num(h->loadavg[i], 2));
	json_object_object_add(o, "loadavg_at_start", load);
	json_object *limits = json_object_new_array();
	for (unsigned i = 0; i < h->nlimits; i++) {
		const struct density_limit *l = &h->limits[i];
		json_object *lo = json_object_new_object();
		json_object_object_add(lo, "name", json_object_new_string(l->name));
		json_object_object_add(lo, "value", l->value == DENSITY_UNLIMITED
			? json_object_new_string("unlimited") : json_object_new_int64((int64_t)l->value));
		json_object_object_add(lo, "needed", l->needed ? json_object_new_int64((int64_t)l->needed)
							       : NULL);
		json_object_object_add(lo, "ok", json_object_new_boolean(l->ok));
		json_object_object_add(lo, "note", json_object_new_string(l->note));
		json_object_array_add(limits, lo);
	}
	json_object_object_add(o, "limits", limits);
	return o;
}

static json_object *config_json(const struct density_run *run)
{
	const struct density_options *o = &run->opt;
	json_object *c = json_object_new_object();
	json_object *count = json_object_new_object();
	for (int v = 0; v < DENSITY_NVMMS; v++)
		json_object_object_add(count, density_vmm_name((enum density_vmm)v),
				       json_object_new_int64(o->count[v]));
	json_object_object_add(c, "count", count);
	json_object_object_add(c, "concurrency", json_object_new_int64(o->concurrency));
	json_object_object_add(c, "guest", json_object_new_string(
		o->guest == DENSITY_GUEST_LINUX ? "linux" : "small"));
	json_object_object_add(c, "guest_kernel", json_object_new_string(run->guest.pvh));
	json_object_object_add(c, "guest_memory_mib",
			       json_object_new_int64((int64_t)(o->guest_mem >> 20)));
	json_object_object_add(c, "single_launches", json_object_new_int64(o->single_launches));
	json_object_object_add(c, "idle_seconds", num(o->idle_seconds, 1));
	json_object_object_add(c, "mem_points", json_object_new_int64(o->mem_points));
	json_object_object_add(c, "max_failures", json_object_new_int64(o->max_failures));
	json_object_object_add(c, "boot_timeout_seconds", num(o->boot_timeout, 1));
	json_object_object_add(c, "min_available_mib",
			       json_object_new_int64((int64_t)(o->min_available_kib >> 10)));
	return c;
}

static json_object *goals_json(void)
{
	json_object *g = json_object_new_object();
	json_object_object_add(g, "concurrent_vms", json_object_new_int64(DENSITY_GOAL_VMS));
	json_object_object_add(g, "memory_per_vm_kib", json_object_new_int64(DENSITY_GOAL_KIB_PER_VM));
	json_object_object_add(g, "launches_per_second", json_object_new_int64(DENSITY_GOAL_RATE));
	json_object_object_add(g, "single_ttr_median_ms", num(DENSITY_GOAL_TTR_MS, 1));
	return g;
}

static json_object *single_json(const struct density_vmm_run *r, const struct density_summary *s)
{
	if (!r->single_ran)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "launches", json_object_new_int64(r->single.launched));
	json_object_object_add(o, "ready", json_object_new_int64(r->single.ready));
	json_object_object_add(o, "ttr_ms", stats_json(&s->single_ttr_ms));
	json_object_object_add(o, "self_ready_ms", stats_json(&s->single_self_ms));
	json_object_object_add(o, "teardown_ms_mean", num(s->single_teardown_ms, 3));
	json_object_object_add(o, "failed", json_object_new_int64(r->single.failed));
	json_object_object_add(o, "stop_reason", str_or_null(r->single.stop_reason));
	return o;
}

static json_object *density_json(const struct density_run *run, const struct density_vmm_run *r,
				 const struct density_summary *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "requested", json_object_new_int64(r->requested));
	json_object_object_add(o, "concurrency", json_object_new_int64(run->opt.concurrency));
	json_object_object_add(o, "launched", json_object_new_int64(s->launched));
	json_object_object_add(o, "ready", json_object_new_int64(s->ready));
	json_object_object_add(o, "failed", json_object_new_int64(s->failed));
	json_object_object_add(o, "complete", json_object_new_boolean(density_vmm_complete(r)));
	json_object_object_add(o, "died_while_idle", json_object_new_int64(r->fleet.died_after_ready));
	json_object_object_add(o, "stop_reason", str_or_null(r->fleet.stop_reason));
	json_object_object_add(o, "first_failure", str_or_null(r->fleet.failure));
	json_object_object_add(o, "ttr_ms", stats_json(&s->ttr_ms));
	json_object_object_add(o, "self_ready_ms", stats_json(&s->self_ms));
	json_object_object_add(o, "exec_ms", stats_json(&s->exec_ms));
	json_object_object_add(o, "launch_seconds", num(s->launch_seconds, 3));
	json_object_object_add(o, "launch_rate_per_s", num(s->launch_rate, 1));
	return o;
}

static json_object *point_json(const struct density_mem_point *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "vms", json_object_new_int64(p->vms));
	json_object_object_add(o, "per_vm_kib", num(density_per_vm_kib(p), 1));
	json_object_object_add(o, "pss_per_vm_kib", num((double)p->pss_kib / p->vms, 1));
	json_object_object_add(o, "kernel_per_vm_kib", num((double)density_kernel_kib(p) / p->vms, 1));
	json_object_object_add(o, "mem_free_drop_per_vm_kib",
			       num((double)p->mem_free_drop_kib / p->vms, 1));
	return o;
}

static json_object *memory_json(const struct density_vmm_run *r, const struct density_summary *s)
{
	const struct density_mem_point *p = s->last;
	if (!p)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "vms", json_object_new_int64(p->vms));
	json_object_object_add(o, "per_vm_kib", num(s->mem_per_vm_kib, 1));
	json_object_object_add(o, "pss_per_vm_kib", num(s->pss_per_vm_kib, 1));
	json_object_object_add(o, "kernel_per_vm_kib", num(s->kernel_per_vm_kib, 1));
	json_object_object_add(o, "pss_kib", json_object_new_int64((int64_t)p->pss_kib));
	json_object_object_add(o, "rss_kib", json_object_new_int64((int64_t)p->rss_kib));
	json_object_object_add(o, "pss_anon_kib", json_object_new_int64((int64_t)p->pss_anon_kib));
	json_object *k = json_object_new_object();
	json_object_object_add(k, "slab", json_object_new_int64(p->slab_kib));
	json_object_object_add(k, "page_tables", json_object_new_int64(p->page_tables_kib));
	json_object_object_add(k, "sec_page_tables", json_object_new_int64(p->sec_page_tables_kib));
	json_object_object_add(k, "kernel_stack", json_object_new_int64(p->kernel_stack_kib));
	json_object_object_add(k, "total", json_object_new_int64(density_kernel_kib(p)));
	json_object_object_add(o, "kernel_kib", k);
	json_object_object_add(o, "mem_free_drop_per_vm_kib", num(s->mem_free_per_vm_kib, 1));
	json_object_object_add(o, "sample_seconds", num(p->seconds, 3));
	json_object *points = json_object_new_array();
	for (unsigned i = 0; i < r->npoints; i++)
		json_object_array_add(points, point_json(&r->points[i]));
	json_object_object_add(o, "points", points);
	return o;
}

static json_object *cpu_json(const struct density_vmm_run *r, const struct density_summary *s)
{
	if (!r->cpu_measured)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "idle_seconds", num(r->cpu.seconds, 3));
	json_object_object_add(o, "vms", json_object_new_int64(r->cpu.vms));
	json_object_object_add(o, "vmm_cpu_seconds", num((double)r->cpu.vmm_ns / 1e9, 6));
	json_object_object_add(o, "cpu_percent", num(s->cpu_percent, 4));
	json_object_object_add(o, "cpu_percent_per_vm", num(s->cpu_percent_per_vm, 6));
	json_object_object_add(o, "host_busy_percent", num(s->host_busy_percent, 2));
	return o;
}

static json_object *vmm_json(const struct density_run *run, const struct density_vmm_run *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "available", json_object_new_boolean(r->available));
	if (!r->available) {
		json_object_object_add(o, "reason", json_object_new_string(r->skip_reason));
		return o;
	}
	struct density_summary s;
	density_summarize(r, &s);
	json_object_object_add(o, "version", json_object_new_string(r->launch.version));
	json_object_object_add(o, "command", json_object_new_string(r->command));
	json_object_object_add(o, "single", single_json(r, &s));
	json_object_object_add(o, "density", density_json(run, r, &s));
	json_object_object_add(o, "memory", memory_json(r, &s));
	json_object_object_add(o, "cpu", cpu_json(r, &s));
	json_object *t = json_object_new_object();
	json_object_object_add(t, "vms", json_object_new_int64(r->fleet.launched));
	json_object_object_add(t, "seconds", num(r->teardown_s, 4));
	json_object_object_add(t, "killed", json_object_new_int64(r->teardown_killed));
	json_object_object_add(o, "teardown", r->fleet_ran ? t : NULL);
	if (!r->fleet_ran)
		json_object_put(t);
	return o;
}

static int write_json(const struct density_run *run, struct error *e)
{
	json_object *root = json_object_new_object();
	json_object_object_add(root, "schema", json_object_new_string("ember-density/1"));
	json_object_object_add(root, "command", json_object_new_string(run->command));
	json_object_object_add(root, "started", json_object_new_string(run->started));
	json_object_object_add(root, "wall_seconds", num(run->wall_seconds, 1));
	json_object_object_add(root, "interrupted", json_object_new_boolean(run->interrupted));
	json_object_object_add(root, "host", host_json(&run->host));
	json_object_object_add(root, "config", config_json(run));
	json_object_object_add(root, "goals", goals_json());
	json_object *vmms = json_object_new_object();
	for (int v = 0; v < DENSITY_NVMMS; v++)
		if (run->vmm[v].wanted)
			json_object_object_add(vmms, density_vmm_name((enum density_vmm)v),
					       vmm_json(run, &run->vmm[v]));
	json_object_object_add(root, "vmms", vmms);
	json_object *files = json_object_new_object();
	bool plots = !run->plot_note[0];
	json_object_object_add(files, "csv", json_object_new_string("results.csv"));
	json_object_object_add(files, "summary", json_object_new_string("summary.md"));
	json_object_object_add(files, "ttr_plot", plots ? json_object_new_string("ttr.png") : NULL);
	json_object_object_add(files, "mem_plot", plots ? json_object_new_string("mem.png") : NULL);
	json_object_object_add(files, "plot_note", str_or_null(run->plot_note));
	json_object_object_add(root, "files", files);

	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/results.json", run->out_dir);
	int rc = json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	json_object_put(root);
	if (rc < 0)
		return error_set(e, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* A failed VM's diagnostic, as one CSV field without commas or quotes. */
static void csv_error(FILE *f, const struct density_vm *vm)
{
	if (vm->state == VM_FAILED) {
		char text[200];
		density_vm_diagnostic(vm, text, sizeof(text));
		for (char *c = text; *c; c++)
			fputc(*c == ',' || *c == '"' ? ';' : *c, f);
	}
	fputc('\n', f);
}

static void csv_rows(FILE *f, const char *vmm, const char *phase, const struct density_fleet *fl)
{
	for (unsigned i = 0; i < fl->launched; i++) {
		const struct density_vm *vm = &fl->vms[i];
		const char *state = vm->state == VM_READY ? "ready" : "failed";
		fprintf(f, "%s,%s,%u,%d,%s,%.3f,", vmm, phase, i, (int)vm->pid, state,
			(double)(vm->exec_ns - vm->spawn_ns) / 1e6);
		if (vm->state == VM_READY)
			fprintf(f, "%.3f,", (double)(vm->ready_ns - vm->spawn_ns) / 1e6);
		else
			fprintf(f, ",");
		if (vm->self_ready_us >= 0)
			fprintf(f, "%.3f,", (double)vm->self_ready_us / 1e3);
		else
			fprintf(f, ",");
		if (vm->pss_kib || vm->rss_kib)
			fprintf(f, "%llu,%llu,%llu,", (unsigned long long)vm->pss_kib,
				(unsigned long long)vm->rss_kib, (unsigned long long)vm->pss_anon_kib);
		else
			fprintf(f, ",,,");
		if (vm->cpu_ns_end >= vm->cpu_ns_start && vm->cpu_ns_end)
			fprintf(f, "%.3f,", (double)(vm->cpu_ns_end - vm->cpu_ns_start) / 1e6);
		else
			fprintf(f, ",");
		csv_error(f, vm);
	}
}

static int write_csv(const struct density_run *run, struct error *e)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/results.csv", run->out_dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return error_errno(e, "cannot write %s", path);
	fprintf(f, "vmm,phase,index,pid,state,exec_ms,ttr_ms,self_ready_ms,pss_kib,rss_kib,"
		   "pss_anon_kib,idle_cpu_ms,error\n");
	for (int v = 0; v < DENSITY_NVMMS; v++) {
		const struct density_vmm_run *r = &run->vmm[v];
		if (!r->available)
			continue;
		if (r->single_ran)
			csv_rows(f, r->launch.name, "single", &r->single);
		if (r->fleet_ran)
			csv_rows(f, r->launch.name, "density", &r->fleet);
	}
	if (fclose(f) != 0)
		return error_errno(e, "cannot write %s", path);
	return 0;
}

int density_write_reports(const struct density_run *run, struct error *e)
{
	if (write_json(run, e) < 0 || write_csv(run, e) < 0 || density_write_markdown(run, e) < 0)
		return -1;
	return 0;
}
