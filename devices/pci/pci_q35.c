/* The Q35 identity for firmware boot: see pci_q35.h. Register offsets: Intel 3 Series Express
 * Chipset Family datasheet (MCH, device 0) and I/O Controller Hub 9 datasheet (LPC, D31:F0). */
#include "pci_q35.h"

#include <string.h>

#include "../../arch/x86/layout.h"

/* MCH (00:00.0) */
#define MCH_PCIEXBAR      0x60 /* 64 bits: base[35:28], length (bits 2:1, 0 = 256 buses), EN */
#define MCH_PCIEXBAR_EN   0x1
/* LPC (00:1f.0) */
#define LPC_PMBASE        0x40 /* bit 0 reads 1 (I/O space) */
#define LPC_ACPI_CNTL     0x44
#define LPC_ACPI_EN       0x80
#define LPC_PIRQA_ROUT    0x60 /* PIRQ A-D routing, 0x68-0x6b E-H */
#define LPC_PIRQE_ROUT    0x68
#define LPC_PIRQ_DISABLED 0x80
#define LPC_RCBA          0xf0 /* root complex base address, bit 0 enable; not decoded */
#define LPC_REVISION      0x02
/* Base class 06 (bridge), subclass 80 (other), not 01 (ISA): OVMF would then bind its ISA/SIO
 * drivers to the function and poll a PS/2 keyboard and a serial console from its timer
 * interrupt, costing exits on every tick for nothing (the guest's console is COM1 itself). */
#define Q35_LPC_CLASS        0x068000

static void put32(struct pci_device *d, unsigned off, uint32_t v, uint32_t wmask)
{
	for (unsigned i = 0; i < 4; i++) {
		d->cfg[off + i] = (uint8_t)(v >> (8 * i));
		d->wmask[off + i] = (uint8_t)(wmask >> (8 * i));
	}
}

/* Before any vCPU runs: the host bridge's registers change without the config lock. */
static void become_mch(struct pci_device *hb)
{
	hb->cfg[PCI_VENDOR_ID] = (uint8_t)Q35_VENDOR_INTEL;
	hb->cfg[PCI_VENDOR_ID + 1] = (uint8_t)(Q35_VENDOR_INTEL >> 8);
	hb->cfg[PCI_DEVICE_ID] = (uint8_t)Q35_MCH_DEVICE_ID;
	hb->cfg[PCI_DEVICE_ID + 1] = (uint8_t)(Q35_MCH_DEVICE_ID >> 8);
	/* PCIEXBAR says where the ECAM decodes. OVMF writes 0xB0000000 | EN; other values are
	 * stored and read back, but the ECAM stays where the bus put it. */
	put32(hb, MCH_PCIEXBAR, (uint32_t)LAYOUT_Q35_ECAM_START | MCH_PCIEXBAR_EN, 0xf0000007);
	put32(hb, MCH_PCIEXBAR + 4, 0, 0x0000000f);
}

static void init_lpc(struct pci_device *lpc)
{
	put32(lpc, LPC_PMBASE, Q35_PMBASE | 1, 0); /* fixed: the PM timer does not move */
	lpc->cfg[LPC_ACPI_CNTL] = LPC_ACPI_EN;       /* read-only, so firmware leaves PMBASE alone */
	for (unsigned i = 0; i < 4; i++) {
		lpc->cfg[LPC_PIRQA_ROUT + i] = LPC_PIRQ_DISABLED;
		lpc->cfg[LPC_PIRQE_ROUT + i] = LPC_PIRQ_DISABLED;
		lpc->wmask[LPC_PIRQA_ROUT + i] = 0x8f; /* stored only: Ember's functions have no INTx */
		lpc->wmask[LPC_PIRQE_ROUT + i] = 0x8f;
	}
	put32(lpc, LPC_RCBA, 0, 0xffffc001);
}

int pci_q35_init(struct pci_bus *bus, struct pci_device **lpc_out, struct error *e)
{
	*lpc_out = NULL;
	if (bus->ecam_base != LAYOUT_Q35_ECAM_START)
		return error_set(e, "Q35: the PCI bus's ECAM is at 0x%llx, not 0x%llx",
				 (unsigned long long)bus->ecam_base,
				 (unsigned long long)LAYOUT_Q35_ECAM_START);
	become_mch(bus->host_bridge);
	struct pci_device_info info = {
		.name = "q35 lpc",
		.vendor_id = Q35_VENDOR_INTEL,
		.device_id = Q35_LPC_DEVICE_ID,
		.revision = LPC_REVISION,
		.class_code = Q35_LPC_CLASS,
	};
	struct pci_device *lpc = pci_device_create(bus, &info, e);
	if (!lpc)
		return -1;
	init_lpc(lpc);
	if (pci_device_plug_slot(lpc, Q35_LPC_SLOT, e) < 0) {
		pci_device_destroy(lpc);
		return -1;
	}
	*lpc_out = lpc;
	return 0;
}
