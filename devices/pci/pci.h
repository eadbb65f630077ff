/* Ember's PCI: one host bridge, bus 0 only, conventional (256-byte) configuration space.
 *
 * The guest reaches configuration space two ways, both handled here: the PC's mechanism #1
 * (address latch at port 0xCF8, data at 0xCFC-0xCFF) and ECAM (memory-mapped, at
 * LAYOUT_PCI_ECAM_START; the MCFG table and the DSDT's PCI0 describe it). Slot 0 holds a host
 * bridge function so that OSes which sanity-check mechanism #1 find one.
 *
 * BARs are 32- or 64-bit memory BARs. Ember places them when a device is plugged, inside the
 * 32-bit window [LAYOUT_PCI_MMIO32_START, +LAYOUT_PCI_MMIO32_SIZE), and the guest may move them
 * (sizing, reprogramming). The bus claims the whole window on the MMIO bus once and routes each
 * access to the BAR that decodes it, so a BAR move only changes the bus's own table: no
 * io_bus_add/remove from inside an io_bus handler (which would deadlock on the bus lock). A BAR
 * the guest places outside the window, or whose decoding is off (command register), answers
 * nothing — as on hardware, where the root complex only forwards its windows.
 *
 * Interrupts are MSI-X only (no INTx: Interrupt Pin is 0). Each vector has an eventfd bound to a
 * KVM GSI with KVM_IRQFD, and the GSI is routed to the vector's message with KVM_SET_GSI_ROUTING;
 * a device raises a vector from any thread by signalling the eventfd (pci_msix_notify), and the
 * interrupt never passes through a vCPU thread. Masking unbinds the irqfd; the eventfd keeps
 * counting, and rebinding on unmask delivers the pending message.
 *
 * Locks, in the order they nest: the bus's config lock (all configuration-space state, the
 * 0xCF8 latch, BAR programming) -> the bus's map lock (rwlock: where BARs decode; readers are
 * the MMIO-window accesses) -> a device's MSI-X lock -> the GSI routing lock. Device callbacks
 * (bar_moved, config_hook, BAR handlers) may take the device's own lock but must not call back
 * into functions that take the config or map lock. */
#ifndef EMBER_PCI_H
#define EMBER_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"
#include "../../vmm/io_bus.h"
#include "gsi_routes.h"

#define PCI_SLOTS            32
#define PCI_NUM_BARS         6
#define PCI_CONFIG_SIZE      256          /* conventional configuration space */
#define PCI_ECAM_BUSES       1            /* bus 0 only; MCFG and _CRS say so */
#define PCI_ECAM_BUS_SIZE    (1ULL << 20) /* 32 devices x 8 functions x 4 KiB */
#define PCI_CONFIG_PORT      0xcf8        /* 0xcf8: address latch, 0xcfc-0xcff: data */
#define PCI_CONFIG_PORT_LEN  8
#define PCI_BAR_UNMAPPED     UINT64_MAX
#define PCI_BAR_MIN_SIZE     4096ULL      /* BARs own whole pages */
#define PCI_FIRST_CAPABILITY 0x40         /* capabilities go after the type 0 header */
#define PCI_MSIX_MAX_VECTORS 2048         /* the MSI-X table size field's limit */

/* Ember has no PCI vendor ID of its own. The host bridge uses 1b36:0008, the ID Red Hat assigned
 * to a generic virtual PCIe host bridge, which no OS driver binds and no quirk matches. */
#define PCI_HOST_BRIDGE_VENDOR 0x1b36
#define PCI_HOST_BRIDGE_DEVICE 0x0008
/* Base class 06 (bridge), subclass 00 (host bridge); not in the uapi headers. */
#ifndef PCI_CLASS_BRIDGE_HOST
#define PCI_CLASS_BRIDGE_HOST  0x0600
#endif

struct pci_bus;
struct pci_msix;

/* What a device tells the bus about itself (copied at pci_device_create). */
struct pci_device_info {
	const char *name;                  /* for messages: "virtio-rng" */
	uint16_t vendor_id, device_id;
	uint16_t subsystem_vendor_id, subsystem_id;
	uint8_t revision;
	uint32_t class_code;               /* base class << 16 | subclass << 8 | prog-if */
	void *opaque;                      /* passed to the callbacks */
	/* BAR `bar` now decodes at gpa, or stopped decoding (PCI_BAR_UNMAPPED). Runs with the
	 * config lock held (on a vCPU thread, or in pci_device_plug). Optional. */
	void (*bar_moved)(void *opaque, unsigned bar, uint64_t gpa);
	/* Configuration accesses overlapping [hook_start, hook_end) (pci_device_set_config_hook),
	 * after the generic handling: a read may replace data[0..size). Config lock held. */
	void (*config_hook)(void *opaque, uint32_t offset, uint8_t *data, uint32_t size,
			    bool is_write);
};

struct pci_bar {
	uint64_t size;        /* 0: not implemented; else a power of 2 >= PCI_BAR_MIN_SIZE */
	bool is64;            /* 64-bit memory BAR: also uses the next BAR register */
	io_handler_fn fn;     /* accesses, offset relative to the BAR's base */
	void *opaque;
	uint64_t gpa;         /* where it decodes now (map lock), or PCI_BAR_UNMAPPED */
};

struct pci_device {
	struct pci_bus *bus;
	struct pci_device_info info;
	int slot;                          /* -1 until plugged */
	uint8_t cfg[PCI_CONFIG_SIZE];      /* what the guest reads */
	uint8_t wmask[PCI_CONFIG_SIZE];    /* bits the guest may change */
	uint16_t cap_next;                 /* where the next capability goes */
	uint8_t cap_last;                  /* offset of the last capability, 0: none yet */
	uint16_t hook_start, hook_end;     /* config_hook range, empty when equal */
	struct pci_bar bars[PCI_NUM_BARS];
	struct pci_msix *msix;             /* NULL without MSI-X */
};

struct pci_bus {
	struct io_bus *pio, *mmio;
	pthread_mutex_t cfg_lock;
	pthread_rwlock_t map_lock;
	uint32_t config_address;           /* the 0xCF8 latch */
	struct pci_device *slots[PCI_SLOTS];
	uint64_t mmio_next;                /* bump allocator for BAR placement at plug */
	struct gsi_routes routes;
	struct pci_device *host_bridge;
	uint64_t ecam_base;                /* LAYOUT_PCI_ECAM_START unless created elsewhere */
	bool pio_claimed, ecam_claimed, window_claimed;
};

/* ---- The bus ---- */

/* Claims 0xCF8-0xCFF on pio, the ECAM and the 32-bit BAR window on mmio, and plugs the host
 * bridge into slot 0. vm_fd -1: no KVM (unit tests); routes and irqfds are then only recorded. */
struct pci_bus *pci_bus_create(struct io_bus *pio, struct io_bus *mmio, int vm_fd,
			       struct error *e);
/* The same with the ECAM at ecam_base (firmware boot: where OVMF's Q35 code programs PCIEXBAR;
 * see pci_q35.h). */
struct pci_bus *pci_bus_create_ecam(struct io_bus *pio, struct io_bus *mmio, int vm_fd,
				    uint64_t ecam_base, struct error *e);
/* Releases the bus; destroy every other device first. */
void pci_bus_destroy(struct pci_bus *bus);

/* ---- Devices: create, add BARs / capabilities / MSI-X, plug; destroy ---- */

struct pci_device *pci_device_create(struct pci_bus *bus, const struct pci_device_info *info,
				     struct error *e);
/* A memory BAR of `size` bytes (power of 2, >= 4 KiB, < 4 GiB); a 64-bit BAR also takes register
 * bar+1. Accesses go to fn(opaque, offset, ...), except MSI-X table/PBA ranges. Before plug. */
int pci_device_add_bar(struct pci_device *dev, unsigned bar, uint64_t size, bool is64,
		       io_handler_fn fn, void *opaque, struct error *e);
/* Appends a capability: body[0] is its ID, body[1] (next pointer) is filled in. `wmask`, if not
 * NULL, has `len` bytes of guest-writable bits. Returns its config offset in *offset. */
int pci_device_add_capability(struct pci_device *dev, const uint8_t *body, uint8_t len,
			      const uint8_t *wmask, uint8_t *offset, struct error *e);
/* Sends config accesses overlapping [start, end) to info.config_hook as well. */
void pci_device_set_config_hook(struct pci_device *dev, uint16_t start, uint16_t end);
/* MSI-X with `nvectors` vectors, its table at table_offset and PBA at pba_offset of BAR `bar`
 * (both 8-byte aligned, inside the BAR, not overlapping). Allocates a GSI and eventfd per vector. */
int pci_msix_add(struct pci_device *dev, unsigned bar, uint32_t table_offset,
		 uint32_t pba_offset, unsigned nvectors, struct error *e);
/* Makes the device visible in the first free slot, places its BARs in the window and turns on
 * memory decoding (as firmware would); bar_moved reports the placements. */
int pci_device_plug(struct pci_device *dev, struct error *e);
/* The same in slot `slot` (0-31), which must be free; -1 picks the first free one. */
int pci_device_plug_slot(struct pci_device *dev, int slot, struct error *e);
/* Unplugs (if plugged) and frees; the device's own users must be gone (vCPUs stopped). */
void pci_device_destroy(struct pci_device *dev);

/* ---- Interrupts ---- */

/* Raises MSI-X vector `vector` (ignored when out of range). Any thread, no locks: signals the
 * vector's eventfd; when the vector cannot deliver (masked, MSI-X off, no valid message) the
 * message is pending (PBA) and arrives once it can. */
void pci_msix_notify(struct pci_device *dev, unsigned vector);
unsigned pci_msix_vectors(const struct pci_device *dev);

/* ---- Access paths (used by the bus handlers; exposed for tests and device-side windows) ---- */

/* Configuration read/write as the guest does it. Offsets >= 256 (ECAM extended space) read as
 * zero and ignore writes; a size other than 1/2/4 or a misaligned access reads as all-ones and
 * writes nothing. Call with bus->cfg_lock held. */
void pci_config_read(struct pci_device *dev, uint32_t offset, uint8_t *data, uint32_t size);
void pci_config_write(struct pci_device *dev, uint32_t offset, const uint8_t *data,
		      uint32_t size);
/* An access at `offset` inside BAR `bar`: the MSI-X table/PBA when it falls there, else the
 * device's handler. Offsets outside the BAR read all-ones. No bus lock needed. */
void pci_bar_access(struct pci_device *dev, unsigned bar, uint64_t offset, uint8_t *data,
		    uint32_t size, bool is_write);

/* Config-space field helpers (little-endian). */
static inline uint16_t pci_cfg_read16(const struct pci_device *d, unsigned off)
{
	return (uint16_t)(d->cfg[off] | d->cfg[off + 1] << 8);
}
static inline uint32_t pci_cfg_read32(const struct pci_device *d, unsigned off)
{
	return (uint32_t)pci_cfg_read16(d, off) | (uint32_t)pci_cfg_read16(d, off + 2) << 16;
}

#endif
