/* The initial VMSA (VM save area) of an SEV-ES / SEV-SNP vCPU: the encrypted register state the
 * PSP measures. Ember builds it from the x86 reset state that a QEMU-style VMM gives a vCPU
 * (AMD APM vol. 2, table B-4 "VMSA layout"; the launch digest depends on every byte). */
#ifndef EMBER_SEV_VMSA_H
#define EMBER_SEV_VMSA_H

#include <stdint.h>

#include "../../../../vmm/error.h"

#define SEV_VMSA_SIZE 4096
#define SEV_VMSA_GPA 0xFFFFFFFFF000ull /* the GPA KVM uses when it measures a VMSA for SNP */
#define SEV_RESET_EIP 0xFFFFFFF0u      /* BSP: the architectural reset vector */

/* Byte offsets in the save area (APM vol. 2, table B-4). Segments are 16 bytes:
 * selector u16, attrib u16 (VMCB format), limit u32, base u64. */
enum sev_vmsa_offset {
	SEV_VMSA_ES = 0x000,
	SEV_VMSA_CS = 0x010,
	SEV_VMSA_SS = 0x020,
	SEV_VMSA_DS = 0x030,
	SEV_VMSA_FS = 0x040,
	SEV_VMSA_GS = 0x050,
	SEV_VMSA_GDTR = 0x060,
	SEV_VMSA_LDTR = 0x070,
	SEV_VMSA_IDTR = 0x080,
	SEV_VMSA_TR = 0x090,
	SEV_VMSA_EFER = 0x0d0,
	SEV_VMSA_CR4 = 0x148,
	SEV_VMSA_CR3 = 0x150,
	SEV_VMSA_CR0 = 0x158,
	SEV_VMSA_DR7 = 0x160,
	SEV_VMSA_DR6 = 0x168,
	SEV_VMSA_RFLAGS = 0x170,
	SEV_VMSA_RIP = 0x178,
	SEV_VMSA_RSP = 0x1d8,
	SEV_VMSA_RAX = 0x1f8,
	SEV_VMSA_G_PAT = 0x268,
	SEV_VMSA_RDX = 0x310,
	SEV_VMSA_SEV_FEATURES = 0x3b0,
	SEV_VMSA_XCR0 = 0x3e8,
	SEV_VMSA_MXCSR = 0x408,
	SEV_VMSA_X87_FCW = 0x410,
};

/* SEV_FEATURES bits (APM vol. 2, "SEV_FEATURES field"); for SNP this is the guest_features word
 * the guest owner chose, for example 0x1 (SNPActive) or 0x21 (SNPActive | DebugSwap). */
#define SEV_FEATURE_SNP_ACTIVE (1ull << 0)
#define SEV_FEATURE_DEBUG_SWAP (1ull << 5)

/* Looks up a QEMU-style CPU model name (EPYC-v4, EPYC-Milan, ...), case-insensitively: its
 * CPUID(1).EAX, which lands in RDX at reset. */
int sev_vcpu_model_find(const char *name, uint32_t *cpuid_sig, struct error *e);

/* CPUID(1).EAX for a display family/model/stepping (family >= 0xf uses the extended field). */
uint32_t sev_cpuid_signature(unsigned family, unsigned model, unsigned stepping);

/* Fills page with the reset-state VMSA of a vCPU that starts at eip (real mode: CS base is
 * eip's top 16 bits, IP its low 16), for a QEMU-style VMM. */
void sev_vmsa_build(uint8_t page[SEV_VMSA_SIZE], uint32_t eip, uint32_t cpuid_sig,
		    uint64_t sev_features);

#endif
