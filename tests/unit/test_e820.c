/* e820_build: the memory map for small, hole-sized and large guests. guest_mem_init reserves
 * (MAP_NORESERVE) without touching memory, so an 8 GiB guest costs nothing here. */
#include <criterion/criterion.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "vmm/guest_mem.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static struct guest_mem gm;

static void guest(uint64_t size)
{
	struct error e;
	cr_assert_eq(guest_mem_init(&gm, size, &e), 0, "guest_mem_init: %s", e.msg);
}

static void teardown(void)
{
	guest_mem_destroy(&gm);
}

static void expect_entry(const struct e820_entry *m, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_expect_eq(m->addr, addr, "addr 0x%llx, want 0x%llx", (unsigned long long)m->addr,
		     (unsigned long long)addr);
	cr_expect_eq(m->size, size, "size 0x%llx, want 0x%llx (addr 0x%llx)",
		     (unsigned long long)m->size, (unsigned long long)size,
		     (unsigned long long)addr);
	cr_expect_eq(m->type, type, "type %u, want %u (addr 0x%llx)", m->type, type,
		     (unsigned long long)addr);
}

/* Sorted, non-overlapping, and every RAM byte the map reports is really backed by guest_mem. */
static void expect_consistent(const struct e820_entry *m, size_t n)
{
	uint64_t ram = 0;
	for (size_t i = 0; i < n; i++) {
		cr_expect_gt(m[i].size, 0);
		if (i)
			cr_expect_geq(m[i].addr, m[i - 1].addr + m[i - 1].size, "entry %zu overlaps", i);
		if (m[i].type == E820_RAM) {
			cr_expect_not_null(guest_mem_ptr(&gm, m[i].addr, m[i].size),
					   "RAM entry %zu is not backed", i);
			ram += m[i].size;
		}
	}
	/* All of guest RAM is reported except the reserved legacy BIOS area. */
	cr_expect_eq(ram, gm.size - (LAYOUT_HIGH_MEMORY - LAYOUT_EBDA_START));
}

Test(e820, guest_512m, .fini = teardown)
{
	guest(512 * MIB);
	struct e820_entry m[16];
	size_t n = e820_build(&gm, m, 16);
	cr_assert_eq(n, 3);
	expect_entry(&m[0], 0, LAYOUT_EBDA_START, E820_RAM);
	expect_entry(&m[1], LAYOUT_EBDA_START, LAYOUT_HIGH_MEMORY - LAYOUT_EBDA_START, E820_RESERVED);
	expect_entry(&m[2], LAYOUT_HIGH_MEMORY, 512 * MIB - LAYOUT_HIGH_MEMORY, E820_RAM);
	expect_consistent(m, n);
}

Test(e820, acpi_tables_are_inside_the_reserved_area, .fini = teardown)
{
	guest(512 * MIB);
	struct e820_entry m[16];
	size_t n = e820_build(&gm, m, 16);
	cr_assert_geq(n, 2);
	cr_expect_eq(m[1].type, E820_RESERVED);
	cr_expect_geq(LAYOUT_ACPI_START, m[1].addr);
	cr_expect_leq(LAYOUT_ACPI_START + LAYOUT_ACPI_SIZE, m[1].addr + m[1].size);
}

Test(e820, guest_3g_fills_low_memory_exactly, .fini = teardown)
{
	guest(3 * GIB);
	struct e820_entry m[16];
	size_t n = e820_build(&gm, m, 16);
	cr_assert_eq(n, 3);
	expect_entry(&m[2], LAYOUT_HIGH_MEMORY, LAYOUT_MMIO32_START - LAYOUT_HIGH_MEMORY, E820_RAM);
	expect_consistent(m, n);
}

Test(e820, guest_8g_has_high_ram_above_4g, .fini = teardown)
{
	guest(8 * GIB);
	struct e820_entry m[16];
	size_t n = e820_build(&gm, m, 16);
	cr_assert_eq(n, 4);
	expect_entry(&m[0], 0, LAYOUT_EBDA_START, E820_RAM);
	expect_entry(&m[1], LAYOUT_EBDA_START, LAYOUT_HIGH_MEMORY - LAYOUT_EBDA_START, E820_RESERVED);
	expect_entry(&m[2], LAYOUT_HIGH_MEMORY, LAYOUT_MMIO32_START - LAYOUT_HIGH_MEMORY, E820_RAM);
	expect_entry(&m[3], LAYOUT_4G, 8 * GIB - LAYOUT_MMIO32_START, E820_RAM);
	expect_consistent(m, n);
	/* Nothing claims the 32-bit hole. */
	for (size_t i = 0; i < n; i++)
		cr_expect(m[i].addr + m[i].size <= LAYOUT_MMIO32_START || m[i].addr >= LAYOUT_4G);
}

Test(e820, respects_max_entries, .fini = teardown)
{
	guest(8 * GIB);
	struct e820_entry m[4];
	memset(m, 0xee, sizeof(m));
	cr_expect_eq(e820_build(&gm, m, 2), 2);
	cr_expect_eq(m[2].addr, 0xeeeeeeeeeeeeeeeeULL, "wrote past max");
	cr_expect_eq(e820_build(&gm, m, 0), 0);
}

Test(e820, tiny_guest_below_the_ebda, .fini = teardown)
{
	guest(512 * 1024);
	struct e820_entry m[16];
	size_t n = e820_build(&gm, m, 16);
	cr_assert_eq(n, 2);
	expect_entry(&m[0], 0, 512 * 1024, E820_RAM);
	cr_expect_eq(m[1].type, E820_RESERVED);
}
