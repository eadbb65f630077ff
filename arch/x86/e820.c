/* The e820 map: what the guest may use as RAM. Derived from the guest_mem regions and the fixed
 * layout, so loaders (boot_params, hvm_start_info) report exactly the same picture. */
#include "e820.h"

#include "layout.h"

static size_t e820_add(struct e820_entry *out, size_t n, size_t max, uint64_t start, uint64_t end,
		       uint32_t type)
{
	if (end <= start || n >= max)
		return n;
	out[n] = (struct e820_entry){ .addr = start, .size = end - start, .type = type };
	return n + 1;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

size_t e820_build(const struct guest_mem *gm, struct e820_entry *out, size_t max)
{
	uint64_t low_end = guest_mem_low_end(gm);
	size_t n = 0;

	/* Conventional memory, up to the EBDA. */
	n = e820_add(out, n, max, 0, min_u64(low_end, LAYOUT_EBDA_START), E820_RAM);
	/* EBDA, VGA hole and BIOS area. The ACPI tables sit here (LAYOUT_ACPI_START); the guest
	 * finds them through the RSDP, so the whole range is simply reserved. */
	n = e820_add(out, n, max, LAYOUT_EBDA_START, LAYOUT_HIGH_MEMORY, E820_RESERVED);
	/* Extended memory up to the 32-bit hole. */
	n = e820_add(out, n, max, LAYOUT_HIGH_MEMORY, low_end, E820_RAM);
	/* Everything else guest_mem maps lives above 4 GiB. */
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct guest_mem_region *r = &gm->regions[i];
		if (r->gpa >= LAYOUT_4G)
			n = e820_add(out, n, max, r->gpa, r->gpa + r->size, E820_RAM);
	}
	return n;
}
