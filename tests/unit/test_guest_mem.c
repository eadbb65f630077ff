/* Guest RAM layout and the bounds checks every guest address goes through. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "vmm/guest_mem.h"

Test(guest_mem, small_guest_is_one_region)
{
	struct guest_mem gm;
	struct error e;
	cr_assert_eq(guest_mem_init(&gm, 64 << 20, &e), 0, "%s", e.msg);
	cr_assert_eq(gm.nregions, 1);
	cr_assert_eq(guest_mem_low_end(&gm), 64 << 20);
	cr_assert_not_null(guest_mem_ptr(&gm, 0, 64 << 20));
	cr_assert_null(guest_mem_ptr(&gm, 0, (64 << 20) + 1));
	cr_assert_null(guest_mem_ptr(&gm, 64 << 20, 1));
	cr_assert_not_null(guest_mem_ptr(&gm, (64 << 20) - 1, 1));
	cr_assert_null(guest_mem_ptr(&gm, UINT64_MAX, 2), "wrapping range");
	cr_assert_null(guest_mem_ptr(&gm, 16, UINT64_MAX), "huge length");
	guest_mem_destroy(&gm);
}

Test(guest_mem, large_guest_splits_around_the_hole)
{
	struct guest_mem gm;
	struct error e;
	uint64_t size = 8ULL << 30;
	cr_assert_eq(guest_mem_init(&gm, size, &e), 0, "%s", e.msg);
	cr_assert_eq(gm.nregions, 2);
	cr_assert_eq(guest_mem_low_end(&gm), LAYOUT_MMIO32_START);
	cr_assert_eq(gm.regions[1].gpa, LAYOUT_4G);
	cr_assert_eq(gm.regions[1].size, size - LAYOUT_MMIO32_START);
	cr_assert_null(guest_mem_ptr(&gm, LAYOUT_MMIO32_START, 1), "the hole is not RAM");
	cr_assert_null(guest_mem_ptr(&gm, LAYOUT_MMIO32_START - 1, 2), "range into the hole");
	uint8_t *hi = guest_mem_ptr(&gm, LAYOUT_4G, 1);
	cr_assert_eq(hi, gm.host + LAYOUT_MMIO32_START, "high RAM continues the host mapping");
	cr_assert_null(guest_mem_ptr(&gm, LAYOUT_4G + gm.regions[1].size, 1));

	uint32_t v = 0xdeadbeef, r = 0;
	cr_assert_eq(guest_mem_write(&gm, LAYOUT_4G + 4096, &v, sizeof(v), &e), 0);
	cr_assert_eq(guest_mem_read(&gm, LAYOUT_4G + 4096, &r, sizeof(r), &e), 0);
	cr_assert_eq(r, v);
	cr_assert_eq(guest_mem_write(&gm, LAYOUT_IOAPIC, &v, sizeof(v), &e), -1);
	cr_assert(strstr(e.msg, "outside guest RAM") != NULL);
	guest_mem_destroy(&gm);
}
