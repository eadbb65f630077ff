/* Initial x86 vCPU state. The boot GDT is generated from the same kvm_segment values that are
 * loaded into the hidden segment registers, so a guest that reloads a selector gets exactly the
 * segment it already had.
 *
 * Boot GDT (LAYOUT_BOOT_GDT):
 *   0x00 null
 *   0x08 32-bit flat code  - PVH entry CS (any flat 32-bit code selector is allowed)
 *   0x10 64-bit code       - __BOOT_CS of the Linux 64-bit boot protocol
 *   0x18 flat data         - __BOOT_DS (DS/ES/SS) for both protocols
 * Linux: Documentation/arch/x86/boot.rst, "64-bit Boot Protocol". PVH: xen/include/public/
 * arch-x86/hvm/start_info.h and Xen's docs/misc/pvh.pandoc (32-bit flat CS/DS, paging off). */
#include "regs.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"

#define GDT_SEL_CODE32 0x08
#define GDT_SEL_CODE64 0x10
#define GDT_SEL_DATA   0x18
#define GDT_ENTRIES    4

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_RESERVED (1ull << 1) /* bit 1 always reads as 1; IF (bit 9) stays clear */

/* Segment types (S=1): execute/read code and read/write data, both with "accessed" set so the
 * CPU never writes the GDT when a selector is loaded. */
#define SEG_TYPE_CODE_XRA 0xb
#define SEG_TYPE_DATA_RWA 0x3

/* Page-table entry bits. */
#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define PT_ENTRIES 512
#define PAGE_4K 0x1000ull
#define PAGE_2M 0x200000ull
#define IDENTITY_GIB 4

#define PT_PML4 (LAYOUT_PAGE_TABLES)
#define PT_PDPT (LAYOUT_PAGE_TABLES + PAGE_4K)
#define PT_PD0  (LAYOUT_PAGE_TABLES + 2 * PAGE_4K)

_Static_assert((2 + IDENTITY_GIB) * PAGE_4K <= LAYOUT_PAGE_TABLES_SIZE,
	       "boot page tables do not fit LAYOUT_PAGE_TABLES_SIZE");
_Static_assert(GDT_ENTRIES * 8 <= 0x1000, "boot GDT larger than its page");

/* MSRs */
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_IA32_CR_PAT         0x277
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MISC_ENABLE_FAST_STRING (1ull << 0)
/* Power-on PAT: WB, WT, UC-, UC repeated (Intel SDM vol. 3A 12.12.4). */
#define PAT_POWER_ON            0x0007040600070406ull

/* Local APIC (register offsets in the KVM_GET_LAPIC page). */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_DELIVERY_MASK   (7u << 8)
#define APIC_DELIVERY_NMI    (4u << 8)
#define APIC_DELIVERY_EXTINT (7u << 8)

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool long_mode)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = long_mode ? 0 : 1, /* L=1 requires D=0 */
		.s = 1,
		.l = long_mode ? 1 : 0,
		.g = 1,
	};
}

/* The segments of the boot GDT, indexed by selector / 8 (entry 0 is the null descriptor). */
static struct kvm_segment gdt_segment(unsigned slot)
{
	switch (slot) {
	case GDT_SEL_CODE32 / 8: return flat_segment(GDT_SEL_CODE32, SEG_TYPE_CODE_XRA, false);
	case GDT_SEL_CODE64 / 8: return flat_segment(GDT_SEL_CODE64, SEG_TYPE_CODE_XRA, true);
	case GDT_SEL_DATA / 8:   return flat_segment(GDT_SEL_DATA, SEG_TYPE_DATA_RWA, false);
	default:                 return (struct kvm_segment){ .unusable = 1 };
	}
}

/* Encodes a code/data segment as an 8-byte descriptor (Intel SDM vol. 3A 3.4.5). */
static uint64_t descriptor_from_segment(const struct kvm_segment *s)
{
	if (!s->present)
		return 0;
	uint64_t limit = s->g ? s->limit >> 12 : s->limit;
	uint64_t d = 0;
	d |= limit & 0xffff;
	d |= (s->base & 0xffffffull) << 16;
	d |= (uint64_t)(s->type & 0xf) << 40;
	d |= (uint64_t)(s->s & 1) << 44;
	d |= (uint64_t)(s->dpl & 3) << 45;
	d |= (uint64_t)(s->present & 1) << 47;
	d |= ((limit >> 16) & 0xf) << 48;
	d |= (uint64_t)(s->avl & 1) << 52;
	d |= (uint64_t)(s->l & 1) << 53;
	d |= (uint64_t)(s->db & 1) << 54;
	d |= (uint64_t)(s->g & 1) << 55;
	d |= ((s->base >> 24) & 0xff) << 56;
	return d;
}

static int write_gdt(struct guest_mem *gm, struct error *e)
{
	uint64_t gdt[GDT_ENTRIES];
	for (unsigned i = 0; i < GDT_ENTRIES; i++) {
		struct kvm_segment s = gdt_segment(i);
		gdt[i] = descriptor_from_segment(&s);
	}
	if (guest_mem_write(gm, LAYOUT_BOOT_GDT, gdt, sizeof(gdt), e) < 0)
		return error_prefix(e, "boot GDT");
	return 0;
}

/* PML4[0] -> PDPT; PDPT[0..3] -> four PDs of 2 MiB pages: identity map of 0-4 GiB. */
static int write_page_tables(struct guest_mem *gm, struct error *e)
{
	uint64_t table[PT_ENTRIES];

	memset(table, 0, sizeof(table));
	table[0] = PT_PDPT | PTE_P | PTE_RW;
	if (guest_mem_write(gm, PT_PML4, table, sizeof(table), e) < 0)
		return error_prefix(e, "boot PML4");

	memset(table, 0, sizeof(table));
	for (unsigned i = 0; i < IDENTITY_GIB; i++)
		table[i] = (PT_PD0 + i * PAGE_4K) | PTE_P | PTE_RW;
	if (guest_mem_write(gm, PT_PDPT, table, sizeof(table), e) < 0)
		return error_prefix(e, "boot PDPT");

	for (unsigned gib = 0; gib < IDENTITY_GIB; gib++) {
		for (unsigned j = 0; j < PT_ENTRIES; j++)
			table[j] = ((uint64_t)gib * PT_ENTRIES + j) * PAGE_2M | PTE_P | PTE_RW | PTE_PS;
		if (guest_mem_write(gm, PT_PD0 + gib * PAGE_4K, table, sizeof(table), e) < 0)
			return error_prefix(e, "boot page directory %u", gib);
	}
	return 0;
}

int regs_write_boot_tables(struct guest_mem *gm, struct error *e)
{
	if (write_gdt(gm, e) < 0 || write_page_tables(gm, e) < 0)
		return -1;
	return 0;
}

static void load_boot_segments(struct kvm_sregs *sr, uint16_t code_selector)
{
	sr->cs = gdt_segment(code_selector / 8);
	struct kvm_segment data = gdt_segment(GDT_SEL_DATA / 8);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = data;
	sr->gdt.base = LAYOUT_BOOT_GDT;
	sr->gdt.limit = GDT_ENTRIES * 8 - 1;
	/* No IDT: an exception before the kernel installs its own becomes a triple fault, which
	 * Ember reports with a register dump, rather than a jump through garbage. */
	sr->idt.base = 0;
	sr->idt.limit = 0;
	/* TR and LDTR keep KVM's reset values (busy TSS, unusable LDT), valid in both modes. */
}

static int setup_sregs(int vcpu_fd, enum boot_mode mode, struct error *e)
{
	struct kvm_sregs sr;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sr) < 0)
		return error_errno(e, "KVM_GET_SREGS");
	switch (mode) {
	case BOOT_LINUX64:
		load_boot_segments(&sr, GDT_SEL_CODE64);
		sr.cr3 = PT_PML4;
		sr.cr4 = CR4_PAE;
		sr.efer = EFER_LME | EFER_LMA;
		sr.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
		break;
	case BOOT_PVH32:
		/* PVH: CR0.PE set, "all other writeable bits clear"; CR4 zero; no paging. */
		load_boot_segments(&sr, GDT_SEL_CODE32);
		sr.cr3 = 0;
		sr.cr4 = 0;
		sr.efer = 0;
		sr.cr0 = CR0_PE | CR0_ET;
		break;
	default:
		return error_set(e, "unknown boot mode %d", (int)mode);
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sr) < 0)
		return error_errno(e, "KVM_SET_SREGS");
	return 0;
}

int regs_setup_bsp(int vcpu_fd, const struct boot_info *bi, struct error *e)
{
	if (bi->mode == BOOT_FIRMWARE)
		return regs_setup_reset(vcpu_fd, e);
	if (setup_sregs(vcpu_fd, bi->mode, e) < 0)
		return -1;
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rflags = RFLAGS_RESERVED;
	r.rip = bi->entry;
	if (bi->mode == BOOT_LINUX64) {
		r.rsi = bi->boot_arg;
	} else {
		if (bi->entry > UINT32_MAX || bi->boot_arg > UINT32_MAX)
			return error_set(e, "PVH entry 0x%" PRIx64 " or start_info 0x%" PRIx64
					 " above 4 GiB", bi->entry, bi->boot_arg);
		r.rbx = bi->boot_arg;
	}
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return error_errno(e, "KVM_SET_REGS");
	return 0;
}

struct msr_init {
	uint32_t index;
	const char *name;
	uint64_t value;
};

static const struct msr_init boot_msrs[] = {
	{ MSR_IA32_SYSENTER_CS, "IA32_SYSENTER_CS", 0 },
	{ MSR_IA32_SYSENTER_ESP, "IA32_SYSENTER_ESP", 0 },
	{ MSR_IA32_SYSENTER_EIP, "IA32_SYSENTER_EIP", 0 },
	{ MSR_STAR, "STAR", 0 },
	{ MSR_LSTAR, "LSTAR", 0 },
	{ MSR_CSTAR, "CSTAR", 0 },
	{ MSR_SYSCALL_MASK, "SFMASK", 0 },
	{ MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE", 0 },
	{ MSR_IA32_CR_PAT, "IA32_CR_PAT", PAT_POWER_ON },
	/* The value is OR-ed into KVM's reset value (which marks BTS/PEBS unavailable). */
	{ MSR_IA32_MISC_ENABLE, "IA32_MISC_ENABLE", MISC_ENABLE_FAST_STRING },
};
#define BOOT_MSR_COUNT (sizeof(boot_msrs) / sizeof(boot_msrs[0]))

struct msr_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry entries[BOOT_MSR_COUNT];
};

static const char *msr_name(uint32_t index)
{
	for (size_t i = 0; i < BOOT_MSR_COUNT; i++)
		if (boot_msrs[i].index == index)
			return boot_msrs[i].name;
	return "unknown MSR";
}

/* Reads the current values; an MSR KVM cannot read (KVM_GET_MSRS stops at the first one it
 * does not know) is dropped from the list, since KVM would refuse to set it as well. */
static void read_known_msrs(int vcpu_fd, struct msr_buf *buf)
{
	buf->hdr.nmsrs = 0;
	for (size_t i = 0; i < BOOT_MSR_COUNT; i++) {
		struct { struct kvm_msrs hdr; struct kvm_msr_entry ent; } one;
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.ent.index = boot_msrs[i].index;
		if (ioctl(vcpu_fd, KVM_GET_MSRS, &one) != 1)
			continue;
		struct kvm_msr_entry *ent = &buf->entries[buf->hdr.nmsrs++];
		memset(ent, 0, sizeof(*ent));
		ent->index = boot_msrs[i].index;
		ent->data = boot_msrs[i].index == MSR_IA32_MISC_ENABLE ? one.ent.data | boot_msrs[i].value
								       : boot_msrs[i].value;
	}
}

static int setup_msrs(int vcpu_fd, struct error *e)
{
	struct msr_buf buf;
	memset(&buf, 0, sizeof(buf));
	read_known_msrs(vcpu_fd, &buf);
	if (buf.hdr.nmsrs == 0)
		return 0;
	int n = ioctl(vcpu_fd, KVM_SET_MSRS, &buf);
	if (n < 0)
		return error_errno(e, "KVM_SET_MSRS");
	if ((uint32_t)n < buf.hdr.nmsrs)
		return error_set(e, "KVM_SET_MSRS refused %s (0x%x)", msr_name(buf.entries[n].index),
				 buf.entries[n].index);
	return 0;
}

static int setup_fpu(int vcpu_fd, struct error *e)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;   /* FNINIT value: all exceptions masked, 64-bit precision */
	/* All SSE exceptions masked, round to nearest. KVM ignores this field in KVM_SET_FPU (it
	 * only copies the x87 and XMM state); its vCPU reset already puts 0x1f80 in MXCSR. */
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return error_errno(e, "KVM_SET_FPU");
	return 0;
}

static uint32_t lapic_get(const struct kvm_lapic_state *s, unsigned offset)
{
	uint32_t v;
	memcpy(&v, &s->regs[offset], sizeof(v));
	return v;
}

static void lapic_set(struct kvm_lapic_state *s, unsigned offset, uint32_t v)
{
	memcpy(&s->regs[offset], &v, sizeof(v));
}

/* LINT0 = ExtINT and LINT1 = NMI is the wiring every PC firmware sets up (MP spec 1.4, 5.1);
 * the mask bits keep KVM's reset values. */
static int setup_lapic(int vcpu_fd, struct error *e)
{
	struct kvm_lapic_state s;
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &s) < 0)
		return error_errno(e, "KVM_GET_LAPIC (is the in-kernel irqchip created?)");
	lapic_set(&s, APIC_LVT_LINT0,
		  (lapic_get(&s, APIC_LVT_LINT0) & ~APIC_DELIVERY_MASK) | APIC_DELIVERY_EXTINT);
	lapic_set(&s, APIC_LVT_LINT1,
		  (lapic_get(&s, APIC_LVT_LINT1) & ~APIC_DELIVERY_MASK) | APIC_DELIVERY_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &s) < 0)
		return error_errno(e, "KVM_SET_LAPIC");
	return 0;
}

int regs_setup_common(int vcpu_fd, struct error *e)
{
	if (setup_msrs(vcpu_fd, e) < 0 || setup_fpu(vcpu_fd, e) < 0 || setup_lapic(vcpu_fd, e) < 0)
		return -1;
	return 0;
}

static void dump_segment(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "  %-3s sel=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u p=%u db=%u l=%u g=%u%s\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->s, s->dpl,
		s->present, s->db, s->l, s->g, s->unusable ? " unusable" : "");
}

void regs_dump(int vcpu_fd, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0) {
		fprintf(out, "  (KVM_GET_REGS failed: %s)\n", strerror(errno));
		return;
	}
	fprintf(out, "  rip=%016llx rsp=%016llx rflags=%016llx\n", r.rip, r.rsp, r.rflags);
	fprintf(out, "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(out, "  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n", r.rsi, r.rdi, r.rbp, r.r8);
	fprintf(out, "  r9 =%016llx r10=%016llx r11=%016llx r12=%016llx\n", r.r9, r.r10, r.r11, r.r12);
	fprintf(out, "  r13=%016llx r14=%016llx r15=%016llx\n", r.r13, r.r14, r.r15);
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
		fprintf(out, "  (KVM_GET_SREGS failed: %s)\n", strerror(errno));
		return;
	}
	fprintf(out, "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\n", sr.cr0, sr.cr2, sr.cr3,
		sr.cr4);
	fprintf(out, "  efer=%016llx cr8=%016llx apic_base=%016llx\n", sr.efer, sr.cr8, sr.apic_base);
	dump_segment(out, "cs", &sr.cs);
	dump_segment(out, "ss", &sr.ss);
	dump_segment(out, "ds", &sr.ds);
	dump_segment(out, "tr", &sr.tr);
	fprintf(out, "  gdt base=%016llx limit=%04x  idt base=%016llx limit=%04x\n",
		(unsigned long long)sr.gdt.base, sr.gdt.limit, (unsigned long long)sr.idt.base,
		sr.idt.limit);
	/* AMD: the VMCB is undefined after a shutdown intercept, so KVM puts the vCPU through
	 * INIT before returning KVM_EXIT_SHUTDOWN; what is left is the power-on state. */
	if (r.rip == 0xfff0 && sr.cs.selector == 0xf000 && sr.cs.base == 0xffff0000 &&
	    !(sr.cr0 & 1))
		fprintf(out, "  (the power-on state: on AMD, KVM resets a vCPU that shut down, so these "
			     "are not the registers at the fault)\n");
}
