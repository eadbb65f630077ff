/* PVH ELF loading (Xen PVH boot ABI, as Linux implements it with CONFIG_PVH): PT_LOAD segments
 * go to their physical addresses, the "Xen" note XEN_ELFNOTE_PHYS32_ENTRY gives the 32-bit entry,
 * and struct hvm_start_info (with the initrd module and the memory map) is handed over in EBX.
 * The image is hostile input: every offset and size is checked against the file and guest RAM. */
#include "loader.h"

#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../arch/x86/e820.h"
#include "../arch/x86/layout.h"
#include "../arch/x86/pvh.h"

/* The start-info page: hvm_start_info, one module entry, then the memory map. */
#define PVH_MODLIST_OFFSET sizeof(struct hvm_start_info)
#define PVH_MEMMAP_OFFSET  (PVH_MODLIST_OFFSET + sizeof(struct hvm_modlist_entry))
#define PVH_MEMMAP_MAX \
	((LAYOUT_PVH_START_INFO_SIZE - PVH_MEMMAP_OFFSET) / sizeof(struct hvm_memmap_table_entry))

/* One ELF file, 32- or 64-bit, with its header fields widened. */
struct elf_file {
	const uint8_t *img;
	uint64_t size;
	const char *name;
	bool is64;
	uint64_t phoff, shoff;
	uint16_t type, machine, phnum, shnum, phentsize, shentsize;
};

/* A program or section header reduced to what the loader needs. */
struct elf_range {
	uint32_t type;
	uint64_t offset, addr, filesz, memsz, align;
};

/* A note walk's result. */
struct pvh_note {
	bool found, malformed;
	uint64_t entry;
	char problem[96];
};

static bool in_file(const struct elf_file *f, uint64_t offset, uint64_t len)
{
	return offset <= f->size && len <= f->size - offset;
}

/* Widens the class-specific ELF header into f. Both return false when the file is too short. */
static bool read_ehdr64(struct elf_file *f)
{
	Elf64_Ehdr h;
	if (f->size < sizeof(h))
		return false;
	memcpy(&h, f->img, sizeof(h));
	f->type = h.e_type;
	f->machine = h.e_machine;
	f->phoff = h.e_phoff;
	f->shoff = h.e_shoff;
	f->phnum = h.e_phnum;
	f->shnum = h.e_shnum;
	f->phentsize = h.e_phentsize;
	f->shentsize = h.e_shentsize;
	return true;
}

static bool read_ehdr32(struct elf_file *f)
{
	Elf32_Ehdr h;
	if (f->size < sizeof(h))
		return false;
	memcpy(&h, f->img, sizeof(h));
	f->type = h.e_type;
	f->machine = h.e_machine;
	f->phoff = h.e_phoff;
	f->shoff = h.e_shoff;
	f->phnum = h.e_phnum;
	f->shnum = h.e_shnum;
	f->phentsize = h.e_phentsize;
	f->shentsize = h.e_shentsize;
	return true;
}

static int parse_ehdr(struct elf_file *f, struct error *e)
{
	if (f->size < EI_NIDENT || memcmp(f->img, ELFMAG, SELFMAG) != 0)
		return error_set(e, "kernel '%s' is not an ELF image", f->name);
	if (f->img[EI_DATA] != ELFDATA2LSB)
		return error_set(e, "kernel '%s' is not a little-endian ELF", f->name);
	f->is64 = f->img[EI_CLASS] == ELFCLASS64;
	if (!f->is64 && f->img[EI_CLASS] != ELFCLASS32)
		return error_set(e, "kernel '%s' has unknown ELF class %u", f->name, f->img[EI_CLASS]);

	if (!(f->is64 ? read_ehdr64(f) : read_ehdr32(f)))
		return error_set(e, "kernel '%s' is truncated inside its ELF header", f->name);
	if (f->machine != (f->is64 ? EM_X86_64 : EM_386))
		return error_set(e, "kernel '%s' is a %d-bit ELF for machine %u, not x86%s", f->name,
				 f->is64 ? 64 : 32, f->machine, f->is64 ? "-64" : "");
	if (f->type != ET_EXEC && f->type != ET_DYN)
		return error_set(e, "kernel '%s' is not an executable ELF (e_type %u)", f->name,
				 f->type);
	size_t ph_want = f->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t sh_want = f->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (f->phnum == 0)
		return error_set(e, "kernel '%s' has no ELF program headers", f->name);
	if (f->phentsize != ph_want || !in_file(f, f->phoff, (uint64_t)f->phnum * ph_want))
		return error_set(e, "kernel '%s' has a malformed ELF program header table", f->name);
	/* Sections are only a fallback for finding the note: ignore a table that is not sane. */
	if (f->shentsize != sh_want || !in_file(f, f->shoff, (uint64_t)f->shnum * sh_want))
		f->shnum = 0;
	return 0;
}

static struct elf_range program_header(const struct elf_file *f, unsigned i)
{
	if (f->is64) {
		Elf64_Phdr p;
		memcpy(&p, f->img + f->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		return (struct elf_range){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz,
					   p.p_align };
	}
	Elf32_Phdr p;
	memcpy(&p, f->img + f->phoff + (uint64_t)i * sizeof(p), sizeof(p));
	return (struct elf_range){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz, p.p_align };
}

static struct elf_range section_header(const struct elf_file *f, unsigned i)
{
	if (f->is64) {
		Elf64_Shdr s;
		memcpy(&s, f->img + f->shoff + (uint64_t)i * sizeof(s), sizeof(s));
		return (struct elf_range){ s.sh_type, s.sh_offset, s.sh_addr, s.sh_size, s.sh_size,
					   s.sh_addralign };
	}
	Elf32_Shdr s;
	memcpy(&s, f->img + f->shoff + (uint64_t)i * sizeof(s), sizeof(s));
	return (struct elf_range){ s.sh_type, s.sh_offset, s.sh_addr, s.sh_size, s.sh_size,
				   s.sh_addralign };
}

/* Checks one PT_LOAD segment against the file and guest RAM; grows *end to cover it. Segments
 * may not reach below 1 MiB, where Ember keeps its boot structures and ACPI tables, nor above
 * low RAM, since a PVH kernel starts with paging off. */
static int check_segment(const struct elf_file *f, const struct guest_mem *gm, unsigned i,
			 const struct elf_range *s, uint64_t *end, struct error *e)
{
	if (s->filesz > s->memsz)
		return error_set(e, "kernel '%s': segment %u has p_filesz 0x%llx > p_memsz 0x%llx",
				 f->name, i, (unsigned long long)s->filesz, (unsigned long long)s->memsz);
	if (!in_file(f, s->offset, s->filesz))
		return error_set(e, "kernel '%s' is truncated: segment %u (offset 0x%llx, 0x%llx "
				 "bytes) extends past the end of the file", f->name, i,
				 (unsigned long long)s->offset, (unsigned long long)s->filesz);
	uint64_t low_end = guest_mem_low_end(gm);
	if (s->addr < LAYOUT_HIGH_MEMORY || s->addr > low_end || s->memsz > low_end - s->addr)
		return error_set(e, "kernel '%s': segment %u (0x%llx+0x%llx) is outside guest RAM "
				 "(usable: 0x%llx-0x%llx)", f->name, i, (unsigned long long)s->addr,
				 (unsigned long long)s->memsz, (unsigned long long)LAYOUT_HIGH_MEMORY,
				 (unsigned long long)low_end);
	if (s->addr + s->memsz > *end)
		*end = s->addr + s->memsz;
	return 0;
}

/* Walks the notes in img[off, off+len) looking for the PVH entry note. The name and the
 * descriptor each start aligned to 4 bytes, or to 8 in a segment/section aligned to 8 (as GNU
 * property notes are), counted from the start of the container. */
static void scan_notes(const struct elf_file *f, uint64_t off, uint64_t len, uint64_t align,
		       struct pvh_note *note)
{
	const uint64_t pad = align == 8 ? 8 : 4;
	const uint8_t *p = f->img + off;
	uint64_t pos = 0;
	while (len - pos >= sizeof(Elf32_Nhdr)) { /* Elf64_Nhdr has the same 32-bit fields */
		Elf32_Nhdr nh;
		memcpy(&nh, p + pos, sizeof(nh));
		uint64_t name_off = pos + sizeof(nh);
		uint64_t desc_off = (name_off + nh.n_namesz + pad - 1) & ~(pad - 1);
		uint64_t next = (desc_off + nh.n_descsz + pad - 1) & ~(pad - 1);
		if (desc_off > len || nh.n_descsz > len - desc_off) {
			note->malformed = true;
			snprintf(note->problem, sizeof(note->problem),
				 "a note at file offset 0x%llx overruns its container",
				 (unsigned long long)(off + pos));
			return;
		}
		bool is_pvh = nh.n_type == PVH_XEN_ELFNOTE_PHYS32_ENTRY &&
			      nh.n_namesz == sizeof(PVH_XEN_NOTE_NAME) &&
			      memcmp(p + name_off, PVH_XEN_NOTE_NAME, sizeof(PVH_XEN_NOTE_NAME)) == 0;
		if (is_pvh && (nh.n_descsz == 4 || nh.n_descsz == 8)) {
			uint64_t entry = 0;
			memcpy(&entry, p + desc_off, nh.n_descsz); /* little-endian host and image */
			note->found = true;
			note->entry = entry;
			return;
		}
		if (is_pvh) {
			note->malformed = true;
			snprintf(note->problem, sizeof(note->problem),
				 "the PVH entry note has a %u-byte descriptor (expected 4 or 8)",
				 nh.n_descsz);
		}
		if (next >= len)
			return;
		pos = next;
	}
}

/* Looks for the PVH note in PT_NOTE segments, then in SHT_NOTE sections. */
static int find_pvh_entry(const struct elf_file *f, uint64_t *entry, struct error *e)
{
	struct pvh_note note = { 0 };
	for (unsigned i = 0; i < f->phnum && !note.found; i++) {
		struct elf_range s = program_header(f, i);
		if (s.type == PT_NOTE && in_file(f, s.offset, s.filesz))
			scan_notes(f, s.offset, s.filesz, s.align, &note);
	}
	for (unsigned i = 0; i < f->shnum && !note.found; i++) {
		struct elf_range s = section_header(f, i);
		if (s.type == SHT_NOTE && in_file(f, s.offset, s.filesz))
			scan_notes(f, s.offset, s.filesz, s.align, &note);
	}
	if (note.found) {
		*entry = note.entry;
		return 0;
	}
	if (note.malformed)
		return error_set(e, "kernel '%s': ELF has no usable PVH entry note: %s", f->name,
				 note.problem);
	return error_set(e, "kernel '%s': ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); "
			 "build Linux with CONFIG_PVH=y or boot a bzImage", f->name);
}

/* Validates every PT_LOAD segment; returns the number found and the highest end address. */
static int check_segments(const struct elf_file *f, const struct guest_mem *gm, uint64_t *end,
			  struct error *e)
{
	unsigned loads = 0;
	*end = 0;
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_range s = program_header(f, i);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		if (check_segment(f, gm, i, &s, end, e) < 0)
			return -1;
		loads++;
	}
	if (loads == 0)
		return error_set(e, "kernel '%s' has no loadable ELF segments", f->name);
	return 0;
}

static bool entry_in_segment(const struct elf_file *f, uint64_t entry)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_range s = program_header(f, i);
		if (s.type == PT_LOAD && entry >= s.addr && entry - s.addr < s.memsz)
			return true;
	}
	return false;
}

/* Copies the (already checked) segments into guest RAM and zeroes their bss parts. */
static void copy_segments(const struct elf_file *f, struct guest_mem *gm)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_range s = program_header(f, i);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		uint8_t *dst = guest_mem_ptr(gm, s.addr, s.memsz);
		memcpy(dst, f->img + s.offset, s.filesz);
		memset(dst + s.filesz, 0, s.memsz - s.filesz);
	}
}

static int write_start_info(struct guest_mem *gm, const struct boot_spec *spec,
			    const struct boot_info *info, struct error *e)
{
	_Static_assert(PVH_MEMMAP_MAX >= 8, "the start-info page holds a useful memory map");
	uint8_t page[LAYOUT_PVH_START_INFO_SIZE] = { 0 };
	struct hvm_start_info si = {
		.magic = PVH_START_MAGIC,
		.version = PVH_START_VERSION,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = spec->rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_START_INFO + PVH_MEMMAP_OFFSET,
	};
	if (info->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = info->initrd_gpa, .size = info->initrd_size };
		memcpy(page + PVH_MODLIST_OFFSET, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_START_INFO + PVH_MODLIST_OFFSET;
	}
	struct e820_entry map[PVH_MEMMAP_MAX];
	size_t n = e820_build(gm, map, PVH_MEMMAP_MAX);
	for (size_t i = 0; i < n; i++) {
		struct hvm_memmap_table_entry m = { .addr = map[i].addr, .size = map[i].size,
						    .type = map[i].type };
		memcpy(page + PVH_MEMMAP_OFFSET + i * sizeof(m), &m, sizeof(m));
	}
	si.memmap_entries = (uint32_t)n;
	memcpy(page, &si, sizeof(si));
	if (guest_mem_write(gm, LAYOUT_PVH_START_INFO, page, sizeof(page), e) < 0)
		return error_prefix(e, "PVH start info");
	return 0;
}

int loader_load_pvh_elf(struct guest_mem *gm, const uint8_t *img, uint64_t img_size,
			const struct boot_spec *spec, struct boot_info *out, struct error *e)
{
	struct elf_file f = { .img = img, .size = img_size,
			      .name = spec->kernel_path ? spec->kernel_path : "<memory>" };
	uint64_t entry = 0, end = 0;
	memset(out, 0, sizeof(*out));
	/* The note first: an ELF that is not a PVH kernel at all should be told so, not that
	 * its segments are misplaced. */
	if (parse_ehdr(&f, e) < 0 || find_pvh_entry(&f, &entry, e) < 0 ||
	    check_segments(&f, gm, &end, e) < 0)
		return -1;
	if (entry >= LAYOUT_4G || !entry_in_segment(&f, entry))
		return error_set(e, "kernel '%s': PVH entry point 0x%llx is outside its loaded "
				 "segments", f.name, (unsigned long long)entry);

	copy_segments(&f, gm);
	out->kernel_end = end;
	if (loader_place_cmdline_and_initrd(gm, spec, LAYOUT_CMDLINE_MAX - 1, LAYOUT_MMIO32_START,
					    end, out, e) < 0)
		return -1;
	if (write_start_info(gm, spec, out, e) < 0)
		return -1;
	out->mode = BOOT_PVH32;
	out->entry = entry;
	out->boot_arg = LAYOUT_PVH_START_INFO;
	return 0;
}
