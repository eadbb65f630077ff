/* Guest RAM: one host mapping (anonymous by default; see memory_backing.h for the others), seen
 * by the guest as low RAM at GPA 0 (up to the 32-bit hole) and, for larger guests, high RAM from
 * 4 GiB. Every guest-supplied address goes through guest_mem_ptr, which refuses any range not
 * wholly inside RAM. */
#ifndef EMBER_GUEST_MEM_H
#define EMBER_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "memory_backing.h"

struct guest_mem_region {
	uint64_t gpa;     /* guest-physical start */
	uint64_t size;    /* bytes */
	uint8_t *host;    /* host address of gpa */
};

#define GUEST_MEM_MAX_REGIONS 2

struct guest_mem {
	uint8_t *host;    /* the whole mapping */
	uint64_t size;    /* total RAM bytes */
	unsigned nregions;
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	struct memory_backing backing;   /* how it was made */
	struct memory_mapping mapping;   /* memfd, page size */
};

/* Reserves `size` bytes of lazily allocated, THP-advised RAM and lays it out around the 32-bit
 * hole. Touches no KVM state (unit tests use it directly). */
int guest_mem_init(struct guest_mem *gm, uint64_t size, struct error *e);
/* The same with a chosen backing (anon/memfd/hugetlb, NUMA node, prefault). The mapping is
 * aligned (memory_backing_alignment) so both memslots can use 2M/1G NPT pages. */
int guest_mem_init_backed(struct guest_mem *gm, uint64_t size, const struct memory_backing *b,
			  struct error *e);
void guest_mem_destroy(struct guest_mem *gm);

/* Registers every region as a KVM memslot (slots 0..nregions-1). */
int guest_mem_register(const struct guest_mem *gm, int vm_fd, struct error *e);

/* Host pointer for [gpa, gpa+len) or NULL when any byte of it is outside RAM or the range wraps.
 * len 0 is allowed (checks gpa only). */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers: 0 on success, -1 (with e filled) when the range is not in RAM. */
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len,
		    struct error *e);
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len, struct error *e);

/* Top of RAM below 4 GiB (end of the low region). */
uint64_t guest_mem_low_end(const struct guest_mem *gm);

#endif
