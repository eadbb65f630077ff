/* The PCI bus: slots, the two configuration mechanisms (0xCF8/0xCFC and ECAM), the 32-bit BAR
 * window's dispatch, device life cycle and BAR placement. Semantics of configuration space are
 * in pci_config.c, MSI-X in pci_msix.c. */
#include "pci_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../../arch/x86/layout.h"

/* Mechanism #1 address register (PCI Local Bus 3.0, 3.2.2.3.2). */
#define PCI_CFG_ENABLE       0x80000000u
#define PCI_CFG_BUS(a)       (((a) >> 16) & 0xff)
#define PCI_CFG_DEV(a)       (((a) >> 11) & 0x1f)
#define PCI_CFG_FN(a)        (((a) >> 8) & 0x7)
#define PCI_CFG_REG(a)       ((a) & 0xfc)
#define PCI_CONFIG_DATA_PORT 4 /* offset of 0xcfc in our range */

/* The function at bus/slot/function, or NULL (then reads see all-ones: "nothing there"). */
static struct pci_device *lookup(struct pci_bus *bus, unsigned busno, unsigned slot, unsigned fn)
{
	if (busno != 0 || fn != 0 || slot >= PCI_SLOTS)
		return NULL;
	return bus->slots[slot];
}

static void config_access(struct pci_device *dev, uint32_t reg, uint8_t *data, uint32_t size,
			  bool is_write)
{
	if (!dev) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	if (is_write)
		pci_config_write(dev, reg, data, size);
	else
		pci_config_read(dev, reg, data, size);
}

/* Ports 0xcf8-0xcff. Only a 32-bit access to 0xcf8 is the address latch (byte accesses to
 * 0xcf8-0xcfb are other chipset registers on PCs, e.g. 0xcf9 reset control: ignored here). */
static void config_port_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size,
			   bool is_write)
{
	struct pci_bus *bus = opaque;
	pthread_mutex_lock(&bus->cfg_lock);
	if (offset == 0 && size == 4) {
		if (is_write)
			memcpy(&bus->config_address, data, 4);
		else
			memcpy(data, &bus->config_address, 4);
	} else if (offset >= PCI_CONFIG_DATA_PORT) {
		uint32_t a = bus->config_address;
		struct pci_device *dev = (a & PCI_CFG_ENABLE) ?
			lookup(bus, PCI_CFG_BUS(a), PCI_CFG_DEV(a), PCI_CFG_FN(a)) : NULL;
		uint32_t reg = PCI_CFG_REG(a) + (uint32_t)(offset - PCI_CONFIG_DATA_PORT);
		config_access(dev, reg, data, size, is_write);
	} else if (!is_write) {
		memset(data, 0xff, size);
	}
	pthread_mutex_unlock(&bus->cfg_lock);
}

/* ECAM: offset = bus << 20 | device << 15 | function << 12 | register. */
static void ecam_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct pci_bus *bus = opaque;
	pthread_mutex_lock(&bus->cfg_lock);
	struct pci_device *dev = lookup(bus, (unsigned)(offset >> 20), (offset >> 15) & 0x1f,
					(offset >> 12) & 0x7);
	config_access(dev, (uint32_t)(offset & 0xfff), data, size, is_write);
	pthread_mutex_unlock(&bus->cfg_lock);
}

/* The 32-bit BAR window: find the BAR decoding gpa. Linear over at most 32 x 6 BARs. */
static void window_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct pci_bus *bus = opaque;
	uint64_t gpa = LAYOUT_PCI_MMIO32_START + offset;
	bool claimed = false;
	pthread_rwlock_rdlock(&bus->map_lock);
	for (unsigned s = 0; s < PCI_SLOTS && !claimed; s++) {
		struct pci_device *dev = bus->slots[s];
		for (unsigned i = 0; dev && i < PCI_NUM_BARS && !claimed; i++) {
			const struct pci_bar *b = &dev->bars[i];
			if (!b->size || b->gpa == PCI_BAR_UNMAPPED || gpa < b->gpa ||
			    gpa - b->gpa >= b->size || size > b->size - (gpa - b->gpa))
				continue;
			pci_bar_access(dev, i, gpa - b->gpa, data, size, is_write);
			claimed = true;
		}
	}
	pthread_rwlock_unlock(&bus->map_lock);
	if (!claimed && !is_write)
		memset(data, 0xff, size);
}

void pci_bar_access(struct pci_device *dev, unsigned bar, uint64_t offset, uint8_t *data,
		    uint32_t size, bool is_write)
{
	const struct pci_bar *b = bar < PCI_NUM_BARS ? &dev->bars[bar] : NULL;
	if (!b || !b->size || offset >= b->size || size > b->size - offset) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	if (pci_msix_bar_access(dev, bar, offset, data, size, is_write))
		return;
	if (b->fn)
		b->fn(b->opaque, offset, data, size, is_write);
	else if (!is_write)
		memset(data, 0xff, size);
}

struct pci_device *pci_device_create(struct pci_bus *bus, const struct pci_device_info *info,
				     struct error *e)
{
	struct pci_device *dev = calloc(1, sizeof(*dev));
	if (!dev) {
		error_set(e, "%s: out of memory", info->name);
		return NULL;
	}
	dev->bus = bus;
	dev->info = *info;
	if (!dev->info.name)
		dev->info.name = "pci device";
	dev->slot = -1;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		dev->bars[i].gpa = PCI_BAR_UNMAPPED;
	pci_config_init_header(dev);
	return dev;
}

static bool power_of_2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pci_device_add_bar(struct pci_device *dev, unsigned bar, uint64_t size, bool is64,
		       io_handler_fn fn, void *opaque, struct error *e)
{
	const char *name = dev->info.name;
	if (dev->slot >= 0)
		return error_set(e, "%s: BAR %u added after plug", name, bar);
	if (bar >= PCI_NUM_BARS || (is64 && bar + 1 >= PCI_NUM_BARS))
		return error_set(e, "%s: there is no BAR %u%s", name, bar, is64 ? " (64-bit)" : "");
	if (dev->bars[bar].size || (is64 && dev->bars[bar + 1].size) ||
	    (bar > 0 && dev->bars[bar - 1].is64))
		return error_set(e, "%s: BAR %u is already in use", name, bar);
	if (!power_of_2(size) || size < PCI_BAR_MIN_SIZE || size >= (1ULL << 32))
		return error_set(e, "%s: BAR %u size 0x%llx is not a power of 2 in 4K-2G", name,
				 bar, (unsigned long long)size);
	dev->bars[bar] = (struct pci_bar){ .size = size, .is64 = is64, .fn = fn, .opaque = opaque,
					   .gpa = PCI_BAR_UNMAPPED };
	pci_config_program_bar(dev, bar, 0);
	return 0;
}

/* Firmware's job: give every BAR a naturally aligned home in the window. Config lock held. */
static int place_bars(struct pci_device *dev, struct error *e)
{
	struct pci_bus *bus = dev->bus;
	uint64_t next = bus->mmio_next;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *b = &dev->bars[i];
		if (!b->size)
			continue;
		uint64_t gpa = (next + b->size - 1) & ~(b->size - 1);
		if (!pci_window_contains(gpa, b->size))
			return error_set(e, "%s: no room for BAR %u (0x%llx bytes) in the PCI window",
					 dev->info.name, i, (unsigned long long)b->size);
		pci_config_program_bar(dev, i, gpa);
		next = gpa + b->size;
	}
	bus->mmio_next = next;
	return 0;
}

int pci_device_plug(struct pci_device *dev, struct error *e)
{
	return pci_device_plug_slot(dev, -1, e);
}

int pci_device_plug_slot(struct pci_device *dev, int want, struct error *e)
{
	struct pci_bus *bus = dev->bus;
	pthread_mutex_lock(&bus->cfg_lock);
	int rc = 0, slot = -1;
	if (want >= 0)
		slot = want < PCI_SLOTS && !bus->slots[want] ? want : -1;
	for (int s = 0; want < 0 && s < PCI_SLOTS && slot < 0; s++)
		if (!bus->slots[s])
			slot = s;
	if (slot < 0 && want >= 0)
		rc = error_set(e, "%s: PCI slot %d is taken or does not exist", dev->info.name, want);
	else if (slot < 0)
		rc = error_set(e, "%s: all %d PCI slots are taken", dev->info.name, PCI_SLOTS);
	else
		rc = place_bars(dev, e);
	if (rc == 0) {
		pthread_rwlock_wrlock(&bus->map_lock);
		bus->slots[slot] = dev;
		dev->slot = slot;
		pthread_rwlock_unlock(&bus->map_lock);
		uint16_t cmd = pci_cfg_read16(dev, PCI_COMMAND) | PCI_COMMAND_MEMORY;
		uint8_t bytes[2] = { (uint8_t)cmd, (uint8_t)(cmd >> 8) };
		pci_config_write(dev, PCI_COMMAND, bytes, 2);
	}
	pthread_mutex_unlock(&bus->cfg_lock);
	return rc;
}

void pci_device_destroy(struct pci_device *dev)
{
	if (!dev)
		return;
	struct pci_bus *bus = dev->bus;
	if (dev->slot >= 0) {
		pthread_mutex_lock(&bus->cfg_lock);
		pthread_rwlock_wrlock(&bus->map_lock);
		bus->slots[dev->slot] = NULL;
		pthread_rwlock_unlock(&bus->map_lock);
		pthread_mutex_unlock(&bus->cfg_lock);
	}
	pci_msix_free(dev);
	free(dev);
}

static int claim_ranges(struct pci_bus *bus, struct error *e)
{
	if (io_bus_add(bus->pio, PCI_CONFIG_PORT, PCI_CONFIG_PORT_LEN, config_port_io, bus,
		       "pci config ports", e) < 0)
		return -1;
	bus->pio_claimed = true;
	if (io_bus_add(bus->mmio, bus->ecam_base, PCI_ECAM_BUSES * PCI_ECAM_BUS_SIZE,
		       ecam_io, bus, "pci ecam", e) < 0)
		return -1;
	bus->ecam_claimed = true;
	if (io_bus_add(bus->mmio, LAYOUT_PCI_MMIO32_START, LAYOUT_PCI_MMIO32_SIZE, window_io, bus,
		       "pci mmio window", e) < 0)
		return -1;
	bus->window_claimed = true;
	return 0;
}

static int plug_host_bridge(struct pci_bus *bus, struct error *e)
{
	struct pci_device_info info = {
		.name = "pci host bridge",
		.vendor_id = PCI_HOST_BRIDGE_VENDOR,
		.device_id = PCI_HOST_BRIDGE_DEVICE,
		.subsystem_vendor_id = PCI_HOST_BRIDGE_VENDOR,
		.subsystem_id = PCI_HOST_BRIDGE_DEVICE,
		.class_code = PCI_CLASS_BRIDGE_HOST << 8,
	};
	bus->host_bridge = pci_device_create(bus, &info, e);
	if (!bus->host_bridge)
		return -1;
	return pci_device_plug(bus->host_bridge, e);
}

struct pci_bus *pci_bus_create(struct io_bus *pio, struct io_bus *mmio, int vm_fd,
			       struct error *e)
{
	return pci_bus_create_ecam(pio, mmio, vm_fd, LAYOUT_PCI_ECAM_START, e);
}

struct pci_bus *pci_bus_create_ecam(struct io_bus *pio, struct io_bus *mmio, int vm_fd,
				    uint64_t ecam_base, struct error *e)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	if (!bus) {
		error_set(e, "PCI: out of memory");
		return NULL;
	}
	bus->pio = pio;
	bus->mmio = mmio;
	bus->ecam_base = ecam_base;
	bus->mmio_next = LAYOUT_PCI_MMIO32_START;
	pthread_mutex_init(&bus->cfg_lock, NULL);
	pthread_rwlock_init(&bus->map_lock, NULL);
	gsi_routes_init(&bus->routes, vm_fd);
	if (claim_ranges(bus, e) < 0 || plug_host_bridge(bus, e) < 0) {
		error_prefix(e, "PCI");
		pci_bus_destroy(bus);
		return NULL;
	}
	return bus;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	if (!bus)
		return;
	pci_device_destroy(bus->host_bridge);
	if (bus->pio_claimed)
		io_bus_remove(bus->pio, PCI_CONFIG_PORT);
	if (bus->ecam_claimed)
		io_bus_remove(bus->mmio, bus->ecam_base);
	if (bus->window_claimed)
		io_bus_remove(bus->mmio, LAYOUT_PCI_MMIO32_START);
	gsi_routes_destroy(&bus->routes);
	pthread_rwlock_destroy(&bus->map_lock);
	pthread_mutex_destroy(&bus->cfg_lock);
	free(bus);
}
