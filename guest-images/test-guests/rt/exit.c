/* The ways a test guest ends the VM. Each writes a port and, should the VMM carry on running
 * the guest, waits briefly (QEMU acts on shutdown requests asynchronously), reports the failure
 * and falls back to the test-exit port. */
#include "rt.h"

#define I8042_CMD_PORT 0x64
#define I8042_CMD_RESET 0xfe
#define FAILED_EXIT_WAIT_US 500000

void guest_mark_ready(void)
{
	outb(PORT_EMBER_BOOT_TIMER, 1);
}

void guest_exit(uint32_t status)
{
	outl(PORT_EMBER_TEST_EXIT, status);
	halt_forever();
}

void i8042_reset(void)
{
	outb(I8042_CMD_PORT, I8042_CMD_RESET);
	delay_us(FAILED_EXIT_WAIT_US);
	console_printf("rt: i8042 reset did not reset the VM\n");
	guest_exit(RT_EXIT_RESET_FAILED);
}
