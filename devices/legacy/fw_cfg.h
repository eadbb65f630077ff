/* QEMU's firmware configuration device (fw_cfg), as OVMF and SeaBIOS expect it on x86
 * (QEMU docs/specs/fw_cfg.rst): a 16-bit selector at port 0x510, an 8-bit data port at 0x511 and
 * the DMA address register at 0x514-0x51b (big-endian; a write to the low half at 0x518 runs the
 * FWCfgDmaAccess it points at). Items are byte blobs selected by a 16-bit key; "files" (keys from
 * FW_CFG_FILE_FIRST) are listed by name in the directory item FW_CFG_FILE_DIR.
 *
 * The items are configuration: they are added before the guest runs and rebuilt from the VM's
 * configuration on restore. What the guest changes (selector, offset, DMA address half) is the
 * plain struct fw_cfg_state, which fw_cfg_save/fw_cfg_restore copy. Every guest address a DMA
 * request names goes through guest_mem; a bad one sets the request's error bit, nothing else. */
#ifndef EMBER_FW_CFG_H
#define EMBER_FW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/guest_mem.h"
#include "../../vmm/io_bus.h"

/* Ports (x86). The DMA address register is 8 bytes: high half at +0, low half (trigger) at +4. */
#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA     0x511
#define FW_CFG_PORT_DMA      0x514
#define FW_CFG_PORT_COUNT    12    /* 0x510-0x51b */

/* Selector keys every QEMU machine has (QEMU include/standard-headers/linux/qemu_fw_cfg.h;
 * the numbers are the interface). Values are little-endian unless noted. */
enum fw_cfg_key {
	FW_CFG_SIGNATURE = 0x00,     /* "QEMU" */
	FW_CFG_ID = 0x01,            /* u32 feature bits: FW_CFG_VERSION, FW_CFG_VERSION_DMA */
	FW_CFG_UUID = 0x02,          /* 16 bytes */
	FW_CFG_RAM_SIZE = 0x03,      /* u64 */
	FW_CFG_NOGRAPHIC = 0x04,     /* u16 */
	FW_CFG_NB_CPUS = 0x05,       /* u16: vCPUs present at boot */
	FW_CFG_MACHINE_ID = 0x06,
	FW_CFG_KERNEL_ADDR = 0x07,   /* u32 */
	FW_CFG_KERNEL_SIZE = 0x08,   /* u32: the protected-mode part of a bzImage */
	FW_CFG_KERNEL_CMDLINE = 0x09,
	FW_CFG_INITRD_ADDR = 0x0a,   /* u32 */
	FW_CFG_INITRD_SIZE = 0x0b,   /* u32 */
	FW_CFG_BOOT_DEVICE = 0x0c,
	FW_CFG_NUMA = 0x0d,          /* u64 count, then per-CPU and per-node u64s */
	FW_CFG_BOOT_MENU = 0x0e,     /* u16 */
	FW_CFG_MAX_CPUS = 0x0f,      /* u16: highest APIC id + 1 */
	FW_CFG_KERNEL_ENTRY = 0x10,
	FW_CFG_KERNEL_DATA = 0x11,
	FW_CFG_INITRD_DATA = 0x12,
	FW_CFG_CMDLINE_ADDR = 0x13,  /* u32 */
	FW_CFG_CMDLINE_SIZE = 0x14,  /* u32, with the NUL */
	FW_CFG_CMDLINE_DATA = 0x15,  /* NUL-terminated */
	FW_CFG_SETUP_ADDR = 0x16,    /* u32 */
	FW_CFG_SETUP_SIZE = 0x17,    /* u32: the real-mode setup of a bzImage */
	FW_CFG_SETUP_DATA = 0x18,
	FW_CFG_FILE_DIR = 0x19,      /* big-endian directory of the file items */
	FW_CFG_FILE_FIRST = 0x20,
	/* x86 (FW_CFG_ARCH_LOCAL | n) */
	FW_CFG_ARCH_LOCAL = 0x8000,
	FW_CFG_X86_ACPI_TABLES = 0x8000,
	FW_CFG_X86_SMBIOS_ENTRIES = 0x8001,
	FW_CFG_X86_IRQ0_OVERRIDE = 0x8002, /* u32 */
	FW_CFG_X86_E820_TABLE = 0x8003,
	FW_CFG_X86_HPET = 0x8004,
};

#define FW_CFG_KEY_WRITE     0x4000 /* selector bit 14: legacy write mode (data-port writes are ignored) */
#define FW_CFG_KEY_MASK      0x3fff
#define FW_CFG_MAX_FILES     64
#define FW_CFG_FILE_NAME_MAX 56     /* with the NUL */

/* FW_CFG_ID bits. */
#define FW_CFG_VERSION     0x01
#define FW_CFG_VERSION_DMA 0x02

/* FWCfgDmaAccess.control bits. */
#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10
/* What the DMA address register reads as: "QEMU CFG" big-endian. */
#define FW_CFG_DMA_SIGNATURE 0x51454d5520434647ULL

struct fw_cfg;

/* Everything the guest can change, and nothing else: save/restore copies it as is. */
struct fw_cfg_state {
	uint16_t selector;  /* as last written (bits 14/15 included) */
	uint32_t offset;    /* read position in the selected item */
	uint32_t dma_high;  /* the high half of the DMA address, until the low half is written */
};

/* A device with the signature, ID (traditional + DMA) and an empty file directory; `mem` is what
 * DMA requests may touch (for SEV guests: the shared view). */
struct fw_cfg *fw_cfg_create(const struct guest_mem *mem, struct error *e);
void fw_cfg_destroy(struct fw_cfg *f);
/* Claims ports 0x510-0x51b. */
int fw_cfg_attach(struct fw_cfg *f, struct io_bus *pio, struct error *e);

/* Items. Data is copied; adding a key or file name that exists replaces its contents. Keys for
 * fw_cfg_add_bytes are below FW_CFG_FILE_FIRST or in the arch range; items are at most 4 GiB - 1. */
int fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data, size_t len, struct error *e);
int fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t value, struct error *e);
int fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t value, struct error *e);
int fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t value, struct error *e);
/* A named file (at most 55 characters), listed in FW_CFG_FILE_DIR (sorted by name, as QEMU
 * does) at the next free key from FW_CFG_FILE_FIRST. `writable` lets DMA writes change it in
 * place (never resize it). */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len,
		    struct error *e);
int fw_cfg_add_file_writable(struct fw_cfg *f, const char *name, const void *data, size_t len,
			     struct error *e);

/* Direct kernel boot through the firmware (OVMF's QemuKernelLoaderFsDxe, SeaBIOS's linuxboot):
 * the kernel file exactly as given (a bzImage is split QEMU's way: FW_CFG_SETUP_* holds its
 * (setup_sects + 1) * 512 bytes of real-mode setup, FW_CFG_KERNEL_* the rest; any other image is
 * all KERNEL with an empty SETUP), the initrd and the command line (with its NUL). The bytes are
 * served unchanged, so a hash over kernel, initrd and command line (SEV's kernel-hashes table)
 * matches what the firmware reads. initrd may be NULL (size 0); cmdline NULL is served as ""
 * (a lone NUL, as QEMU does without -append). */
struct fw_cfg_kernel {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;
	size_t initrd_size;
	const char *cmdline;
};
int fw_cfg_set_kernel(struct fw_cfg *f, const struct fw_cfg_kernel *k, struct error *e);

/* Looks an item up (for tests and for callers that build on items): NULL when absent. */
const uint8_t *fw_cfg_item(const struct fw_cfg *f, uint16_t key, uint32_t *len);
/* The key of a named file, or -1. */
int fw_cfg_file_key(const struct fw_cfg *f, const char *name);

void fw_cfg_save(struct fw_cfg *f, struct fw_cfg_state *out);
int fw_cfg_restore(struct fw_cfg *f, const struct fw_cfg_state *in, struct error *e);

/* The port handler (offset from 0x510), exposed for unit tests. */
void fw_cfg_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write);

#endif
