/* The PVH boot ABI's start-of-day structure (Xen public header arch-x86/hvm/start_info.h,
 * version 1). All addresses are guest-physical. */
#ifndef RT_PVH_H
#define RT_PVH_H

#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;  /* NUL-terminated ASCII, 0 if none */
	uint64_t rsdp_paddr;     /* ACPI RSDP, 0 if none */
	uint64_t memmap_paddr;   /* version >= 1: array of struct hvm_memmap_table_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* E820 types: 1 = RAM, 2 = reserved, 3 = ACPI, ... */
	uint32_t reserved;
};

#endif
