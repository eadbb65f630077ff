/* Linux CPU lists ("0-3,8,10-11", as in sysfs and taskset -c) and pinning a thread to one CPU. */
#ifndef EMBER_CPU_LIST_H
#define EMBER_CPU_LIST_H

#include <pthread.h>
#include <stdint.h>

#include "error.h"

#define CPU_LIST_MAX 4096   /* CPU numbers are below this; a list holds at most this many */

struct cpu_list {
	unsigned n;
	uint16_t cpu[CPU_LIST_MAX]; /* in the order written */
};

/* Parses a list of CPU numbers and ranges. Empty lists, reversed ranges, numbers of
 * CPU_LIST_MAX or more and CPUs listed twice are errors. A trailing newline is accepted
 * (sysfs files end with one). */
int cpu_list_parse(const char *text, struct cpu_list *out, struct error *e);

/* Pins `thread` to CPU `cpu` only. */
int cpu_list_pin_thread(pthread_t thread, unsigned cpu, struct error *e);

#endif
