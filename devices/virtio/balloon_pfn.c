/* The guest's page numbers (inflateq/deflateq buffers) → runs of host memory. Every PFN comes
 * from a hostile guest: a page is used only if it lies wholly inside one RAM region (not in the
 * 32-bit hole, not past the end); the others are counted and ignored. Sorting first lets
 * adjacent pages merge into one run, so releasing 256 contiguous pages is one madvise call, not
 * 256. */
#include "balloon_internal.h"

#include <stdlib.h>

static int compare_pfn(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Whether page `gpa` (host `host`) continues `run`: next guest page and next host byte. Two
 * regions can be host-adjacent without being guest-adjacent (the end of low RAM and the start
 * of high RAM), so both must hold. */
static bool continues(const struct balloon_run *run, uint64_t gpa, const uint8_t *host)
{
	return run->gpa + run->len == gpa && run->host + run->len == host;
}

size_t balloon_pfns_to_runs(const struct guest_mem *gm, uint32_t *pfns, size_t n,
			    struct balloon_run *runs, struct balloon_pfn_counts *c)
{
	if (n == 0)
		return 0;
	qsort(pfns, n, sizeof(*pfns), compare_pfn);
	size_t nruns = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && pfns[i] == pfns[i - 1]) {
			c->duplicates++;
			continue;
		}
		uint64_t gpa = (uint64_t)pfns[i] << BALLOON_PAGE_SHIFT;
		uint8_t *host = guest_mem_ptr(gm, gpa, BALLOON_PAGE_SIZE);
		if (!host) {
			c->ignored++;
			continue;
		}
		c->pages++;
		if (nruns > 0 && continues(&runs[nruns - 1], gpa, host)) {
			runs[nruns - 1].len += BALLOON_PAGE_SIZE;
			continue;
		}
		runs[nruns++] = (struct balloon_run){ gpa, BALLOON_PAGE_SIZE, host };
	}
	return nruns;
}
