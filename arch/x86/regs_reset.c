/* The x86 power-on state a firmware image starts from (Intel SDM vol. 3A, 9.1.1 table 9-1; AMD
 * APM vol. 2, 14.1.3): real mode, CS selector 0xF000 with base 0xFFFF0000 and IP 0xFFF0, so the
 * first instruction is fetched at 0xFFFFFFF0, 16 bytes below 4 GiB, where the image's reset
 * vector sits. KVM gives a new vCPU this state already; Ember sets it explicitly so that the BSP
 * does not depend on what happened to the vCPU before (regs_setup_common, a reset). */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "regs.h"

#define RESET_CS_SELECTOR 0xf000
#define RESET_CS_BASE     0xffff0000ULL
#define RESET_IP          0xfff0
#define RESET_CR0         0x60000010ULL /* CD, NW, ET */
#define RESET_RFLAGS      0x2
#define REAL_MODE_LIMIT   0xffff
#define SEG_CODE_XRA      0xb /* execute/read, accessed */
#define SEG_DATA_RWA      0x3 /* read/write, accessed */
#define SEG_LDT           0x2
#define SEG_TSS32_BUSY    0xb

static struct kvm_segment real_segment(uint16_t selector, uint64_t base, uint8_t type)
{
	return (struct kvm_segment){ .base = base, .limit = REAL_MODE_LIMIT, .selector = selector,
				     .type = type, .present = 1, .s = 1 };
}

static struct kvm_segment system_segment(uint8_t type)
{
	return (struct kvm_segment){ .limit = REAL_MODE_LIMIT, .type = type, .present = 1 };
}

int regs_setup_reset(int vcpu_fd, struct error *e)
{
	struct kvm_sregs sr;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sr) < 0)
		return error_errno(e, "KVM_GET_SREGS");
	sr.cs = real_segment(RESET_CS_SELECTOR, RESET_CS_BASE, SEG_CODE_XRA);
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = real_segment(0, 0, SEG_DATA_RWA);
	sr.ldt = system_segment(SEG_LDT);
	sr.tr = system_segment(SEG_TSS32_BUSY);
	sr.gdt.base = sr.idt.base = 0;
	sr.gdt.limit = sr.idt.limit = REAL_MODE_LIMIT;
	sr.cr0 = RESET_CR0;
	sr.cr2 = sr.cr3 = sr.cr4 = sr.cr8 = 0;
	sr.efer = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sr) < 0)
		return error_errno(e, "KVM_SET_SREGS (reset state)");
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = RESET_IP;
	r.rflags = RESET_RFLAGS;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return error_errno(e, "KVM_SET_REGS (reset state)");
	return 0;
}
