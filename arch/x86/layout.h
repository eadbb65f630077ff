/* The guest-physical memory map Ember gives every x86 guest. One place, so that loaders, ACPI,
 * e820 and devices agree. See docs/architecture.md for the picture. */
#ifndef EMBER_X86_LAYOUT_H
#define EMBER_X86_LAYOUT_H

/* Low memory used by Ember's boot structures (all below 1 MiB, inside RAM). */
#define LAYOUT_PVH_START_INFO   0x00001000ULL /* struct hvm_start_info + module list + memmap */
#define LAYOUT_PVH_START_INFO_SIZE 0x1000ULL
#define LAYOUT_BOOT_GDT         0x00005000ULL /* 4 KiB: boot GDT for the BSP */
#define LAYOUT_ZERO_PAGE        0x00007000ULL /* Linux struct boot_params (4 KiB) */
#define LAYOUT_PAGE_TABLES      0x00009000ULL /* PML4 + PDPT + 4 PDs: identity map of 0-4 GiB */
#define LAYOUT_PAGE_TABLES_SIZE 0x6000ULL
#define LAYOUT_CMDLINE          0x00020000ULL /* kernel command line */
#define LAYOUT_CMDLINE_MAX      0x10000ULL    /* 64 KiB, far above any kernel's limit */

/* Conventional memory ends at the EBDA; the rest of the first MiB is reserved (BIOS area). */
#define LAYOUT_EBDA_START       0x0009fc00ULL
#define LAYOUT_HIGH_MEMORY      0x00100000ULL /* 1 MiB */

/* ACPI tables live in the legacy BIOS area so that an RSDP scan also finds them. */
#define LAYOUT_ACPI_START       0x000e0000ULL
#define LAYOUT_ACPI_SIZE        0x00020000ULL /* up to 1 MiB */

/* Where a bzImage's protected-mode kernel goes unless it asks for another address. */
#define LAYOUT_KERNEL_DEFAULT   0x01000000ULL /* 16 MiB */

/* The 32-bit hole: RAM below 4 GiB stops here; PCI MMIO, ECAM, IOAPIC and LAPIC sit above. */
#define LAYOUT_MMIO32_START     0xc0000000ULL /* 3 GiB */
#define LAYOUT_PCI_MMIO32_START 0xc0000000ULL
#define LAYOUT_PCI_MMIO32_SIZE  0x20000000ULL /* 512 MiB of 32-bit BAR space */
#define LAYOUT_PCI_ECAM_START   0xe0000000ULL
#define LAYOUT_PCI_ECAM_SIZE    0x10000000ULL /* 256 buses */
/* Firmware boot (--firmware): OVMF's Q35 code programs PCIEXBAR to this fixed address
 * (PcdPciExpressBaseAddress) and uses it for every PCI config access, so the ECAM moves here and
 * low RAM must end below it (devices/pci/pci_q35.h, docs/firmware.md). */
#define LAYOUT_Q35_ECAM_START   0xb0000000ULL
/* The firmware image ends at 4 GiB; KVM's TSS and identity-map pages (Intel only) move below
 * the high BIOS area to this reserved range, as QEMU puts them. */
#define LAYOUT_FW_KVM_PAGES     0xfeffc000ULL
#define LAYOUT_FW_KVM_PAGES_SIZE 0x4000ULL
#define LAYOUT_IOAPIC           0xfec00000ULL
#define LAYOUT_LAPIC            0xfee00000ULL
#define LAYOUT_4G               0x100000000ULL

/* Legacy I/O ports. */
#define PORT_COM1               0x3f8
#define IRQ_COM1                4
#define PORT_I8042_DATA         0x60
#define PORT_I8042_CMD          0x64
#define PORT_RTC                0x70  /* 0x70 index, 0x71 data */
#define IRQ_RTC                 8
/* HW-reduced ACPI sleep control/status registers (FADT SLEEP_CONTROL_REG / SLEEP_STATUS_REG). */
#define PORT_ACPI_SLEEP_CONTROL 0x600
#define PORT_ACPI_SLEEP_STATUS  0x601
/* The ACPI S5 sleep type Ember's DSDT advertises in \_S5 and the sleep device acts on. */
#define ACPI_S5_SLEEP_TYPE      5
/* QEMU's fw_cfg device (devices/legacy/fw_cfg.h): selector, data, DMA address 0x510-0x51b. */
#define PORT_FW_CFG             0x510
/* Firmware boot: the Q35 PM block at the LPC's fixed PMBASE 0x600: PM1a control at + 4 (OVMF
 * powers off there), the ACPI PM timer at + 8. */
#define PORT_Q35_PM1_CNT        0x604
#define PORT_ACPI_PM_TIMER      0x608
/* Ember's debug/exit port for test guests: a 32-bit write of N ends the VM with status N. */
#define PORT_EMBER_TEST_EXIT    0x501
/* Boot-timer port (guest-ready signal; see issue on density). A write logs guest-ready-us. */
#define PORT_EMBER_BOOT_TIMER   0x440 /* not 0x510: that is fw_cfg's selector, which OVMF needs */

#endif
