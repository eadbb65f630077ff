/* PVH entry for Ember's test guests.
 *
 * The VMM enters pvh_entry in 32-bit protected mode with paging off, flat CS/DS and
 * EBX = guest-physical address of struct hvm_start_info (PVH boot ABI, Xen's
 * arch-x86/hvm/start_info.h). We switch to long mode with statically built page tables
 * (identity map of 0-4 GiB in 2 MiB pages, user-accessible) so that boot costs only a few
 * dozen instructions at CPL0, then call rt_start(start_info) in C. */
#include "segments.h"

/* ELF note that marks this ELF as a PVH kernel: name "Xen", type 18 = XEN_ELFNOTE_PHYS32_ENTRY,
 * descriptor = 32-bit physical entry address. The linker script puts it in a PT_NOTE segment. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long pvh_entry

	.section .text.entry, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	movl %ebx, %esi			/* start_info survives in ESI until rt_start */
	lgdt gdt_ptr
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	ENABLE_LONG_MODE
	ljmp $SEL_KCODE64, $entry64

	.code64
entry64:
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $bsp_stack_top, %rsp
	movl %esi, %edi			/* zero-extends: rt_start(uint32_t start_info_paddr) */
	call rt_start
1:	cli
	hlt
	jmp 1b

	.section .data.boot, "aw"
	.balign 16
	.globl gdt
gdt:
	.quad 0				/* 0x00 null */
	.quad 0x00af9b000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff	/* 0x10 kernel data, flat 4 GiB (also used in 32-bit mode) */
	.quad 0x00cff3000000ffff	/* 0x18 user data, DPL 3 */
	.quad 0x00affb000000ffff	/* 0x20 user code, 64-bit, DPL 3 */
	.quad 0x00cf9b000000ffff	/* 0x28 kernel code, 32-bit flat (AP trampoline) */
	.quad 0, 0			/* 0x30 TSS, filled in by trap_init() */
gdt_end:
	.if (gdt_end - gdt) != (GDT_ENTRIES * 8)
	.error "GDT size does not match GDT_ENTRIES"
	.endif

	/* lgdt reads 6 bytes in 32-bit mode and 10 in 64-bit mode; the base is below 4 GiB. */
	.balign 8
	.globl gdt_ptr
gdt_ptr:
	.word GDT_LIMIT
	.quad gdt

/* Page tables, built by the assembler: zero instructions at boot. Every level has U/S set so
 * that user_call() can run any function of the image at CPL3. 3-4 GiB (the MMIO hole: LAPIC,
 * IOAPIC) is mapped uncached (PCD|PWT). */
#define PTE_P   0x001
#define PTE_RW  0x002
#define PTE_US  0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
	.fill 508, 8, 0
pd:
	.set addr, 0
	.rept 2048
	.if addr < 0xc0000000
	.quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.else
	.quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PCD | PTE_PWT)
	.endif
	.set addr, addr + 0x200000
	.endr

	.section .bss.stack, "aw", @nobits
	.balign 16
bsp_stack:
	.skip 16384
	.globl bsp_stack_top
bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
