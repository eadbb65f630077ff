#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "measure.h"

static bool vm_is_up(const struct density_vm *vm)
{
	return vm->state == VM_READY && !vm->exited && !vm->reaped;
}

void density_measure_memory(struct density_fleet *f, const struct density_meminfo *base,
			    struct density_mem_point *p)
{
	memset(p, 0, sizeof(*p));
	uint64_t start = density_now_ns();
	for (unsigned i = 0; i < f->launched; i++) {
		struct density_vm *vm = &f->vms[i];
		if (!vm_is_up(vm))
			continue;
		if (density_read_smaps_rollup(vm->pid, &vm->pss_kib, &vm->rss_kib, &vm->pss_anon_kib) < 0)
			continue;
		p->vms++;
		p->pss_kib += vm->pss_kib;
		p->rss_kib += vm->rss_kib;
		p->pss_anon_kib += vm->pss_anon_kib;
	}
	struct density_meminfo now;
	if (density_read_meminfo(&now, NULL) == 0) {
		p->slab_kib = (int64_t)now.slab - (int64_t)base->slab;
		p->page_tables_kib = (int64_t)now.page_tables - (int64_t)base->page_tables;
		p->sec_page_tables_kib = (int64_t)now.sec_page_tables - (int64_t)base->sec_page_tables;
		p->kernel_stack_kib = (int64_t)now.kernel_stack - (int64_t)base->kernel_stack;
		p->mem_free_drop_kib = (int64_t)base->mem_free - (int64_t)now.mem_free;
	}
	p->seconds = (double)(density_now_ns() - start) / 1e9;
}

int64_t density_kernel_kib(const struct density_mem_point *p)
{
	return p->slab_kib + p->page_tables_kib + p->sec_page_tables_kib + p->kernel_stack_kib;
}

double density_per_vm_kib(const struct density_mem_point *p)
{
	if (!p->vms)
		return 0;
	return ((double)p->pss_kib + (double)density_kernel_kib(p)) / p->vms;
}

void density_measure_cpu(struct density_fleet *f, double seconds, struct density_cpu *c)
{
	memset(c, 0, sizeof(*c));
	uint64_t busy0 = 0, total0 = 0, busy1 = 0, total1 = 0;
	for (unsigned i = 0; i < f->launched; i++) {
		struct density_vm *vm = &f->vms[i];
		vm->cpu_ns_start = vm->cpu_ns_end = 0;
		if (vm_is_up(vm) && !density_process_cpu_ns(vm->pid, &vm->cpu_ns_start))
			vm->cpu_ns_start = UINT64_MAX;
	}
	density_read_host_cpu(&busy0, &total0);
	uint64_t t0 = density_now_ns();
	density_sleep(seconds);
	uint64_t t1 = density_now_ns();
	density_read_host_cpu(&busy1, &total1);
	for (unsigned i = 0; i < f->launched; i++) {
		struct density_vm *vm = &f->vms[i];
		if (!vm_is_up(vm) || vm->cpu_ns_start == UINT64_MAX)
			continue;
		if (!density_process_cpu_ns(vm->pid, &vm->cpu_ns_end) || vm->cpu_ns_end < vm->cpu_ns_start)
			continue;
		c->vms++;
		c->vmm_ns += vm->cpu_ns_end - vm->cpu_ns_start;
	}
	c->seconds = (double)(t1 - t0) / 1e9;
	c->host_busy_ns = busy1 - busy0;
	c->host_total_ns = total1 - total0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v: the smallest value with at least pct% of v at or below
 * it. */
static double percentile(const double *v, unsigned n, unsigned pct)
{
	unsigned long rank = ((unsigned long)pct * n + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

void density_stats(double *v, unsigned n, struct density_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), compare_double);
	double sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += v[i];
	s->min = v[0];
	s->max = v[n - 1];
	s->mean = sum / n;
	s->p50 = percentile(v, n, 50);
	s->p90 = percentile(v, n, 90);
	s->p99 = percentile(v, n, 99);
}
