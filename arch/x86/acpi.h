/* ACPI tables built in guest memory: RSDP, XSDT, FADT (HW-reduced, sleep registers in I/O space),
 * MADT (one LAPIC per vCPU, the IOAPIC, ISA overrides) and a DSDT describing COM1, the RTC and
 * \_S5; with PCI also an MCFG and the root bridge. */
#ifndef EMBER_X86_ACPI_H
#define EMBER_X86_ACPI_H

#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"

struct acpi_config {
	unsigned ncpus;           /* 1..255; APIC ids 0..ncpus-1 unless apic_ids is set */
	const uint32_t *apic_ids; /* optional: per-vCPU APIC id (topology) */
	/* PCI: 0 for none; else buses 0..pci_buses-1 (1..256) behind the ECAM at
	 * LAYOUT_PCI_ECAM_START. Adds an MCFG table, a PCI0 root bridge with the 32-bit BAR window
	 * and a PNP0C02 device reserving the ECAM (what Linux checks before using it). */
	unsigned pci_buses;
};

/* Writes all tables into [LAYOUT_ACPI_START, +LAYOUT_ACPI_SIZE) and returns the RSDP address. */
int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
	       struct error *e);

#endif
