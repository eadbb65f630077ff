/* Kernel loading: detects a Linux bzImage or a PVH ELF and places kernel, initrd, command line
 * and the boot structures (boot_params zero page or hvm_start_info) in guest RAM. */
#ifndef EMBER_LOADER_H
#define EMBER_LOADER_H

#include <stdint.h>

#include "error.h"
#include "guest_mem.h"

enum boot_mode {
	BOOT_LINUX64, /* 64-bit boot protocol: long mode, paging on, RSI = zero page */
	BOOT_PVH32,   /* PVH: 32-bit protected mode, paging off, EBX = hvm_start_info */
	BOOT_FIRMWARE, /* firmware (--firmware): the reset vector, real mode at F000:FFF0 */
};

struct boot_spec {
	const char *kernel_path;
	const char *initrd_path;   /* NULL: none */
	const char *cmdline;       /* never NULL */
	uint64_t rsdp_gpa;         /* where the ACPI RSDP is (0: none) */
};

struct boot_info {
	enum boot_mode mode;
	uint64_t entry;      /* guest-physical entry point */
	uint64_t boot_arg;   /* zero page (RSI) or start_info (EBX) address */
	uint64_t kernel_end; /* first byte past the loaded kernel image */
	uint64_t initrd_gpa, initrd_size;
};

/* Loads spec->kernel_path (and initrd) into gm. Errors name the file and what is wrong with it:
 * "not a bzImage or ELF", "ELF has no PVH entry note", "initrd does not fit", ... */
int loader_load(struct guest_mem *gm, const struct boot_spec *spec, struct boot_info *out,
		struct error *e);

/* The two formats, also used directly by unit tests on in-memory images. */
int loader_load_bzimage(struct guest_mem *gm, const uint8_t *img, uint64_t img_size,
			const struct boot_spec *spec, struct boot_info *out, struct error *e);
int loader_load_pvh_elf(struct guest_mem *gm, const uint8_t *img, uint64_t img_size,
			const struct boot_spec *spec, struct boot_info *out, struct error *e);

/* Places the initrd (already read into memory) as high as the kernel allows below addr_max
 * (an exclusive end), above kernel_end. */
int loader_place_initrd(struct guest_mem *gm, const uint8_t *data, uint64_t size, uint64_t addr_max,
			uint64_t kernel_end, struct boot_info *out, struct error *e);

/* Shared by both formats: writes the command line (at most cmdline_max bytes before the NUL) to
 * LAYOUT_CMDLINE and reads spec->initrd_path straight into its slot below initrd_addr_max
 * (exclusive), above kernel_end. */
int loader_place_cmdline_and_initrd(struct guest_mem *gm, const struct boot_spec *spec,
				    uint64_t cmdline_max, uint64_t initrd_addr_max, uint64_t kernel_end,
				    struct boot_info *out, struct error *e);

#endif
