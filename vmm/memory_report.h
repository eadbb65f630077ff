/* How guest RAM ended up backed: what the host kernel says about the mapping (/proc/self/smaps:
 * resident, transparent huge pages, hugetlb) and how KVM maps it in the nested page tables
 * (binary statistics pages_4k / pages_2m / pages_1g, which count NPT/EPT or shadow entries of
 * each size). `ember run --memory-stats` prints it when the VM stops. */
#ifndef EMBER_MEMORY_REPORT_H
#define EMBER_MEMORY_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "guest_mem.h"

struct memory_usage {
	uint64_t rss;            /* bytes of guest RAM resident on the host (smaps Rss: no hugetlb) */
	uint64_t thp;            /* of which in transparent huge pages (AnonHugePages/ShmemPmdMapped) */
	uint64_t hugetlb;        /* of which in hugetlbfs pages */
	bool kvm_known;          /* the KVM statistics below were readable */
	uint64_t pages_4k, pages_2m, pages_1g;
};

/* Sums the smaps entries (from smaps_path, normally "/proc/self/smaps") that overlap guest RAM. */
int memory_usage_smaps(const struct guest_mem *gm, const char *smaps_path, struct memory_usage *u,
		       struct error *e);
/* Fills the KVM part from the VM's statistics (vm_fd < 0: left unknown). */
int memory_usage_kvm(int vm_fd, struct memory_usage *u, struct error *e);

/* One line: "guest RAM 512 MiB (anon, THP): 66 MiB resident, 64 MiB in 2M pages; KVM maps
 * 4K x 530, 2M x 32, 1G x 0". */
void memory_usage_print(const struct guest_mem *gm, const struct memory_usage *u, FILE *out);

#endif
