/* Firmware boot: the few pieces of Intel's Q35 chipset that OVMF needs to run on Ember's PCI bus.
 *
 * OVMF decides what machine it is on by the device ID of the host bridge at 00:00.0 and knows only
 * QEMU's i440FX (8086:1237), Q35 (8086:29c0) and Cloud Hypervisor's (needs a PVH entry, not in
 * the stock OVMF image). With Q35 it
 *  - programs the MCH's PCIEXBAR (config 0x60) to 0xB0000000 and from then on reaches PCI config
 *    space only through that ECAM: so the bus is created with its ECAM there
 *    (pci_bus_create_ecam(..., LAYOUT_Q35_ECAM_START)) and PCIEXBAR is stored but not followed;
 *  - times every delay with the ACPI PM timer at PMBASE + 8, PMBASE read from the LPC bridge at
 *    00:1f.0 (config 0x40), which it programs unless ACPI_CNTL (0x44) already has ACPI_EN: the LPC
 *    function here reports PMBASE 0x600 with ACPI_EN set and read-only, so the timer is always at
 *    port 0x608 (devices/legacy/acpi_pm_timer.h);
 *  - allocates PCI BARs bottom-up from 0xC0000000, which is where Ember's BAR window starts.
 * i440FX would need a PIIX4 power-management function at 00:01.3 and places BARs from 2 GiB on
 * small guests, outside Ember's window; Q35 needs neither. Everything else of the chipset (PAM,
 * SMRAM, TSEG, RCBA decoding) is absent: stored registers at most. */
#ifndef EMBER_PCI_Q35_H
#define EMBER_PCI_Q35_H

#include "pci.h"

#define Q35_MCH_DEVICE_ID   0x29c0
#define Q35_LPC_DEVICE_ID   0x2918
#define Q35_VENDOR_INTEL    0x8086
#define Q35_LPC_SLOT        0x1f
#define Q35_PMBASE          0x600

/* Gives the bus's host bridge the Q35 MCH identity and plugs the LPC function into slot 31.
 * The bus must have been created with its ECAM at LAYOUT_Q35_ECAM_START. `lpc` receives the LPC
 * function (pci_device_destroy it before the bus). */
int pci_q35_init(struct pci_bus *bus, struct pci_device **lpc, struct error *e);

#endif
