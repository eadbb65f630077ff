/* KVM's binary statistics (KVM_GET_STATS_FD on a VM or vCPU fd; kernel 5.14+): a header, one
 * descriptor per statistic, and a data block of u64 values. Read by name. */
#ifndef EMBER_KVM_STATS_H
#define EMBER_KVM_STATS_H

#include <stdint.h>

#include "error.h"

#define KVM_STATS_MISSING UINT64_MAX

/* Reads the statistics `names[0..n)` of the VM or vCPU behind `fd` into values[]; a name KVM
 * does not have gets KVM_STATS_MISSING. Returns how many were found, or -1. */
int kvm_stats_read(int fd, const char *const *names, uint64_t *values, unsigned n,
		   struct error *e);

#endif
