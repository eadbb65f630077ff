/* Linux bzImage loading through the 64-bit boot protocol (Documentation/arch/x86/boot.rst):
 * the protected-mode kernel goes where the setup header allows, a zeroed struct boot_params
 * carries the header, command line, initrd and e820 map, and the vCPU enters at load + 0x200 in
 * long mode with RSI pointing at the zero page. The real-mode setup code is never run. */
#include "loader.h"

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "../arch/x86/e820.h"
#include "../arch/x86/layout.h"

#define BZ_HDR_OFFSET     0x1f1 /* struct setup_header inside the image and the zero page */
#define BZ_JUMP_OFFSET    0x201 /* byte: the header ends at 0x202 + this */
#define BZ_MAGIC_OFFSET   0x202
#define BZ_MAGIC          0x53726448u /* "HdrS" */
#define BZ_SECTOR         512u
#define BZ_DEFAULT_SECTS  4u    /* setup_sects == 0 means 4 */
#define BZ_ENTRY64_OFFSET 0x200 /* 64-bit entry: load address + 0x200 */
#define BZ_OLD_LOAD_ADDR  0x100000ULL /* non-relocatable kernels without pref_address */
#define BZ_LOADER_UNKNOWN 0xff  /* type_of_loader: no assigned boot loader id */
#define BZ_HEAP_END       0xfe00 /* heap_end_ptr: conventional end of setup heap - 0x200 */

#define BZ_PROTO(maj, min) (((maj) << 8) | (min))
#define BZ_PROTO_MIN       BZ_PROTO(2, 6)  /* cmdline_size */
#define BZ_PROTO_64BIT     BZ_PROTO(2, 12) /* xloadflags, XLF_KERNEL_64 */
#define BZ_PROTO_RSDP      BZ_PROTO(2, 14) /* boot_params.acpi_rsdp_addr */

/* The header fields Ember relies on (up to init_size) exist from protocol 2.10 on. */
#define BZ_HDR_NEEDED_END (BZ_HDR_OFFSET + offsetof(struct setup_header, init_size) + 4)

_Static_assert(sizeof(struct boot_params) == 4096, "the zero page is one page");
_Static_assert(sizeof(struct boot_e820_entry) == sizeof(struct e820_entry), "same e820 layout");
_Static_assert(offsetof(struct boot_params, hdr) == BZ_HDR_OFFSET, "setup header offset");

static const char *kernel_name(const struct boot_spec *spec)
{
	return spec->kernel_path ? spec->kernel_path : "<memory>";
}

static unsigned long long mib_up(uint64_t bytes)
{
	return (unsigned long long)((bytes >> 20) + ((bytes & 0xfffff) != 0));
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint16_t read_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t read_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Validates the setup header and copies it (only as far as the image says it extends) into
 * *hdr, zero-filling the rest; *hdr_len receives the copied length. */
static int read_setup_header(const uint8_t *img, uint64_t size, const char *name,
			     struct setup_header *hdr, size_t *hdr_len, struct error *e)
{
	if (size < BZ_MAGIC_OFFSET + 4 || read_le32(img + BZ_MAGIC_OFFSET) != BZ_MAGIC)
		return error_set(e, "kernel '%s' is not a Linux bzImage (no \"HdrS\" at 0x%x)", name,
				 BZ_MAGIC_OFFSET);
	if (size < BZ_HDR_NEEDED_END)
		return error_set(e, "kernel '%s' is truncated: %llu bytes, the setup header alone "
				 "needs %zu", name, (unsigned long long)size, (size_t)BZ_HDR_NEEDED_END);
	uint16_t version = read_le16(img + BZ_HDR_OFFSET + offsetof(struct setup_header, version));
	if (version < BZ_PROTO_MIN)
		return error_set(e, "kernel '%s' uses boot protocol %u.%02u; Ember needs 2.06 or "
				 "newer", name, version >> 8, version & 0xff);
	if (version < BZ_PROTO_64BIT)
		return error_set(e, "kernel '%s' uses boot protocol %u.%02u, which has no 64-bit "
				 "entry point; Ember needs 2.12 or newer with XLF_KERNEL_64", name,
				 version >> 8, version & 0xff);

	size_t hdr_end = BZ_MAGIC_OFFSET + img[BZ_JUMP_OFFSET];
	if (hdr_end < BZ_HDR_NEEDED_END)
		return error_set(e, "kernel '%s': setup header ends at 0x%zx, too short for boot "
				 "protocol %u.%02u", name, hdr_end, version >> 8, version & 0xff);
	*hdr_len = hdr_end - BZ_HDR_OFFSET;
	if (*hdr_len > sizeof(*hdr))
		*hdr_len = sizeof(*hdr); /* newer than this header file: the rest is not ours */
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, img + BZ_HDR_OFFSET, *hdr_len);

	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return error_set(e, "kernel '%s' has no 64-bit entry point (xloadflags lacks "
				 "XLF_KERNEL_64; a 32-bit kernel?)", name);
	return 0;
}

/* True when [load, load + span) lies in low RAM above the first MiB. */
static bool kernel_fits(const struct guest_mem *gm, uint64_t load, uint64_t span)
{
	uint64_t low_end = guest_mem_low_end(gm);
	return load >= LAYOUT_HIGH_MEMORY && load <= low_end && span <= low_end - load;
}

/* Picks the load address: pref_address when the kernel can be relocated there (aligned and in
 * RAM), else LAYOUT_KERNEL_DEFAULT rounded up to kernel_alignment. A non-relocatable kernel moves
 * itself to pref_address anyway, so it is loaded there or not at all. */
static int choose_load_address(const struct guest_mem *gm, const struct setup_header *hdr,
			       uint64_t span, const char *name, uint64_t *load, struct error *e)
{
	uint64_t pref = hdr->pref_address ? hdr->pref_address : BZ_OLD_LOAD_ADDR;
	if (!hdr->relocatable_kernel) {
		*load = pref;
		if (kernel_fits(gm, pref, span))
			return 0;
		return error_set(e, "kernel '%s' is not relocatable and needs %llu MiB at 0x%llx, "
				 "outside guest RAM", name, mib_up(span),
				 (unsigned long long)pref);
	}
	uint64_t align = hdr->kernel_alignment;
	if (!is_pow2(align))
		return error_set(e, "kernel '%s' has an invalid kernel_alignment 0x%llx", name,
				 (unsigned long long)align);
	if (pref % align == 0 && kernel_fits(gm, pref, span)) {
		*load = pref;
		return 0;
	}
	*load = (LAYOUT_KERNEL_DEFAULT + align - 1) & ~(align - 1);
	if (kernel_fits(gm, *load, span))
		return 0;
	return error_set(e, "kernel '%s' needs %llu MiB from 0x%llx, which does not fit in %llu MiB "
			 "of guest RAM below 4 GiB", name, mib_up(span),
			 (unsigned long long)*load, (unsigned long long)(guest_mem_low_end(gm) >> 20));
}

/* Fills and writes the zero page. hdr_len bytes of the image's header are copied verbatim, as
 * the protocol asks; Ember then sets the fields a boot loader owns. */
static int write_zero_page(struct guest_mem *gm, const uint8_t *img, size_t hdr_len,
			   const struct boot_spec *spec, const struct boot_info *info, uint64_t load,
			   struct error *e)
{
	struct boot_params bp;
	memset(&bp, 0, sizeof(bp));
	memcpy(&bp.hdr, img + BZ_HDR_OFFSET, hdr_len);

	bp.hdr.type_of_loader = BZ_LOADER_UNKNOWN;
	bp.hdr.loadflags |= CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = BZ_HEAP_END;
	bp.hdr.code32_start = (uint32_t)load;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	bp.hdr.ramdisk_image = (uint32_t)info->initrd_gpa;
	bp.hdr.ramdisk_size = (uint32_t)info->initrd_size;
	bp.ext_ramdisk_image = (uint32_t)(info->initrd_gpa >> 32);
	bp.ext_ramdisk_size = (uint32_t)(info->initrd_size >> 32);
	bp.hdr.hardware_subarch = X86_SUBARCH_PC;
	if (bp.hdr.version >= BZ_PROTO_RSDP)
		bp.acpi_rsdp_addr = spec->rsdp_gpa;

	struct e820_entry map[E820_MAX_ENTRIES_ZEROPAGE];
	size_t n = e820_build(gm, map, E820_MAX_ENTRIES_ZEROPAGE);
	memcpy(bp.e820_table, map, n * sizeof(map[0]));
	bp.e820_entries = (uint8_t)n;

	if (guest_mem_write(gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp), e) < 0)
		return error_prefix(e, "zero page");
	return 0;
}

int loader_load_bzimage(struct guest_mem *gm, const uint8_t *img, uint64_t img_size,
			const struct boot_spec *spec, struct boot_info *out, struct error *e)
{
	const char *name = kernel_name(spec);
	struct setup_header hdr;
	size_t hdr_len = 0;
	memset(out, 0, sizeof(*out));
	if (read_setup_header(img, img_size, name, &hdr, &hdr_len, e) < 0)
		return -1;

	uint64_t setup_sects = hdr.setup_sects ? hdr.setup_sects : BZ_DEFAULT_SECTS;
	uint64_t setup_size = (setup_sects + 1) * BZ_SECTOR;
	if (img_size <= setup_size)
		return error_set(e, "kernel '%s' is truncated: no protected-mode code after its "
				 "%llu-byte setup", name, (unsigned long long)setup_size);
	const uint8_t *pm = img + setup_size;
	uint64_t pm_size = img_size - setup_size;
	/* init_size covers the decompressor's whole working area; never less than the image. */
	uint64_t span = hdr.init_size > pm_size ? hdr.init_size : pm_size;

	uint64_t load = 0;
	if (choose_load_address(gm, &hdr, span, name, &load, e) < 0)
		return -1;
	if (guest_mem_write(gm, load, pm, pm_size, e) < 0)
		return error_prefix(e, "kernel '%s'", name);
	out->kernel_end = load + span;

	/* Above-4G initrds are allowed by XLF_CAN_BE_LOADED_ABOVE_4G, but keeping every initrd below
	 * the 32-bit hole is simpler and always valid. initrd_addr_max is the last usable byte. */
	uint64_t initrd_max = (hdr.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)
				      ? LAYOUT_MMIO32_START
				      : (uint64_t)hdr.initrd_addr_max + 1;
	if (loader_place_cmdline_and_initrd(gm, spec, hdr.cmdline_size, initrd_max, out->kernel_end,
					    out, e) < 0)
		return -1;
	if (write_zero_page(gm, img, hdr_len, spec, out, load, e) < 0)
		return -1;

	out->mode = BOOT_LINUX64;
	out->entry = load + BZ_ENTRY64_OFFSET;
	out->boot_arg = LAYOUT_ZERO_PAGE;
	return 0;
}
