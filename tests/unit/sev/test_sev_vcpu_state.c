/* vCPU registers from the plan's VMSA: decoded right, and accepted by this host's real KVM (an
 * ordinary VM: the same ioctls an SEV-ES or SNP vCPU gets before its VMSA is sealed). */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sev_bytes.h"
#include "sev_kvm_ops.h"
#include "sev_vcpu_state.h"
#include "sev_vmsa.h"

#define EPYC_V4 0x00800f12u

Test(sev_vcpu_state, decodes_the_reset_vmsa)
{
	uint8_t vmsa[SEV_VMSA_SIZE];
	sev_vmsa_build(vmsa, 0xfffff000u, EPYC_V4, 0x21);
	struct sev_vcpu_state s;
	sev_vcpu_state_from_vmsa(&s, vmsa);
	cr_assert_eq(s.cs.selector, 0xf000);
	cr_assert_eq(s.cs.base, 0xffff0000);
	cr_assert_eq(s.cs.limit, 0xffff);
	cr_assert_eq(sev_segment_attrib(&s.cs), 0x9b);
	cr_assert(s.cs.present && s.cs.s && s.cs.type == 0xb);
	cr_assert_eq(sev_segment_attrib(&s.ds), 0x93);
	cr_assert_eq(sev_segment_attrib(&s.ldt), 0x82);
	cr_assert_eq(sev_segment_attrib(&s.tr), 0x8b);
	cr_assert_eq(s.gdt.limit, 0xffff);
	cr_assert_eq(s.rip, 0xf000);
	cr_assert_eq(s.rdx, EPYC_V4);
	cr_assert_eq(s.rflags, 0x2);
	/* KVM's own bits are left to KVM. */
	cr_assert_eq(s.efer, 0);
	cr_assert_eq(s.cr4, 0);
	cr_assert_eq(s.cr0, 0x10);
	cr_assert_eq(s.xcr0, 1);
	cr_assert_eq(s.mxcsr, 0x1f80);
	cr_assert_eq(s.fcw, 0x37f);
	cr_assert_eq(s.pat, 0x0007040600070406ull);
	cr_assert_eq(s.dr6, 0xffff0ff0);
	cr_assert_eq(s.dr7, 0x400);
}

/* Every attribute bit survives VMSA -> kvm_segment -> VMCB attrib. */
Test(sev_vcpu_state, segment_attributes_round_trip)
{
	for (unsigned attrib = 0; attrib < 0x1000; attrib++) {
		uint8_t vmsa[SEV_VMSA_SIZE] = { 0 };
		sev_put_le16(vmsa + SEV_VMSA_GS + 2, (uint16_t)attrib);
		struct sev_vcpu_state s;
		sev_vcpu_state_from_vmsa(&s, vmsa);
		cr_assert_eq(sev_segment_attrib(&s.gs), attrib);
	}
}

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;

static void open_vcpu(void)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		cr_skip_test("no /dev/kvm");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0UL);
	cr_assert_geq(vm_fd, 0);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0UL);
	cr_assert_geq(vcpu_fd, 0);
}

static void close_vcpu(void)
{
	close(vcpu_fd);
	close(vm_fd);
	close(kvm_fd);
}

static void load_into_real_kvm(uint32_t eip)
{
	open_vcpu();
	struct sev_kvm_real real;
	sev_kvm_real_init(&real, kvm_fd, vm_fd);
	sev_kvm_real_set_vcpus(&real, &vcpu_fd, 1);
	struct sev_kvm_ops ops = sev_kvm_real_ops(&real);
	uint8_t vmsa[SEV_VMSA_SIZE];
	sev_vmsa_build(vmsa, eip, EPYC_V4, 0);
	struct sev_vcpu_state s;
	sev_vcpu_state_from_vmsa(&s, vmsa);
	struct error e = { "" };
	cr_assert_eq(sev_vcpu_state_apply(&ops, 0, &s, &e), 0, "%s", e.msg);

	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	struct kvm_debugregs dbg;
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_SREGS, &sregs), 0);
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_REGS, &regs), 0);
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_FPU, &fpu), 0);
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &dbg), 0);
	cr_assert_eq(sregs.cs.selector, 0xf000);
	cr_assert_eq(sregs.cs.base, eip & 0xffff0000u);
	cr_assert_eq(sev_segment_attrib(&sregs.cs) & 0xff, 0x9b);
	cr_assert_eq(sev_segment_attrib(&sregs.tr) & 0xff, 0x8b);
	cr_assert_eq(sregs.gdt.limit, 0xffff);
	cr_assert_eq(sregs.cr0 & 0xffff, 0x10);
	cr_assert_eq(regs.rip, eip & 0xffff);
	cr_assert_eq(regs.rdx, EPYC_V4);
	cr_assert_eq(regs.rflags, 0x2);
	/* KVM_GET_FPU never reports MXCSR; the XSAVE area has what sev_es_sync_vmsa copies. */
	cr_assert_eq(fpu.fcw, 0x37f);
	static struct kvm_xsave xsave; /* this host's KVM_CAP_XSAVE2 is 4 KiB */
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_XSAVE, &xsave), 0);
	cr_assert_eq(xsave.region[0] & 0xffff, 0x37f);
	cr_assert_eq(xsave.region[6], 0x1f80, "MXCSR 0x%x", xsave.region[6]);
	cr_assert_eq(xsave.region[128] & 3, 3, "x87 and SSE marked in use");
	cr_assert_eq(dbg.dr7, 0x400);

	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} pat = { .hdr = { .nmsrs = 1 }, .entry = { .index = SEV_MSR_IA32_PAT } };
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_MSRS, &pat), 1);
	cr_assert_eq(pat.entry.data, 0x0007040600070406ull);
	close_vcpu();
}

Test(sev_vcpu_state, bsp_reset_state_in_real_kvm)
{
	load_into_real_kvm(SEV_RESET_EIP);
}

Test(sev_vcpu_state, ap_reset_block_state_in_real_kvm)
{
	load_into_real_kvm(0x0080b004u); /* an AmdSev-style AP reset address below 16 MiB */
}
