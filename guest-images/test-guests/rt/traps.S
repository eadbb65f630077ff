/* Interrupt/exception entry stubs and the CPL3 round trip.
 *
 * trap_stubs: one 16-byte stub per vector (0-255): push a dummy error code where the CPU does not
 * push one, push the vector, jump to trap_common, which saves the GPRs as a struct trap_frame
 * (trap.h) and calls trap_dispatch(). If that returns, the frame is restored and iretq resumes.
 *
 * user_enter / user_exit_stub / user_return_gate: the CPL3 round trip, see user.c. */
#include "segments.h"

	.text
	.code64

/* Vectors whose exceptions push an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14,
 * #AC 17, #CP 21, #VC 29, #SX 30. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
			   (v) == 29 || (v) == 30)

	.balign 16
	.globl trap_stubs
trap_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if !HAS_ERROR_CODE(vec)
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi			/* 15 GPRs + vector + error + 5-word CPU frame: RSP stays 16-aligned */
	cld
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp			/* vector and error code */
	iretq

/* uint64_t user_enter(uint64_t fn, uint64_t arg, uint64_t user_stack_top, uint64_t rflags)
 *
 * Saves the callee-saved registers on the kernel stack, points TSS.RSP0 just below them and
 * iretqs to fn(arg) at CPL3 on the user stack. fn's return address is user_exit_stub, a UD2:
 * the #UD is delivered at CPL0 on TSS.RSP0 to user_ud_gate, which recognises the stub's address,
 * unwinds to the saved kernel frame and returns fn's result (still in RAX) from user_enter.
 * Any other #UD goes to the normal vector-6 stub.
 *
 * Why an exception and not SYSCALL or an `int` gate: on PVM hosts (this project's CI) SYSCALL
 * from guest CPL3 jumps to LSTAR without leaving CPL3, `int n` at CPL3 raises #UD and `int n`
 * at CPL0 is an emulation failure; exceptions are delivered correctly everywhere.
 * One CPU at a time (one saved frame). */
	.globl user_enter
user_enter:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, user_saved_rsp(%rip)
	movq %rsp, tss + 4(%rip)	/* the #UD frame lands below the saved registers */
	andq $-16, %rdx
	subq $8, %rdx			/* ABI: at entry, (RSP + 8) is 16-byte aligned */
	movq $user_exit_stub, (%rdx)
	pushq $SEL_UDATA		/* SS */
	pushq %rdx			/* RSP */
	pushq %rcx			/* RFLAGS */
	pushq $SEL_UCODE64		/* CS */
	pushq %rdi			/* RIP */
	movq %rsi, %rdi
	xorl %esi, %esi			/* no kernel values leak into user mode */
	xorl %edx, %edx
	xorl %ecx, %ecx
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	iretq

	.globl user_exit_stub
user_exit_stub:
	ud2

	.globl user_ud_gate
user_ud_gate:
	cmpq $user_exit_stub, (%rsp)	/* #UD pushes no error code: (%rsp) is the faulting RIP */
	jne 1f
	movq user_saved_rsp(%rip), %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
1:	jmp trap_stubs + 6 * 16		/* a genuine #UD */

	.bss
	.balign 8
user_saved_rsp:
	.skip 8

	.section .note.GNU-stack, "", @progbits
