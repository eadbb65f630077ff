/* Where guest RAM comes from on the host, and how it is placed so that the nested page tables
 * (AMD NPT, Intel EPT) can map it with 2 MiB or 1 GiB pages.
 *
 *   anon       private anonymous memory, MAP_NORESERVE (the default)
 *   memfd      a memfd (shmem): shareable with other processes (vhost-user, a future device
 *              process), and the shape guest_memfd-based confidential VMs need
 *   hugetlb2m  a hugetlbfs memfd of 2 MiB pages, reserved up front from the host's pool
 *   hugetlb1g  the same with 1 GiB pages
 *
 * anon and memfd are advised MADV_HUGEPAGE (THP) unless thp=off. KVM maps a guest page with a
 * large NPT entry only when the host backs it with a page at least that large and the guest
 * physical and host virtual addresses agree modulo that size, so the mapping is aligned to 1 GiB
 * (2 MiB for guests under 1 GiB): the memslots at GPA 0 and 4 GiB then start on such a boundary.
 * --numa-node binds the mapping to one host node (mbind MPOL_BIND); --prefault populates it
 * before the guest starts (MADV_POPULATE_WRITE). */
#ifndef EMBER_MEMORY_BACKING_H
#define EMBER_MEMORY_BACKING_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

enum memory_backing_kind {
	MEMORY_BACKING_ANON,
	MEMORY_BACKING_MEMFD,
	MEMORY_BACKING_HUGETLB_2M,
	MEMORY_BACKING_HUGETLB_1G,
};

struct memory_backing {
	enum memory_backing_kind kind;
	bool no_thp;           /* anon/memfd: do not advise MADV_HUGEPAGE */
	int numa_node;         /* -1: no binding */
	bool prefault;
};

/* A mapped backing. */
struct memory_mapping {
	uint8_t *host;
	uint64_t size;
	int fd;                /* memfd for everything but anon, else -1 */
	uint64_t page_size;    /* 4K for anon/memfd (THP is opportunistic), else the huge page */
};

/* Defaults: anon with THP, no NUMA binding, no prefault. */
void memory_backing_defaults(struct memory_backing *b);

/* Parses "anon|memfd|hugetlb2m|hugetlb1g[,thp=on|off]" into b->kind / b->no_thp. */
int memory_backing_parse(const char *text, struct memory_backing *b, struct error *e);
const char *memory_backing_name(enum memory_backing_kind kind);

/* Maps `size` bytes of guest RAM as b says (aligned, advised, bound, prefaulted). */
int memory_backing_map(const struct memory_backing *b, uint64_t size, struct memory_mapping *m,
		       struct error *e);
void memory_backing_unmap(struct memory_mapping *m);

/* The alignment memory_backing_map gives a mapping of `size` bytes of `kind`. */
uint64_t memory_backing_alignment(enum memory_backing_kind kind, uint64_t size);

/* Checks that NUMA node `node` exists on this host ("/sys/devices/system/node/nodeN"). */
int memory_backing_check_node(int node, struct error *e);

#endif
