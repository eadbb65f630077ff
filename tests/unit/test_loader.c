/* Kernel loaders on synthetic images built in memory: a minimal bzImage (setup header only, plus
 * a patterned "protected-mode kernel") and minimal PVH ELFs (PT_LOAD + PT_NOTE with the Xen
 * entry note). Malformed variants must fail with a clear message and never crash. */
#include <asm/bootparam.h>
#include <criterion/criterion.h>
#include <elf.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "vmm/loader.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static struct guest_mem gm;
static struct error err;
static struct boot_info info;
static struct boot_spec spec = { .kernel_path = "synthetic", .cmdline = "console=ttyS0",
				 .rsdp_gpa = LAYOUT_ACPI_START };
static uint8_t *img;
static uint64_t img_size;
static char temp_paths[8][64];
static int ntemps;

static void guest(uint64_t size)
{
	cr_assert_eq(guest_mem_init(&gm, size, &err), 0, "guest_mem_init: %s", err.msg);
}

static void teardown(void)
{
	guest_mem_destroy(&gm);
	free(img);
	img = NULL;
	for (int i = 0; i < ntemps; i++)
		unlink(temp_paths[i]);
	ntemps = 0;
}

/* A temporary file with `len` bytes of data (or, data NULL, a sparse file of that size). */
static const char *temp_file(const void *data, uint64_t len)
{
	char *path = temp_paths[ntemps++];
	strcpy(path, "/tmp/ember-test-loader-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	if (data)
		cr_assert_eq(write(fd, data, len), (ssize_t)len);
	else
		cr_assert_eq(ftruncate(fd, (off_t)len), 0);
	close(fd);
	return path;
}

static const char *pattern_initrd(uint64_t len)
{
	uint8_t *d = malloc(len);
	for (uint64_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 13 + 5);
	const char *p = temp_file(d, len);
	free(d);
	return p;
}

static void *gptr(uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&gm, gpa, len);
	cr_assert_not_null(p, "0x%llx+0x%llx not in RAM", (unsigned long long)gpa,
			   (unsigned long long)len);
	return p;
}

static void expect_fail(int ret, const char *needle)
{
	cr_assert_eq(ret, -1, "expected failure containing \"%s\"", needle);
	cr_expect_not_null(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
	cr_expect_null(strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
}

/* A malformed-input case: up to two little-endian patches to a freshly built image, and the
 * text the resulting error must contain. */
struct patch {
	uint64_t off;
	unsigned width; /* 0: unused */
	uint64_t value;
};
struct bad_case {
	struct patch p[2];
	const char *needle;
};

static void run_bad_cases(const struct bad_case *cases, size_t n, void (*make)(void),
			  int (*load)(void))
{
	for (size_t i = 0; i < n; i++) {
		free(img);
		make();
		for (int j = 0; j < 2; j++)
			memcpy(img + cases[i].p[j].off, &cases[i].p[j].value, cases[i].p[j].width);
		cr_assert_eq(load(), -1, "case %zu (\"%s\") loaded", i, cases[i].needle);
		cr_expect_not_null(strstr(err.msg, cases[i].needle), "case %zu: \"%s\" lacks \"%s\"",
				   i, err.msg, cases[i].needle);
	}
}

/* A patch of field f of a `type` that sits at image offset base. */
#define FIELD(type, base, f, v) { (base) + offsetof(type, f), sizeof(((type *)0)->f), (v) }

/* ---- bzImage ---- */

#define BZ_SETUP_SIZE (5 * 512)
#define BZ_PAYLOAD    0x10000

static struct setup_header *bz_make(void)
{
	img_size = BZ_SETUP_SIZE + BZ_PAYLOAD;
	img = calloc(1, img_size);
	for (uint64_t i = BZ_SETUP_SIZE; i < img_size; i++)
		img[i] = (uint8_t)(i * 7 + 3);
	struct setup_header *h = (struct setup_header *)(img + 0x1f1);
	*h = (struct setup_header){
		.setup_sects = 4, .boot_flag = 0xaa55,
		.jump = 0x6aeb, /* jmp short: the header ends at 0x202 + 0x6a = 0x26c */
		.header = 0x53726448, .version = 0x020f, .loadflags = LOADED_HIGH,
		.initrd_addr_max = 0x7fffffff, .kernel_alignment = 0x200000, .relocatable_kernel = 1,
		.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G, .cmdline_size = 2047,
		.pref_address = 0x1000000, .init_size = 0x1800000,
	};
	return h;
}

static int bz_load(void)
{
	return loader_load_bzimage(&gm, img, img_size, &spec, &info, &err);
}

static struct boot_params *zero_page(void)
{
	return gptr(LAYOUT_ZERO_PAGE, sizeof(struct boot_params));
}

Test(bzimage, loads_at_pref_address_with_boot_params, .fini = teardown)
{
	guest(512 * MIB);
	bz_make();
	cr_assert_eq(bz_load(), 0, "%s", err.msg);
	cr_expect_eq(info.mode, BOOT_LINUX64);
	cr_expect_eq(info.entry, 0x1000000 + 0x200);
	cr_expect_eq(info.boot_arg, LAYOUT_ZERO_PAGE);
	cr_expect_eq(info.kernel_end, 0x1000000 + 0x1800000);
	cr_expect_eq(info.initrd_size, 0);
	cr_expect_arr_eq(gptr(0x1000000, BZ_PAYLOAD), img + BZ_SETUP_SIZE, BZ_PAYLOAD);

	struct boot_params *bp = zero_page();
	cr_expect_eq(bp->hdr.header, 0x53726448);
	cr_expect_eq(bp->hdr.version, 0x020f);
	cr_expect_eq(bp->hdr.type_of_loader, 0xff);
	cr_expect_eq(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	cr_expect_neq(bp->hdr.heap_end_ptr, 0);
	cr_expect_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_expect_eq(bp->ext_cmd_line_ptr, 0);
	cr_expect_eq(bp->hdr.ramdisk_image, 0);
	cr_expect_eq(bp->hdr.ramdisk_size, 0);
	cr_expect_eq(bp->acpi_rsdp_addr, LAYOUT_ACPI_START);
	cr_expect_eq(bp->sentinel, 0);
	cr_expect_str_eq((char *)gptr(LAYOUT_CMDLINE, 14), "console=ttyS0");

	struct e820_entry want[8];
	size_t n = e820_build(&gm, want, 8);
	cr_assert_eq(bp->e820_entries, n);
	cr_expect_eq(n, 3);
	cr_expect_arr_eq(bp->e820_table, want, n * sizeof(want[0]));
}

Test(bzimage, unaligned_or_unfitting_pref_address_falls_back, .fini = teardown)
{
	guest(512 * MIB);
	struct setup_header *h = bz_make();
	h->pref_address = 0x40000000; /* beyond a 512 MiB guest */
	cr_assert_eq(bz_load(), 0, "%s", err.msg);
	cr_expect_eq(info.entry, LAYOUT_KERNEL_DEFAULT + 0x200);

	h->pref_address = 0x1100000;     /* inside RAM, but not 16 MiB aligned */
	h->kernel_alignment = 0x4000000; /* 64 MiB */
	cr_assert_eq(bz_load(), 0, "%s", err.msg);
	cr_expect_eq(info.entry, 0x4000000 + 0x200);
	cr_expect_eq(info.kernel_end, 0x4000000 + 0x1800000);
	cr_expect_eq(zero_page()->hdr.code32_start, 0x4000000);
}

Test(bzimage, setup_sects_zero_means_four, .fini = teardown)
{
	guest(64 * MIB);
	struct setup_header *h = bz_make();
	h->setup_sects = 0;
	h->init_size = 0; /* no init_size: the image size counts */
	cr_assert_eq(bz_load(), 0, "%s", err.msg);
	cr_expect_arr_eq(gptr(0x1000000, BZ_PAYLOAD), img + BZ_SETUP_SIZE, BZ_PAYLOAD);
	cr_expect_eq(info.kernel_end, 0x1000000 + BZ_PAYLOAD);
}

Test(bzimage, protocol_2_12_gets_no_rsdp, .fini = teardown)
{
	guest(64 * MIB);
	bz_make()->version = 0x020c;
	cr_assert_eq(bz_load(), 0, "%s", err.msg);
	cr_expect_eq(zero_page()->acpi_rsdp_addr, 0);
}

Test(bzimage, initrd_goes_high_below_the_32bit_hole, .fini = teardown)
{
	guest(8 * GIB);
	bz_make();
	uint64_t len = 3 * MIB + 123;
	spec.initrd_path = pattern_initrd(len);
	int ret = bz_load();
	spec.initrd_path = NULL;
	cr_assert_eq(ret, 0, "%s", err.msg);
	cr_expect_eq(info.initrd_gpa, (LAYOUT_MMIO32_START - len) & ~0xfffULL);
	cr_expect_eq(info.initrd_size, len);
	struct boot_params *bp = zero_page();
	cr_expect_eq(bp->hdr.ramdisk_image, (uint32_t)info.initrd_gpa);
	cr_expect_eq(bp->hdr.ramdisk_size, len);
	cr_expect_eq(bp->ext_ramdisk_image, 0);
	uint8_t *d = gptr(info.initrd_gpa, len);
	cr_expect_eq(d[0], 5);
	cr_expect_eq(d[len - 1], (uint8_t)((len - 1) * 13 + 5));
	cr_expect_eq(bp->e820_entries, 4);
}

Test(bzimage, initrd_respects_initrd_addr_max, .fini = teardown)
{
	guest(1 * GIB);
	struct setup_header *h = bz_make();
	h->xloadflags = XLF_KERNEL_64;
	h->initrd_addr_max = 0x37ffffff;
	spec.initrd_path = pattern_initrd(5000);
	int ret = bz_load();
	spec.initrd_path = NULL;
	cr_assert_eq(ret, 0, "%s", err.msg);
	cr_expect_eq(info.initrd_gpa, 0x37ffe000); /* 0x38000000 - 5000, page-aligned down */
	cr_expect_eq(info.initrd_gpa % 4096, 0);
	cr_expect_leq(info.initrd_gpa + info.initrd_size, 0x38000000);
}

Test(bzimage, initrd_too_big, .fini = teardown)
{
	guest(64 * MIB);
	bz_make();
	spec.initrd_path = temp_file(NULL, 200 * MIB); /* sparse */
	expect_fail(bz_load(), "does not fit in guest memory below");
	cr_expect_not_null(strstr(err.msg, "(200 MiB)"), "%s", err.msg);
	cr_expect_not_null(strstr(err.msg, spec.initrd_path), "%s", err.msg);
	/* Fits in RAM, but not above the kernel (16 MiB + 24 MiB init_size). */
	spec.initrd_path = temp_file(NULL, 30 * MIB);
	expect_fail(bz_load(), "does not fit");
	spec.initrd_path = "/nonexistent/initrd.img";
	expect_fail(bz_load(), "cannot open initrd '/nonexistent/initrd.img': No such file");
	spec.initrd_path = NULL;
}

Test(bzimage, cmdline_limit_is_cmdline_size, .fini = teardown)
{
	guest(64 * MIB);
	bz_make()->cmdline_size = 13;
	cr_assert_eq(bz_load(), 0, "exactly cmdline_size fits: %s", err.msg);
	spec.cmdline = "console=ttyS0 quiet";
	int ret = bz_load();
	spec.cmdline = "console=ttyS0";
	expect_fail(ret, "too long for kernel 'synthetic' (at most 13 bytes)");
}

#define HDR(f, v) FIELD(struct setup_header, 0x1f1, f, v)
static void bz_make_void(void)
{
	bz_make();
}

Test(bzimage, malformed_headers_fail_cleanly, .fini = teardown)
{
	static const struct bad_case cases[] = {
		{ { HDR(header, 0x12345678) }, "not a Linux bzImage" },
		{ { HDR(version, 0x0205) }, "2.06 or newer" },
		{ { HDR(version, 0x020b) }, "no 64-bit entry point" },
		{ { HDR(xloadflags, 0) }, "XLF_KERNEL_64" },
		{ { HDR(jump, 0x20eb) }, "setup header ends at 0x222" },
		{ { HDR(setup_sects, 255) }, "truncated" }, /* setup larger than the file */
		{ { HDR(init_size, 0xffffffff) }, "does not fit" },
		{ { HDR(kernel_alignment, 0x30000) }, "kernel_alignment" },
		{ { HDR(relocatable_kernel, 0), HDR(pref_address, 0xffffffffffff0000ULL) },
		  "not relocatable" },
	};
	guest(64 * MIB);
	run_bad_cases(cases, sizeof(cases) / sizeof(cases[0]), bz_make_void, bz_load);
	img_size = 0x100;
	expect_fail(bz_load(), "not a Linux bzImage");
	img_size = 0x220;
	expect_fail(bz_load(), "truncated");
	img_size = BZ_SETUP_SIZE;
	expect_fail(bz_load(), "no protected-mode code");
}

/* ---- PVH ELF ---- */

#define ELF_LOAD_PADDR 0x100000
#define ELF_ENTRY      (ELF_LOAD_PADDR + 0x10)
#define ELF_PAYLOAD_OFF 0x1000
#define ELF_FILESZ     0x2000
#define ELF_MEMSZ      0x3000

struct elf64 {
	Elf64_Ehdr *eh;
	Elf64_Phdr *load, *note;
	Elf64_Nhdr *nh;
	Elf64_Shdr *sh; /* [0] null, [1] the note section */
};

/* ELF64: ehdr | 2 phdrs | Xen note (desc_size 4 or 8) | 2 shdrs | payload at 0x1000. */
static struct elf64 elf64_make(uint32_t desc_size)
{
	img_size = ELF_PAYLOAD_OFF + ELF_FILESZ;
	img = calloc(1, img_size);
	for (uint64_t i = ELF_PAYLOAD_OFF; i < img_size; i++)
		img[i] = (uint8_t)(i * 11 + 1);
	struct elf64 f = { (Elf64_Ehdr *)img, (Elf64_Phdr *)(img + 64), (Elf64_Phdr *)(img + 120),
			   (Elf64_Nhdr *)(img + 176), (Elf64_Shdr *)(img + 256) };
	*f.eh = (Elf64_Ehdr){
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_entry = 0xffffffff81000000ULL, /* virtual: ignored by PVH */
		.e_phoff = 64, .e_shoff = 256, .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
		.e_shentsize = sizeof(Elf64_Shdr), .e_shnum = 2,
	};
	*f.load = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = ELF_PAYLOAD_OFF,
				.p_vaddr = 0xffffffff81000000ULL, .p_paddr = ELF_LOAD_PADDR,
				.p_filesz = ELF_FILESZ, .p_memsz = ELF_MEMSZ, .p_align = 0x1000 };
	uint32_t note_size = 12 + 4 + desc_size;
	*f.note = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 176, .p_filesz = note_size,
				.p_memsz = note_size, .p_align = 4 };
	*f.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = desc_size,
			      .n_type = PVH_XEN_ELFNOTE_PHYS32_ENTRY };
	memcpy(img + 188, "Xen", 4);
	uint64_t entry = ELF_ENTRY;
	memcpy(img + 192, &entry, desc_size);
	f.sh[1] = (Elf64_Shdr){ .sh_type = SHT_NOTE, .sh_offset = 176, .sh_size = note_size,
				.sh_addralign = 4 };
	return f;
}

static int pvh_load(void)
{
	return loader_load_pvh_elf(&gm, img, img_size, &spec, &info, &err);
}

static void expect_pvh_loaded(void)
{
	cr_expect_eq(info.mode, BOOT_PVH32);
	cr_expect_eq(info.entry, ELF_ENTRY);
	cr_expect_eq(info.boot_arg, LAYOUT_PVH_START_INFO);
	cr_expect_eq(info.kernel_end, ELF_LOAD_PADDR + ELF_MEMSZ);
	cr_expect_arr_eq(gptr(ELF_LOAD_PADDR, ELF_FILESZ), img + ELF_PAYLOAD_OFF, ELF_FILESZ);
	uint8_t *bss = gptr(ELF_LOAD_PADDR + ELF_FILESZ, ELF_MEMSZ - ELF_FILESZ);
	for (unsigned i = 0; i < ELF_MEMSZ - ELF_FILESZ; i++)
		cr_assert_eq(bss[i], 0, "bss byte %u not zeroed", i);
}

static struct hvm_start_info *start_info(void)
{
	return gptr(LAYOUT_PVH_START_INFO, sizeof(struct hvm_start_info));
}

Test(pvh, loads_segments_and_builds_start_info, .fini = teardown)
{
	guest(512 * MIB);
	elf64_make(8);
	memset(gptr(ELF_LOAD_PADDR, ELF_MEMSZ), 0xaa, ELF_MEMSZ); /* bss must get zeroed */
	cr_assert_eq(pvh_load(), 0, "%s", err.msg);
	expect_pvh_loaded();

	struct hvm_start_info *si = start_info();
	cr_expect_eq(si->magic, 0x336ec578);
	cr_expect_eq(si->version, 1);
	cr_expect_eq(si->flags, 0);
	cr_expect_eq(si->nr_modules, 0);
	cr_expect_eq(si->cmdline_paddr, LAYOUT_CMDLINE);
	cr_expect_eq(si->rsdp_paddr, LAYOUT_ACPI_START);
	cr_expect_eq(si->reserved, 0);
	cr_expect_str_eq((char *)gptr(LAYOUT_CMDLINE, 14), "console=ttyS0");

	struct e820_entry want[8];
	size_t n = e820_build(&gm, want, 8);
	cr_assert_eq(si->memmap_entries, n);
	uint64_t map_bytes = n * sizeof(struct hvm_memmap_table_entry);
	cr_expect_geq(si->memmap_paddr, LAYOUT_PVH_START_INFO + sizeof(*si));
	cr_expect_leq(si->memmap_paddr + map_bytes, LAYOUT_PVH_START_INFO + LAYOUT_PVH_START_INFO_SIZE);
	struct hvm_memmap_table_entry *m = gptr(si->memmap_paddr, map_bytes);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(m[i].addr, want[i].addr);
		cr_expect_eq(m[i].size, want[i].size);
		cr_expect_eq(m[i].type, want[i].type);
		cr_expect_eq(m[i].reserved, 0);
	}
}

Test(pvh, initrd_is_module_zero, .fini = teardown)
{
	guest(8 * GIB);
	elf64_make(8);
	spec.initrd_path = pattern_initrd(2 * MIB);
	int ret = pvh_load();
	spec.initrd_path = NULL;
	cr_assert_eq(ret, 0, "%s", err.msg);
	struct hvm_start_info *si = start_info();
	cr_assert_eq(si->nr_modules, 1);
	cr_expect_eq(si->memmap_entries, 4);
	struct hvm_modlist_entry *mod = gptr(si->modlist_paddr, sizeof(*mod));
	cr_expect_eq(mod->paddr, info.initrd_gpa);
	cr_expect_eq(mod->size, 2 * MIB);
	cr_expect_eq(mod->paddr, LAYOUT_MMIO32_START - 2 * MIB);
	cr_expect_eq(mod->cmdline_paddr, 0);
	cr_expect_leq(si->modlist_paddr + sizeof(*mod),
		      LAYOUT_PVH_START_INFO + LAYOUT_PVH_START_INFO_SIZE);
	cr_expect_eq(*(uint8_t *)gptr(mod->paddr + 1, 1), 18);
}

Test(pvh, four_byte_note_and_section_fallback, .fini = teardown)
{
	guest(64 * MIB);
	struct elf64 f = elf64_make(4);
	cr_assert_eq(pvh_load(), 0, "%s", err.msg);
	expect_pvh_loaded();
	f.note->p_type = PT_NULL; /* only the SHT_NOTE section still points at the note */
	cr_assert_eq(pvh_load(), 0, "%s", err.msg);
	expect_pvh_loaded();
	f.eh->e_shnum = 0;
	expect_fail(pvh_load(), "ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

Test(pvh, elf32_is_accepted, .fini = teardown)
{
	guest(64 * MIB);
	img_size = ELF_PAYLOAD_OFF + ELF_FILESZ;
	img = calloc(1, img_size);
	Elf32_Ehdr *eh = (Elf32_Ehdr *)img;
	*eh = (Elf32_Ehdr){
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_386, .e_phoff = sizeof(*eh),
		.e_phentsize = sizeof(Elf32_Phdr), .e_phnum = 2,
	};
	Elf32_Phdr *ph = (Elf32_Phdr *)(img + sizeof(*eh));
	uint32_t note_off = sizeof(*eh) + 2 * sizeof(*ph);
	ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = ELF_PAYLOAD_OFF,
			      .p_paddr = ELF_LOAD_PADDR, .p_filesz = ELF_FILESZ, .p_memsz = ELF_MEMSZ };
	ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = 20, .p_align = 4 };
	*(Elf32_Nhdr *)(img + note_off) = (Elf32_Nhdr){ 4, 4, PVH_XEN_ELFNOTE_PHYS32_ENTRY };
	memcpy(img + note_off + 12, "Xen", 4);
	uint32_t entry = ELF_ENTRY;
	memcpy(img + note_off + 16, &entry, 4);
	for (uint64_t i = ELF_PAYLOAD_OFF; i < img_size; i++)
		img[i] = (uint8_t)i;
	cr_assert_eq(pvh_load(), 0, "%s", err.msg);
	expect_pvh_loaded();
	eh->e_machine = EM_X86_64;
	expect_fail(pvh_load(), "not x86");
}

static void elf64_make_void(void)
{
	elf64_make(8);
}

#define EH(f, v)   FIELD(Elf64_Ehdr, 0, f, v)
#define LOAD(f, v) FIELD(Elf64_Phdr, 64, f, v)
#define NOTE(f, v) FIELD(Elf64_Phdr, 120, f, v)
#define NHDR(f, v) FIELD(Elf64_Nhdr, 176, f, v)
#define ENTRY(v)   { 192, 8, (v) } /* the note's descriptor */
#define NO_SECTIONS EH(e_shnum, 0) /* leaves the PT_NOTE as the only way to the note */

Test(pvh, malformed_elves_fail_cleanly, .fini = teardown)
{
	static const struct bad_case cases[] = {
		{ { { EI_MAG1, 1, 'X' } }, "not an ELF image" },
		{ { { EI_DATA, 1, ELFDATA2MSB } }, "little-endian" },
		{ { EH(e_machine, EM_AARCH64) }, "not x86-64" },
		{ { EH(e_type, ET_REL) }, "not an executable" },
		{ { EH(e_phentsize, 32) }, "program header table" },
		{ { EH(e_phoff, ELF_PAYLOAD_OFF + ELF_FILESZ - 8) }, "program header table" },
		{ { EH(e_phoff, 0xfffffffffffffff0ULL) }, "program header table" },
		{ { EH(e_phnum, 0xffff) }, "program header table" },
		/* Segments: outside RAM, over Ember's boot area, wrapping, past the end of the file. */
		{ { LOAD(p_paddr, 0x40000000) }, "outside guest RAM" },
		{ { LOAD(p_paddr, 0x8000) }, "outside guest RAM" },
		{ { LOAD(p_memsz, ~0ULL) }, "outside guest RAM" },
		{ { LOAD(p_offset, 0xffffffffffffff00ULL) }, "past the end of the file" },
		{ { LOAD(p_filesz, ELF_FILESZ + 1), LOAD(p_memsz, ELF_FILESZ + 1) },
		  "past the end of the file" },
		{ { LOAD(p_filesz, ELF_MEMSZ + 1) }, "p_filesz" },
		{ { LOAD(p_type, PT_NULL) }, "no loadable ELF segments" },
		{ { ENTRY(ELF_LOAD_PADDR + ELF_MEMSZ) }, "outside its loaded segments" },
		{ { ENTRY(0x100000000ULL + ELF_ENTRY) }, "outside its loaded segments" },
		/* Notes with bad lengths or not quite the PVH note. */
		{ { NHDR(n_namesz, 0xffffffff), NO_SECTIONS }, "overruns" },
		{ { NHDR(n_descsz, 0xfffffff0), NO_SECTIONS }, "overruns" },
		{ { NHDR(n_descsz, 2), NO_SECTIONS }, "2-byte descriptor" },
		{ { NHDR(n_type, 17) }, "no PVH entry note" },
		{ { { 188, 4, 0x006d6558 /* "Xem" */ } }, "no PVH entry note" },
		{ { NOTE(p_offset, 0xfffffffffffffff0ULL), NO_SECTIONS }, "no PVH entry note" },
	};
	guest(64 * MIB);
	run_bad_cases(cases, sizeof(cases) / sizeof(cases[0]), elf64_make_void, pvh_load);
	free(img);
	struct elf64 f = elf64_make(8);
	f.eh->e_shoff = 0xfffffffffffffff0ULL; /* a bad section table is merely ignored */
	cr_expect_eq(pvh_load(), 0, "%s", err.msg);
	img_size = 40;
	expect_fail(pvh_load(), "truncated inside its ELF header");
	img_size = 200;
	expect_fail(pvh_load(), "truncated"); /* PT_LOAD data beyond the end of the file */
}

Test(loader, place_initrd_from_memory, .fini = teardown)
{
	guest(256 * MIB);
	static uint8_t data[10000] = { 1, 2, 3 };
	cr_assert_eq(loader_place_initrd(&gm, data, sizeof(data), LAYOUT_4G, 32 * MIB, &info, &err),
		     0, "%s", err.msg);
	cr_expect_eq(info.initrd_gpa, (256 * MIB - sizeof(data)) & ~0xfffULL);
	cr_expect_eq(info.initrd_size, sizeof(data));
	cr_expect_arr_eq(gptr(info.initrd_gpa, sizeof(data)), data, sizeof(data));
	/* addr_max below the kernel's end, and no room at all. */
	expect_fail(loader_place_initrd(&gm, data, sizeof(data), 16 * MIB, 32 * MIB, &info, &err),
		    "initrd (1 MiB) does not fit in guest memory below 0x1000000");
	expect_fail(loader_place_initrd(&gm, data, sizeof(data), LAYOUT_4G, 256 * MIB - 4096, &info,
					&err), "does not fit");
}

/* ---- loader_load: files and format detection ---- */

static int load_file(const char *path)
{
	struct boot_spec s = spec;
	s.kernel_path = path;
	return loader_load(&gm, &s, &info, &err);
}

Test(loader, detects_formats_from_files, .fini = teardown)
{
	guest(64 * MIB);
	bz_make();
	cr_assert_eq(load_file(temp_file(img, img_size)), 0, "%s", err.msg);
	cr_expect_eq(info.mode, BOOT_LINUX64);
	free(img);
	elf64_make(8);
	cr_assert_eq(load_file(temp_file(img, img_size)), 0, "%s", err.msg);
	cr_expect_eq(info.mode, BOOT_PVH32);
}

Test(loader, bad_files_fail_with_their_name, .fini = teardown)
{
	guest(64 * MIB);
	expect_fail(load_file("/nonexistent/vmlinuz"),
		    "cannot open kernel '/nonexistent/vmlinuz': No such file or directory");
	expect_fail(load_file("/tmp"), "kernel '/tmp' is not a regular file");
	const char *empty = temp_file("", 0);
	expect_fail(load_file(empty), "is empty");
	cr_expect_not_null(strstr(err.msg, empty));
	expect_fail(load_file(temp_file("#!/bin/sh\necho hi\n", 18)),
		    "is neither a Linux bzImage nor an ELF image");
	expect_fail(load_file(temp_file(NULL, 65 * MIB)), "larger than guest memory");
}

/* Real kernels, when this machine has them: a distribution bzImage in /boot, or the test-guest
 * kernel the build caches under .cache/guest (vmlinuz and its PVH-capable vmlinux). */
static const char *real_kernel(const char *cached, const char *boot_glob)
{
	static char path[4096];
	const char *root = getenv("EMBER_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/.cache/guest/%s", root ? root : ".", cached);
	if (access(path, R_OK) == 0)
		return path;
	glob_t g;
	path[0] = 0;
	if (boot_glob && glob(boot_glob, 0, NULL, &g) == 0) {
		snprintf(path, sizeof(path), "%s", g.gl_pathv[g.gl_pathc - 1]);
		globfree(&g);
	}
	return path[0] && access(path, R_OK) == 0 ? path : NULL;
}

Test(loader, real_bzimage, .fini = teardown)
{
	const char *path = real_kernel("vmlinuz", "/boot/vmlinuz-*");
	if (!path)
		cr_skip_test("no readable real bzImage (.cache/guest/vmlinuz, /boot/vmlinuz-*)");
	guest(512 * MIB);
	cr_assert_eq(load_file(path), 0, "%s", err.msg);
	struct boot_params *bp = zero_page();
	cr_expect_eq(info.mode, BOOT_LINUX64);
	cr_expect_eq((info.entry - 0x200) % bp->hdr.kernel_alignment, 0);
	cr_expect_eq(info.kernel_end, info.entry - 0x200 + bp->hdr.init_size);
	cr_expect_eq(bp->hdr.type_of_loader, 0xff);
	cr_expect_eq(bp->e820_entries, 3);
}

Test(loader, real_pvh_vmlinux, .fini = teardown)
{
	const char *path = real_kernel("vmlinux", NULL);
	if (!path)
		cr_skip_test("no readable real vmlinux (.cache/guest/vmlinux)");
	guest(512 * MIB);
	int ret = load_file(path);
	if (ret < 0 && strstr(err.msg, "no PVH entry note"))
		cr_skip_test("%s was built without CONFIG_PVH", path);
	cr_assert_eq(ret, 0, "%s", err.msg);
	cr_expect_eq(info.mode, BOOT_PVH32);
	cr_expect_lt(info.entry, info.kernel_end);
	cr_expect_eq(start_info()->magic, 0x336ec578);
}
