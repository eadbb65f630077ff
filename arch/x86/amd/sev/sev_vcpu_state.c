#include "sev_vcpu_state.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sev_bytes.h"

#define EFER_SVME (1ull << 12)
#define CR4_MCE (1ull << 6)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)

/* VMCB attrib: type 0-3, S 4, DPL 5-6, P 7, AVL 8, L 9, D/B 10, G 11. */
static void read_segment(struct kvm_segment *seg, const uint8_t *vmsa, enum sev_vmsa_offset at)
{
	uint16_t attrib = sev_get_le16(vmsa + at + 2);
	*seg = (struct kvm_segment){
		.selector = sev_get_le16(vmsa + at),
		.limit = sev_get_le32(vmsa + at + 4),
		.base = sev_get_le64(vmsa + at + 8),
		.type = attrib & 0xf,
		.s = (attrib >> 4) & 1,
		.dpl = (attrib >> 5) & 3,
		.present = (attrib >> 7) & 1,
		.avl = (attrib >> 8) & 1,
		.l = (attrib >> 9) & 1,
		.db = (attrib >> 10) & 1,
		.g = (attrib >> 11) & 1,
	};
}

uint16_t sev_segment_attrib(const struct kvm_segment *seg)
{
	return (uint16_t)((seg->type & 0xf) | (seg->s & 1) << 4 | (seg->dpl & 3) << 5 |
			  (seg->present & 1) << 7 | (seg->avl & 1) << 8 | (seg->l & 1) << 9 |
			  (seg->db & 1) << 10 | (seg->g & 1) << 11);
}

static void read_dtable(struct kvm_dtable *dt, const uint8_t *vmsa, enum sev_vmsa_offset at)
{
	*dt = (struct kvm_dtable){
		.limit = (uint16_t)sev_get_le32(vmsa + at + 4),
		.base = sev_get_le64(vmsa + at + 8),
	};
}

void sev_vcpu_state_from_vmsa(struct sev_vcpu_state *s, const uint8_t vmsa[SEV_VMSA_SIZE])
{
	memset(s, 0, sizeof(*s));
	read_segment(&s->es, vmsa, SEV_VMSA_ES);
	read_segment(&s->cs, vmsa, SEV_VMSA_CS);
	read_segment(&s->ss, vmsa, SEV_VMSA_SS);
	read_segment(&s->ds, vmsa, SEV_VMSA_DS);
	read_segment(&s->fs, vmsa, SEV_VMSA_FS);
	read_segment(&s->gs, vmsa, SEV_VMSA_GS);
	read_segment(&s->ldt, vmsa, SEV_VMSA_LDTR);
	read_segment(&s->tr, vmsa, SEV_VMSA_TR);
	read_dtable(&s->gdt, vmsa, SEV_VMSA_GDTR);
	read_dtable(&s->idt, vmsa, SEV_VMSA_IDTR);
	s->efer = sev_get_le64(vmsa + SEV_VMSA_EFER) & ~EFER_SVME;
	s->cr4 = sev_get_le64(vmsa + SEV_VMSA_CR4) & ~CR4_MCE;
	s->cr3 = sev_get_le64(vmsa + SEV_VMSA_CR3);
	s->cr0 = sev_get_le64(vmsa + SEV_VMSA_CR0) & ~(CR0_CD | CR0_NW);
	s->dr7 = sev_get_le64(vmsa + SEV_VMSA_DR7);
	s->dr6 = sev_get_le64(vmsa + SEV_VMSA_DR6);
	s->rflags = sev_get_le64(vmsa + SEV_VMSA_RFLAGS);
	s->rip = sev_get_le64(vmsa + SEV_VMSA_RIP);
	s->rsp = sev_get_le64(vmsa + SEV_VMSA_RSP);
	s->rax = sev_get_le64(vmsa + SEV_VMSA_RAX);
	s->pat = sev_get_le64(vmsa + SEV_VMSA_G_PAT);
	s->rdx = sev_get_le64(vmsa + SEV_VMSA_RDX);
	s->xcr0 = sev_get_le64(vmsa + SEV_VMSA_XCR0);
	s->mxcsr = sev_get_le32(vmsa + SEV_VMSA_MXCSR);
	s->fcw = sev_get_le16(vmsa + SEV_VMSA_X87_FCW);
}

static int vcpu_call(const struct sev_kvm_ops *ops, unsigned index, unsigned long request,
		     void *arg, const char *name, struct error *e)
{
	if (ops->vcpu_ioctl(ops->ctx, index, request, arg) < 0)
		return error_errno(e, "vCPU %u: %s", index, name);
	return 0;
}

static int apply_sregs(const struct sev_kvm_ops *ops, unsigned index,
		       const struct sev_vcpu_state *s, struct error *e)
{
	/* Read first: the APIC base and pending-interrupt bitmap stay as KVM has them. */
	struct kvm_sregs sregs;
	memset(&sregs, 0, sizeof(sregs));
	if (vcpu_call(ops, index, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", e) < 0)
		return -1;
	sregs.cs = s->cs;
	sregs.ds = s->ds;
	sregs.es = s->es;
	sregs.fs = s->fs;
	sregs.gs = s->gs;
	sregs.ss = s->ss;
	sregs.tr = s->tr;
	sregs.ldt = s->ldt;
	sregs.gdt = s->gdt;
	sregs.idt = s->idt;
	sregs.cr0 = s->cr0;
	sregs.cr3 = s->cr3;
	sregs.cr4 = s->cr4;
	sregs.efer = s->efer;
	return vcpu_call(ops, index, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", e);
}

/* The x87 control word and MXCSR reach the VMSA from the vCPU's XSAVE area (Linux 6.10+,
 * sev_es_sync_vmsa). KVM_SET_FPU ignores MXCSR, and KVM_SET_XSAVE takes the legacy area only for
 * the features marked in use: so Ember marks x87 and SSE in use, with their reset values (zero
 * registers, as in the plan's VMSA). */
#define XSAVE_FCW 0
#define XSAVE_MXCSR 24
#define XSAVE_XSTATE_BV 512
#define XSTATE_X87_SSE 0x3ull

static int apply_fpu(const struct sev_kvm_ops *ops, unsigned index,
		     const struct sev_vcpu_state *s, struct error *e)
{
	/* KVM_SET_XSAVE reads as many bytes as the vCPU's state has, which may exceed 4 KiB. */
	int size = ops->kvm_ioctl(ops->ctx, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_XSAVE2);
	size_t len = size > (int)sizeof(struct kvm_xsave) ? (size_t)size : sizeof(struct kvm_xsave);
	uint8_t *xsave = calloc(1, len);
	if (!xsave)
		return error_set(e, "vCPU %u: out of memory for its XSAVE area", index);
	unsigned long get = size > 0 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	int rc = vcpu_call(ops, index, get, xsave, "KVM_GET_XSAVE", e);
	if (rc == 0) {
		sev_put_le16(xsave + XSAVE_FCW, s->fcw);
		sev_put_le32(xsave + XSAVE_MXCSR, s->mxcsr);
		sev_put_le64(xsave + XSAVE_XSTATE_BV,
			     sev_get_le64(xsave + XSAVE_XSTATE_BV) | XSTATE_X87_SSE);
		rc = vcpu_call(ops, index, KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE", e);
	}
	free(xsave);
	return rc;
}

int sev_vcpu_state_apply(const struct sev_kvm_ops *ops, unsigned index,
			 const struct sev_vcpu_state *s, struct error *e)
{
	if (apply_sregs(ops, index, s, e) < 0)
		return -1;
	struct kvm_regs regs = {
		.rip = s->rip, .rflags = s->rflags, .rsp = s->rsp, .rax = s->rax, .rdx = s->rdx,
	};
	if (vcpu_call(ops, index, KVM_SET_REGS, &regs, "KVM_SET_REGS", e) < 0)
		return -1;
	if (apply_fpu(ops, index, s, e) < 0)
		return -1;
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = s->xcr0 } } };
	if (vcpu_call(ops, index, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS", e) < 0)
		return -1;
	struct kvm_debugregs dbg = { .dr6 = s->dr6, .dr7 = s->dr7 };
	if (vcpu_call(ops, index, KVM_SET_DEBUGREGS, &dbg, "KVM_SET_DEBUGREGS", e) < 0)
		return -1;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs = { .hdr = { .nmsrs = 1 }, .entry = { .index = SEV_MSR_IA32_PAT, .data = s->pat } };
	int n = ops->vcpu_ioctl(ops->ctx, index, KVM_SET_MSRS, &msrs);
	if (n != 1) {
		if (n >= 0)
			errno = EINVAL; /* KVM_SET_MSRS returns how many it set */
		return error_errno(e, "vCPU %u: KVM_SET_MSRS (PAT)", index);
	}
	return 0;
}
