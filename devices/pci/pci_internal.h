/* Shared between pci.c (bus, slots, access mechanisms), pci_config.c (configuration-space
 * semantics, BAR decoding) and pci_msix.c. Not for devices: they use pci.h. */
#ifndef EMBER_PCI_INTERNAL_H
#define EMBER_PCI_INTERNAL_H

#include "pci.h"

/* One MSI-X table entry and its delivery path. */
struct pci_msix_vector {
	uint32_t address_lo, address_hi, data, control; /* as the guest wrote them */
	uint32_t gsi;                  /* routed to the message while the vector can deliver */
	int fd;                        /* eventfd the device signals */
	bool bound;                    /* fd is bound to gsi with KVM_IRQFD */
	atomic_bool live;              /* bound and routed: a notify is delivered right away */
};

struct pci_msix {
	pthread_mutex_t lock;          /* the table, the bindings */
	unsigned nvectors;
	unsigned bar;
	uint32_t table_offset, pba_offset;
	uint8_t cap;                   /* config offset of the capability */
	bool enabled, masked;          /* message control as last applied */
	bool error_reported;           /* one message per device about KVM refusing a route */
	_Atomic uint64_t *pending;     /* the PBA: one bit per vector */
	struct pci_msix_vector *v;
};

/* Type 0 header: IDs, class, capability list pointer, and the guest-writable bits of the
 * command register, cache line size, latency timer and interrupt line. */
void pci_config_init_header(struct pci_device *dev);

/* Writes BAR register(s) of `bar` so that it points at gpa (host side, no decode update). */
void pci_config_program_bar(struct pci_device *dev, unsigned bar, uint64_t gpa);

/* Recomputes where each BAR decodes (command register + BAR registers + the window), updates
 * the map under the map lock and tells the device through bar_moved. Config lock held. */
void pci_config_update_bars(struct pci_device *dev);

/* Is [gpa, gpa+size) inside the bus's 32-bit BAR window? */
bool pci_window_contains(uint64_t gpa, uint64_t size);

/* MSI-X: the message control register was written (enable / function mask). Config lock held. */
void pci_msix_control_written(struct pci_device *dev);
/* Handles the access if it falls in the MSI-X table or PBA of BAR `bar`; false otherwise. */
bool pci_msix_bar_access(struct pci_device *dev, unsigned bar, uint64_t offset, uint8_t *data,
			 uint32_t size, bool is_write);
void pci_msix_free(struct pci_device *dev);

#endif
