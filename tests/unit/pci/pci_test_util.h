/* Shared by the PCI unit tests: a bus on private io_buses without KVM, and config/MMIO access as
 * a guest does it (through the bus handlers, not by calling pci_config_* directly). */
#ifndef EMBER_PCI_TEST_UTIL_H
#define EMBER_PCI_TEST_UTIL_H

#include <criterion/criterion.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/pci/pci.h"

struct pci_fixture {
	struct io_bus pio, mmio;
	struct pci_bus *bus;
	struct error e;
};

static inline void pf_setup(struct pci_fixture *f)
{
	memset(f, 0, sizeof(*f));
	io_bus_init(&f->pio, "pio");
	io_bus_init(&f->mmio, "mmio");
	f->bus = pci_bus_create(&f->pio, &f->mmio, -1, &f->e);
	cr_assert_not_null(f->bus, "%s", f->e.msg);
}

static inline void pf_teardown(struct pci_fixture *f)
{
	pci_bus_destroy(f->bus);
	io_bus_destroy(&f->pio);
	io_bus_destroy(&f->mmio);
}

static inline uint64_t pf_mmio_read(struct pci_fixture *f, uint64_t gpa, uint32_t size)
{
	uint64_t v = 0;
	io_bus_dispatch(&f->mmio, gpa, (uint8_t *)&v, size, false);
	return v;
}

static inline void pf_mmio_write(struct pci_fixture *f, uint64_t gpa, uint64_t v, uint32_t size)
{
	io_bus_dispatch(&f->mmio, gpa, (uint8_t *)&v, size, true);
}

static inline uint64_t pf_ecam_addr(unsigned slot, unsigned fn, unsigned reg)
{
	return LAYOUT_PCI_ECAM_START + ((uint64_t)slot << 15) + ((uint64_t)fn << 12) + reg;
}

static inline uint32_t pf_ecam_read(struct pci_fixture *f, unsigned slot, unsigned reg,
				    uint32_t size)
{
	return (uint32_t)pf_mmio_read(f, pf_ecam_addr(slot, 0, reg), size);
}

static inline void pf_ecam_write(struct pci_fixture *f, unsigned slot, unsigned reg, uint32_t v,
				 uint32_t size)
{
	pf_mmio_write(f, pf_ecam_addr(slot, 0, reg), v, size);
}

/* Mechanism #1: latch the address at 0xcf8, then access 0xcfc + (reg & 3). */
static inline uint32_t pf_cf8_read(struct pci_fixture *f, unsigned slot, unsigned reg,
				   uint32_t size)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc), v = 0;
	io_bus_dispatch(&f->pio, 0xcf8, (uint8_t *)&addr, 4, true);
	io_bus_dispatch(&f->pio, 0xcfc + (reg & 3), (uint8_t *)&v, size, false);
	return v;
}

static inline void pf_cf8_write(struct pci_fixture *f, unsigned slot, unsigned reg, uint32_t v,
				uint32_t size)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc);
	io_bus_dispatch(&f->pio, 0xcf8, (uint8_t *)&addr, 4, true);
	io_bus_dispatch(&f->pio, 0xcfc + (reg & 3), (uint8_t *)&v, size, true);
}

#endif
