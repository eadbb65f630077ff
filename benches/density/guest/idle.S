/* Ember's density-benchmark guest: the least a VM can do and still be "up".
 *
 * Entered through the PVH boot ABI (Xen's arch-x86/hvm/start_info.h): 32-bit protected mode,
 * paging off, flat segments. It writes one byte to the ready port, which is the "ready" mark,
 * then halts with interrupts disabled forever: an idle VM must cost the host no CPU at all. A
 * handful of instructions at CPL0 keep the boot short even where CPL0 is emulated.
 *
 * The ready port is Ember's boot-timer port, 0x440, by default. The QEMU build of this same code
 * passes -DREADY_PORT=0xe9, isa-debugcon's usual port: the two images differ in one immediate
 * and execute the same instructions, so neither VMM pays an extra exit. */
#ifndef READY_PORT
#define READY_PORT 0x440	/* Ember's boot-timer port */
#endif
#define READY_BYTE 0x06	/* ASCII ACK: never part of a VMM's own messages */

/* ELF note marking a PVH kernel: name "Xen", type 18 = XEN_ELFNOTE_PHYS32_ENTRY, descriptor =
 * 32-bit physical entry address. The linker script puts it in a PT_NOTE segment. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long idle_pvh_entry

	.section .text.entry, "ax"
	.code32
	.globl idle_pvh_entry
idle_pvh_entry:
	cli
	movw $READY_PORT, %dx
	movb $READY_BYTE, %al
	outb %al, %dx
1:	hlt			/* IF=0: only NMI/INIT/SMI could wake us; none come */
	jmp 1b

	.section .note.GNU-stack, "", @progbits
