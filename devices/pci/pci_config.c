/* Configuration-space semantics of one function (PCI Local Bus 3.0, 6.1-6.2): read-only and
 * writable bits, BAR sizing and decoding, the capability list. Every guest write goes through a
 * per-byte mask, so read-only fields cannot change whatever the guest writes. */
#include "pci_internal.h"

#include <string.h>

#include "../../arch/x86/layout.h"

/* Command register bits the guest may change: I/O and memory decoding, bus mastering, parity
 * and SERR# reporting, INTx disable. The rest are hardwired to zero. */
#define PCI_COMMAND_WRITABLE                                                                 \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |      \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Low bits of a memory BAR: space indicator, type, prefetchable (read-only). */
#define BAR_TYPE_BITS 0xfull

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

void pci_config_init_header(struct pci_device *dev)
{
	const struct pci_device_info *i = &dev->info;
	memset(dev->cfg, 0, sizeof(dev->cfg));
	memset(dev->wmask, 0, sizeof(dev->wmask));
	put16(&dev->cfg[PCI_VENDOR_ID], i->vendor_id);
	put16(&dev->cfg[PCI_DEVICE_ID], i->device_id);
	put32(&dev->cfg[PCI_CLASS_REVISION], i->class_code << 8 | i->revision);
	dev->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL; /* single function */
	put16(&dev->cfg[PCI_SUBSYSTEM_VENDOR_ID], i->subsystem_vendor_id);
	put16(&dev->cfg[PCI_SUBSYSTEM_ID], i->subsystem_id);
	put16(&dev->wmask[PCI_COMMAND], PCI_COMMAND_WRITABLE);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff; /* scratch for the OS; pin 0 = no INTx */
	dev->cap_next = PCI_FIRST_CAPABILITY;
}

static unsigned bar_register(unsigned bar)
{
	return PCI_BASE_ADDRESS_0 + 4 * bar;
}

/* Guest-writable address bits of a memory BAR (the low 4 are type bits, read-only): sizing by
 * writing all-ones then reads back ~(size-1) | type, as the spec asks. */
static void bar_set_wmask(struct pci_device *dev, unsigned bar)
{
	const struct pci_bar *b = &dev->bars[bar];
	uint64_t mask = ~(b->size - 1) & ~BAR_TYPE_BITS;
	put32(&dev->wmask[bar_register(bar)], (uint32_t)mask);
	if (b->is64)
		put32(&dev->wmask[bar_register(bar + 1)], (uint32_t)(mask >> 32));
	uint32_t type = b->is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32;
	put32(&dev->cfg[bar_register(bar)], type);
}

void pci_config_program_bar(struct pci_device *dev, unsigned bar, uint64_t gpa)
{
	const struct pci_bar *b = &dev->bars[bar];
	bar_set_wmask(dev, bar);
	uint32_t type = b->is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32;
	put32(&dev->cfg[bar_register(bar)], (uint32_t)gpa | type);
	if (b->is64)
		put32(&dev->cfg[bar_register(bar + 1)], (uint32_t)(gpa >> 32));
}

bool pci_window_contains(uint64_t gpa, uint64_t size)
{
	return gpa >= LAYOUT_PCI_MMIO32_START && size <= LAYOUT_PCI_MMIO32_SIZE &&
	       gpa - LAYOUT_PCI_MMIO32_START <= LAYOUT_PCI_MMIO32_SIZE - size;
}

/* Where BAR `bar` decodes according to the registers, or PCI_BAR_UNMAPPED. */
static uint64_t bar_decode(const struct pci_device *dev, unsigned bar)
{
	const struct pci_bar *b = &dev->bars[bar];
	if (!(pci_cfg_read16(dev, PCI_COMMAND) & PCI_COMMAND_MEMORY))
		return PCI_BAR_UNMAPPED;
	uint64_t gpa = pci_cfg_read32(dev, bar_register(bar)) & ~BAR_TYPE_BITS;
	if (b->is64)
		gpa |= (uint64_t)pci_cfg_read32(dev, bar_register(bar + 1)) << 32;
	/* Address 0 means "unassigned" to every OS; the window check covers the rest, including
	 * the all-ones pattern left by sizing. */
	if (gpa == 0 || !pci_window_contains(gpa, b->size))
		return PCI_BAR_UNMAPPED;
	return gpa;
}

void pci_config_update_bars(struct pci_device *dev)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];
		if (!b->size)
			continue;
		uint64_t gpa = bar_decode(dev, i);
		if (gpa == b->gpa)
			continue;
		pthread_rwlock_wrlock(&dev->bus->map_lock);
		b->gpa = gpa;
		pthread_rwlock_unlock(&dev->bus->map_lock);
		if (dev->info.bar_moved)
			dev->info.bar_moved(dev->info.opaque, i, gpa);
	}
}

/* 1-, 2- and 4-byte accesses, naturally aligned, inside conventional space. */
static bool config_access_ok(uint32_t offset, uint32_t size)
{
	return (size == 1 || size == 2 || size == 4) && (offset & (size - 1)) == 0 &&
	       offset < PCI_CONFIG_SIZE;
}

static bool overlaps(uint32_t offset, uint32_t size, uint32_t start, uint32_t len)
{
	return offset < start + len && start < offset + size;
}

static void run_hook(struct pci_device *dev, uint32_t offset, uint8_t *data, uint32_t size,
		     bool is_write)
{
	if (dev->info.config_hook && dev->hook_start < dev->hook_end &&
	    overlaps(offset, size, dev->hook_start, dev->hook_end - dev->hook_start))
		dev->info.config_hook(dev->info.opaque, offset, data, size, is_write);
}

void pci_config_read(struct pci_device *dev, uint32_t offset, uint8_t *data, uint32_t size)
{
	if (offset >= PCI_CONFIG_SIZE && offset < PCI_CFG_SPACE_EXP_SIZE && size <= 4) {
		memset(data, 0, size); /* no extended capabilities */
		return;
	}
	if (!config_access_ok(offset, size)) {
		memset(data, 0xff, size);
		return;
	}
	memcpy(data, &dev->cfg[offset], size);
	run_hook(dev, offset, data, size, false);
}

void pci_config_write(struct pci_device *dev, uint32_t offset, const uint8_t *data,
		      uint32_t size)
{
	if (!config_access_ok(offset, size))
		return;
	for (uint32_t i = 0; i < size; i++) {
		uint8_t m = dev->wmask[offset + i];
		dev->cfg[offset + i] = (uint8_t)((dev->cfg[offset + i] & ~m) | (data[i] & m));
	}
	if (overlaps(offset, size, PCI_COMMAND, 2) ||
	    overlaps(offset, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
		pci_config_update_bars(dev);
	if (dev->msix)
		pci_msix_control_written(dev);
	uint8_t copy[4];
	memcpy(copy, data, size);
	run_hook(dev, offset, copy, size, true);
}

int pci_device_add_capability(struct pci_device *dev, const uint8_t *body, uint8_t len,
			      const uint8_t *wmask, uint8_t *offset, struct error *e)
{
	/* Capabilities are DWORD aligned and live in 0x40-0xff (6.7). */
	uint16_t at = (uint16_t)((dev->cap_next + 3) & ~3u);
	if (dev->slot >= 0)
		return error_set(e, "%s: capability added after plug", dev->info.name);
	if (len < 2 || at + len > PCI_CONFIG_SIZE)
		return error_set(e, "%s: no room for a %u-byte capability at 0x%x", dev->info.name,
				 len, at);
	memcpy(&dev->cfg[at], body, len);
	dev->cfg[at + PCI_CAP_LIST_NEXT] = 0;
	if (wmask)
		memcpy(&dev->wmask[at], wmask, len);
	dev->wmask[at + PCI_CAP_LIST_ID] = 0;
	dev->wmask[at + PCI_CAP_LIST_NEXT] = 0;
	if (dev->cap_last)
		dev->cfg[dev->cap_last + PCI_CAP_LIST_NEXT] = (uint8_t)at;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)at;
	put16(&dev->cfg[PCI_STATUS], pci_cfg_read16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	dev->cap_last = (uint8_t)at;
	dev->cap_next = (uint16_t)(at + len);
	*offset = (uint8_t)at;
	return 0;
}

void pci_device_set_config_hook(struct pci_device *dev, uint16_t start, uint16_t end)
{
	dev->hook_start = start;
	dev->hook_end = end <= PCI_CONFIG_SIZE ? end : PCI_CONFIG_SIZE;
}
