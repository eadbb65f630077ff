/* The e820 memory map Ember reports (through boot_params and hvm_start_info alike). */
#ifndef EMBER_X86_E820_H
#define EMBER_X86_E820_H

#include <stddef.h>
#include <stdint.h>

#include "../../vmm/guest_mem.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Fills out[] (at most max entries) and returns the count: RAM below the EBDA, the reserved BIOS
 * area (which holds the ACPI tables), RAM from 1 MiB to the 32-bit hole, and RAM above 4 GiB. */
size_t e820_build(const struct guest_mem *gm, struct e820_entry *out, size_t max);

#endif
