/* The PVH memory map: see memmap.h. */
#include "memmap.h"

#include "rt.h"

#define E820_RAM 1

uint64_t memmap_ram_end(const struct hvm_start_info *si, uint64_t addr)
{
	const struct hvm_memmap_table_entry *map = phys_ptr(si->memmap_paddr);
	for (uint32_t i = 0; si->version >= 1 && i < si->memmap_entries; i++)
		if (map[i].type == E820_RAM && map[i].addr <= addr &&
		    map[i].addr + map[i].size > addr)
			return map[i].addr + map[i].size;
	return 0;
}
