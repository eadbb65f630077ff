/* From the assembly entry to guest_main: validate the PVH start info, install the IDT/TSS,
 * signal "ready" and run the guest. */
#include "rt.h"
#include "trap.h"

const struct hvm_start_info *rt_start_info;

void rt_start(uint32_t start_info_paddr);

void rt_start(uint32_t start_info_paddr)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info_paddr;

	trap_init();
	if (!si || si->magic != HVM_START_MAGIC) {
		console_printf("rt: EBX=%x is not a PVH hvm_start_info (magic %x)\n",
			       start_info_paddr, si ? si->magic : 0);
		guest_exit(RT_EXIT_BAD_BOOT);
	}
	rt_start_info = si;
	guest_mark_ready();
	guest_exit((uint32_t)guest_main(si));
}

const char *rt_cmdline(void)
{
	if (!rt_start_info || !rt_start_info->cmdline_paddr)
		return "";
	return (const char *)(uintptr_t)rt_start_info->cmdline_paddr;
}
