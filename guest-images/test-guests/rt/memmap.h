/* The PVH memory map. */
#ifndef RT_MEMMAP_H
#define RT_MEMMAP_H

#include <stdint.h>

#include "pvh.h"

/* End of the RAM entry of the PVH memory map that contains `addr`, or 0 if none does. */
uint64_t memmap_ram_end(const struct hvm_start_info *si, uint64_t addr);

#endif
