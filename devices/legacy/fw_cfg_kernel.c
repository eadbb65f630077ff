/* Direct kernel boot items: the kernel, initrd and command line a firmware loads for the guest.
 *
 * OVMF (QemuKernelLoaderFsDxe) concatenates SETUP_DATA and KERNEL_DATA back into the original
 * file and LoadImage()s it (a Linux EFI stub); SeaBIOS-style loaders place the two parts at the
 * boot protocol's addresses. Either way the split follows the Linux boot protocol
 * (Documentation/arch/x86/boot.rst): the real-mode part is (setup_sects + 1) sectors of 512
 * bytes, setup_sects 0 meaning 4. The bytes are not patched, so what the firmware reassembles is
 * byte for byte the file the caller hashed (SEV measured boot). */
#include <string.h>

#include "fw_cfg.h"

#define BZ_SETUP_SECTS_OFFSET 0x1f1
#define BZ_MAGIC_OFFSET       0x202
#define BZ_SECTOR             512u
#define BZ_DEFAULT_SECTS      4u

/* Where the boot protocol's loaders put things (informational for OVMF, which allocates its own). */
#define FW_CFG_SETUP_LOAD_ADDR   0x00010000u /* real-mode setup */
#define FW_CFG_KERNEL_LOAD_ADDR  0x00100000u /* protected-mode kernel */
#define FW_CFG_CMDLINE_LOAD_ADDR 0x00020000u

/* The size of a bzImage's real-mode part, or 0 when the image is not a bzImage (or is too short to
 * have anything after its setup). */
static size_t setup_size(const uint8_t *img, size_t size)
{
	if (size < BZ_MAGIC_OFFSET + 4 || memcmp(img + BZ_MAGIC_OFFSET, "HdrS", 4) != 0)
		return 0;
	size_t sects = img[BZ_SETUP_SECTS_OFFSET] ? img[BZ_SETUP_SECTS_OFFSET] : BZ_DEFAULT_SECTS;
	size_t setup = (sects + 1) * BZ_SECTOR;
	return setup < size ? setup : 0;
}

static int add_blob(struct fw_cfg *f, uint16_t addr_key, uint32_t addr, uint16_t size_key,
		    uint16_t data_key, const void *data, size_t len, struct error *e)
{
	if (len > UINT32_MAX)
		return error_set(e, "fw_cfg: %zu bytes do not fit a 32-bit fw_cfg size", len);
	return fw_cfg_add_u32(f, addr_key, addr, e) < 0 ||
			       fw_cfg_add_u32(f, size_key, (uint32_t)len, e) < 0 ||
			       fw_cfg_add_bytes(f, data_key, data, len, e) < 0
		       ? -1
		       : 0;
}

int fw_cfg_set_kernel(struct fw_cfg *f, const struct fw_cfg_kernel *k, struct error *e)
{
	if (!k->kernel || k->kernel_size == 0)
		return error_set(e, "fw_cfg: no kernel to serve");
	size_t setup = setup_size(k->kernel, k->kernel_size);
	if (add_blob(f, FW_CFG_SETUP_ADDR, FW_CFG_SETUP_LOAD_ADDR, FW_CFG_SETUP_SIZE,
		     FW_CFG_SETUP_DATA, k->kernel, setup, e) < 0 ||
	    add_blob(f, FW_CFG_KERNEL_ADDR, FW_CFG_KERNEL_LOAD_ADDR, FW_CFG_KERNEL_SIZE,
		     FW_CFG_KERNEL_DATA, k->kernel + setup, k->kernel_size - setup, e) < 0)
		return error_prefix(e, "kernel");
	/* The initrd address is the loader's choice; 0 says "not placed". */
	if (add_blob(f, FW_CFG_INITRD_ADDR, 0, FW_CFG_INITRD_SIZE, FW_CFG_INITRD_DATA,
		     k->initrd_size ? k->initrd : NULL, k->initrd ? k->initrd_size : 0, e) < 0)
		return error_prefix(e, "initrd");
	/* The size counts the NUL, as QEMU's does; no command line is a lone NUL (what QEMU serves
	 * without -append, and what the SEV kernel-hashes table hashes then). */
	const char *cmdline = k->cmdline ? k->cmdline : "";
	if (add_blob(f, FW_CFG_CMDLINE_ADDR, FW_CFG_CMDLINE_LOAD_ADDR, FW_CFG_CMDLINE_SIZE,
		     FW_CFG_CMDLINE_DATA, cmdline, strlen(cmdline) + 1, e) < 0)
		return error_prefix(e, "command line");
	return 0;
}
