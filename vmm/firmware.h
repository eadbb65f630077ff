/* Booting through firmware (--firmware): the image mapped read-only so that it ends at 4 GiB,
 * the BSP at the reset vector, and the machine described to the firmware over fw_cfg (memory
 * map, CPU count, ACPI tables through the linker/loader script, and for direct kernel boot the
 * kernel, initrd and command line). docs/firmware.md has the whole picture. */
#ifndef EMBER_FIRMWARE_H
#define EMBER_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "../arch/x86/acpi.h"
#include "../arch/x86/e820.h"
#include "../devices/legacy/fw_cfg.h"
#include "error.h"
#include "guest_mem.h"

/* KVM memslot of the image: after guest RAM's (guest_mem uses 0 .. GUEST_MEM_MAX_REGIONS-1). */
#define FIRMWARE_MEMSLOT   8
/* Images are whole pages and at most 16 MiB: they sit below 4 GiB, above the reserved KVM pages. */
#define FIRMWARE_MAX_SIZE  (16ULL << 20)
#define FIRMWARE_MIN_SIZE  (64ULL << 10)

struct firmware {
	uint8_t *image; /* private anonymous copy of the file (what the guest reads) */
	size_t size;
	uint64_t gpa;   /* 4 GiB - size */
};

/* Reads the image. Errors name the file: missing, empty, not a multiple of 4 KiB, too large. */
int firmware_load(struct firmware *fw, const char *path, struct error *e);
/* Registers the image as a read-only memslot: guest writes to it exit to Ember as MMIO and are
 * dropped, so OVMF finds "ROM, not flash" and keeps its variables in RAM. */
int firmware_map(const struct firmware *fw, int vm_fd, struct error *e);
void firmware_release(struct firmware *fw);

/* Whole files read into memory (the kernel, the initrd), for fw_cfg_set_kernel; the same bytes
 * are what an SEV launch hashes. */
struct firmware_blob {
	uint8_t *data;
	size_t size;
};
/* `what` names the file's role in messages ("kernel", "initrd"). */
int firmware_read_file(const char *what, const char *path, struct firmware_blob *out,
		       struct error *e);
void firmware_blob_free(struct firmware_blob *b);

/* What the firmware is told about the machine. */
struct firmware_machine {
	const struct guest_mem *mem;
	unsigned ncpus;                   /* present at boot (FW_CFG_NB_CPUS) */
	unsigned max_cpus;                /* highest APIC id + 1 (FW_CFG_MAX_CPUS) */
	const struct acpi_config *acpi;
	const struct fw_cfg_kernel *kernel; /* NULL: the firmware boots from its own devices */
};

/* Adds the machine's items: FW_CFG_RAM_SIZE, NB_CPUS, MAX_CPUS, NOGRAPHIC, BOOT_MENU,
 * "etc/e820", the ACPI tables with "etc/table-loader", "etc/system-states" (no S3/S4), an empty
 * "bootorder", "opt/ovmf/X-PciMmio64Mb" = 0 (64-bit BARs stay in the 32-bit window, the only one
 * Ember decodes), and the kernel items when given. */
int firmware_fw_cfg_setup(struct fw_cfg *f, const struct firmware_machine *m, struct error *e);

/* The memory map a firmware gets ("etc/e820"): RAM below the 32-bit hole from address 0 (the
 * firmware carves out its own legacy areas), the reserved KVM pages, RAM above 4 GiB. Returns
 * the number of entries written to out (at most max). */
size_t firmware_e820(const struct guest_mem *mem, struct e820_entry *out, size_t max);

#endif
