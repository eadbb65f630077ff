/* Constants shared by the runtime's assembly and C: GDT selectors, control-register bits and the
 * AP trampoline address. Plain #defines only, so that .S files can include this header. */
#ifndef RT_SEGMENTS_H
#define RT_SEGMENTS_H

/* GDT layout. User data sits right below user code so that SYSRET could be used later
 * (STAR[63:48] = 0x10 gives SS = 0x1b, CS = 0x23). */
#define SEL_KCODE64   0x08
#define SEL_KDATA     0x10
#define SEL_UDATA     0x1b /* 0x18 | RPL 3 */
#define SEL_UCODE64   0x23 /* 0x20 | RPL 3 */
#define SEL_KCODE32   0x28 /* used by the AP trampoline between real mode and long mode */
#define SEL_TSS       0x30 /* 16-byte 64-bit TSS descriptor (two slots) */
#define GDT_ENTRIES   8
#define GDT_LIMIT     (GDT_ENTRIES * 8 - 1)

#define CR0_PE        0x00000001
#define CR0_PG        0x80000000
#define CR4_PAE       0x00000020
#define MSR_EFER      0xc0000080
#define EFER_SCE      0x00000001
#define EFER_LME      0x00000100

/* Real-mode AP trampoline: copied here, started with STARTUP IPI vector 0x08 (CS = 0x0800).
 * 0x8000-0x8fff is free RAM in Ember's low-memory layout (arch/x86/layout.h) and in QEMU. */
#define AP_TRAMPOLINE_ADDR 0x8000
#define AP_STACK_SIZE      8192
#define SMP_MAX_CPUS       1024 /* as many as Ember gives a VM */

#ifdef __ASSEMBLER__
/* 32-bit protected mode -> long mode, shared by the BSP entry and the AP path: CR4.PAE,
 * CR3 = the static identity map, EFER.LME, then CR0.PG. Clobbers EAX, ECX, EDX. The caller
 * far-jumps to a 64-bit code selector afterwards. */
.macro ENABLE_LONG_MODE
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
.endm
#endif

#endif
