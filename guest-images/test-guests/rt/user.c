/* Running code at CPL3. user_enter (traps.S) iretqs to fn on a user stack; fn returns into a
 * stub that executes SYSCALL, which brings the CPU back to CPL0 in user_return_gate. The page
 * tables map everything user-accessible and SMEP/SMAP are off, so fn can be any function of the
 * image. On PVM hosts CPL3 runs natively while CPL0 is emulated: benchmark loops belong in fn. */
#include "rt.h"

#define RFLAGS_RESERVED 0x2      /* bit 1 always reads 1 */
#define RFLAGS_IOPL3    0x3000
#define USER_STACK_SIZE 16384

#define MSR_STAR  0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define RFLAGS_TF 0x100
#define RFLAGS_IF 0x200
#define RFLAGS_DF 0x400
#define RFLAGS_AC 0x40000

uint64_t user_enter(uint64_t fn, uint64_t arg, uint64_t stack_top, uint64_t rflags);
extern const char user_return_gate[];

static uint8_t user_stack[USER_STACK_SIZE] __attribute__((aligned(16)));
static bool syscall_ready;

/* SYSCALL lands in user_return_gate with CS = STAR[47:32] and SS = that + 8. */
static void enable_syscall(void)
{
	wrmsr(MSR_STAR, (uint64_t)SEL_KCODE64 << 32);
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)user_return_gate);
	wrmsr(MSR_FMASK, RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	syscall_ready = true;
}

static uint64_t run_at_cpl3(user_fn fn, uint64_t arg, uint64_t rflags)
{
	if (!syscall_ready)
		enable_syscall();
	return user_enter((uint64_t)(uintptr_t)fn, arg,
			  (uint64_t)(uintptr_t)(user_stack + sizeof(user_stack)), rflags);
}

uint64_t user_call(user_fn fn, uint64_t arg)
{
	return run_at_cpl3(fn, arg, RFLAGS_RESERVED);
}

uint64_t user_call_io(user_fn fn, uint64_t arg)
{
	return run_at_cpl3(fn, arg, RFLAGS_RESERVED | RFLAGS_IOPL3);
}
