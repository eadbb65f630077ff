/* A confidential VM from KVM_CREATE_VM to LAUNCH_FINISH, and the exits it needs while it runs.
 *
 *   KVM_CREATE_VM(sev_launch_vm_type), in-kernel irqchip and PIT, hooks->prepare (exit controls,
 *   CPUID: the vCPU signature and SNP's CPUID page), the launch plan (the firmware ending at
 *   4 GiB, the kernel-hashes table over kernel, initrd and command line, one VMSA per vCPU),
 *   sev_launch_init (KVM_SEV_INIT2, before any vCPU), guest RAM and the firmware range through
 *   sev_launch_add_memory (SNP: guest_memfd, every page private), hooks->devices (fw_cfg serves
 *   OVMF the kernel, initrd and command line), hooks->create_vcpus (reset state: no boot
 *   registers, no ACPI or kernel written into guest RAM), sev_launch_load, then for SEV / SEV-ES
 *   LAUNCH_MEASURE (written for the guest owner) and the owner's LAUNCH_SECRET, and
 *   sev_launch_finish.
 *
 * Every KVM call goes through struct sev_kvm_ops and everything that belongs to the VM around the
 * launch (CPU model, devices, vCPU threads) is a hook, so this very sequence is what the unit
 * tests drive against the fake KVM (tests/unit/sev/test_sev_vm_fake.c). */
#ifndef EMBER_SEV_VM_H
#define EMBER_SEV_VM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "../../../../vmm/guest_mem.h"
#include "sev_kvm_ops.h"
#include "sev_launch.h"
#include "sev_launch_plan.h"

/* What the VM's CPU model says (hooks->prepare fills it). */
struct sev_vm_cpu {
	uint32_t signature;		      /* CPUID(1).EAX: the VMSAs' RDX */
	const struct kvm_cpuid_entry2 *cpuid; /* the BSP's CPUID as KVM_SET_CPUID2 gets it */
	size_t n_cpuid;
};

struct sev_vm_hooks {
	void *opaque;
	/* After KVM_CREATE_VM, the irqchip and the PIT, before anything measured: whatever must
	 * precede the vCPUs (exit controls, CPUID); fills cpu. */
	int (*prepare)(void *opaque, int vm_fd, struct sev_vm_cpu *cpu, struct error *e);
	/* Guest memory is registered: the devices, fw_cfg among them. */
	int (*devices)(void *opaque, struct error *e);
	/* Creates vCPUs 0..n-1 in their reset state and stores their fds. */
	int (*create_vcpus)(void *opaque, int *vcpu_fds, unsigned n, struct error *e);
};

struct sev_vm_input {
	enum sev_mode mode;
	uint64_t policy;	 /* 0: the mode's default */
	uint64_t guest_features; /* SEV-ES / SNP: the VMSAs' SEV_FEATURES (0: SNPActive for SNP) */
	const uint8_t *firmware; /* an OvmfPkg/AmdSev image, borrowed */
	size_t firmware_len;
	bool direct_boot;	 /* a kernel is given: place the kernel-hashes table */
	const uint8_t *kernel, *initrd;
	size_t kernel_len, initrd_len;
	const char *cmdline;
	unsigned vcpus;
	struct guest_mem *mem;	 /* guest RAM, allocated (guest_mem_init*), not registered */
	/* SEV / SEV-ES: the owner's launch session (NULL: the PSP makes keys nobody knows). */
	const uint8_t *owner_pdh, *owner_session;
	size_t owner_pdh_len, owner_session_len;
	const char *measurement_out; /* NULL: the measurement goes to stderr */
	const char *secret_in;	     /* SEV / SEV-ES: read after the measurement, then injected */
	struct sev_kvm_real *real;   /* the host behind ops, told the VM and vCPU fds; NULL: fake */
};

struct sev_vm {
	struct sev_kvm_ops ops;
	struct sev_kvm_real *real;
	enum sev_mode mode;
	int vm_fd;
	struct sev_launch_plan plan;
	bool plan_built;
	struct sev_launch launch;
	uint8_t *fw_mem; /* the guest's view of the firmware range [4 GiB - size, 4 GiB) */
	size_t fw_len;
	int *vcpu_fds;
	unsigned nvcpus;
	struct sev_vm_cpu cpu;
	uint64_t guest_features;
	uint8_t digest[48]; /* the plan's digest: what the PSP should measure */
	size_t digest_len;
};

/* Builds and launches the VM. On failure e names the step; sev_vm_destroy is still needed. */
int sev_vm_build(struct sev_vm *s, const struct sev_vm_input *in, const struct sev_kvm_ops *ops,
		 const struct sev_vm_hooks *hooks, struct error *e);

/* A KVM_RUN that returned run_rc (errno run_errno) with this kvm_run. */
enum sev_vm_exit {
	SEV_VM_EXIT_NOT_MINE,	/* an ordinary exit (or error): the VMM handles it */
	SEV_VM_EXIT_REENTER,	/* handled: run the vCPU again */
	SEV_VM_EXIT_REFUSED,	/* the guest asked for something bad and was told; e says what */
	SEV_VM_EXIT_FATAL,	/* e says why: stop the VM */
};
/* SNP: KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) and KVM_EXIT_MEMORY_FAULT (KVM_RUN -1, EFAULT)
 * become private/shared conversions (sev_convert.h). Safe from several vCPU threads at once. */
enum sev_vm_exit sev_vm_handle_exit(struct sev_vm *s, struct kvm_run *run, int run_rc,
				    int run_errno, struct error *e);

/* SEV-ES / SNP after the launch: KVM neither reads nor writes the vCPUs' registers. */
bool sev_vm_state_protected(const struct sev_vm *s);

/* Closes the launch's fds, unmaps the firmware range, frees the plan (not the VM fd: the VMM's). */
void sev_vm_destroy(struct sev_vm *s);

#endif
