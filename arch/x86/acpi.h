/* ACPI tables built in guest memory: RSDP, XSDT, FADT (HW-reduced, sleep registers in I/O space),
 * MADT (one LAPIC per vCPU, the IOAPIC, ISA overrides) and a DSDT describing COM1, the RTC and
 * \_S5; with PCI also an MCFG and the root bridge. */
#ifndef EMBER_X86_ACPI_H
#define EMBER_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"

struct acpi_config {
	unsigned ncpus;           /* 1..1024; APIC ids 0..ncpus-1 unless apic_ids is set */
	const uint32_t *apic_ids; /* optional: per-vCPU APIC id (topology) */
	/* PCI: 0 for none; else buses 0..pci_buses-1 (1..256) behind the ECAM at
	 * LAYOUT_PCI_ECAM_START. Adds an MCFG table, a PCI0 root bridge with the 32-bit BAR window
	 * and a PNP0C02 device reserving the ECAM (what Linux checks before using it). */
	unsigned pci_buses;
	uint64_t ecam_base;       /* where the ECAM is (MCFG, DSDT); 0: LAYOUT_PCI_ECAM_START */
};

/* Writes all tables into [LAYOUT_ACPI_START, +LAYOUT_ACPI_SIZE) and returns the RSDP address. */
int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
	       struct error *e);

/* The same tables for a guest that boots through firmware (OVMF, SeaBIOS): fw_cfg files as QEMU
 * names them. `tables` ("etc/acpi/tables") holds DSDT, FADT, MADT, MCFG and XSDT with pointers
 * as offsets into it and checksums zero; `rsdp` ("etc/acpi/rsdp") likewise; `loader`
 * ("etc/table-loader") is the linker/loader script that places both and fixes pointers and
 * checksums (arch/x86/acpi_loader.h). */
#define ACPI_FILE_TABLES "etc/acpi/tables"
#define ACPI_FILE_RSDP   "etc/acpi/rsdp"
#define ACPI_FILE_LOADER "etc/table-loader"
struct acpi_blobs {
	uint8_t *tables;
	size_t tables_len;
	uint8_t rsdp[36];
	uint8_t *loader;
	size_t loader_len;
};
int acpi_build_blobs(const struct acpi_config *cfg, struct acpi_blobs *out, struct error *e);
void acpi_blobs_free(struct acpi_blobs *b);

#endif
