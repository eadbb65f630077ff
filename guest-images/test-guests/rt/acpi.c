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
		if (q >= end || *q != 0x12) /* PackageOp */
			continue;
		q++;
		q += 1 + (*q >> 6);          /* PkgLength: bits 7-6 count the extra bytes */
		q++;                         /* NumElements */
		return aml_small_integer(q, end);
	}
	return -1;
}

static void write_gas(const struct acpi_gas *gas, unsigned value, unsigned bytes)
{
	if (gas->space_id == GAS_SPACE_IO) {
		if (bytes == 1)
			outb((uint16_t)gas->address, (uint8_t)value);
		else
			outw((uint16_t)gas->address, (uint16_t)value);
	} else if (gas->space_id == GAS_SPACE_MEMORY && phys(gas->address)) {
		if (bytes == 1)
			mmio_write8(gas->address, (uint8_t)value);
		else
			mmio_write16(gas->address, (uint16_t)value);
	}
}

/* Returns false if the FADT offers no way to sleep. */
static bool fadt_sleep_s5(const struct acpi_header *fadt)
{
	const struct acpi_header *dsdt = fadt_dsdt(fadt);
	int slp_typ = dsdt ? dsdt_s5_sleep_type(dsdt) : -1;
	struct acpi_gas gas = { 0 };
	uint32_t pm1a = 0, pm1b = 0;

	if (fadt_field(fadt, FADT_SLEEP_CONTROL_REG, &gas, GAS_SIZE) && gas.address) {
		unsigned typ = slp_typ >= 0 ? (unsigned)slp_typ : EMBER_S5_SLEEP_TYPE;
		write_gas(&gas, (typ & 7) << 2 | SLEEP_CONTROL_SLP_EN, 1);
		return true;
	}
	unsigned value = ((slp_typ >= 0 ? (unsigned)slp_typ : PIIX_S5_SLEEP_TYPE) & 7) << 10 |
			 PM1_CNT_SLP_EN;
	if (fadt_field(fadt, FADT_X_PM1A_CNT_BLK, &gas, GAS_SIZE) && gas.address) {
		write_gas(&gas, value, 2);
		return true;
	}
	if (fadt_field(fadt, FADT_PM1A_CNT_BLK, &pm1a, 4) && pm1a) {
		outw((uint16_t)pm1a, (uint16_t)value);
		if (fadt_field(fadt, FADT_PM1B_CNT_BLK, &pm1b, 4) && pm1b)
			outw((uint16_t)pm1b, (uint16_t)value);
		return true;
	}
	return false;
}

void acpi_poweroff(void)
{
	const struct acpi_header *fadt = acpi_find_table("FACP");

	if (!fadt || !fadt_sleep_s5(fadt))
		outb(EMBER_SLEEP_CONTROL_PORT, EMBER_S5_SLEEP_TYPE << 2 | SLEEP_CONTROL_SLP_EN);
	delay_us(POWEROFF_WAIT_US);
	console_printf("rt: ACPI S5 did not power off the VM (%s)\n",
		       fadt ? "FADT sleep register ignored" : "no FADT");
	guest_exit(RT_EXIT_POWEROFF_FAILED);
}
