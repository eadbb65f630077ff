#include "memory_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_stats.h"

/* "7f0000000000-7f0040000000 rw-p ..." */
static bool parse_vma_header(const char *line, uint64_t *start, uint64_t *end)
{
	unsigned long long s, t;
	char dash;
	if (sscanf(line, "%llx%c%llx", &s, &dash, &t) != 3 || dash != '-')
		return false;
	*start = s;
	*end = t;
	return true;
}

/* "AnonHugePages:     2048 kB" -> bytes into *out when the key matches. */
static void parse_field(const char *line, const char *key, uint64_t *out)
{
	size_t len = strlen(key);
	unsigned long long kb;
	if (strncmp(line, key, len) == 0 && line[len] == ':' &&
	    sscanf(line + len + 1, "%llu kB", &kb) == 1)
		*out += (uint64_t)kb << 10;
}

int memory_usage_smaps(const struct guest_mem *gm, const char *smaps_path, struct memory_usage *u,
		       struct error *e)
{
	FILE *f = fopen(smaps_path, "r");
	if (!f)
		return error_errno(e, "cannot open %s", smaps_path);
	uint64_t lo = (uint64_t)(uintptr_t)gm->host, hi = lo + gm->size;
	bool inside = false;
	char line[512];
	u->rss = u->thp = u->hugetlb = 0;
	while (fgets(line, sizeof(line), f)) {
		uint64_t start, end;
		if (parse_vma_header(line, &start, &end)) {
			inside = start < hi && end > lo;
			continue;
		}
		if (!inside)
			continue;
		parse_field(line, "Rss", &u->rss);
		parse_field(line, "AnonHugePages", &u->thp);
		parse_field(line, "ShmemPmdMapped", &u->thp);
		parse_field(line, "Shared_Hugetlb", &u->hugetlb);
		parse_field(line, "Private_Hugetlb", &u->hugetlb);
	}
	fclose(f);
	return 0;
}

int memory_usage_kvm(int vm_fd, struct memory_usage *u, struct error *e)
{
	static const char *const names[] = { "pages_4k", "pages_2m", "pages_1g" };
	uint64_t v[3];
	u->kvm_known = false;
	if (vm_fd < 0)
		return 0;
	int found = kvm_stats_read(vm_fd, names, v, 3, e);
	if (found < 0)
		return -1;
	if (found < 3)
		return error_set(e, "KVM statistics lack pages_4k/pages_2m/pages_1g");
	u->pages_4k = v[0];
	u->pages_2m = v[1];
	u->pages_1g = v[2];
	u->kvm_known = true;
	return 0;
}

/* shmem (memfd) gets THP only if the host allows it for shmem at all. */
static bool shmem_thp_allowed(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strstr(buf, "[never]") && !strstr(buf, "[deny]");
}

static const char *thp_note(const struct guest_mem *gm)
{
	switch (gm->backing.kind) {
	case MEMORY_BACKING_HUGETLB_2M:
	case MEMORY_BACKING_HUGETLB_1G:
		return "";
	case MEMORY_BACKING_MEMFD:
		if (!gm->backing.no_thp && !shmem_thp_allowed())
			return ", THP refused by shmem_enabled";
		break;
	case MEMORY_BACKING_ANON:
		break;
	}
	return gm->backing.no_thp ? ", no THP" : ", THP";
}

void memory_usage_print(const struct guest_mem *gm, const struct memory_usage *u, FILE *out)
{
	const uint64_t mib = 1 << 20;
	fprintf(out, "ember: guest RAM %" PRIu64 " MiB (%s%s): %" PRIu64 " MiB resident, %" PRIu64
		" MiB in THP, %" PRIu64 " MiB in hugetlb pages", gm->size / mib,
		memory_backing_name(gm->backing.kind), thp_note(gm), (u->rss + u->hugetlb) / mib,
		u->thp / mib,
		u->hugetlb / mib);
	if (u->kvm_known)
		fprintf(out, "; KVM maps 4K x %" PRIu64 ", 2M x %" PRIu64 " (%" PRIu64
			" MiB), 1G x %" PRIu64 " (%" PRIu64 " MiB)", u->pages_4k, u->pages_2m,
			u->pages_2m * 2, u->pages_1g, u->pages_1g * 1024);
	fputc('\n', out);
}
