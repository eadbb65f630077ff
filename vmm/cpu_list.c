#include "cpu_list.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int parse_cpu_number(const char **p, unsigned *out, struct error *e)
{
	if (!isdigit((unsigned char)**p))
		return error_set(e, "expected a CPU number at '%.16s'", *p);
	errno = 0;
	char *end;
	unsigned long v = strtoul(*p, &end, 10);
	if (errno || v >= CPU_LIST_MAX)
		return error_set(e, "CPU %.16s is out of range (0-%d)", *p, CPU_LIST_MAX - 1);
	*out = (unsigned)v;
	*p = end;
	return 0;
}

static bool already_listed(const struct cpu_list *l, unsigned cpu)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->cpu[i] == cpu)
			return true;
	return false;
}

static int add_range(struct cpu_list *l, unsigned first, unsigned last, struct error *e)
{
	if (last < first)
		return error_set(e, "range %u-%u is reversed", first, last);
	for (unsigned cpu = first; cpu <= last; cpu++) {
		if (already_listed(l, cpu))
			return error_set(e, "CPU %u is listed twice", cpu);
		l->cpu[l->n++] = (uint16_t)cpu; /* cannot overflow: CPUs are distinct and < MAX */
	}
	return 0;
}

int cpu_list_parse(const char *text, struct cpu_list *out, struct error *e)
{
	out->n = 0;
	const char *p = text;
	for (;;) {
		unsigned first, last;
		if (parse_cpu_number(&p, &first, e) < 0)
			return -1;
		last = first;
		if (*p == '-') {
			p++;
			if (parse_cpu_number(&p, &last, e) < 0)
				return -1;
		}
		if (add_range(out, first, last, e) < 0)
			return -1;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\n' && p[1] == '\0')
			p++;
		if (*p != '\0')
			return error_set(e, "unexpected '%c' in CPU list '%.64s'", *p, text);
		return 0;
	}
}

int cpu_list_pin_thread(pthread_t thread, unsigned cpu, struct error *e)
{
	cpu_set_t set;
	if (cpu >= CPU_SETSIZE)
		return error_set(e, "CPU %u is beyond what sched_setaffinity takes here (%d)", cpu,
				 CPU_SETSIZE);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int err = pthread_setaffinity_np(thread, sizeof(set), &set);
	if (err) {
		errno = err;
		return error_errno(e, "cannot pin a thread to CPU %u", cpu);
	}
	return 0;
}
