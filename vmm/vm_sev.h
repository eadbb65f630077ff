/* `ember run --sev sev|sev-es|snp --firmware OVMF.fd`: Ember's VM around the confidential launch
 * of arch/x86/amd/sev/sev_vm.h. vm_create hands a --sev VM to vm_sev_create once the host check
 * passed; the vCPU loop hands SNP's conversion exits to vm_sev_exit; a fatal exit asks
 * vm_sev_state_encrypted before it dumps registers. docs/sev.md has the whole flow. */
#ifndef EMBER_VM_SEV_H
#define EMBER_VM_SEV_H

#include <stdbool.h>

#include "../arch/x86/amd/sev/sev_kvm_ops.h"
#include "error.h"

struct vm;
struct vcpu;
struct vm_sev;

/* Builds the whole VM (KVM VM of the mode's type, CPU model, guest RAM, firmware range, devices
 * with fw_cfg, vCPUs in reset state) and launches it: afterwards the vCPUs may run. vm->sev is
 * set at once, so vm_destroy cleans up after a failure. */
int vm_sev_create(struct vm *vm, struct error *e);
/* The same with the launch's host calls made through ops_for(real) (sev_kvm_real_ops for
 * vm_sev_create; a test puts the fake PSP over this host's KVM). */
int vm_sev_create_with(struct vm *vm, struct sev_kvm_ops (*ops_for)(struct sev_kvm_real *real),
		       struct error *e);

/* KVM_RUN returned run_rc (errno run_errno) on v: true when the exit was the confidential VM's
 * (SNP's KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) or KVM_EXIT_MEMORY_FAULT); *run_on then says
 * whether the vCPU re-enters (a fatal one is reported and stops the VM). false: not SEV's. */
bool vm_sev_exit(struct vcpu *v, int run_rc, int run_errno, bool *run_on);

/* SEV-ES / SNP once launched: KVM cannot read the registers (they are encrypted in the VMSA). */
bool vm_sev_state_encrypted(const struct vm *vm);

/* Safe on NULL and after a failed vm_sev_create. */
void vm_sev_destroy(struct vm_sev *s);

#endif
