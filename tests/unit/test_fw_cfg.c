/* fw_cfg (devices/legacy/fw_cfg.h), driven through its port handler as a vCPU would: the
 * selector and data ports, the DMA interface with good and hostile requests, the file directory,
 * the direct-kernel-boot items, save/restore; and the ACPI linker/loader script that travels in
 * it (arch/x86/acpi.h, acpi_build_blobs), run here the way OVMF runs it. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/acpi_loader.h"
#include "arch/x86/acpi_tables.h"
#include "devices/legacy/fw_cfg.h"
#include "vmm/guest_mem.h"

#define OFF_SELECTOR 0
#define OFF_DATA     1
#define OFF_DMA_HIGH 4
#define OFF_DMA_LOW  8
#define RAM_SIZE     (4ULL << 20)
#define ACCESS_GPA   0x1000ULL
#define BUFFER_GPA   0x2000ULL

static struct guest_mem mem;
static struct fw_cfg *f;

static void setup(void)
{
	struct error e;
	cr_assert_eq(guest_mem_init(&mem, RAM_SIZE, &e), 0, "%s", e.msg);
	f = fw_cfg_create(&mem, &e);
	cr_assert_not_null(f, "%s", e.msg);
}

static void teardown(void)
{
	fw_cfg_destroy(f);
	guest_mem_destroy(&mem);
}

TestSuite(fw_cfg, .init = setup, .fini = teardown);

static void select_key(uint16_t key)
{
	uint8_t b[2] = { (uint8_t)key, (uint8_t)(key >> 8) };
	fw_cfg_io(f, OFF_SELECTOR, b, 2, true);
}

static void read_data(void *dst, size_t len)
{
	uint8_t *p = dst;
	for (size_t i = 0; i < len; i++)
		fw_cfg_io(f, OFF_DATA, &p[i], 1, false);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Writes a FWCfgDmaAccess at ACCESS_GPA and triggers it the way OVMF does (high half, then the
 * low half, each a big-endian 32-bit port write). Returns the control word written back. */
static uint32_t dma_at(uint64_t access_gpa, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t req[16];
	put_be32(req, control);
	put_be32(req + 4, len);
	put_be32(req + 8, (uint32_t)(addr >> 32));
	put_be32(req + 12, (uint32_t)addr);
	uint8_t *host = guest_mem_ptr(&mem, access_gpa, sizeof(req));
	if (host)
		memcpy(host, req, sizeof(req));
	uint8_t hi[4], lo[4];
	put_be32(hi, (uint32_t)(access_gpa >> 32));
	put_be32(lo, (uint32_t)access_gpa);
	fw_cfg_io(f, OFF_DMA_HIGH, hi, 4, true);
	fw_cfg_io(f, OFF_DMA_LOW, lo, 4, true);
	return host ? be32(host) : 0xdeadbeef;
}

static uint32_t dma(uint32_t control, uint32_t len, uint64_t addr)
{
	return dma_at(ACCESS_GPA, control, len, addr);
}

static uint8_t *ram(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&mem, gpa, len);
	cr_assert_not_null(p);
	return p;
}

Test(fw_cfg, signature_and_id_through_the_ports)
{
	char sig[4];
	select_key(FW_CFG_SIGNATURE);
	read_data(sig, 4);
	cr_assert_eq(memcmp(sig, "QEMU", 4), 0);
	uint8_t id[4];
	select_key(FW_CFG_ID);
	read_data(id, 4);
	cr_assert_eq(id[0], FW_CFG_VERSION | FW_CFG_VERSION_DMA, "traditional + DMA");
	cr_assert_eq(id[1] | id[2] | id[3], 0);
	/* Past the end: zeros, however often. */
	uint8_t more[3] = { 0xaa, 0xaa, 0xaa };
	read_data(more, 3);
	cr_assert_eq(more[0] | more[1] | more[2], 0);
	/* The DMA address register reads as "QEMU CFG", big-endian. */
	uint8_t reg[8];
	fw_cfg_io(f, OFF_DMA_HIGH, reg, 4, false);
	fw_cfg_io(f, OFF_DMA_LOW, reg + 4, 4, false);
	cr_assert_eq(memcmp(reg, "QEMU CFG", 8), 0);
}

Test(fw_cfg, wide_data_reads_and_the_write_bit)
{
	struct error e;
	cr_assert_eq(fw_cfg_add_bytes(f, FW_CFG_UUID, "0123456789abcdef", 16, &e), 0, "%s", e.msg);
	/* Bit 14 (legacy write mode) selects the same item; data-port writes are ignored. */
	select_key(FW_CFG_UUID | FW_CFG_KEY_WRITE);
	uint8_t junk = 'X';
	fw_cfg_io(f, OFF_DATA, &junk, 1, true);
	uint8_t four[4];
	fw_cfg_io(f, OFF_DATA, four, 4, false);
	cr_assert_eq(memcmp(four, "0123", 4), 0, "a 4-byte read is the next 4 bytes");
	uint32_t len;
	cr_assert_eq(memcmp(fw_cfg_item(f, FW_CFG_UUID, &len), "0123456789abcdef", 16), 0);
	cr_assert_eq(len, 16);
	/* An absent key reads as zeros. */
	select_key(0x1234);
	uint8_t z = 0xff;
	read_data(&z, 1);
	cr_assert_eq(z, 0);
}

Test(fw_cfg, bad_item_arguments_are_refused)
{
	struct error e;
	cr_assert_lt(fw_cfg_add_bytes(f, FW_CFG_FILE_FIRST + 1, "x", 1, &e), 0);
	cr_assert_lt(fw_cfg_add_bytes(f, FW_CFG_FILE_DIR, "x", 1, &e), 0);
	char long_name[80];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_lt(fw_cfg_add_file(f, long_name, "x", 1, &e), 0);
	cr_assert(strstr(e.msg, "1-55 characters"), "%s", e.msg);
	cr_assert_lt(fw_cfg_add_file(f, "", "x", 1, &e), 0);
	/* Arch-local keys are plain items. */
	cr_assert_eq(fw_cfg_add_u32(f, FW_CFG_X86_IRQ0_OVERRIDE, 1, &e), 0, "%s", e.msg);
}

Test(fw_cfg, the_file_directory)
{
	struct error e;
	cr_assert_eq(fw_cfg_add_file(f, "etc/zeta", "zz", 2, &e), 0, "%s", e.msg);
	cr_assert_eq(fw_cfg_add_file(f, "bootorder", "", 0, &e), 0, "%s", e.msg);
	cr_assert_eq(fw_cfg_add_file(f, "etc/alpha", "aaaa", 4, &e), 0, "%s", e.msg);
	/* Replacing keeps the key and updates the size. */
	int zeta = fw_cfg_file_key(f, "etc/zeta");
	cr_assert_eq(zeta, FW_CFG_FILE_FIRST, "keys in the order files were added");
	cr_assert_eq(fw_cfg_add_file(f, "etc/zeta", "zzzzz", 5, &e), 0, "%s", e.msg);
	cr_assert_eq(fw_cfg_file_key(f, "etc/zeta"), zeta);
	cr_assert_eq(fw_cfg_file_key(f, "nope"), -1);

	uint8_t dir[4 + 3 * 64];
	select_key(FW_CFG_FILE_DIR);
	read_data(dir, sizeof(dir));
	cr_assert_eq(be32(dir), 3);
	const char *names[] = { "bootorder", "etc/alpha", "etc/zeta" }; /* sorted */
	const uint32_t sizes[] = { 0, 4, 5 };
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *ent = dir + 4 + i * 64;
		cr_assert_str_eq((const char *)ent + 8, names[i]);
		cr_assert_eq(be32(ent), sizes[i], "%s", names[i]);
		uint16_t key = (uint16_t)(ent[4] << 8 | ent[5]);
		cr_assert_eq(key, fw_cfg_file_key(f, names[i]));
		cr_assert_eq(ent[6] | ent[7], 0, "reserved");
	}
	uint8_t data[5];
	select_key((uint16_t)zeta);
	read_data(data, 5);
	cr_assert_eq(memcmp(data, "zzzzz", 5), 0);
}

Test(fw_cfg, too_many_files)
{
	struct error e;
	char name[16];
	for (int i = 0; i < FW_CFG_MAX_FILES; i++) {
		snprintf(name, sizeof(name), "opt/f%d", i);
		cr_assert_eq(fw_cfg_add_file(f, name, "x", 1, &e), 0, "%s", e.msg);
	}
	cr_assert_lt(fw_cfg_add_file(f, "opt/one-more", "x", 1, &e), 0);
	cr_assert(strstr(e.msg, "no room"), "%s", e.msg);
	cr_assert_eq(fw_cfg_add_file(f, "opt/f3", "yy", 2, &e), 0, "replacing still works: %s", e.msg);
}

Test(fw_cfg, dma_select_read_skip)
{
	struct error e;
	uint8_t blob[300];
	for (unsigned i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)i;
	cr_assert_eq(fw_cfg_add_file(f, "etc/blob", blob, sizeof(blob), &e), 0, "%s", e.msg);
	uint16_t key = (uint16_t)fw_cfg_file_key(f, "etc/blob");

	uint32_t ctl = dma((uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 100,
			   BUFFER_GPA);
	cr_assert_eq(ctl, 0, "done, no error");
	cr_assert_eq(memcmp(ram(BUFFER_GPA, 100), blob, 100), 0);
	cr_assert_eq(dma(FW_CFG_DMA_CTL_SKIP, 50, 0), 0);
	cr_assert_eq(dma(FW_CFG_DMA_CTL_READ, 10, BUFFER_GPA), 0);
	cr_assert_eq(memcmp(ram(BUFFER_GPA, 10), blob + 150, 10), 0, "read continues after the skip");
	/* Across the end: the rest of the item, then zeros. */
	memset(ram(BUFFER_GPA, 200), 0xee, 200);
	cr_assert_eq(dma(FW_CFG_DMA_CTL_READ, 200, BUFFER_GPA), 0);
	cr_assert_eq(memcmp(ram(BUFFER_GPA, 140), blob + 160, 140), 0);
	for (unsigned i = 140; i < 200; i++)
		cr_assert_eq(ram(BUFFER_GPA, 200)[i], 0, "byte %u past the end", i);
	/* The legacy data port sees the same (exhausted) position. */
	uint8_t b = 0xff;
	read_data(&b, 1);
	cr_assert_eq(b, 0);
	/* Select alone resets the offset. */
	cr_assert_eq(dma((uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT, 0, 0), 0);
	read_data(&b, 1);
	cr_assert_eq(b, 0);
	read_data(&b, 1);
	cr_assert_eq(b, 1);
}

Test(fw_cfg, dma_with_hostile_addresses)
{
	struct error e;
	cr_assert_eq(fw_cfg_add_file(f, "etc/blob", "0123456789", 10, &e), 0, "%s", e.msg);
	uint32_t sel = (uint32_t)fw_cfg_file_key(f, "etc/blob") << 16 | FW_CFG_DMA_CTL_SELECT;

	/* Buffer outside RAM, straddling its end, wrapping around 2^64: error, nothing written. */
	cr_assert_eq(dma(sel | FW_CFG_DMA_CTL_READ, 10, RAM_SIZE + 0x1000), FW_CFG_DMA_CTL_ERROR);
	memset(ram(RAM_SIZE - 4, 4), 0x77, 4);
	cr_assert_eq(dma(sel | FW_CFG_DMA_CTL_READ, 10, RAM_SIZE - 4), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(ram(RAM_SIZE - 4, 4)[0], 0x77, "a refused request moves no byte");
	cr_assert_eq(dma(sel | FW_CFG_DMA_CTL_READ, 0x100, UINT64_MAX - 0x10), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(dma(sel | FW_CFG_DMA_CTL_READ, UINT32_MAX, BUFFER_GPA), FW_CFG_DMA_CTL_ERROR,
		     "4 GiB does not fit 4 MiB of RAM");
	/* The access structure itself outside RAM (or half in it): dropped, nothing to report to,
	 * no crash, and the device still works afterwards. */
	dma_at(RAM_SIZE + 0x10000, sel | FW_CFG_DMA_CTL_READ, 10, BUFFER_GPA);
	dma_at(RAM_SIZE - 8, sel | FW_CFG_DMA_CTL_READ, 10, BUFFER_GPA);
	dma_at(UINT64_MAX - 7, sel | FW_CFG_DMA_CTL_READ, 10, BUFFER_GPA);
	cr_assert_eq(dma(sel | FW_CFG_DMA_CTL_READ, 10, BUFFER_GPA), 0);
	cr_assert_eq(memcmp(ram(BUFFER_GPA, 10), "0123456789", 10), 0);
	/* The buffer may overlap the access structure: the result word wins. */
	cr_assert_eq(dma(sel | FW_CFG_DMA_CTL_READ, 10, ACCESS_GPA), 0);
	/* Odd widths and offsets on the DMA register do nothing. */
	uint8_t b = 0x10;
	fw_cfg_io(f, OFF_DMA_LOW, &b, 1, true);
	fw_cfg_io(f, OFF_DMA_HIGH + 1, (uint8_t[4]){ 0 }, 4, true);
}

Test(fw_cfg, dma_writes_only_writable_files_in_place)
{
	struct error e;
	cr_assert_eq(fw_cfg_add_file(f, "etc/ro", "abcd", 4, &e), 0, "%s", e.msg);
	cr_assert_eq(fw_cfg_add_file_writable(f, "etc/rw", "abcd", 4, &e), 0, "%s", e.msg);
	uint32_t ro = (uint32_t)fw_cfg_file_key(f, "etc/ro") << 16 | FW_CFG_DMA_CTL_SELECT;
	uint32_t rw = (uint32_t)fw_cfg_file_key(f, "etc/rw") << 16 | FW_CFG_DMA_CTL_SELECT;
	memcpy(ram(BUFFER_GPA, 4), "WXYZ", 4);

	cr_assert_eq(dma(ro | FW_CFG_DMA_CTL_WRITE, 2, BUFFER_GPA), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(dma(rw | FW_CFG_DMA_CTL_WRITE, 5, BUFFER_GPA), FW_CFG_DMA_CTL_ERROR,
		     "no resizing");
	cr_assert_eq(dma(rw | FW_CFG_DMA_CTL_WRITE, 2, RAM_SIZE), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(dma(rw, 0, 0), 0);
	cr_assert_eq(dma(FW_CFG_DMA_CTL_SKIP, 1, 0), 0);
	cr_assert_eq(dma(FW_CFG_DMA_CTL_WRITE, 2, BUFFER_GPA), 0);
	cr_assert_eq(dma(FW_CFG_DMA_CTL_WRITE, 2, BUFFER_GPA), FW_CFG_DMA_CTL_ERROR,
		     "offset 3 + 2 runs past the end");
	uint32_t len;
	cr_assert_eq(memcmp(fw_cfg_item(f, (uint16_t)(ro >> 16), &len), "abcd", 4), 0);
	cr_assert_eq(memcmp(fw_cfg_item(f, (uint16_t)(rw >> 16), &len), "aWXd", 4), 0);
}

Test(fw_cfg, save_and_restore)
{
	struct error e;
	cr_assert_eq(fw_cfg_add_file(f, "etc/blob", "0123456789", 10, &e), 0, "%s", e.msg);
	select_key((uint16_t)fw_cfg_file_key(f, "etc/blob"));
	char two[2];
	read_data(two, 2);
	uint8_t hi[4] = { 0, 0, 0, 1 };
	fw_cfg_io(f, OFF_DMA_HIGH, hi, 4, true); /* half a DMA address, pending */
	struct fw_cfg_state st;
	fw_cfg_save(f, &st);
	cr_assert_eq(st.offset, 2);
	cr_assert_eq(st.dma_high, 1);
	read_data(two, 2);
	select_key(FW_CFG_SIGNATURE);

	/* A new device with the same items (rebuilt from the configuration) continues. */
	struct fw_cfg *g = fw_cfg_create(&mem, &e);
	cr_assert_not_null(g, "%s", e.msg);
	cr_assert_eq(fw_cfg_add_file(g, "etc/blob", "0123456789", 10, &e), 0, "%s", e.msg);
	cr_assert_eq(fw_cfg_restore(g, &st, &e), 0, "%s", e.msg);
	uint8_t c;
	fw_cfg_io(g, OFF_DATA, &c, 1, false);
	cr_assert_eq(c, '2');
	struct fw_cfg_state again;
	fw_cfg_save(g, &again);
	cr_assert_eq(again.dma_high, 1);
	fw_cfg_destroy(g);
}

/* ---- direct kernel boot items ---- */

static uint32_t item_u32(uint16_t key)
{
	uint32_t len;
	const uint8_t *p = fw_cfg_item(f, key, &len);
	cr_assert_not_null(p, "key 0x%x", key);
	cr_assert_eq(len, 4);
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

Test(fw_cfg, a_bzimage_is_split_at_its_setup)
{
	uint8_t img[4096];
	for (unsigned i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7);
	memcpy(img + 0x202, "HdrS", 4);
	img[0x1f1] = 2; /* setup_sects: (2 + 1) * 512 bytes of real-mode setup */
	uint8_t initrd[100];
	memset(initrd, 'i', sizeof(initrd));
	struct fw_cfg_kernel k = { .kernel = img, .kernel_size = sizeof(img), .initrd = initrd,
				   .initrd_size = sizeof(initrd), .cmdline = "console=ttyS0" };
	struct error e;
	cr_assert_eq(fw_cfg_set_kernel(f, &k, &e), 0, "%s", e.msg);
	cr_assert_eq(item_u32(FW_CFG_SETUP_SIZE), 3 * 512);
	cr_assert_eq(item_u32(FW_CFG_KERNEL_SIZE), sizeof(img) - 3 * 512);
	cr_assert_eq(item_u32(FW_CFG_INITRD_SIZE), sizeof(initrd));
	cr_assert_eq(item_u32(FW_CFG_CMDLINE_SIZE), strlen("console=ttyS0") + 1, "with the NUL");

	/* SETUP_DATA followed by KERNEL_DATA is the file, byte for byte (what OVMF reassembles
	 * and what an SEV kernel hash covers). */
	uint8_t back[4096];
	select_key(FW_CFG_SETUP_DATA);
	read_data(back, 3 * 512);
	select_key(FW_CFG_KERNEL_DATA);
	read_data(back + 3 * 512, sizeof(img) - 3 * 512);
	cr_assert_eq(memcmp(back, img, sizeof(img)), 0);
	char cmdline[20];
	select_key(FW_CFG_CMDLINE_DATA);
	read_data(cmdline, strlen("console=ttyS0") + 1);
	cr_assert_str_eq(cmdline, "console=ttyS0");
}

Test(fw_cfg, other_kernels_and_defaults)
{
	uint8_t elf[2048] = { 0x7f, 'E', 'L', 'F' };
	struct fw_cfg_kernel k = { .kernel = elf, .kernel_size = sizeof(elf) };
	struct error e;
	cr_assert_eq(fw_cfg_set_kernel(f, &k, &e), 0, "%s", e.msg);
	cr_assert_eq(item_u32(FW_CFG_SETUP_SIZE), 0, "not a bzImage: all KERNEL");
	cr_assert_eq(item_u32(FW_CFG_KERNEL_SIZE), sizeof(elf));
	cr_assert_eq(item_u32(FW_CFG_INITRD_SIZE), 0);
	cr_assert_eq(item_u32(FW_CFG_CMDLINE_SIZE), 1, "no command line: a lone NUL");
	/* A bzImage too short to have anything after its setup is served whole. */
	uint8_t tiny[0x300] = { 0 };
	memcpy(tiny + 0x202, "HdrS", 4);
	k = (struct fw_cfg_kernel){ .kernel = tiny, .kernel_size = sizeof(tiny) };
	cr_assert_eq(fw_cfg_set_kernel(f, &k, &e), 0, "%s", e.msg);
	cr_assert_eq(item_u32(FW_CFG_SETUP_SIZE), 0);
	k = (struct fw_cfg_kernel){ 0 };
	cr_assert_lt(fw_cfg_set_kernel(f, &k, &e), 0);
}

/* ---- the ACPI linker/loader script, run as OVMF's AcpiPlatformDxe runs it ---- */

struct blob {
	const char *name;
	uint8_t *data;
	size_t len;
	uint64_t base; /* where the "firmware" put it */
};

static struct blob *find_blob(struct blob *b, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(b[i].name, name) == 0)
			return &b[i];
	cr_assert_fail("the script names unknown file '%s'", name);
	return NULL;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Allocation places blob i at base (i + 1) * 0x100000; pointers get that base added; checksums
 * are computed over the range *including* the checksum byte, as OVMF does (so the blob must
 * carry zeros there). Returns the number of ADD_POINTER commands. */
static unsigned run_script(const uint8_t *script, size_t len, struct blob *b, unsigned n)
{
	unsigned allocated = 0, pointers = 0;
	cr_assert_eq(len % ACPI_LOADER_ENTRY_SIZE, 0);
	for (size_t at = 0; at < len; at += ACPI_LOADER_ENTRY_SIZE) {
		const uint8_t *ent = script + at;
		const char *file = (const char *)ent + 4;
		switch (le32(ent)) {
		case ACPI_LOADER_ALLOCATE: {
			struct blob *x = find_blob(b, n, file);
			uint32_t align = le32(ent + 4 + ACPI_LOADER_FILE_MAX);
			cr_assert(align && !(align & (align - 1)) && align <= 4096, "align %u", align);
			x->base = (uint64_t)++allocated << 20;
			break;
		}
		case ACPI_LOADER_ADD_POINTER: {
			struct blob *dst = find_blob(b, n, file);
			struct blob *src = find_blob(b, n, file + ACPI_LOADER_FILE_MAX);
			uint32_t off = le32(ent + 4 + 2 * ACPI_LOADER_FILE_MAX);
			uint8_t size = ent[4 + 2 * ACPI_LOADER_FILE_MAX + 4];
			cr_assert(dst->base && src->base, "pointer before ALLOCATE");
			cr_assert(size == 4 || size == 8);
			cr_assert_leq(off + size, dst->len);
			uint64_t v = 0;
			memcpy(&v, dst->data + off, size);
			cr_assert_lt(v, src->len, "pointer holds an offset into %s", src->name);
			v += src->base;
			memcpy(dst->data + off, &v, size);
			pointers++;
			break;
		}
		case ACPI_LOADER_ADD_CHECKSUM: {
			struct blob *x = find_blob(b, n, file);
			uint32_t res = le32(ent + 4 + ACPI_LOADER_FILE_MAX);
			uint32_t start = le32(ent + 4 + ACPI_LOADER_FILE_MAX + 4);
			uint32_t length = le32(ent + 4 + ACPI_LOADER_FILE_MAX + 8);
			cr_assert_lt(res, x->len);
			cr_assert_leq(start + length, x->len);
			x->data[res] = (uint8_t)-sum8(x->data + start, length);
			break;
		}
		default:
			cr_assert_fail("unknown loader command %u", le32(ent));
		}
	}
	return pointers;
}

/* The table a patched pointer points at, checked: in the tables blob, whole, summing to 0. */
static const struct acpi_header *table_at(struct blob *tables, uint64_t addr, const char *sig)
{
	cr_assert_geq(addr, tables->base);
	uint64_t off = addr - tables->base;
	cr_assert_leq(off + sizeof(struct acpi_header), tables->len);
	const struct acpi_header *h = (const void *)(tables->data + off);
	cr_assert_eq(memcmp(h->signature, sig, 4), 0, "expected %s, found %.4s", sig, h->signature);
	cr_assert_leq(off + h->length, tables->len);
	cr_assert_eq(sum8(tables->data + off, h->length), 0, "%s checksum", sig);
	return h;
}

Test(acpi_loader, the_script_installs_consistent_tables)
{
	uint32_t ids[] = { 0, 2, 4, 6 };
	struct acpi_config cfg = { .ncpus = 4, .apic_ids = ids, .pci_buses = 1,
				   .ecam_base = 0xb0000000ULL };
	struct acpi_blobs ab;
	struct error e;
	cr_assert_eq(acpi_build_blobs(&cfg, &ab, &e), 0, "%s", e.msg);
	/* Checksum bytes travel as zeros (OVMF sums the range with the byte in it). */
	const struct acpi_rsdp *r0 = (const void *)ab.rsdp;
	cr_assert_eq(r0->checksum, 0);
	cr_assert_eq(r0->extended_checksum, 0);
	cr_assert_eq(((const struct acpi_header *)ab.tables)->checksum, 0);
	/* The first two commands allocate the blobs, tables first. */
	cr_assert_eq(le32(ab.loader), ACPI_LOADER_ALLOCATE);
	cr_assert_str_eq((const char *)ab.loader + 4, ACPI_FILE_TABLES);
	cr_assert_eq(le32(ab.loader + ACPI_LOADER_ENTRY_SIZE), ACPI_LOADER_ALLOCATE);
	cr_assert_str_eq((const char *)ab.loader + ACPI_LOADER_ENTRY_SIZE + 4, ACPI_FILE_RSDP);

	struct blob b[2] = {
		{ ACPI_FILE_TABLES, malloc(ab.tables_len), ab.tables_len, 0 },
		{ ACPI_FILE_RSDP, malloc(sizeof(ab.rsdp)), sizeof(ab.rsdp), 0 },
	};
	memcpy(b[0].data, ab.tables, ab.tables_len);
	memcpy(b[1].data, ab.rsdp, sizeof(ab.rsdp));
	/* RSDP -> XSDT, XSDT -> FADT, MADT, MCFG, FADT -> DSDT (32- and 64-bit). */
	cr_assert_eq(run_script(ab.loader, ab.loader_len, b, 2), 6);

	const struct acpi_rsdp *r = (const void *)b[1].data;
	cr_assert_eq(memcmp(r->signature, "RSD PTR ", 8), 0);
	cr_assert_eq(sum8(b[1].data, ACPI_RSDP_V1_LENGTH), 0);
	cr_assert_eq(sum8(b[1].data, sizeof(*r)), 0);
	const struct acpi_header *xsdt = table_at(&b[0], r->xsdt_address, "XSDT");
	unsigned n = (xsdt->length - sizeof(*xsdt)) / 8;
	cr_assert_eq(n, 3);
	const char *sigs[] = { "FACP", "APIC", "MCFG" };
	const struct acpi_header *fadt = NULL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t entry;
		memcpy(&entry, (const uint8_t *)(xsdt + 1) + 8 * i, 8);
		const struct acpi_header *t = table_at(&b[0], entry, sigs[i]);
		if (i == 0)
			fadt = t;
	}
	const struct acpi_fadt *fa = (const void *)fadt;
	cr_assert_eq(fa->dsdt, fa->x_dsdt);
	table_at(&b[0], fa->x_dsdt, "DSDT");
	/* The MCFG names the firmware boot's ECAM. */
	uint64_t mcfg_entry;
	memcpy(&mcfg_entry, (const uint8_t *)(xsdt + 1) + 16, 8);
	uint64_t ecam;
	memcpy(&ecam, b[0].data + (mcfg_entry - b[0].base) + 44, 8);
	cr_assert_eq(ecam, 0xb0000000ULL);
	free(b[0].data);
	free(b[1].data);
	acpi_blobs_free(&ab);
}

Test(acpi_loader, bad_names_and_alignments_are_refused)
{
	struct acpi_loader l;
	struct error e;
	acpi_loader_init(&l);
	char long_name[70];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_lt(acpi_loader_allocate(&l, long_name, 16, ACPI_LOADER_ZONE_HIGH, &e), 0);
	cr_assert_lt(acpi_loader_allocate(&l, "etc/x", 12, ACPI_LOADER_ZONE_HIGH, &e), 0);
	cr_assert_lt(acpi_loader_add_pointer(&l, "etc/x", "etc/y", 0, 3, &e), 0);
	cr_assert_lt(acpi_loader_add_checksum(&l, "", 0, 0, 1, &e), 0);
	cr_assert_eq(l.len, 0, "refused commands leave nothing behind");
	cr_assert_eq(acpi_loader_add_checksum(&l, "etc/x", 9, 0, 36, &e), 0, "%s", e.msg);
	cr_assert_eq(l.len, ACPI_LOADER_ENTRY_SIZE);
	acpi_loader_release(&l);
}
