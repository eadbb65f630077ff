/* Running code at CPL3. user_enter (traps.S) iretqs to fn on a user stack; fn returns into a
 * UD2 whose #UD brings the CPU back to CPL0 in user_ud_gate (traps.S explains why not SYSCALL
 * or an `int` gate). The page tables map everything user-accessible and SMEP/SMAP are off, so
 * fn can be any function of the image. On PVM hosts CPL3 runs natively while CPL0 is emulated:
 * benchmark loops belong in fn. */
#include "rt.h"

#define RFLAGS_RESERVED 0x2      /* bit 1 always reads 1 */
#define RFLAGS_IOPL3    0x3000
#define USER_STACK_SIZE 16384

uint64_t user_enter(uint64_t fn, uint64_t arg, uint64_t stack_top, uint64_t rflags);

static uint8_t user_stack[USER_STACK_SIZE] __attribute__((aligned(16)));

static uint64_t run_at_cpl3(user_fn fn, uint64_t arg, uint64_t rflags)
{
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

static uint64_t read_iopl(uint64_t unused)
{
	uint64_t rflags;

	(void)unused;
	__asm__ volatile("pushfq; popq %0" : "=r"(rflags));
	return (rflags & RFLAGS_IOPL3) >> 12;
}

bool user_has_iopl3(void)
{
	return user_call_io(read_iopl, 0) == 3;
}
