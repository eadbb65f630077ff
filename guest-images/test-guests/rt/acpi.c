/* Finding ACPI tables and powering off through the FADT.
 *
 * acpi_poweroff() handles both FADT flavours:
 *  - HW-reduced ACPI (Ember): write SLP_TYP << 2 | SLP_EN (bit 5) as one byte to the
 *    SLEEP_CONTROL_REG generic address (FADT offset 244; ACPI 6.x, 4.8.3.7).
 *  - Fixed hardware (QEMU pc/q35): write SLP_TYP << 10 | SLP_EN (bit 13) as a word to
 *    PM1a_CNT_BLK (X_PM1a_CNT_BLK at 172 if set, else the 32-bit port at 64; 4.8.3.2.1).
 * SLP_TYP is the first element of the DSDT's \_S5 package (ACPI 7.4.2). Rather than run an AML
 * interpreter we search the DSDT bytes for "_S5_" and decode the PackageOp that follows. If
 * there is no \_S5 we use 5 (what Ember's DSDT says) for HW-reduced and 0 (QEMU's PIIX4/ICH9
 * value) for fixed hardware. Without a usable FADT we fall back to Ember's sleep control port
 * 0x600. Only the first 4 GiB are mapped: tables above that are treated as absent. */
#include "rt.h"

#define RSDP_SIGNATURE "RSD PTR "
#define BIOS_AREA_START 0xe0000
#define BIOS_AREA_END 0x100000
#define BDA_EBDA_SEGMENT 0x40e
#define MAPPED_LIMIT 0x100000000ull
#define MAX_SDT_ENTRIES 64

#define FADT_DSDT 40
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM1B_CNT_BLK 68
#define FADT_X_DSDT 140
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_SLEEP_CONTROL_REG 244
#define GAS_SIZE 12
#define GAS_SPACE_MEMORY 0
#define GAS_SPACE_IO 1

#define SLEEP_CONTROL_SLP_EN (1u << 5)
#define PM1_CNT_SLP_EN (1u << 13)
#define EMBER_SLEEP_CONTROL_PORT 0x600
#define EMBER_S5_SLEEP_TYPE 5
#define PIIX_S5_SLEEP_TYPE 0
#define POWEROFF_WAIT_US 500000

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

static const void *phys(uint64_t addr)
{
	return addr && addr < MAPPED_LIMIT ? phys_ptr(addr) : NULL;
}

static const struct acpi_rsdp *scan_for_rsdp(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + sizeof(struct acpi_rsdp) <= end; a += 16)
		if (!memcmp(phys_ptr(a), RSDP_SIGNATURE, 8))
			return phys_ptr(a);
	return NULL;
}

/* PVH gives us the RSDP; the legacy scan (EBDA, then 0xe0000-0xfffff) is only a fallback. */
static const struct acpi_rsdp *find_rsdp(void)
{
	const struct acpi_rsdp *rsdp = NULL;
	uint64_t ebda;

	if (rt_start_info && rt_start_info->rsdp_paddr)
		rsdp = phys(rt_start_info->rsdp_paddr);
	if (rsdp && !memcmp(rsdp->signature, RSDP_SIGNATURE, 8))
		return rsdp;
	ebda = (uint64_t)*(const volatile uint16_t *)phys_ptr(BDA_EBDA_SEGMENT) << 4;
	if (ebda >= 0x80000 && ebda < 0xa0000 && (rsdp = scan_for_rsdp(ebda, ebda + 1024)))
		return rsdp;
	return scan_for_rsdp(BIOS_AREA_START, BIOS_AREA_END);
}

static const struct acpi_header *table_at(uint64_t addr, const char *signature)
{
	const struct acpi_header *h = phys(addr);

	if (!h || h->length < sizeof(*h) || memcmp(h->signature, signature, 4))
		return NULL;
	return h;
}

const struct acpi_header *acpi_find_table(const char *signature)
{
	const struct acpi_rsdp *rsdp = find_rsdp();
	const struct acpi_header *root;
	const uint8_t *entries;
	unsigned entry_size, count;

	if (!rsdp)
		return NULL;
	if (rsdp->revision >= 2 && (root = table_at(rsdp->xsdt_address, "XSDT")))
		entry_size = 8;
	else if ((root = table_at(rsdp->rsdt_address, "RSDT")))
		entry_size = 4;
	else
		return NULL;
	entries = (const uint8_t *)root + sizeof(*root);
	count = (root->length - sizeof(*root)) / entry_size;
	if (count > MAX_SDT_ENTRIES)
		count = MAX_SDT_ENTRIES;
	for (unsigned i = 0; i < count; i++) {
		uint64_t addr = 0;
		const struct acpi_header *t;

		memcpy(&addr, entries + i * entry_size, entry_size);
		if ((t = table_at(addr, signature)))
			return t;
	}
	return NULL;
}

/* Reads a field of the FADT if the table is long enough to have it. */
static bool fadt_field(const struct acpi_header *fadt, unsigned offset, void *out, unsigned size)
{
	if (fadt->length < offset + size)
		return false;
	memcpy(out, (const uint8_t *)fadt + offset, size);
	return true;
}

static const struct acpi_header *fadt_dsdt(const struct acpi_header *fadt)
{
	uint64_t x_dsdt = 0;
	uint32_t dsdt = 0;

	if (fadt_field(fadt, FADT_X_DSDT, &x_dsdt, 8) && x_dsdt)
		return table_at(x_dsdt, "DSDT");
	if (fadt_field(fadt, FADT_DSDT, &dsdt, 4))
		return table_at(dsdt, "DSDT");
	return NULL;
}

/* Decodes one AML integer constant (ZeroOp, OneOp, BytePrefix, WordPrefix). */
static int aml_small_integer(const uint8_t *p, const uint8_t *end)
{
	if (p >= end)
		return -1;
	switch (p[0]) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0x0a: return p + 1 < end ? p[1] : -1;
	case 0x0b: return p + 2 < end ? p[1] | p[2] << 8 : -1;
	default: return -1;
	}
}

/* SLP_TYPa from Name(_S5, Package() { SLP_TYPa, ... }), or -1. */
static int dsdt_s5_sleep_type(const struct acpi_header *dsdt)
{
	const uint8_t *p = (const uint8_t *)dsdt + sizeof(*dsdt);
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;

	for (; p + 4 < end; p++) {
		const uint8_t *q;

		if (memcmp(p, "_S5_", 4))
			continue;
		q = p + 4;
		if (q + 1 >= end || q[0] != 0x12) /* PackageOp */
			continue;
		q += 1 + 1 + (q[1] >> 6);         /* PkgLength: bits 7-6 count its extra bytes */
		q++;                              /* NumElements */
		return aml_small_integer(q, end);
	}
	return -1;
}

/* Decides how to enter S5 without touching any register. */
void acpi_s5_plan(struct acpi_s5_plan *plan)
{
	const struct acpi_header *fadt = acpi_find_table("FACP");
	const struct acpi_header *dsdt = fadt ? fadt_dsdt(fadt) : NULL;
	int s5 = dsdt ? dsdt_s5_sleep_type(dsdt) : -1;
	struct acpi_gas gas = { 0 };
	uint32_t pm1a = 0, pm1b = 0;

	*plan = (struct acpi_s5_plan){ .slp_typ_from_dsdt = s5 >= 0, .have_fadt = fadt != NULL };
	if (fadt && fadt_field(fadt, FADT_SLEEP_CONTROL_REG, &gas, GAS_SIZE) && gas.address) {
		plan->kind = ACPI_S5_SLEEP_CONTROL_REG;
		plan->slp_typ = s5 >= 0 ? (unsigned)s5 & 7 : EMBER_S5_SLEEP_TYPE;
		plan->value = (uint16_t)(plan->slp_typ << 2 | SLEEP_CONTROL_SLP_EN);
		plan->width = 1;
	} else if (fadt && ((fadt_field(fadt, FADT_X_PM1A_CNT_BLK, &gas, GAS_SIZE) && gas.address) ||
			    (fadt_field(fadt, FADT_PM1A_CNT_BLK, &pm1a, 4) && pm1a))) {
		if (!gas.address) {
			gas = (struct acpi_gas){ .space_id = GAS_SPACE_IO, .address = pm1a };
			if (fadt_field(fadt, FADT_PM1B_CNT_BLK, &pm1b, 4))
				plan->address_b = pm1b;
		}
		plan->kind = ACPI_S5_PM1_CNT;
		plan->slp_typ = s5 >= 0 ? (unsigned)s5 & 7 : PIIX_S5_SLEEP_TYPE;
		plan->value = (uint16_t)(plan->slp_typ << 10 | PM1_CNT_SLP_EN);
		plan->width = 2;
	} else {
		plan->kind = ACPI_S5_EMBER_PORT;
		gas = (struct acpi_gas){ .space_id = GAS_SPACE_IO, .address = EMBER_SLEEP_CONTROL_PORT };
		plan->slp_typ = EMBER_S5_SLEEP_TYPE;
		plan->value = EMBER_S5_SLEEP_TYPE << 2 | SLEEP_CONTROL_SLP_EN;
		plan->width = 1;
	}
	plan->space_id = gas.space_id;
	plan->address = gas.address;
}

static void write_register(uint8_t space_id, uint64_t address, unsigned value, unsigned width)
{
	if (space_id == GAS_SPACE_IO) {
		if (width == 1)
			outb((uint16_t)address, (uint8_t)value);
		else
			outw((uint16_t)address, (uint16_t)value);
	} else if (space_id == GAS_SPACE_MEMORY && phys(address)) {
		if (width == 1)
			mmio_write8(address, (uint8_t)value);
		else
			mmio_write16(address, (uint16_t)value);
	}
}

void acpi_poweroff(void)
{
	struct acpi_s5_plan plan;

	acpi_s5_plan(&plan);
	write_register(plan.space_id, plan.address, plan.value, plan.width);
	if (plan.address_b)
		write_register(plan.space_id, plan.address_b, plan.value, plan.width);
	delay_us(POWEROFF_WAIT_US);
	console_printf("rt: ACPI S5 did not power off the VM (wrote %x to %s %lx)\n", plan.value,
		       plan.space_id == GAS_SPACE_IO ? "port" : "address", plan.address);
	guest_exit(RT_EXIT_POWEROFF_FAILED);
}
