/* The VM's KVM GSI routing table and irqfd bindings, shared by every MSI-X function.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so one copy holds everything: the in-kernel
 * irqchip's default routes (GSIs 0-23 to IOAPIC pins, 0-15 also to the two PICs; KVM installs
 * the same set at KVM_CREATE_IRQCHIP, and legacy devices keep using them through KVM_IRQ_LINE)
 * plus one MSI route per GSI handed out by gsi_routes_alloc. A vm_fd of -1 keeps all the state
 * but issues no ioctls (unit tests). Thread-safe: one mutex, taken last (a leaf lock). */
#ifndef EMBER_PCI_GSI_ROUTES_H
#define EMBER_PCI_GSI_ROUTES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"

#define GSI_ROUTES_IRQCHIP_PINS 24   /* IOAPIC pins; GSIs below this are the irqchip's */
#define GSI_ROUTES_PIC_PINS     16   /* of those, the ones the two 8259s also see */
#define GSI_ROUTES_MAX_MSI      1024 /* far below KVM_MAX_IRQ_ROUTES (4096) */

struct gsi_msi_route {
	bool valid;
	uint32_t address_lo, address_hi, data;
};

struct gsi_routes {
	int vm_fd;
	pthread_mutex_t lock;
	uint32_t nmsi;                  /* GSIs handed out: 24 .. 24+nmsi-1 */
	struct gsi_msi_route msi[GSI_ROUTES_MAX_MSI];
	uint64_t commits;               /* tables sent to KVM (or that would have been) */
	uint64_t messages_sent;         /* gsi_routes_send_msi calls (made or, vm_fd -1, not) */
};

void gsi_routes_init(struct gsi_routes *r, int vm_fd);
void gsi_routes_destroy(struct gsi_routes *r);

/* A fresh GSI for an MSI vector (no route yet: an irqfd bound to it delivers nothing). */
int gsi_routes_alloc(struct gsi_routes *r, uint32_t *gsi, struct error *e);

/* Routes `gsi` to the MSI message (address, data) and commits the table; a no-op when the route
 * already says exactly that. The caller validated the message. */
int gsi_routes_set_msi(struct gsi_routes *r, uint32_t gsi, uint32_t address_lo,
		       uint32_t address_hi, uint32_t data, struct error *e);
/* Drops the route of `gsi` (commits when it had one). */
int gsi_routes_clear(struct gsi_routes *r, uint32_t gsi, struct error *e);

/* KVM_IRQFD: binds (assign) or unbinds eventfd `fd` and `gsi`. A signal already in fd when it is
 * bound is delivered too, but later, from a kernel worker (see pci_msix.c's vector_apply). */
int gsi_routes_irqfd(struct gsi_routes *r, int fd, uint32_t gsi, bool assign, struct error *e);

/* KVM_SIGNAL_MSI: delivers one MSI message now, in the calling thread. */
int gsi_routes_send_msi(struct gsi_routes *r, uint32_t address_lo, uint32_t address_hi,
			uint32_t data, struct error *e);

#endif
