/* The seam between Ember's confidential-VM launch code and the host: every ioctl, /dev/sev, the
 * kvm_amd parameters and the memory discards go through this small table, so the same launch
 * code drives real KVM (sev_kvm_real_ops) or a test double that records each call and plays the
 * PSP (tests/unit/sev/sev_fake_kvm.c). */
#ifndef EMBER_SEV_KVM_OPS_H
#define EMBER_SEV_KVM_OPS_H

#include <stdint.h>

#include "../../../../vmm/error.h"

/* Every function returns what the system call would (an ioctl's result, an fd), -1 with errno
 * set on failure. ioctl arguments are passed as the kernel takes them: a pointer to the struct,
 * or for KVM_CHECK_EXTENSION the capability number cast to a pointer. */
struct sev_kvm_ops {
	void *ctx;
	int (*kvm_ioctl)(void *ctx, unsigned long request, void *arg); /* on /dev/kvm */
	int (*vm_ioctl)(void *ctx, unsigned long request, void *arg);	/* on the VM */
	int (*vcpu_ioctl)(void *ctx, unsigned index, unsigned long request, void *arg);
	int (*open_sev)(void *ctx); /* /dev/sev, read-write */
	/* A kvm_amd (or other module) boolean parameter: 1 (Y), 0 (N), -1 when it does not exist. */
	int (*module_param)(void *ctx, const char *module, const char *param);
	/* Frees a range's backing after a private/shared conversion: the guest_memfd pages (now
	 * shared) or the host mapping's pages (now private). Failing to discard only costs memory. */
	int (*discard_private)(void *ctx, int gmem_fd, uint64_t offset, uint64_t len);
	int (*discard_shared)(void *ctx, void *host, uint64_t len);
	void (*close_fd)(void *ctx, int fd);
	/* An ioctl on the open /dev/sev (SEV_ISSUE_CMD: the platform's status for the guest owner).
	 * May be NULL: the launch then reports no API version. */
	int (*sev_ioctl)(void *ctx, int sev_fd, unsigned long request, void *arg);
};

#define SEV_KVM_MAX_VCPUS 512

/* The real host: fds owned by the caller (the VM), vCPU fds added once the vCPUs exist. */
struct sev_kvm_real {
	int kvm_fd;
	int vm_fd; /* -1 before KVM_CREATE_VM: only kvm_ioctl, open_sev and module_param work */
	const int *vcpu_fds;
	unsigned n_vcpus;
};

void sev_kvm_real_init(struct sev_kvm_real *real, int kvm_fd, int vm_fd);
void sev_kvm_real_set_vcpus(struct sev_kvm_real *real, const int *vcpu_fds, unsigned n);
struct sev_kvm_ops sev_kvm_real_ops(struct sev_kvm_real *real);

#endif
