#include "memory_backing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <linux/mempolicy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SZ_4K (4ULL << 10)
#define SZ_2M (2ULL << 20)
#define SZ_1G (1ULL << 30)
#define MAX_NUMA_NODE 1023
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static const char *const kind_names[] = {
	[MEMORY_BACKING_ANON] = "anon",
	[MEMORY_BACKING_MEMFD] = "memfd",
	[MEMORY_BACKING_HUGETLB_2M] = "hugetlb2m",
	[MEMORY_BACKING_HUGETLB_1G] = "hugetlb1g",
};

void memory_backing_defaults(struct memory_backing *b)
{
	*b = (struct memory_backing){ .kind = MEMORY_BACKING_ANON, .numa_node = -1 };
}

const char *memory_backing_name(enum memory_backing_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

static bool is_hugetlb(enum memory_backing_kind kind)
{
	return kind == MEMORY_BACKING_HUGETLB_2M || kind == MEMORY_BACKING_HUGETLB_1G;
}

int memory_backing_parse(const char *text, struct memory_backing *b, struct error *e)
{
	size_t len = strcspn(text, ",");
	const char *opt = text[len] == ',' ? text + len + 1 : NULL;
	bool found = false;
	for (unsigned k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (strlen(kind_names[k]) == len && strncmp(text, kind_names[k], len) == 0) {
			b->kind = (enum memory_backing_kind)k;
			found = true;
		}
	if (!found)
		return error_set(e, "--memory-backing: '%.*s' is not anon, memfd, hugetlb2m or "
				    "hugetlb1g", (int)(len > 32 ? 32 : len), text);
	b->no_thp = false;
	if (!opt)
		return 0;
	if (is_hugetlb(b->kind))
		return error_set(e, "--memory-backing: %s takes no options", kind_names[b->kind]);
	if (strcmp(opt, "thp=off") == 0)
		b->no_thp = true;
	else if (strcmp(opt, "thp=on") != 0)
		return error_set(e, "--memory-backing: unknown option '%.32s' (thp=on or thp=off)", opt);
	return 0;
}

uint64_t memory_backing_alignment(enum memory_backing_kind kind, uint64_t size)
{
	if (kind == MEMORY_BACKING_HUGETLB_1G)
		return SZ_1G;
	if (kind == MEMORY_BACKING_HUGETLB_2M)
		return SZ_2M;
	/* THP gives 2M pages; 1G alignment costs nothing (VA only) and keeps 1G-sized guests
	 * ready for a 1G backing of the same layout. */
	return size >= SZ_1G ? SZ_1G : SZ_2M;
}

int memory_backing_check_node(int node, struct error *e)
{
	char path[64], online[256] = "";
	if (node < 0 || node > MAX_NUMA_NODE)
		return error_set(e, "--numa-node %d is out of range (0-%d)", node, MAX_NUMA_NODE);
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", node);
	struct stat st;
	if (stat(path, &st) == 0)
		return 0;
	FILE *f = fopen("/sys/devices/system/node/online", "r");
	if (f) {
		if (!fgets(online, sizeof(online), f))
			online[0] = '\0';
		fclose(f);
		online[strcspn(online, "\n")] = '\0';
	}
	return error_set(e, "--numa-node %d: this host has no such node (online nodes: %s)", node,
			 online[0] ? online : "none");
}

/* "2M pool: 0 of 0 free" for hugetlb errors. */
static void describe_pool(uint64_t page, char *buf, size_t size)
{
	char path[128];
	unsigned long counts[2] = { 0, 0 };
	static const char *const files[2] = { "free_hugepages", "nr_hugepages" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
			 (unsigned long long)(page >> 10), files[i]);
		FILE *f = fopen(path, "r");
		if (!f) {
			snprintf(buf, size, "this host has no %lluM huge pages",
				 (unsigned long long)(page >> 20));
			return;
		}
		if (fscanf(f, "%lu", &counts[i]) != 1)
			counts[i] = 0;
		fclose(f);
	}
	snprintf(buf, size, "%lu of %lu pages free in the pool; raise "
		 "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages", counts[0], counts[1],
		 (unsigned long long)(page >> 10));
}

/* Reserves size bytes of address space aligned to `align` (PROT_NONE, nothing committed). */
static void *reserve_aligned(uint64_t size, uint64_t align, struct error *e)
{
	uint64_t span = size + align;
	uint8_t *base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0);
	if (base == MAP_FAILED) {
		error_errno(e, "cannot reserve %llu MiB of address space for guest RAM",
			    (unsigned long long)(size >> 20));
		return NULL;
	}
	uint8_t *aligned = (uint8_t *)(((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1));
	if (aligned > base)
		munmap(base, (size_t)(aligned - base));
	uint8_t *end = aligned + size;
	if (end < base + span)
		munmap(end, (size_t)(base + span - end));
	return aligned;
}

static int open_memfd(const struct memory_backing *b, uint64_t size, uint64_t *page,
		      struct error *e)
{
	unsigned flags = MFD_CLOEXEC;
	*page = SZ_4K;
	if (b->kind == MEMORY_BACKING_HUGETLB_2M) {
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
		*page = SZ_2M;
	} else if (b->kind == MEMORY_BACKING_HUGETLB_1G) {
		flags |= MFD_HUGETLB | MFD_HUGE_1GB;
		*page = SZ_1G;
	}
	if (size % *page)
		return error_set(e, "--memory-backing %s: --memory %llu MiB is not a multiple of %llu "
				    "MiB pages", kind_names[b->kind], (unsigned long long)(size >> 20),
				 (unsigned long long)(*page >> 20));
	int fd = memfd_create("ember-guest-ram", flags);
	if (fd < 0) {
		char pool[256];
		describe_pool(*page, pool, sizeof(pool));
		return error_errno(e, "--memory-backing %s: memfd_create (%s)", kind_names[b->kind],
				   is_hugetlb(b->kind) ? pool : "shmem");
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		error_errno(e, "--memory-backing %s: cannot size the memfd to %llu MiB",
			    kind_names[b->kind], (unsigned long long)(size >> 20));
		close(fd);
		return -1;
	}
	return fd;
}

static int map_at(const struct memory_backing *b, uint8_t *at, struct memory_mapping *m,
		  struct error *e)
{
	void *p;
	if (b->kind == MEMORY_BACKING_ANON) {
		/* MAP_NORESERVE: a guest costs only what it touches. */
		p = mmap(at, m->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	} else {
		/* hugetlb: a shared mapping reserves every huge page now, so a short pool fails
		 * here with ENOMEM instead of killing the guest with SIGBUS later. */
		p = mmap(at, m->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m->fd, 0);
	}
	if (p != MAP_FAILED)
		return 0;
	int err = errno;
	char pool[256] = "";
	if (is_hugetlb(b->kind))
		describe_pool(m->page_size, pool, sizeof(pool));
	errno = err;
	if (is_hugetlb(b->kind) && err == ENOMEM)
		return error_set(e, "--memory-backing %s: cannot reserve %llu huge page(s) of %llu MiB "
				    "(%s)", kind_names[b->kind],
				 (unsigned long long)(m->size / m->page_size),
				 (unsigned long long)(m->page_size >> 20), pool);
	return error_errno(e, "--memory-backing %s: cannot map %llu MiB of guest RAM",
			   kind_names[b->kind], (unsigned long long)(m->size >> 20));
}

static int bind_node(const struct memory_mapping *m, int node, struct error *e)
{
	unsigned long mask[(MAX_NUMA_NODE + 1) / (8 * sizeof(unsigned long))] = { 0 };
	unsigned bits = 8 * sizeof(unsigned long);
	mask[node / bits] |= 1ul << (node % bits);
	/* maxnode counts one past the highest bit the kernel should read. */
	if (syscall(SYS_mbind, m->host, m->size, MPOL_BIND, mask, (unsigned long)MAX_NUMA_NODE + 2,
		    0) < 0)
		return error_errno(e, "--numa-node %d: mbind", node);
	return 0;
}

static int prefault(const struct memory_mapping *m, struct error *e)
{
	if (madvise(m->host, m->size, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return error_errno(e, "--prefault: cannot populate %llu MiB of guest RAM",
				   (unsigned long long)(m->size >> 20));
	/* Kernels before 5.14: write every page. */
	for (uint64_t off = 0; off < m->size; off += m->page_size)
		((volatile uint8_t *)m->host)[off] = 0;
	return 0;
}

int memory_backing_map(const struct memory_backing *b, uint64_t size, struct memory_mapping *m,
		       struct error *e)
{
	*m = (struct memory_mapping){ .size = size, .fd = -1, .page_size = SZ_4K };
	if (b->numa_node >= 0 && memory_backing_check_node(b->numa_node, e) < 0)
		return -1;
	if (b->kind != MEMORY_BACKING_ANON) {
		m->fd = open_memfd(b, size, &m->page_size, e);
		if (m->fd < 0)
			return -1;
	}
	uint8_t *at = reserve_aligned(size, memory_backing_alignment(b->kind, size), e);
	if (!at || map_at(b, at, m, e) < 0) {
		if (at)
			munmap(at, size);
		memory_backing_unmap(m);
		return -1;
	}
	m->host = at;
	/* THP lets NPT map guest RAM with 2 MiB pages; failure only costs performance. For memfd
	 * it also needs /sys/kernel/mm/transparent_hugepage/shmem_enabled to allow it. */
	if (!is_hugetlb(b->kind) && !b->no_thp)
		madvise(m->host, size, MADV_HUGEPAGE);
	else if (!is_hugetlb(b->kind))
		madvise(m->host, size, MADV_NOHUGEPAGE);
	if ((b->numa_node >= 0 && bind_node(m, b->numa_node, e) < 0) ||
	    (b->prefault && prefault(m, e) < 0)) {
		memory_backing_unmap(m);
		return -1;
	}
	return 0;
}

void memory_backing_unmap(struct memory_mapping *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	*m = (struct memory_mapping){ .fd = -1 };
}
