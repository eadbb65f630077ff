/* The density guest as a flat real-mode binary, for VMMs that cannot load a PVH ELF (kvmtool
 * loads a non-bzImage kernel at 0x1000:0000 and starts it in real mode there). Same ready mark
 * on port 0x440, plus "READY" on COM1 because kvmtool has no debug console at 0x440; then
 * cli; hlt forever like the PVH build. Position-independent: only relative jumps, and the
 * string is addressed through CS. */
#define PORT_BOOT_TIMER 0x440
#define COM1_THR        0x3f8
#define READY_BYTE      0x06	/* as in idle.S */

	.section .text.entry, "ax"
	.code16
	.globl idle_flat_entry
idle_flat_entry:
	cli
	movw $PORT_BOOT_TIMER, %dx
	movb $READY_BYTE, %al
	outb %al, %dx
	movw $COM1_THR, %dx
	movw $(ready_line - idle_flat_entry), %si
2:	movb %cs:(%si), %al
	testb %al, %al
	jz 1f
	outb %al, %dx		/* THR write; the VMM's UART is always ready to take it */
	incw %si
	jmp 2b
1:	hlt
	jmp 1b

ready_line:
	.asciz "READY\r\n"

	.section .note.GNU-stack, "", @progbits
