/* A vCPU's initial registers, read from the launch plan's VMSA. SEV-ES and SNP measure the VMSA
 * KVM builds from the vCPU's registers (sev_es_sync_vmsa), so Ember loads each vCPU from the very
 * page the digest calculator hashed: the plan is the single source of both. */
#ifndef EMBER_SEV_VCPU_STATE_H
#define EMBER_SEV_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "../../../../vmm/error.h"
#include "sev_kvm_ops.h"
#include "sev_vmsa.h"

#define SEV_MSR_IA32_PAT 0x277

struct sev_vcpu_state {
	struct kvm_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct kvm_dtable gdt, idt;
	uint64_t cr0, cr3, cr4, efer;
	uint64_t rip, rflags, rsp, rax, rdx;
	uint64_t dr6, dr7;
	uint64_t pat, xcr0;
	uint32_t mxcsr;
	uint16_t fcw;
};

/* Decodes vmsa into the values to hand KVM. Three VMSA bits are KVM's own doing and are left
 * out, so that loading them back reproduces the page: EFER.SVME (KVM sets it in every VMCB),
 * CR4.MCE (svm_set_cr4 copies the host's), and CR0.CD/NW (which KVM clears). */
void sev_vcpu_state_from_vmsa(struct sev_vcpu_state *s, const uint8_t vmsa[SEV_VMSA_SIZE]);

/* Loads s into vCPU index: KVM_GET/SET_SREGS, KVM_SET_REGS, KVM_GET/SET_XSAVE (x87 control word
 * and MXCSR), KVM_SET_XCRS, KVM_SET_DEBUGREGS, KVM_SET_MSRS (PAT), in that order. */
int sev_vcpu_state_apply(const struct sev_kvm_ops *ops, unsigned index,
			 const struct sev_vcpu_state *s, struct error *e);

/* The VMCB attribute word of a segment (APM vol. 2, "Segment state in the VMCB"). */
uint16_t sev_segment_attrib(const struct kvm_segment *seg);

#endif
