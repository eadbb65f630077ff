/* Derived numbers of a density run, shared by the JSON, CSV and Markdown writers. */
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* Fills `ms` with one value per VM (selected by `kind`) and computes its statistics. */
enum vm_value { TTR, SELF_READY, EXEC };

static void stats_of(const struct density_fleet *f, enum vm_value kind, struct density_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!f->vms || !f->launched)
		return;
	double *v = malloc(f->launched * sizeof(*v));
	if (!v)
		return;
	unsigned n = 0;
	for (unsigned i = 0; i < f->launched; i++) {
		const struct density_vm *vm = &f->vms[i];
		if (kind == EXEC) {
			v[n++] = (double)(vm->exec_ns - vm->spawn_ns) / 1e6;
			continue;
		}
		if (vm->state != VM_READY)
			continue;
		if (kind == TTR)
			v[n++] = (double)(vm->ready_ns - vm->spawn_ns) / 1e6;
		else if (vm->self_ready_us >= 0)
			v[n++] = (double)vm->self_ready_us / 1e3;
	}
	density_stats(v, n, s);
	free(v);
}

void density_summarize(const struct density_vmm_run *r, struct density_summary *s)
{
	memset(s, 0, sizeof(*s));
	if (r->single_ran) {
		stats_of(&r->single, TTR, &s->single_ttr_ms);
		stats_of(&r->single, SELF_READY, &s->single_self_ms);
		if (r->single.launched)
			s->single_teardown_ms = r->single_teardown_s * 1e3 / r->single.launched;
	}
	if (!r->fleet_ran)
		return;
	const struct density_fleet *f = &r->fleet;
	stats_of(f, TTR, &s->ttr_ms);
	stats_of(f, SELF_READY, &s->self_ms);
	stats_of(f, EXEC, &s->exec_ms);
	s->launched = f->launched;
	s->ready = f->ready;
	s->failed = f->failed;
	s->launch_seconds = (double)f->launch_ns / 1e9;
	s->launch_rate = s->launch_seconds > 0 ? s->ready / s->launch_seconds : 0;
	if (r->npoints) {
		const struct density_mem_point *p = &r->points[r->npoints - 1];
		s->last = p;
		s->mem_per_vm_kib = density_per_vm_kib(p);
		s->pss_per_vm_kib = (double)p->pss_kib / p->vms;
		s->kernel_per_vm_kib = (double)density_kernel_kib(p) / p->vms;
		s->mem_free_per_vm_kib = (double)p->mem_free_drop_kib / p->vms;
	}
	if (r->cpu_measured && r->cpu.seconds > 0) {
		s->cpu_percent = (double)r->cpu.vmm_ns / 1e9 / r->cpu.seconds * 100;
		s->cpu_percent_per_vm = r->cpu.vms ? s->cpu_percent / r->cpu.vms : 0;
		s->host_busy_percent = r->cpu.host_total_ns
			? (double)r->cpu.host_busy_ns / (double)r->cpu.host_total_ns * 100 : 0;
	}
}

bool density_vmm_complete(const struct density_vmm_run *r)
{
	/* Failures tolerated by --max-failures are reported, not held against completeness. */
	return r->fleet_ran && r->fleet.ready == r->requested && !r->fleet.died_after_ready &&
	       r->fleet.failed <= r->fleet.max_failures && (!r->single_ran || !r->single.failed);
}
