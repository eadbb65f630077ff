#include "sev_kvm_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int real_kvm_ioctl(void *ctx, unsigned long request, void *arg)
{
	struct sev_kvm_real *real = ctx;
	return ioctl(real->kvm_fd, request, arg);
}

static int real_vm_ioctl(void *ctx, unsigned long request, void *arg)
{
	struct sev_kvm_real *real = ctx;
	if (real->vm_fd < 0) {
		errno = EBADF;
		return -1;
	}
	return ioctl(real->vm_fd, request, arg);
}

static int real_vcpu_ioctl(void *ctx, unsigned index, unsigned long request, void *arg)
{
	struct sev_kvm_real *real = ctx;
	if (index >= real->n_vcpus) {
		errno = ENOENT;
		return -1;
	}
	return ioctl(real->vcpu_fds[index], request, arg);
}

static int real_open_sev(void *ctx)
{
	(void)ctx;
	return open("/dev/sev", O_RDWR | O_CLOEXEC);
}

static int real_module_param(void *ctx, const char *module, const char *param)
{
	(void)ctx;
	char path[256];
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module, param);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int c = fgetc(f);
	fclose(f);
	return c == 'Y' || c == 'y' || c == '1';
}

/* FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: guest_memfd frees the pages (and KVM reclaims
 * them from the RMP) without changing the file's size. */
static int real_discard_private(void *ctx, int gmem_fd, uint64_t offset, uint64_t len)
{
	(void)ctx;
	return fallocate(gmem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
			 (off_t)len);
}

static int real_discard_shared(void *ctx, void *host, uint64_t len)
{
	(void)ctx;
	return madvise(host, len, MADV_DONTNEED);
}

static void real_close_fd(void *ctx, int fd)
{
	(void)ctx;
	close(fd);
}

static int real_sev_ioctl(void *ctx, int sev_fd, unsigned long request, void *arg)
{
	(void)ctx;
	return ioctl(sev_fd, request, arg);
}

void sev_kvm_real_init(struct sev_kvm_real *real, int kvm_fd, int vm_fd)
{
	*real = (struct sev_kvm_real){ .kvm_fd = kvm_fd, .vm_fd = vm_fd };
}

void sev_kvm_real_set_vcpus(struct sev_kvm_real *real, const int *vcpu_fds, unsigned n)
{
	real->vcpu_fds = vcpu_fds;
	real->n_vcpus = n;
}

struct sev_kvm_ops sev_kvm_real_ops(struct sev_kvm_real *real)
{
	return (struct sev_kvm_ops){
		.ctx = real,
		.kvm_ioctl = real_kvm_ioctl,
		.vm_ioctl = real_vm_ioctl,
		.vcpu_ioctl = real_vcpu_ioctl,
		.open_sev = real_open_sev,
		.module_param = real_module_param,
		.discard_private = real_discard_private,
		.discard_shared = real_discard_shared,
		.close_fd = real_close_fd,
		.sev_ioctl = real_sev_ioctl,
	};
}
