/* QEMU's ACPI "linker/loader" script (the fw_cfg file "etc/table-loader"), which OVMF's
 * AcpiPlatformDxe and SeaBIOS run to install tables a VMM hands them as fw_cfg blobs: ALLOCATE
 * copies a blob into guest memory, ADD_POINTER adds a blob's final address to a pointer field
 * that holds an offset into it, ADD_CHECKSUM recomputes a checksum byte over a range. Entries
 * are 128 bytes, little-endian (OvmfPkg/Include/IndustryStandard/QemuLoader.h). */
#ifndef EMBER_X86_ACPI_LOADER_H
#define EMBER_X86_ACPI_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"

#define ACPI_LOADER_ENTRY_SIZE 128
#define ACPI_LOADER_FILE_MAX   56 /* fw_cfg file names, with the NUL */

enum acpi_loader_command {
	ACPI_LOADER_ALLOCATE = 1,
	ACPI_LOADER_ADD_POINTER = 2,
	ACPI_LOADER_ADD_CHECKSUM = 3,
	ACPI_LOADER_WRITE_POINTER = 4,
};

enum acpi_loader_zone {
	ACPI_LOADER_ZONE_HIGH = 1, /* anywhere below 4 GiB */
	ACPI_LOADER_ZONE_FSEG = 2, /* the 0xF0000 segment (SeaBIOS; OVMF allocates as HIGH) */
};

struct acpi_loader {
	uint8_t *data; /* entries, back to back */
	size_t len, cap;
};

void acpi_loader_init(struct acpi_loader *l);
void acpi_loader_release(struct acpi_loader *l);
int acpi_loader_allocate(struct acpi_loader *l, const char *file, uint32_t align,
			 enum acpi_loader_zone zone, struct error *e);
/* The `size` bytes at `offset` in `dest` hold an offset into `src`; add src's address. */
int acpi_loader_add_pointer(struct acpi_loader *l, const char *dest, const char *src,
			    uint32_t offset, uint8_t size, struct error *e);
/* file[offset] = checksum making file[start, start + length) sum to zero (file[offset] must be 0
 * in the blob, since OVMF sums the range with the byte in it). */
int acpi_loader_add_checksum(struct acpi_loader *l, const char *file, uint32_t offset,
			     uint32_t start, uint32_t length, struct error *e);

#endif
