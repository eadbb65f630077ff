/* Shared by virtio_pci.c (device, BAR, kicks, interrupts), virtio_pci_common.c (the common
 * configuration registers and the status state machine) and virtio_pci_state.c (snapshots).
 * Every function here expects vp->lock to be held. */
#ifndef EMBER_VIRTIO_PCI_INTERNAL_H
#define EMBER_VIRTIO_PCI_INTERNAL_H

#include "virtio_pci.h"

/* An access to the common configuration structure at `offset`. */
void virtio_pci_common_io(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t size,
			  bool is_write);

/* Device reset (status written 0, or a failed restore). */
void virtio_pci_reset_locked(struct virtio_pci *vp);

/* The guest broke the protocol or the device failed: DEVICE_NEEDS_RESET, a config interrupt
 * once the driver is up, and one message on stderr per reset cycle. */
void virtio_pci_needs_reset_locked(struct virtio_pci *vp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets `isr_bit` and raises MSI-X `vector` (nothing for VIRTIO_MSI_NO_VECTOR). */
void virtio_pci_interrupt_locked(struct virtio_pci *vp, uint16_t vector, unsigned isr_bit);

/* Makes the device loop look at queue q (as a guest kick would). */
void virtio_pci_kick(struct virtio_pci_queue *q);

/* Is `vector` something the driver may map a queue or the configuration to? */
bool virtio_pci_vector_ok(const struct virtio_pci *vp, uint16_t vector);

#endif
