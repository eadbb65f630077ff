/* The Xen PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h, version 1), as Ember uses it
 * to start an ELF kernel in 32-bit protected mode with EBX pointing at struct hvm_start_info.
 * Every structure is a fixed guest-visible layout; the asserts below pin it down. */
#ifndef EMBER_X86_PVH_H
#define EMBER_X86_PVH_H

#include <stddef.h>
#include <stdint.h>

/* ELF note (owner "Xen") whose descriptor is the 32-bit physical PVH entry point. */
#define PVH_XEN_NOTE_NAME            "Xen"
#define PVH_XEN_ELFNOTE_PHYS32_ENTRY 18

#define PVH_START_MAGIC   0x336ec578u
#define PVH_START_VERSION 1u

/* Memory map types match the e820 ones. */
#define PVH_MEMMAP_TYPE_RAM      1
#define PVH_MEMMAP_TYPE_RESERVED 2
#define PVH_MEMMAP_TYPE_ACPI     3

struct hvm_start_info {
	uint32_t magic;          /* PVH_START_MAGIC */
	uint32_t version;        /* PVH_START_VERSION */
	uint32_t flags;          /* SIF_* flags; Ember sets none */
	uint32_t nr_modules;     /* entries at modlist_paddr (the initrd is module 0) */
	uint64_t modlist_paddr;  /* struct hvm_modlist_entry[nr_modules] */
	uint64_t cmdline_paddr;  /* NUL-terminated command line */
	uint64_t rsdp_paddr;     /* ACPI RSDP (0: the guest scans for it) */
	/* Version 1 and later. */
	uint64_t memmap_paddr;   /* struct hvm_memmap_table_entry[memmap_entries] */
	uint32_t memmap_entries;
	uint32_t reserved;       /* must be zero */
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;  /* 0: no module command line */
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* PVH_MEMMAP_TYPE_* */
	uint32_t reserved;       /* must be zero */
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes in PVH v1");
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "PVH ABI layout");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "PVH ABI layout");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "PVH ABI layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry is 24 bytes");

#endif
