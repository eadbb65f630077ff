/* The test guests' virtio-pci core: see virtio_pci.h. */
#include "virtio_pci.h"

#include "rt.h"

#define PCI_CAP_ID_VENDOR 0x09
#define PCI_CAP_ID_MSIX   0x11
#define PCI_MAX_CAPS      32 /* a bound on the capability list walk: the list is the device's */

enum { VIRTIO_CAP_COMMON = 1, VIRTIO_CAP_NOTIFY, VIRTIO_CAP_ISR, VIRTIO_CAP_DEVICE,
       VIRTIO_CAP_PCI_CFG };

uint64_t pci_cfg_addr(unsigned slot, unsigned reg)
{
	return PCI_ECAM_BASE + ((uint64_t)slot << 15) + reg;
}

uint8_t pci_cfg_read8(unsigned slot, unsigned reg)
{
	return mmio_read8(pci_cfg_addr(slot, reg));
}

uint16_t pci_cfg_read16(unsigned slot, unsigned reg)
{
	return mmio_read16(pci_cfg_addr(slot, reg));
}

uint32_t pci_cfg_read32(unsigned slot, unsigned reg)
{
	return mmio_read32(pci_cfg_addr(slot, reg));
}

/* A vendor (virtio) capability at `at`: where its structure is (4.1.4). */
static void read_virtio_cap(struct virtio_pci_dev *d, unsigned at)
{
	unsigned s = d->slot;
	uint64_t where = d->bar + pci_cfg_read32(s, at + 8);
	switch (pci_cfg_read8(s, at + 3)) {
	case VIRTIO_CAP_COMMON: d->common = where; break;
	case VIRTIO_CAP_NOTIFY: d->notify = where; d->notify_mult = pci_cfg_read32(s, at + 16); break;
	case VIRTIO_CAP_ISR: d->isr = where; break;
	case VIRTIO_CAP_DEVICE: d->device = where; break;
	case VIRTIO_CAP_PCI_CFG: d->window_cap = (uint8_t)at; break;
	}
}

bool virtio_pci_probe(struct virtio_pci_dev *d, uint16_t device_id)
{
	unsigned s = 1;
	while (s < 32 && pci_cfg_read32(s, 0) != ((uint32_t)device_id << 16 | PCI_VENDOR_VIRTIO))
		s++;
	if (s == 32)
		return false;
	*d = (struct virtio_pci_dev){ .slot = s };
	d->bar = (pci_cfg_read32(s, 0x10) & ~0xfu) | (uint64_t)pci_cfg_read32(s, 0x14) << 32;
	for (unsigned at = pci_cfg_read8(s, 0x34), n = 0; at && n < PCI_MAX_CAPS;
	     at = pci_cfg_read8(s, at + 1), n++) {
		uint8_t id = pci_cfg_read8(s, at);
		if (id == PCI_CAP_ID_MSIX) { /* table and PBA: BAR 0 on Ember */
			d->msix_cap = (uint8_t)at;
			d->msix_table = d->bar + (pci_cfg_read32(s, at + 4) & ~7u);
			d->msix_pba = d->bar + (pci_cfg_read32(s, at + 8) & ~7u);
		} else if (id == PCI_CAP_ID_VENDOR) {
			read_virtio_cap(d, at);
		}
	}
	return true;
}

bool virtio_pci_msix_enable(const struct virtio_pci_dev *d)
{
	if (!d->msix_cap)
		return false;
	mmio_write16(pci_cfg_addr(d->slot, d->msix_cap + 2u), 0x8000);
	return true;
}

uint8_t virtio_pci_status(const struct virtio_pci_dev *d)
{
	return mmio_read8(d->common + VIRTIO_STATUS);
}

void virtio_pci_set_status(const struct virtio_pci_dev *d, uint8_t status)
{
	mmio_write8(d->common + VIRTIO_STATUS, status);
}

uint64_t virtio_pci_device_features(const struct virtio_pci_dev *d)
{
	uint64_t features = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		mmio_write32(d->common + VIRTIO_DFSELECT, sel);
		features |= (uint64_t)mmio_read32(d->common + VIRTIO_DF) << (32 * sel);
	}
	return features;
}

void virtio_pci_driver_features(const struct virtio_pci_dev *d, uint64_t features)
{
	for (uint32_t sel = 0; sel < 2; sel++) {
		mmio_write32(d->common + VIRTIO_GFSELECT, sel);
		mmio_write32(d->common + VIRTIO_GF, (uint32_t)(features >> (32 * sel)));
	}
}

uint64_t virtio_pci_negotiate(const struct virtio_pci_dev *d, uint64_t required, uint64_t optional)
{
	const uint8_t ok = VIRTIO_ACK | VIRTIO_DRIVER | VIRTIO_FEATURES_OK;
	virtio_pci_set_status(d, 0);
	virtio_pci_set_status(d, VIRTIO_ACK | VIRTIO_DRIVER);
	required |= VIRTIO_F_VERSION_1;
	uint64_t offered = virtio_pci_device_features(d);
	if ((offered & required) != required)
		return 0;
	uint64_t accepted = required | (offered & optional);
	virtio_pci_driver_features(d, accepted);
	virtio_pci_set_status(d, ok);
	return virtio_pci_status(d) == ok ? accepted : 0;
}

bool virtio_pci_driver_ok(const struct virtio_pci_dev *d)
{
	const uint8_t ok = VIRTIO_ACK | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK;
	virtio_pci_set_status(d, ok);
	return virtio_pci_status(d) == ok;
}

uint64_t virtio_pci_notify_addr(const struct virtio_pci_dev *d, uint16_t index)
{
	mmio_write16(d->common + VIRTIO_Q_SELECT, index);
	return d->notify + (uint64_t)mmio_read16(d->common + VIRTIO_Q_NOTIFY_OFF) * d->notify_mult;
}

uint64_t virtio_pci_queue_setup(const struct virtio_pci_dev *d, uint16_t index, uint16_t size,
				uint16_t vector, const volatile void *desc,
				const volatile void *avail, const volatile void *used)
{
	uint64_t c = d->common;
	mmio_write16(c + VIRTIO_Q_SELECT, index);
	if (mmio_read16(c + VIRTIO_Q_SIZE) < size)
		return 0;
	mmio_write16(c + VIRTIO_Q_SIZE, size);
	mmio_write16(c + VIRTIO_Q_MSIX, vector);
	if (mmio_read16(c + VIRTIO_Q_MSIX) != vector)
		return 0;
	uint64_t parts[3] = { (uintptr_t)desc, (uintptr_t)avail, (uintptr_t)used };
	for (unsigned i = 0; i < 3; i++) {
		mmio_write32(c + VIRTIO_Q_DESC + 8 * i, (uint32_t)parts[i]);
		mmio_write32(c + VIRTIO_Q_DESC + 8 * i + 4, (uint32_t)(parts[i] >> 32));
	}
	mmio_write16(c + VIRTIO_Q_ENABLE, 1);
	if (mmio_read16(c + VIRTIO_Q_ENABLE) != 1)
		return 0;
	return d->notify + (uint64_t)mmio_read16(c + VIRTIO_Q_NOTIFY_OFF) * d->notify_mult;
}
