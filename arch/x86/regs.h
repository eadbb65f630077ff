/* Initial vCPU state for x86: segment/control registers for each boot mode, the boot page tables
 * and GDT, MSRs, FPU, and the local APIC's LINT pins. Plus a register dump for fatal exits. */
#ifndef EMBER_X86_REGS_H
#define EMBER_X86_REGS_H

#include <stdio.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../../vmm/loader.h"

/* Writes the boot GDT (LAYOUT_BOOT_GDT) and identity page tables for 0-4 GiB (LAYOUT_PAGE_TABLES)
 * into guest RAM. Called once per VM before the BSP is set up. */
int regs_write_boot_tables(struct guest_mem *gm, struct error *e);

/* BSP: registers for bi->mode (long mode + RSI for BOOT_LINUX64; 32-bit flat + EBX for BOOT_PVH32). */
int regs_setup_bsp(int vcpu_fd, const struct boot_info *bi, struct error *e);

/* BSP of a firmware boot (BOOT_FIRMWARE): the power-on state, CS:IP = F000:FFF0 with CS base
 * 0xFFFF0000 (regs_reset.c). */
int regs_setup_reset(int vcpu_fd, struct error *e);

/* Every vCPU: MSRs (IA32_MISC_ENABLE fast strings, PAT default, SYSENTER/STAR zero; the TSC is
 * left alone), FPU control word 0x37f (KVM takes only FCW from KVM_SET_FPU; its reset already
 * sets MXCSR 0x1f80), LAPIC LINT0 = ExtINT, LINT1 = NMI. APs stay in wait-for-SIPI
 * (KVM's default for index > 0 with in-kernel irqchip). */
int regs_setup_common(int vcpu_fd, struct error *e);

/* Prints general, segment and control registers (for triple faults and internal errors). */
void regs_dump(int vcpu_fd, FILE *out);

#endif
