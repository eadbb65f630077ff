/* A whole confidential VM built by sev_vm_build (arch/x86/amd/sev/sev_vm.h) on the fake KVM:
 * real guest RAM (guest_mem_init), the fake OVMF image, and hooks that stand in for Ember's VM
 * (they log "hook prepare" / "hook devices" and create the vCPUs with KVM_CREATE_VCPU through the
 * fake), so a test sees every call in the order `ember run --sev` makes it. */
#ifndef EMBER_SEV_FAKE_BUILD_H
#define EMBER_SEV_FAKE_BUILD_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "sev_fake_kvm.h"
#include "sev_vm.h"

struct fake_build {
	struct fake_kvm kvm;
	struct sev_kvm_ops ops;
	struct guest_mem mem;
	uint8_t *firmware;
	size_t firmware_len;
	struct kvm_cpuid_entry2 cpuid[3];
	struct sev_vm_input in;
	struct sev_vm vm;
	struct sev_vm_hooks hooks;
	bool fail_vcpus;   /* the create_vcpus hook fails after creating vCPU 0 */
	char dir[64];      /* a scratch directory for the owner's files */
};

/* Fake KVM, RAM of mem_size, firmware and input for mode and vcpus (no kernel, no owner files). */
void fake_build_setup(struct fake_build *t, enum sev_mode mode, unsigned vcpus, uint64_t mem_size);
/* sev_vm_build with the hooks. */
int fake_build_run(struct fake_build *t, struct error *e);
/* A path in the scratch directory (static buffer: use at once). */
const char *fake_build_path(struct fake_build *t, const char *name);
void fake_build_teardown(struct fake_build *t);

#endif
