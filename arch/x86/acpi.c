/* Builds Ember's ACPI tables (ACPI 6.3) in the guest's legacy BIOS area:
 *
 *   LAYOUT_ACPI_START: RSDP -> XSDT -> { FADT -> DSDT, MADT }
 *
 * or, for a guest that boots through firmware, into host buffers that fw_cfg serves with a QEMU
 * linker/loader script (acpi_build_blobs): the pointers then hold offsets into the tables blob,
 * and every pointer and checksum is listed so that the script can fix them up where the firmware
 * puts the blob.
 *
 * The platform is "hardware-reduced" (ACPI 6.3 section 4.1): no PM1/GPE blocks, no SCI, no FACS.
 * Power-off goes through the FADT sleep control register, which devices/legacy/acpi_sleep.c
 * implements. Tables are packed one after another, 16-byte aligned, and each is checksummed. */
#include "acpi.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "acpi_loader.h"
#include "acpi_tables.h"
#include "aml.h"
#include "layout.h"

#define ACPI_OEM_ID            "EMBER "
#define ACPI_OEM_TABLE_ID      "EMBERVM "
#define ACPI_CREATOR_ID        "EMBR"
#define ACPI_OEM_REVISION      1
#define ACPI_CREATOR_REVISION  1
/* 5.2.9 Hypervisor Vendor Identity: 8 bytes, all significant. */
#define ACPI_HYPERVISOR_ID     "EMBERVMM"

/* Table revisions of ACPI 6.3. */
#define ACPI_RSDP_REVISION     2
#define ACPI_XSDT_REVISION     1
#define ACPI_FADT_REVISION     6
#define ACPI_FADT_MINOR        3
#define ACPI_MADT_REVISION     5
#define ACPI_DSDT_REVISION     2 /* 2+: AML integers are 64 bits wide */
#define ACPI_MCFG_REVISION     1

/* PCI configuration mechanism #1 ports and ECAM geometry (devices/pci/pci.h uses the same). */
#define ACPI_PCI_CONFIG_PORT     0xcf8
#define ACPI_PCI_CONFIG_PORT_LEN 8
#define ACPI_PCI_ECAM_BUS_SIZE   (1ULL << 20)

#define ACPI_MAX_CPUS          1024
#define ACPI_TABLE_ALIGN       16
/* MADT processor uid meaning "every processor" in the Local (x2)APIC NMI structures. */
#define ACPI_UID_ALL_XAPIC     0xff
#define ACPI_UID_ALL_X2APIC    0xffffffffu
/* xAPIC ids stop at 254 (255 is broadcast); larger ids need Local x2APIC structures (5.2.12.12). */
#define ACPI_XAPIC_MAX_ID      254
#define ACPI_X2APIC_BROADCAST  0xffffffffu
/* _STA: present, enabled, shown in UI, functioning. */
#define ACPI_STA_ALL           0x0f
/* The PIT's ISA IRQ 0 arrives on IOAPIC pin 2 (KVM's in-kernel IOAPIC routes it there). */
#define ACPI_PIT_IRQ           0
#define ACPI_PIT_GSI           2
#define ACPI_KBD_IRQ           1
#define ACPI_NMI_LINT          1

/* Worst case: every vCPU needs a 16-byte x2APIC entry. Everything else stays far below 8 KiB. */
#define ACPI_MADT_MAX_SIZE                                                                       \
	(sizeof(struct acpi_madt) + ACPI_MAX_CPUS * sizeof(struct acpi_madt_local_x2apic) +      \
	 sizeof(struct acpi_madt_io_apic) + sizeof(struct acpi_madt_int_override) +             \
	 sizeof(struct acpi_madt_local_apic_nmi) + sizeof(struct acpi_madt_local_x2apic_nmi))
_Static_assert(ACPI_MADT_MAX_SIZE + 8192 <= LAYOUT_ACPI_SIZE, "ACPI area too small for the vCPUs");

/* Where the tables' pointers and checksums are (blob mode), as offsets from the area's start.
 * Ember's tables have at most 5 of each; the arrays are sized with room to spare. */
#define ACPI_MAX_FIXUPS 16
struct acpi_pointer_fixup {
	uint32_t offset;
	uint8_t size;
};
struct acpi_checksum_fixup {
	uint32_t offset, start, length;
};
struct acpi_fixups {
	struct acpi_pointer_fixup ptr[ACPI_MAX_FIXUPS];
	struct acpi_checksum_fixup sum[ACPI_MAX_FIXUPS];
	unsigned nptr, nsum;
};

/* A bump allocator over the ACPI area: guest RAM at LAYOUT_ACPI_START (checked to be in RAM), or
 * a host buffer whose addresses start at 0 (blob mode, fix != NULL). */
struct acpi_area {
	uint8_t *host;   /* host address of `base` */
	uint64_t base;   /* the address tables are built for */
	uint64_t used;   /* bytes handed out */
	struct acpi_fixups *fix; /* blob mode: pointers and checksums to list */
};

/* Blob mode: the `size`-byte pointer field at address `at` holds a table address. */
static void acpi_note_pointer(struct acpi_area *ar, uint64_t at, uint8_t size)
{
	if (ar->fix && ar->fix->nptr < ACPI_MAX_FIXUPS)
		ar->fix->ptr[ar->fix->nptr++] = (struct acpi_pointer_fixup){
			.offset = (uint32_t)(at - ar->base), .size = size };
}

static void *acpi_alloc(struct acpi_area *ar, uint64_t size, const char *what, uint64_t *gpa,
			struct error *e)
{
	uint64_t at = (ar->used + ACPI_TABLE_ALIGN - 1) & ~(uint64_t)(ACPI_TABLE_ALIGN - 1);
	if (at > LAYOUT_ACPI_SIZE || size > LAYOUT_ACPI_SIZE - at) {
		error_set(e, "ACPI: the %s (%llu bytes) does not fit in the %llu KiB ACPI area", what,
			  (unsigned long long)size, (unsigned long long)(LAYOUT_ACPI_SIZE >> 10));
		return NULL;
	}
	/* Zero the padding and the table: callers fill only the fields they set, and a rebuild
	 * (reset) must leave no stale bytes in what the tables cover. Only what is used is touched:
	 * the rest of the area stays untouched (never-faulted) guest memory. */
	memset(ar->host + ar->used, 0, at + size - ar->used);
	ar->used = at + size;
	*gpa = ar->base + at;
	return ar->host + at;
}

/* A rebuild (reset) must leave no stale bytes from larger earlier tables. Only pages that hold
 * something are written: on a fresh VM the tail was never touched, and reading it maps the
 * shared zero page instead of costing the VM 128 KiB of private memory. */
static void acpi_clear_tail(struct acpi_area *ar)
{
	const uint64_t chunk = 4096;
	for (uint64_t at = ar->used; at < LAYOUT_ACPI_SIZE;) {
		uint64_t end = (at / chunk + 1) * chunk;
		if (end > LAYOUT_ACPI_SIZE)
			end = LAYOUT_ACPI_SIZE;
		uint8_t *p = ar->host + at;
		uint64_t len = end - at;
		if (p[0] != 0 || memcmp(p, p + 1, len - 1) != 0)
			memset(p, 0, len);
		at = end;
	}
}

static uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char signature[4], uint32_t length,
			     uint8_t revision)
{
	memcpy(h->signature, signature, sizeof(h->signature));
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Call last, once the whole table (at address gpa) is written. In blob mode the checksum is left
 * zero and listed: the firmware computes it once the pointers are final. */
static void acpi_header_seal(struct acpi_area *ar, struct acpi_header *h, uint64_t gpa)
{
	h->checksum = 0;
	if (!ar->fix) {
		h->checksum = acpi_checksum(h, h->length);
	} else if (ar->fix->nsum < ACPI_MAX_FIXUPS) {
		uint32_t start = (uint32_t)(gpa - ar->base);
		ar->fix->sum[ar->fix->nsum++] = (struct acpi_checksum_fixup){
			.offset = start + (uint32_t)offsetof(struct acpi_header, checksum),
			.start = start, .length = h->length };
	}
}

static uint64_t acpi_ecam_base(const struct acpi_config *cfg)
{
	return cfg->ecam_base ? cfg->ecam_base : LAYOUT_PCI_ECAM_START;
}

/* --- DSDT --- */

/* An ISA device at fixed ports with one edge-triggered IRQ, as PC firmware describes them. */
struct acpi_isa_device {
	const char *name;
	const char *hid;
	struct { uint16_t base; uint8_t len; } ports[2]; /* len 0: unused */
	unsigned irq;
};

#define ACPI_NO_IRQ 0xffffffffu

static const struct acpi_isa_device acpi_isa_devices[] = {
	{ "COM1", "PNP0501", { { PORT_COM1, 8 } }, IRQ_COM1 },
	/* No IRQ: Ember's RTC raises no interrupts, and Linux's rtc-cmos runs without one rather
	 * than waiting for update interrupts that never come. */
	{ "RTC", "PNP0B00", { { PORT_RTC, 2 } }, ACPI_NO_IRQ },
	/* Linux's i8042 driver finds the controller through this PNP0303 keyboard node. No PS/2 mouse
	 * (PNP0F13) node: the driver then skips probing the AUX port, which only costs boot time. */
	{ "PS2K", "PNP0303", { { PORT_I8042_DATA, 1 }, { PORT_I8042_CMD, 1 } }, ACPI_KBD_IRQ },
};

static void acpi_dsdt_isa_device(struct aml *a, const struct acpi_isa_device *d)
{
	struct aml_block dev = aml_device(a, d->name);
	aml_name_eisaid(a, "_HID", d->hid);
	aml_name_integer(a, "_UID", 0);
	aml_method_return_integer(a, "_STA", ACPI_STA_ALL);
	aml_name(a, "_CRS");
	struct aml_block crs = aml_resource_template(a);
	for (size_t i = 0; i < sizeof(d->ports) / sizeof(d->ports[0]) && d->ports[i].len; i++)
		aml_res_io_fixed(a, d->ports[i].base, d->ports[i].len);
	if (d->irq != ACPI_NO_IRQ)
		aml_res_irq_noflags(a, d->irq);
	aml_end(a, crs);
	aml_end(a, dev);
}

/* PCI Firmware 3.2, 4.1.2 / ACPI 6.3, 6.1: the root bridge and its windows. Bus numbers, the I/O
 * space minus the 0xCF8-0xCFF configuration ports (which the bridge itself consumes), and the
 * 32-bit window where BARs live. No _PRT: Ember's PCI functions have no INTx, only MSI-X. No
 * _OSC: the OS then keeps its hands off PCIe native services, which Ember has none of. */
static void acpi_dsdt_pci_root(struct aml *a, const struct acpi_config *cfg)
{
	struct aml_block dev = aml_device(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08"); /* PCI Express root bridge */
	aml_name_eisaid(a, "_CID", "PNP0A03"); /* PCI root bridge */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name_integer(a, "_UID", 0);
	aml_method_return_integer(a, "_STA", ACPI_STA_ALL);
	aml_name(a, "_CRS");
	struct aml_block crs = aml_resource_template(a);
	aml_res_word_bus_number(a, 0, (uint16_t)(cfg->pci_buses - 1));
	aml_res_io(a, ACPI_PCI_CONFIG_PORT, ACPI_PCI_CONFIG_PORT, 1, ACPI_PCI_CONFIG_PORT_LEN);
	aml_res_word_io(a, 0x0000, ACPI_PCI_CONFIG_PORT - 1);
	aml_res_word_io(a, ACPI_PCI_CONFIG_PORT + ACPI_PCI_CONFIG_PORT_LEN, 0xffff);
	aml_res_dword_memory(a, AML_MEM_NONCACHEABLE, true, (uint32_t)LAYOUT_PCI_MMIO32_START,
			     (uint32_t)(LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE - 1));
	aml_end(a, crs);
	aml_end(a, dev);

	/* PCI Firmware 3.2, 4.1.2: the ECAM must be reserved by a motherboard resource; Linux
	 * ignores the MCFG unless it finds one (it does not look at e820 for guests like this). */
	struct aml_block res = aml_device(a, "ECAM");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	crs = aml_resource_template(a);
	aml_res_memory32_fixed(a, true, (uint32_t)acpi_ecam_base(cfg),
			       (uint32_t)(cfg->pci_buses * ACPI_PCI_ECAM_BUS_SIZE));
	aml_end(a, crs);
	aml_end(a, res);
}

/* The DSDT body (everything after the table header). Later devices add their Device() objects
 * inside the \_SB scope here. */
static int acpi_dsdt_body(struct aml *a, const struct acpi_config *cfg, struct error *e)
{
	struct aml_block sb = aml_scope(a, "\\_SB");
	for (size_t i = 0; i < sizeof(acpi_isa_devices) / sizeof(acpi_isa_devices[0]); i++)
		acpi_dsdt_isa_device(a, &acpi_isa_devices[i]);
	if (cfg->pci_buses)
		acpi_dsdt_pci_root(a, cfg);
	aml_end(a, sb);

	/* 7.4.2.5 \_S5: {SLP_TYPa, SLP_TYPb}. In HW-reduced mode OSPM writes SLP_TYPa with SLP_EN
	 * to SLEEP_CONTROL_REG; SLP_TYPb is unused. */
	aml_name(a, "\\_S5");
	struct aml_block pkg = aml_package(a, 2);
	aml_integer(a, ACPI_S5_SLEEP_TYPE);
	aml_integer(a, 0);
	aml_end(a, pkg);
	return aml_check(a, e);
}

static int acpi_build_dsdt(struct acpi_area *ar, const struct acpi_config *cfg, uint64_t *gpa,
			   struct error *e)
{
	struct aml a;
	aml_init(&a);
	if (acpi_dsdt_body(&a, cfg, e) < 0) {
		aml_release(&a);
		return error_prefix(e, "ACPI: DSDT");
	}
	uint64_t size = sizeof(struct acpi_header) + a.len;
	struct acpi_header *h = acpi_alloc(ar, size, "DSDT", gpa, e);
	if (h) {
		acpi_header_init(h, "DSDT", (uint32_t)size, ACPI_DSDT_REVISION);
		memcpy(h + 1, a.data, a.len);
		acpi_header_seal(ar, h, *gpa);
	}
	aml_release(&a);
	return h ? 0 : -1;
}

/* --- FADT --- */

static struct acpi_gas acpi_gas_io8(uint16_t port)
{
	return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO, .bit_width = 8, .bit_offset = 0,
				  .access_size = ACPI_GAS_ACCESS_BYTE, .address = port };
}

static int acpi_build_fadt(struct acpi_area *ar, uint64_t dsdt_gpa, uint64_t *gpa, struct error *e)
{
	struct acpi_fadt *f = acpi_alloc(ar, sizeof(*f), "FADT", gpa, e);
	if (!f)
		return -1;
	acpi_header_init(&f->header, "FACP", sizeof(*f), ACPI_FADT_REVISION);
	f->minor_version = ACPI_FADT_MINOR;
	/* No FACS: allowed when HW_REDUCED_ACPI is set (both FIRMWARE_CTRL fields zero). */
	f->dsdt = (uint32_t)dsdt_gpa;  /* the area is below 1 MiB; both pointers agree */
	f->x_dsdt = dsdt_gpa;
	acpi_note_pointer(ar, *gpa + offsetof(struct acpi_fadt, dsdt), sizeof(f->dsdt));
	acpi_note_pointer(ar, *gpa + offsetof(struct acpi_fadt, x_dsdt), sizeof(f->x_dsdt));
	/* Preferred_PM_Profile 0 (unspecified): a VM is neither desktop nor server hardware, and a
	 * profile would make guests guess at power policy. SCI_INT, SMI_CMD and every PM1/PM2/PM_TMR/GPE
	 * block stay zero: a HW-reduced platform has none of them. */

	/* IA-PC boot architecture flags (5.2.9.3):
	 *  - LEGACY_DEVICES clear: every ISA-style device (COM1, RTC, i8042) is in the DSDT, so the
	 *    OS needs no other enumeration (and 32-bit Linux skips probing a PnP BIOS that isn't there).
	 *  - 8042 set: Ember emulates an i8042 (keyboard port and the 0xFE reset line); with this bit
	 *    clear Linux treats the controller as absent.
	 *  - VGA Not Present set: there is no VGA; keeps the OS from poking legacy VGA ranges.
	 *  - MSI Not Supported clear: KVM delivers MSIs, and virtio-pci will depend on MSI-X.
	 *  - PCIe ASPM Controls set: no physical links, so OSPM must leave ASPM alone.
	 *  - CMOS RTC Not Present clear: the MC146818 RTC at port 0x70 is emulated. */
	f->iapc_boot_arch = ACPI_FADT_BOOT_8042 | ACPI_FADT_BOOT_NO_VGA | ACPI_FADT_BOOT_NO_ASPM;
	f->century = 0x32; /* Ember's RTC keeps the century (BCD) in CMOS register 0x32 */
	/* Fixed feature flags (5.2.9 Table 5.35):
	 *  - HW_REDUCED_ACPI: no fixed ACPI hardware, no SCI; sleep via the registers below.
	 *  - PWR_BUTTON, SLP_BUTTON: set = no fixed-feature buttons (a power button, if ever added, is
	 *    a control-method/GED device).
	 *  - FIX_RTC: set = no RTC wake status in fixed registers (there are none).
	 *  - RESET_REG_SUP clear: no reset register; guests reset through the i8042 (0xFE).
	 *  - everything else clear (no WBINVD-dependent sleep states, no forced APIC modes: KVM's
	 *    APIC handles logical and physical destinations alike). */
	f->flags = ACPI_FADT_F_HW_REDUCED_ACPI | ACPI_FADT_F_PWR_BUTTON | ACPI_FADT_F_SLP_BUTTON |
		   ACPI_FADT_F_FIX_RTC;
	f->sleep_control_reg = acpi_gas_io8(PORT_ACPI_SLEEP_CONTROL);
	f->sleep_status_reg = acpi_gas_io8(PORT_ACPI_SLEEP_STATUS);
	memcpy(&f->hypervisor_vendor_id, ACPI_HYPERVISOR_ID, sizeof(f->hypervisor_vendor_id));
	acpi_header_seal(ar, &f->header, *gpa);
	return 0;
}

/* --- MADT --- */

static uint32_t acpi_apic_id(const struct acpi_config *cfg, unsigned i)
{
	return cfg->apic_ids ? cfg->apic_ids[i] : i;
}

static bool acpi_any_x2apic(const struct acpi_config *cfg)
{
	for (unsigned i = 0; i < cfg->ncpus; i++)
		if (acpi_apic_id(cfg, i) > ACPI_XAPIC_MAX_ID)
			return true;
	return false;
}

static size_t acpi_madt_size(const struct acpi_config *cfg)
{
	size_t size = sizeof(struct acpi_madt) + sizeof(struct acpi_madt_io_apic) +
		      sizeof(struct acpi_madt_int_override) + sizeof(struct acpi_madt_local_apic_nmi);
	for (unsigned i = 0; i < cfg->ncpus; i++)
		size += acpi_apic_id(cfg, i) > ACPI_XAPIC_MAX_ID ?
				sizeof(struct acpi_madt_local_x2apic) :
				sizeof(struct acpi_madt_local_apic);
	if (acpi_any_x2apic(cfg))
		size += sizeof(struct acpi_madt_local_x2apic_nmi);
	return size;
}

/* Writes one vCPU's entry at p and returns the bytes used. Index 0 (the BSP) comes first, as
 * 5.2.12.1 asks. */
static size_t acpi_madt_cpu(uint8_t *p, unsigned index, uint32_t apic_id)
{
	if (apic_id > ACPI_XAPIC_MAX_ID) {
		struct acpi_madt_local_x2apic x = {
			.type = ACPI_MADT_LOCAL_X2APIC, .length = sizeof(x), .x2apic_id = apic_id,
			.flags = ACPI_MADT_LAPIC_ENABLED, .processor_uid = index };
		memcpy(p, &x, sizeof(x));
		return sizeof(x);
	}
	struct acpi_madt_local_apic l = {
		.type = ACPI_MADT_LOCAL_APIC, .length = sizeof(l), .processor_uid = (uint8_t)index,
		.apic_id = (uint8_t)apic_id, .flags = ACPI_MADT_LAPIC_ENABLED };
	memcpy(p, &l, sizeof(l));
	return sizeof(l);
}

static int acpi_build_madt(struct acpi_area *ar, const struct acpi_config *cfg, uint64_t *gpa,
			   struct error *e)
{
	size_t size = acpi_madt_size(cfg);
	struct acpi_madt *m = acpi_alloc(ar, size, "MADT", gpa, e);
	if (!m)
		return -1;
	acpi_header_init(&m->header, "APIC", (uint32_t)size, ACPI_MADT_REVISION);
	m->local_apic_address = (uint32_t)LAYOUT_LAPIC;
	/* PCAT_COMPAT: KVM's irqchip includes the dual 8259s (the OS masks them to use the IOAPIC). */
	m->flags = ACPI_MADT_PCAT_COMPAT;

	uint8_t *p = (uint8_t *)(m + 1);
	for (unsigned i = 0; i < cfg->ncpus; i++)
		p += acpi_madt_cpu(p, i, acpi_apic_id(cfg, i));

	struct acpi_madt_io_apic io = { .type = ACPI_MADT_IO_APIC, .length = sizeof(io),
		.io_apic_id = 0, .address = (uint32_t)LAYOUT_IOAPIC, .gsi_base = 0 };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);

	/* ISA IRQ 0 -> GSI 2; flags "conforms to the bus" = ISA's edge, active high. No SCI
	 * override: a HW-reduced platform has no SCI. */
	struct acpi_madt_int_override pit = { .type = ACPI_MADT_INT_OVERRIDE, .length = sizeof(pit),
		.bus = 0, .source = ACPI_PIT_IRQ, .gsi = ACPI_PIT_GSI, .flags = ACPI_MPS_CONFORMS };
	memcpy(p, &pit, sizeof(pit));
	p += sizeof(pit);

	/* NMIs arrive on LINT1 of every local APIC (the PC convention), edge triggered, active high. */
	struct acpi_madt_local_apic_nmi nmi = { .type = ACPI_MADT_LOCAL_APIC_NMI,
		.length = sizeof(nmi), .processor_uid = ACPI_UID_ALL_XAPIC,
		.flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_EDGE, .lint = ACPI_NMI_LINT };
	memcpy(p, &nmi, sizeof(nmi));
	p += sizeof(nmi);
	if (acpi_any_x2apic(cfg)) {
		/* The xAPIC NMI structure only covers processors declared as Local APICs. */
		struct acpi_madt_local_x2apic_nmi x2nmi = { .type = ACPI_MADT_LOCAL_X2APIC_NMI,
			.length = sizeof(x2nmi), .flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_EDGE,
			.processor_uid = ACPI_UID_ALL_X2APIC, .lint = ACPI_NMI_LINT };
		memcpy(p, &x2nmi, sizeof(x2nmi));
		p += sizeof(x2nmi);
	}
	acpi_header_seal(ar, &m->header, *gpa);
	return 0;
}

/* --- MCFG (PCI Firmware 3.2, 4.1.2): where the ECAM is --- */

struct acpi_mcfg {
	struct acpi_header header;       /* "MCFG" */
	uint8_t reserved[8];
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG header size");

struct acpi_mcfg_allocation {
	uint64_t base;                   /* ECAM base of bus 0 (even if start_bus is not 0) */
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_mcfg_allocation) == 16, "MCFG allocation size");

static int acpi_build_mcfg(struct acpi_area *ar, const struct acpi_config *cfg, uint64_t *gpa,
			   struct error *e)
{
	size_t size = sizeof(struct acpi_mcfg) + sizeof(struct acpi_mcfg_allocation);
	struct acpi_mcfg *m = acpi_alloc(ar, size, "MCFG", gpa, e);
	if (!m)
		return -1;
	acpi_header_init(&m->header, "MCFG", (uint32_t)size, ACPI_MCFG_REVISION);
	struct acpi_mcfg_allocation alloc = { .base = acpi_ecam_base(cfg), .segment = 0,
		.start_bus = 0, .end_bus = (uint8_t)(cfg->pci_buses - 1) };
	memcpy(m + 1, &alloc, sizeof(alloc));
	acpi_header_seal(ar, &m->header, *gpa);
	return 0;
}

/* --- XSDT and RSDP --- */

static int acpi_build_xsdt(struct acpi_area *ar, const uint64_t *tables, unsigned ntables,
			   uint64_t *gpa, struct error *e)
{
	uint64_t size = sizeof(struct acpi_header) + (uint64_t)ntables * sizeof(uint64_t);
	struct acpi_header *h = acpi_alloc(ar, size, "XSDT", gpa, e);
	if (!h)
		return -1;
	acpi_header_init(h, "XSDT", (uint32_t)size, ACPI_XSDT_REVISION);
	/* Entries are 64-bit and only 4-byte aligned in the table: copy, don't cast. */
	memcpy(h + 1, tables, ntables * sizeof(uint64_t));
	for (unsigned i = 0; i < ntables; i++)
		acpi_note_pointer(ar, *gpa + sizeof(*h) + i * sizeof(uint64_t), sizeof(uint64_t));
	acpi_header_seal(ar, h, *gpa);
	return 0;
}

static void acpi_fill_rsdp(struct acpi_rsdp *r, uint64_t xsdt_gpa)
{
	memcpy(r->signature, "RSD PTR ", sizeof(r->signature));
	memcpy(r->oem_id, ACPI_OEM_ID, sizeof(r->oem_id));
	r->revision = ACPI_RSDP_REVISION;
	r->rsdt_address = 0; /* no RSDT: every ACPI 2.0+ OS uses the XSDT */
	r->length = sizeof(*r);
	r->xsdt_address = xsdt_gpa;
	r->checksum = 0;
	r->extended_checksum = 0;
	r->checksum = acpi_checksum(r, ACPI_RSDP_V1_LENGTH);
	r->extended_checksum = acpi_checksum(r, sizeof(*r));
}

/* --- Entry point --- */

static int acpi_check_config(const struct acpi_config *cfg, struct error *e)
{
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return error_set(e, "ACPI: %u vCPUs requested; the MADT supports 1-%u", cfg->ncpus,
				 ACPI_MAX_CPUS);
	for (unsigned i = 0; i < cfg->ncpus; i++) {
		uint32_t id = acpi_apic_id(cfg, i);
		if (id == ACPI_X2APIC_BROADCAST)
			return error_set(e, "ACPI: vCPU %u has the broadcast APIC id 0x%x", i, id);
		for (unsigned j = 0; j < i; j++)
			if (acpi_apic_id(cfg, j) == id)
				return error_set(e, "ACPI: vCPUs %u and %u share APIC id %u", j, i, id);
	}
	if (cfg->pci_buses > 256 ||
	    (uint64_t)cfg->pci_buses * ACPI_PCI_ECAM_BUS_SIZE > LAYOUT_PCI_ECAM_SIZE)
		return error_set(e, "ACPI: %u PCI buses do not fit the ECAM", cfg->pci_buses);
	return 0;
}

/* DSDT, FADT, MADT, MCFG (with PCI) and the XSDT listing them, in that order. */
static int acpi_build_tables(struct acpi_area *ar, const struct acpi_config *cfg, uint64_t *xsdt,
			     struct error *e)
{
	uint64_t dsdt, tables[3];
	unsigned ntables = cfg->pci_buses ? 3 : 2;
	if (acpi_build_dsdt(ar, cfg, &dsdt, e) < 0 || acpi_build_fadt(ar, dsdt, &tables[0], e) < 0 ||
	    acpi_build_madt(ar, cfg, &tables[1], e) < 0 ||
	    (cfg->pci_buses && acpi_build_mcfg(ar, cfg, &tables[2], e) < 0) ||
	    acpi_build_xsdt(ar, tables, ntables, xsdt, e) < 0)
		return -1;
	return 0;
}

int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
	       struct error *e)
{
	if (acpi_check_config(cfg, e) < 0)
		return -1;
	uint8_t *area = guest_mem_ptr(gm, LAYOUT_ACPI_START, LAYOUT_ACPI_SIZE);
	if (!area)
		return error_set(e, "ACPI: table area 0x%llx-0x%llx is not in guest RAM",
				 (unsigned long long)LAYOUT_ACPI_START,
				 (unsigned long long)(LAYOUT_ACPI_START + LAYOUT_ACPI_SIZE - 1));
	struct acpi_area ar = { .host = area, .base = LAYOUT_ACPI_START, .used = 0 };

	/* The RSDP goes first so that it sits at LAYOUT_ACPI_START, where a BIOS-area scan finds it. */
	uint64_t rsdp, xsdt;
	struct acpi_rsdp *r = acpi_alloc(&ar, sizeof(*r), "RSDP", &rsdp, e);
	if (!r || acpi_build_tables(&ar, cfg, &xsdt, e) < 0)
		return -1;
	acpi_fill_rsdp(r, xsdt);
	acpi_clear_tail(&ar);
	*rsdp_gpa = rsdp;
	return 0;
}

/* --- Blob mode: the tables as fw_cfg files plus the linker/loader script --- */

static int acpi_write_script(struct acpi_loader *l, const struct acpi_fixups *fix,
			     struct error *e)
{
	/* The tables blob first: the RSDP's pointer needs it allocated. Alignment 64 and the
	 * zones are QEMU's choice; OVMF allocates pages below 4 GiB either way. */
	if (acpi_loader_allocate(l, ACPI_FILE_TABLES, 64, ACPI_LOADER_ZONE_HIGH, e) < 0 ||
	    acpi_loader_allocate(l, ACPI_FILE_RSDP, 16, ACPI_LOADER_ZONE_FSEG, e) < 0)
		return -1;
	for (unsigned i = 0; i < fix->nptr; i++)
		if (acpi_loader_add_pointer(l, ACPI_FILE_TABLES, ACPI_FILE_TABLES, fix->ptr[i].offset,
					    fix->ptr[i].size, e) < 0)
			return -1;
	for (unsigned i = 0; i < fix->nsum; i++)
		if (acpi_loader_add_checksum(l, ACPI_FILE_TABLES, fix->sum[i].offset,
					     fix->sum[i].start, fix->sum[i].length, e) < 0)
			return -1;
	/* The RSDP: its XSDT pointer, then the ACPI 1.0 checksum (first 20 bytes) and the
	 * extended one (all 36, including the first checksum). */
	if (acpi_loader_add_pointer(l, ACPI_FILE_RSDP, ACPI_FILE_TABLES,
				    offsetof(struct acpi_rsdp, xsdt_address), sizeof(uint64_t), e) < 0 ||
	    acpi_loader_add_checksum(l, ACPI_FILE_RSDP, offsetof(struct acpi_rsdp, checksum), 0,
				     ACPI_RSDP_V1_LENGTH, e) < 0 ||
	    acpi_loader_add_checksum(l, ACPI_FILE_RSDP,
				     offsetof(struct acpi_rsdp, extended_checksum), 0,
				     sizeof(struct acpi_rsdp), e) < 0)
		return -1;
	return 0;
}

int acpi_build_blobs(const struct acpi_config *cfg, struct acpi_blobs *out, struct error *e)
{
	memset(out, 0, sizeof(*out));
	if (acpi_check_config(cfg, e) < 0)
		return -1;
	struct acpi_fixups fix = { 0 };
	struct acpi_area ar = { .host = calloc(1, LAYOUT_ACPI_SIZE), .base = 0, .fix = &fix };
	if (!ar.host)
		return error_set(e, "ACPI: out of memory");
	uint64_t xsdt;
	struct acpi_loader l;
	acpi_loader_init(&l);
	if (acpi_build_tables(&ar, cfg, &xsdt, e) < 0 || acpi_write_script(&l, &fix, e) < 0) {
		free(ar.host);
		acpi_loader_release(&l);
		return -1;
	}
	struct acpi_rsdp *r = (struct acpi_rsdp *)out->rsdp;
	acpi_fill_rsdp(r, xsdt);
	r->checksum = 0; /* the script computes both once the XSDT's address is known */
	r->extended_checksum = 0;
	out->tables = ar.host;
	out->tables_len = ar.used;
	out->loader = l.data;
	out->loader_len = l.len;
	return 0;
}

void acpi_blobs_free(struct acpi_blobs *b)
{
	free(b->tables);
	free(b->loader);
	memset(b, 0, sizeof(*b));
}
