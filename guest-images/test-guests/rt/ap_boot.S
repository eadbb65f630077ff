/* Application-processor start-up path.
 *
 * ap_trampoline_start..end is copied to AP_TRAMPOLINE_ADDR (below 1 MiB) by smp_start_aps();
 * the STARTUP IPI starts an AP there in real mode with CS = AP_TRAMPOLINE_ADDR >> 4, IP = 0.
 * The trampoline loads the BSP's GDT, sets CR0.PE and far-jumps to ap_entry32 in the image at
 * 1 MiB, which enters long mode on the BSP's page tables. In 64-bit mode each AP takes the
 * next slot (lock xadd), switches to that slot's stack and calls ap_main(slot + 1). */
#include "segments.h"

	.text
	.code16
	.globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl ap_gdt_ptr - ap_trampoline_start	/* DS-relative: the trampoline's own copy */
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE32, $ap_entry32
	.balign 4
ap_gdt_ptr:
	.word GDT_LIMIT
	.long gdt
ap_trampoline_end:

	.code32
ap_entry32:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	ENABLE_LONG_MODE
	ljmp $SEL_KCODE64, $ap_entry64

	.code64
ap_entry64:
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movl $1, %eax
	lock xaddl %eax, ap_arrivals(%rip)	/* EAX = this AP's slot, 0-based */
	cmpl $(SMP_MAX_CPUS - 1), %eax
	jae 1f					/* more APs than stacks: park */
	leal 1(%rax), %edi			/* cpu index: the BSP is 0 */
	movl %edi, %edx
	imulq $AP_STACK_SIZE, %rdx
	addq $ap_stacks, %rdx
	movq %rdx, %rsp				/* top of slot's stack = ap_stacks + (slot+1)*size */
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
