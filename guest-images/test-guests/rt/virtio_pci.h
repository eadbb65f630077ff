/* A minimal polled virtio-pci (modern, virtio 1.2 section 4.1) driver core for the test guests:
 * finds a function on bus 0 through Ember's ECAM, reads its virtio capabilities, negotiates
 * features and sets up split queues. Every MMIO access is a VM exit and CPL0 is emulated on PVM
 * hosts: these run at CPL0 during setup; data-path loops belong at CPL3 (user_call). */
#ifndef RT_VIRTIO_PCI_H
#define RT_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_ECAM_BASE       0xe0000000ull /* Ember's ECAM (arch/x86/layout.h) */
#define PCI_VENDOR_VIRTIO   0x1af4
#define VIRTIO_NO_VECTOR    0xffff
#define VIRTIO_F_VERSION_1  ((uint64_t)1 << 32)

/* Modern virtio device IDs: 0x1040 + the virtio device type. */
enum {
	VIRTIO_ID_BLK = 0x1042, VIRTIO_ID_CONSOLE = 0x1043, VIRTIO_ID_RNG = 0x1044,
	VIRTIO_ID_BALLOON = 0x1045,
};

/* Device status bits (2.1). */
enum {
	VIRTIO_ACK = 1, VIRTIO_DRIVER = 2, VIRTIO_DRIVER_OK = 4, VIRTIO_FEATURES_OK = 8,
	VIRTIO_NEEDS_RESET = 0x40,
};

/* Common configuration offsets (4.1.4.3). */
enum {
	VIRTIO_DFSELECT = 0, VIRTIO_DF = 4, VIRTIO_GFSELECT = 8, VIRTIO_GF = 12,
	VIRTIO_MSIX_CONFIG = 16, VIRTIO_NUM_QUEUES = 18, VIRTIO_STATUS = 20, VIRTIO_GENERATION = 21,
	VIRTIO_Q_SELECT = 22, VIRTIO_Q_SIZE = 24, VIRTIO_Q_MSIX = 26, VIRTIO_Q_ENABLE = 28,
	VIRTIO_Q_NOTIFY_OFF = 30, VIRTIO_Q_DESC = 32, VIRTIO_Q_DRIVER = 40, VIRTIO_Q_DEVICE = 48,
};

/* Descriptor flags (2.7.5). */
enum { VIRTQ_DESC_F_NEXT = 1, VIRTQ_DESC_F_WRITE = 2, VIRTQ_DESC_F_INDIRECT = 4 };

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* Where one function's structures are (0 if absent). */
struct virtio_pci_dev {
	unsigned slot;
	uint64_t bar;                   /* BAR 0 (64-bit): all structures live in it on Ember */
	uint64_t common, notify, isr, device, msix_table, msix_pba;
	uint32_t notify_mult;
	uint8_t msix_cap, window_cap;   /* config-space offsets: MSI-X, VIRTIO_PCI_CAP_PCI_CFG */
};

/* ECAM address of register `reg` of bus 0, device `slot`, function 0. */
uint64_t pci_cfg_addr(unsigned slot, unsigned reg);
uint8_t pci_cfg_read8(unsigned slot, unsigned reg);
uint16_t pci_cfg_read16(unsigned slot, unsigned reg);
uint32_t pci_cfg_read32(unsigned slot, unsigned reg);

/* Finds the first function on bus 0 (slots 1-31) with this device ID and reads its BAR 0 and
 * capabilities into *d (zeroed first). False if there is none; the caller checks which
 * structures it needs. */
bool virtio_pci_probe(struct virtio_pci_dev *d, uint16_t device_id);
/* Sets MSI-X Enable in the function's MSI-X capability (false if it has none). */
bool virtio_pci_msix_enable(const struct virtio_pci_dev *d);

uint8_t virtio_pci_status(const struct virtio_pci_dev *d);
void virtio_pci_set_status(const struct virtio_pci_dev *d, uint8_t status);
/* The 64 device feature bits; the driver feature bits (both 32-bit words). */
uint64_t virtio_pci_device_features(const struct virtio_pci_dev *d);
void virtio_pci_driver_features(const struct virtio_pci_dev *d, uint64_t features);
/* Reset, ACKNOWLEDGE | DRIVER, then accepts VERSION_1, all of `required` and what the device
 * offers of `optional`, and sets FEATURES_OK. Returns the accepted features, or 0 if the device
 * lacks VERSION_1 or something required, or refuses FEATURES_OK. */
uint64_t virtio_pci_negotiate(const struct virtio_pci_dev *d, uint64_t required, uint64_t optional);
/* Sets DRIVER_OK; true if the device shows ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK. */
bool virtio_pci_driver_ok(const struct virtio_pci_dev *d);

/* Selects queue `index`, gives it `size` entries, MSI-X `vector` and the three rings (each
 * address as two 32-bit halves) and enables it. Returns its notify address, or 0 if the
 * queue is smaller than `size` or the device did not take the vector or the enable. */
uint64_t virtio_pci_queue_setup(const struct virtio_pci_dev *d, uint16_t index, uint16_t size,
				uint16_t vector, const volatile void *desc,
				const volatile void *avail, const volatile void *used);
/* The notify address of queue `index` (selects it). */
uint64_t virtio_pci_notify_addr(const struct virtio_pci_dev *d, uint16_t index);

/* used->idx of a split ring whose used ring is viewed as 32-bit words (flags | idx << 16). */
static inline uint16_t virtq_used_idx(const volatile uint32_t *used)
{
	return (uint16_t)(__atomic_load_n(&used[0], __ATOMIC_ACQUIRE) >> 16);
}

#endif
