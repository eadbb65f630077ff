#include "kvm_stats.h"

#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_STATS_MAX_DESCS 4096   /* sanity bound on what the kernel reports */

static int read_exact(int fd, void *buf, size_t size, off_t off, struct error *e)
{
	ssize_t n = pread(fd, buf, size, off);
	if (n < 0)
		return error_errno(e, "reading KVM statistics");
	if ((size_t)n != size)
		return error_set(e, "KVM statistics: short read at offset %lld", (long long)off);
	return 0;
}

static int match_descriptors(int fd, const struct kvm_stats_header *h, const char *const *names,
			     uint64_t *values, unsigned n, struct error *e)
{
	size_t desc_size = sizeof(struct kvm_stats_desc) + h->name_size;
	uint8_t *descs = malloc(desc_size * h->num_desc);
	if (!descs)
		return error_set(e, "out of memory");
	int found = 0;
	if (read_exact(fd, descs, desc_size * h->num_desc, h->desc_offset, e) < 0) {
		free(descs);
		return -1;
	}
	for (uint32_t i = 0; i < h->num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * desc_size);
		d->name[h->name_size - 1] = '\0';
		for (unsigned k = 0; k < n; k++) {
			if (strcmp(d->name, names[k]) != 0 || d->size < 1)
				continue;
			/* The first u64 of the statistic (histograms have more). */
			if (read_exact(fd, &values[k], sizeof(values[k]),
				       (off_t)h->data_offset + d->offset, e) < 0) {
				free(descs);
				return -1;
			}
			found++;
		}
	}
	free(descs);
	return found;
}

int kvm_stats_read(int fd, const char *const *names, uint64_t *values, unsigned n,
		   struct error *e)
{
	for (unsigned k = 0; k < n; k++)
		values[k] = KVM_STATS_MISSING;
	int stats_fd = ioctl(fd, KVM_GET_STATS_FD, NULL);
	if (stats_fd < 0)
		return error_errno(e, "KVM_GET_STATS_FD");
	struct kvm_stats_header h;
	int rc = read_exact(stats_fd, &h, sizeof(h), 0, e);
	if (rc == 0 && (h.name_size < 2 || h.num_desc > KVM_STATS_MAX_DESCS))
		rc = error_set(e, "KVM statistics: implausible header (%u descriptors, names of %u)",
			       h.num_desc, h.name_size);
	if (rc == 0)
		rc = match_descriptors(stats_fd, &h, names, values, n, e);
	close(stats_fd);
	return rc;
}
