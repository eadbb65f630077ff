/* Triple fault on purpose: with an empty IDT, #UD cannot be delivered, neither can the #GP
 * that follows nor the #DF after it, so the CPU shuts down. The VMM must end the VM with a
 * failure status. */
#include "rt/rt.h"

int guest_main(const struct hvm_start_info *si)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };

	(void)si;
	console_printf("triple: empty IDT + ud2, expecting a triple fault\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt) : "memory");
	console_printf("triple: still running after the triple fault\n");
	return 1;
}
