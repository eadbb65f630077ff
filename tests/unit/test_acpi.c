/* ACPI tables and the AML builder: structure checks on the tables acpi_build writes into guest
 * RAM, byte-level checks of the AML encoders, and a round trip through ACPICA's iasl (disassemble
 * every table, recompile the DSDT) when iasl is installed. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

/* --- Helpers --- */

struct built {
	struct guest_mem gm;
	uint64_t rsdp;
};

static void build(struct built *b, unsigned ncpus, const uint32_t *apic_ids)
{
	struct error e = { { 0 } };
	cr_assert_eq(guest_mem_init(&b->gm, 64 << 20, &e), 0, "%s", e.msg);
	struct acpi_config cfg = { .ncpus = ncpus, .apic_ids = apic_ids };
	cr_assert_eq(acpi_build(&b->gm, &cfg, &b->rsdp, &e), 0, "%s", e.msg);
	cr_assert_eq(b->rsdp, LAYOUT_ACPI_START);
}

static const void *gpa_ptr(const struct built *b, uint64_t gpa, uint64_t len)
{
	cr_assert(gpa >= LAYOUT_ACPI_START && gpa + len <= LAYOUT_ACPI_START + LAYOUT_ACPI_SIZE,
		  "0x%llx+%llu outside the ACPI area", (unsigned long long)gpa,
		  (unsigned long long)len);
	const void *p = guest_mem_ptr(&b->gm, gpa, len);
	cr_assert_not_null(p);
	return p;
}

static uint8_t sum8(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static const struct acpi_rsdp *rsdp_of(const struct built *b)
{
	return gpa_ptr(b, b->rsdp, sizeof(struct acpi_rsdp));
}

/* A whole table at gpa, with its length and checksum verified. */
static const struct acpi_header *table_at(const struct built *b, uint64_t gpa, const char *sig)
{
	const struct acpi_header *h = gpa_ptr(b, gpa, sizeof(*h));
	cr_assert(memcmp(h->signature, sig, 4) == 0, "expected %s at 0x%llx, found %.4s", sig,
		  (unsigned long long)gpa, h->signature);
	cr_assert_geq(h->length, sizeof(*h));
	h = gpa_ptr(b, gpa, h->length);
	cr_assert_eq(sum8(h, h->length), 0, "%s checksum", sig);
	cr_assert(memcmp(h->oem_id, "EMBER ", 6) == 0);
	cr_assert(memcmp(h->oem_table_id, "EMBERVM ", 8) == 0);
	cr_assert(memcmp(h->creator_id, "EMBR", 4) == 0);
	return h;
}

static unsigned xsdt_count(const struct acpi_header *xsdt)
{
	return (unsigned)((xsdt->length - sizeof(*xsdt)) / sizeof(uint64_t));
}

static uint64_t xsdt_entry(const struct acpi_header *xsdt, unsigned i)
{
	uint64_t v;
	memcpy(&v, (const uint8_t *)(xsdt + 1) + i * sizeof(v), sizeof(v));
	return v;
}

static const struct acpi_header *xsdt_of(const struct built *b)
{
	return table_at(b, rsdp_of(b)->xsdt_address, "XSDT");
}

/* The table in the XSDT with this signature (asserting there is exactly one). */
static const struct acpi_header *find_table(const struct built *b, const char *sig)
{
	const struct acpi_header *xsdt = xsdt_of(b), *found = NULL;
	for (unsigned i = 0; i < xsdt_count(xsdt); i++) {
		const struct acpi_header *h = gpa_ptr(b, xsdt_entry(xsdt, i), sizeof(*h));
		if (memcmp(h->signature, sig, 4) == 0) {
			cr_assert_null(found, "two %s tables", sig);
			found = table_at(b, xsdt_entry(xsdt, i), sig);
		}
	}
	cr_assert_not_null(found, "no %s in the XSDT", sig);
	return found;
}

static const struct acpi_fadt *fadt_of(const struct built *b)
{
	const struct acpi_header *h = find_table(b, "FACP");
	cr_assert_eq(h->length, sizeof(struct acpi_fadt));
	return (const struct acpi_fadt *)h;
}

static const struct acpi_header *dsdt_of(const struct built *b)
{
	const struct acpi_fadt *f = fadt_of(b);
	cr_assert_eq(f->x_dsdt, f->dsdt);
	return table_at(b, f->x_dsdt, "DSDT");
}

struct madt_counts {
	unsigned total, lapic, ioapic, iso, lapic_nmi, x2apic, x2apic_nmi;
};

/* Walks the MADT's entries (checking their lengths tile the table) and counts them by type. */
static struct madt_counts madt_count(const struct acpi_header *madt)
{
	struct madt_counts c = { 0 };
	const uint8_t *p = (const uint8_t *)madt + sizeof(struct acpi_madt);
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	while (p < end) {
		cr_assert_leq(p + 2, end);
		cr_assert_geq(p[1], 2);
		cr_assert_leq(p + p[1], end, "MADT entry overruns the table");
		c.total++;
		switch (p[0]) {
		case ACPI_MADT_LOCAL_APIC: c.lapic++; break;
		case ACPI_MADT_IO_APIC: c.ioapic++; break;
		case ACPI_MADT_INT_OVERRIDE: c.iso++; break;
		case ACPI_MADT_LOCAL_APIC_NMI: c.lapic_nmi++; break;
		case ACPI_MADT_LOCAL_X2APIC: c.x2apic++; break;
		case ACPI_MADT_LOCAL_X2APIC_NMI: c.x2apic_nmi++; break;
		default: cr_assert_fail("unexpected MADT entry type %u", p[0]);
		}
		p += p[1];
	}
	return c;
}

/* --- RSDP, XSDT, checksums --- */

static void check_root(unsigned ncpus)
{
	struct built b;
	build(&b, ncpus, NULL);
	const struct acpi_rsdp *r = rsdp_of(&b);
	cr_assert(memcmp(r->signature, "RSD PTR ", 8) == 0);
	cr_assert_eq(r->revision, 2);
	cr_assert_eq(r->length, 36);
	cr_assert_eq(sum8(r, 20), 0, "RSDP 1.0 checksum");
	cr_assert_eq(sum8(r, 36), 0, "RSDP extended checksum");
	cr_assert(memcmp(r->oem_id, "EMBER ", 6) == 0);

	const struct acpi_header *xsdt = xsdt_of(&b);
	cr_assert_eq(xsdt_count(xsdt), 2);
	const struct acpi_header *first = gpa_ptr(&b, xsdt_entry(xsdt, 0), 36);
	const struct acpi_header *second = gpa_ptr(&b, xsdt_entry(xsdt, 1), 36);
	cr_assert(memcmp(first->signature, "FACP", 4) == 0);
	cr_assert(memcmp(second->signature, "APIC", 4) == 0);
	find_table(&b, "FACP");
	find_table(&b, "APIC");
	dsdt_of(&b);
	guest_mem_destroy(&b.gm);
}

Test(acpi, root_tables_1cpu) { check_root(1); }
Test(acpi, root_tables_4cpus) { check_root(4); }
Test(acpi, root_tables_255cpus) { check_root(255); }

Test(acpi, rebuild_is_identical)
{
	struct built b;
	build(&b, 4, NULL);
	uint8_t *area = guest_mem_ptr(&b.gm, LAYOUT_ACPI_START, LAYOUT_ACPI_SIZE);
	uint8_t *copy = malloc(LAYOUT_ACPI_SIZE);
	memcpy(copy, area, LAYOUT_ACPI_SIZE);
	memset(area, 0xa5, LAYOUT_ACPI_SIZE);
	struct error e;
	struct acpi_config cfg = { .ncpus = 4 };
	uint64_t rsdp;
	cr_assert_eq(acpi_build(&b.gm, &cfg, &rsdp, &e), 0, "%s", e.msg);
	cr_assert(memcmp(copy, area, LAYOUT_ACPI_SIZE) == 0, "stale bytes after a rebuild");
	free(copy);
	guest_mem_destroy(&b.gm);
}

/* --- FADT --- */

Test(acpi, fadt_hw_reduced_sleep_registers)
{
	struct built b;
	build(&b, 1, NULL);
	const struct acpi_fadt *f = fadt_of(&b);
	cr_assert_eq(f->header.revision, 6);
	cr_assert(f->flags & ACPI_FADT_F_HW_REDUCED_ACPI);
	cr_assert_eq(f->iapc_boot_arch & ACPI_FADT_BOOT_8042, ACPI_FADT_BOOT_8042);
	cr_assert_eq(f->iapc_boot_arch & ACPI_FADT_BOOT_NO_VGA, ACPI_FADT_BOOT_NO_VGA);
	cr_assert_eq(f->iapc_boot_arch & ACPI_FADT_BOOT_NO_MSI, 0);
	cr_assert_eq(f->iapc_boot_arch & ACPI_FADT_BOOT_NO_CMOS_RTC, 0);
	cr_assert_eq(f->firmware_ctrl, 0);
	cr_assert_eq(f->x_firmware_ctrl, 0);
	cr_assert_eq(f->sci_int, 0);
	cr_assert_eq(f->sleep_control_reg.space_id, ACPI_GAS_SYSTEM_IO);
	cr_assert_eq(f->sleep_control_reg.bit_width, 8);
	cr_assert_eq(f->sleep_control_reg.address, PORT_ACPI_SLEEP_CONTROL);
	cr_assert_eq(f->sleep_status_reg.space_id, ACPI_GAS_SYSTEM_IO);
	cr_assert_eq(f->sleep_status_reg.bit_width, 8);
	cr_assert_eq(f->sleep_status_reg.address, PORT_ACPI_SLEEP_STATUS);
	cr_assert_neq(f->dsdt, 0);
	cr_assert_eq(f->x_dsdt, f->dsdt);
	guest_mem_destroy(&b.gm);
}

/* --- MADT --- */

static void check_madt_xapic(unsigned ncpus)
{
	struct built b;
	build(&b, ncpus, NULL);
	const struct acpi_header *h = find_table(&b, "APIC");
	const struct acpi_madt *m = (const struct acpi_madt *)h;
	cr_assert_eq(m->local_apic_address, LAYOUT_LAPIC);
	cr_assert_eq(m->flags & ACPI_MADT_PCAT_COMPAT, ACPI_MADT_PCAT_COMPAT);
	struct madt_counts c = madt_count(h);
	cr_assert_eq(c.lapic, ncpus);
	cr_assert_eq(c.x2apic, 0);
	cr_assert_eq(c.ioapic, 1);
	cr_assert_eq(c.iso, 1);
	cr_assert_eq(c.lapic_nmi, 1);
	cr_assert_eq(c.x2apic_nmi, 0);
	cr_assert_eq(c.total, ncpus + 3);

	/* The vCPUs come first, in order, then the IOAPIC, the override and the NMI. */
	const uint8_t *p = (const uint8_t *)h + sizeof(struct acpi_madt);
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		struct acpi_madt_local_apic l;
		memcpy(&l, p, sizeof(l));
		cr_assert_eq(l.type, ACPI_MADT_LOCAL_APIC);
		cr_assert_eq(l.processor_uid, i);
		cr_assert_eq(l.apic_id, i);
		cr_assert_eq(l.flags & ACPI_MADT_LAPIC_ENABLED, ACPI_MADT_LAPIC_ENABLED);
	}
	struct acpi_madt_io_apic io;
	memcpy(&io, p, sizeof(io));
	cr_assert_eq(io.type, ACPI_MADT_IO_APIC);
	cr_assert_eq(io.io_apic_id, 0);
	cr_assert_eq(io.address, LAYOUT_IOAPIC);
	cr_assert_eq(io.gsi_base, 0);
	p += sizeof(io);
	struct acpi_madt_int_override iso;
	memcpy(&iso, p, sizeof(iso));
	cr_assert_eq(iso.type, ACPI_MADT_INT_OVERRIDE);
	cr_assert_eq(iso.bus, 0);
	cr_assert_eq(iso.source, 0);
	cr_assert_eq(iso.gsi, 2);
	p += sizeof(iso);
	struct acpi_madt_local_apic_nmi nmi;
	memcpy(&nmi, p, sizeof(nmi));
	cr_assert_eq(nmi.type, ACPI_MADT_LOCAL_APIC_NMI);
	cr_assert_eq(nmi.processor_uid, 0xff);
	cr_assert_eq(nmi.lint, 1);
	guest_mem_destroy(&b.gm);
}

Test(acpi, madt_1cpu) { check_madt_xapic(1); }
Test(acpi, madt_4cpus) { check_madt_xapic(4); }
Test(acpi, madt_255cpus) { check_madt_xapic(255); }

Test(acpi, madt_x2apic_for_large_ids)
{
	/* Sparse topology ids (socket bit at 256): ids 0..127 and 256..382. */
	uint32_t ids[255];
	unsigned large = 0;
	for (unsigned i = 0; i < 255; i++) {
		ids[i] = i < 128 ? i : 256 + (i - 128);
		large += ids[i] > 254;
	}
	struct built b;
	build(&b, 255, ids);
	const struct acpi_header *h = find_table(&b, "APIC");
	struct madt_counts c = madt_count(h);
	cr_assert_eq(c.lapic, 255 - large);
	cr_assert_eq(c.x2apic, large);
	cr_assert_eq(c.x2apic_nmi, 1);
	cr_assert_eq(c.lapic_nmi, 1);
	cr_assert_eq(c.total, 255 + 4);

	const uint8_t *p = (const uint8_t *)h + sizeof(struct acpi_madt);
	for (unsigned i = 0; i < 255; i++) {
		if (ids[i] > 254) {
			struct acpi_madt_local_x2apic x;
			memcpy(&x, p, sizeof(x));
			cr_assert_eq(x.type, ACPI_MADT_LOCAL_X2APIC);
			cr_assert_eq(x.length, 16);
			cr_assert_eq(x.x2apic_id, ids[i]);
			cr_assert_eq(x.processor_uid, i);
			cr_assert_eq(x.flags & ACPI_MADT_LAPIC_ENABLED, ACPI_MADT_LAPIC_ENABLED);
		} else {
			cr_assert_eq(p[0], ACPI_MADT_LOCAL_APIC);
			cr_assert_eq(p[2], i);
			cr_assert_eq(p[3], ids[i]);
		}
		p += p[1];
	}
	guest_mem_destroy(&b.gm);
}

Test(acpi, madt_x2apic_boundary_is_255)
{
	/* 254 is the last xAPIC id; 255 is xAPIC broadcast and must be an x2APIC entry. */
	const uint32_t ids[3] = { 0, 254, 255 };
	struct built b;
	build(&b, 3, ids);
	const struct acpi_header *h = find_table(&b, "APIC");
	struct madt_counts c = madt_count(h);
	cr_assert_eq(c.lapic, 2);
	cr_assert_eq(c.x2apic, 1);
	cr_assert_eq(c.x2apic_nmi, 1);
	const uint8_t *p = (const uint8_t *)h + sizeof(struct acpi_madt);
	cr_assert_eq(p[8 + 3], 254);
	cr_assert_eq(p[16], ACPI_MADT_LOCAL_X2APIC);
	guest_mem_destroy(&b.gm);
}

/* The most vCPUs a VM may have: ids 0..254 as Local APICs, 255..1023 as Local x2APICs, with
 * processor UIDs past the 8 bits of a Local APIC entry. */
Test(acpi, madt_1024cpus)
{
	struct built b;
	build(&b, 1024, NULL);
	const struct acpi_header *h = find_table(&b, "APIC");
	struct madt_counts c = madt_count(h);
	cr_assert_eq(c.lapic, 255);
	cr_assert_eq(c.x2apic, 1024 - 255);
	cr_assert_eq(c.x2apic_nmi, 1);
	const uint8_t *p = (const uint8_t *)h + sizeof(struct acpi_madt) + 255 * 8 + 768 * 16;
	struct acpi_madt_local_x2apic last;
	memcpy(&last, p, sizeof(last));
	cr_assert_eq(last.type, ACPI_MADT_LOCAL_X2APIC);
	cr_assert_eq(last.x2apic_id, 1023);
	cr_assert_eq(last.processor_uid, 1023);
	guest_mem_destroy(&b.gm);
}

Test(acpi, madt_apic_ids_passed_through)
{
	const uint32_t ids[4] = { 0, 2, 4, 6 };
	struct built b;
	build(&b, 4, ids);
	const uint8_t *p = (const uint8_t *)find_table(&b, "APIC") + sizeof(struct acpi_madt);
	for (unsigned i = 0; i < 4; i++, p += 8)
		cr_assert_eq(p[3], ids[i]);
	guest_mem_destroy(&b.gm);
}

/* --- Bad configurations fail cleanly --- */

static void expect_failure(unsigned ncpus, const uint32_t *ids, uint64_t ram, const char *needle)
{
	struct guest_mem gm;
	struct error e = { { 0 } };
	cr_assert_eq(guest_mem_init(&gm, ram, &e), 0, "%s", e.msg);
	struct acpi_config cfg = { .ncpus = ncpus, .apic_ids = ids };
	uint64_t rsdp = 0;
	cr_assert_eq(acpi_build(&gm, &cfg, &rsdp, &e), -1);
	cr_assert(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
	cr_assert_eq(rsdp, 0);
	guest_mem_destroy(&gm);
}

Test(acpi, rejects_zero_cpus) { expect_failure(0, NULL, 64 << 20, "vCPUs"); }
Test(acpi, rejects_1025_cpus) { expect_failure(1025, NULL, 64 << 20, "vCPUs"); }

Test(acpi, rejects_duplicate_apic_ids)
{
	const uint32_t ids[3] = { 0, 1, 1 };
	expect_failure(3, ids, 64 << 20, "share APIC id 1");
}

Test(acpi, rejects_broadcast_apic_id)
{
	const uint32_t ids[2] = { 0, 0xffffffffu };
	expect_failure(2, ids, 64 << 20, "broadcast");
}

Test(acpi, rejects_ram_without_the_acpi_area)
{
	expect_failure(1, NULL, 512 << 10, "not in guest RAM");
}

/* --- AML encoders --- */

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	cr_assert_eq(got_len, want_len, "length %zu, want %zu", got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, got[i], want[i]);
}

#define EXPECT_PKGLEN(value, ...)                                                              \
	do {                                                                                   \
		uint8_t out_[4];                                                               \
		const uint8_t want_[] = { __VA_ARGS__ };                                       \
		expect_bytes(out_, aml_pkglen_encode(value, out_), want_, sizeof(want_));      \
	} while (0)

Test(aml, pkglen_boundaries)
{
	EXPECT_PKGLEN(0, 0x00);
	EXPECT_PKGLEN(63, 0x3f);
	EXPECT_PKGLEN(64, 0x40, 0x04);
	EXPECT_PKGLEN(4095, 0x4f, 0xff);
	EXPECT_PKGLEN(4096, 0x80, 0x00, 0x01);
	EXPECT_PKGLEN(0xfffff, 0x8f, 0xff, 0xff);
	EXPECT_PKGLEN(0x100000, 0xc0, 0x00, 0x00, 0x01);
	EXPECT_PKGLEN(0x0fffffff, 0xcf, 0xff, 0xff, 0xff);
	uint8_t out[4];
	cr_assert_eq(aml_pkglen_encode(0x10000000, out), 0);
}

#define EXPECT_INTEGER(value, ...)                                                             \
	do {                                                                                   \
		uint8_t out_[9];                                                               \
		const uint8_t want_[] = { __VA_ARGS__ };                                       \
		expect_bytes(out_, aml_integer_encode(value, out_), want_, sizeof(want_));     \
	} while (0)

Test(aml, integer_encodings)
{
	EXPECT_INTEGER(0, 0x00);
	EXPECT_INTEGER(1, 0x01);
	EXPECT_INTEGER(2, 0x0a, 0x02);
	EXPECT_INTEGER(0xff, 0x0a, 0xff);
	EXPECT_INTEGER(0x100, 0x0b, 0x00, 0x01);
	EXPECT_INTEGER(0xffff, 0x0b, 0xff, 0xff);
	EXPECT_INTEGER(0x10000, 0x0c, 0x00, 0x00, 0x01, 0x00);
	EXPECT_INTEGER(0xffffffff, 0x0c, 0xff, 0xff, 0xff, 0xff);
	EXPECT_INTEGER(0x100000000ULL, 0x0e, 0, 0, 0, 0, 1, 0, 0, 0);
	EXPECT_INTEGER(0x0123456789abcdefULL, 0x0e, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01);
}

Test(aml, eisaid)
{
	uint32_t v;
	cr_assert_eq(aml_eisaid_encode("PNP0501", &v), 0);
	cr_assert_eq(v, 0x0105d041);
	cr_assert_eq(aml_eisaid_encode("PNP0B00", &v), 0);
	cr_assert_eq(v, 0x000bd041);
	cr_assert_eq(aml_eisaid_encode("PNP0A08", &v), 0);
	cr_assert_eq(v, 0x080ad041);
	cr_assert_eq(aml_eisaid_encode("pnp0501", &v), -1);
	cr_assert_eq(aml_eisaid_encode("PNP050", &v), -1);
	cr_assert_eq(aml_eisaid_encode("PNP05G1", &v), -1);

	struct aml a;
	aml_init(&a);
	aml_eisaid(&a, "PNP0B00"); /* small value, still a DWordConst */
	const uint8_t want[] = { 0x0c, 0x41, 0xd0, 0x0b, 0x00 };
	expect_bytes(a.data, a.len, want, sizeof(want));
	aml_release(&a);
}

Test(aml, namestrings)
{
	struct aml a;
	aml_init(&a);
	aml_namestring(&a, "\\_SB");
	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "A.B.C");
	aml_namestring(&a, "^^RTC");
	aml_namestring(&a, "\\");
	const uint8_t want[] = {
		0x5c, '_', 'S', 'B', '_',
		0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
		0x5e, 0x5e, 'R', 'T', 'C', '_',
		0x5c, 0x00,
	};
	expect_bytes(a.data, a.len, want, sizeof(want));
	struct error e;
	cr_assert_eq(aml_check(&a, &e), 0);
	aml_release(&a);

	const char *bad[] = { "com1", "TOOLONG", "1ABC", "A..B", "A.", "", "\\^A" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a);
		aml_namestring(&a, bad[i]);
		if (!*bad[i]) { /* the empty path is the NullName, not an error */
			cr_assert_eq(aml_check(&a, &e), 0);
		} else {
			cr_assert_eq(aml_check(&a, &e), -1, "\"%s\" accepted", bad[i]);
			cr_assert(strstr(e.msg, "invalid AML name"), "%s", e.msg);
		}
		aml_release(&a);
	}
}

/* A Buffer holding n zero bytes: checks the PkgLength chosen when the block closes. */
static void check_buffer_of(size_t n, const uint8_t *want_prefix, size_t prefix_len)
{
	struct aml a;
	aml_init(&a);
	struct aml_block b = aml_buffer(&a);
	for (size_t i = 0; i < n; i++)
		aml_emit_byte(&a, 0);
	aml_end(&a, b);
	struct error e;
	cr_assert_eq(aml_check(&a, &e), 0, "%s", e.msg);
	cr_assert_eq(a.len, 1 + prefix_len + n);
	expect_bytes(a.data + 1, prefix_len, want_prefix, prefix_len);
	aml_release(&a);
}

Test(aml, block_pkglen_includes_itself)
{
	/* Buffer of 60 bytes: BytePrefix 60 (2) + 60 + PkgLength (1) = 63, one byte. */
	check_buffer_of(60, (const uint8_t[]){ 0x3f, 0x0a, 60 }, 3);
	/* 61 bytes: 2 + 61 + 1 = 64 does not fit one byte; with two: 65 = 0x41 0x04. */
	check_buffer_of(61, (const uint8_t[]){ 0x41, 0x04, 0x0a, 61 }, 4);
	/* 4090 bytes: WordPrefix (3) + 4090 + 2 = 4095, still two bytes. */
	check_buffer_of(4090, (const uint8_t[]){ 0x4f, 0xff, 0x0b, 0xfa, 0x0f }, 5);
	/* 4091 bytes: 3 + 4091 + 2 = 4096 needs three: 4097 = 0x81 0x00 0x01. */
	check_buffer_of(4091, (const uint8_t[]){ 0x81, 0x00, 0x01, 0x0b, 0xfb, 0x0f }, 6);
}

Test(aml, device_method_package_bytes)
{
	struct aml a;
	aml_init(&a);
	struct aml_block dev = aml_device(&a, "COM1");
	aml_method_return_integer(&a, "_STA", 0x0f);
	aml_end(&a, dev);
	struct aml_block pkg = aml_package(&a, 2);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_end(&a, pkg);
	const uint8_t want[] = {
		0x5b, 0x82, 15, 'C', 'O', 'M', '1',
		0x14, 9, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f,
		0x12, 5, 2, 0x0a, 5, 0x00,
	};
	expect_bytes(a.data, a.len, want, sizeof(want));
	aml_release(&a);
}

Test(aml, resource_template_bytes)
{
	struct aml a;
	aml_init(&a);
	struct aml_block rt = aml_resource_template(&a);
	aml_res_io_fixed(&a, 0x3f8, 8);
	aml_res_irq_noflags(&a, 4);
	aml_end(&a, rt);
	const uint8_t want[] = {
		0x11, 16, 0x0a, 13,
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
		0x22, 0x10, 0x00,
		0x79, 0x00,
	};
	expect_bytes(a.data, a.len, want, sizeof(want));
	aml_release(&a);
}

Test(aml, errors_are_sticky_and_reported)
{
	struct error e;
	struct aml a;

	aml_init(&a);
	struct aml_block outer = aml_scope(&a, "\\_SB");
	struct aml_block inner = aml_device(&a, "DEV0");
	aml_end(&a, outer); /* closes the wrong block */
	cr_assert_eq(aml_check(&a, &e), -1);
	cr_assert(strstr(e.msg, "out of order"), "%s", e.msg);
	(void)inner;
	aml_release(&a);

	aml_init(&a);
	aml_scope(&a, "\\_SB");
	cr_assert_eq(aml_check(&a, &e), -1);
	cr_assert(strstr(e.msg, "left open"), "%s", e.msg);
	aml_release(&a);

	aml_init(&a);
	struct aml_block rt = aml_resource_template(&a);
	aml_res_irq_noflags(&a, 16);
	aml_res_io(&a, 0x100, 0xff, 1, 1);
	aml_end(&a, rt);
	cr_assert_eq(aml_check(&a, &e), -1);
	cr_assert(strstr(e.msg, "IRQ 16"), "first failure wins: %s", e.msg);
	aml_release(&a);

	aml_init(&a);
	aml_res_word_io(&a, 0, 0xffff); /* length 0x10000 does not fit a Word */
	cr_assert_eq(aml_check(&a, &e), -1);
	aml_release(&a);

	aml_init(&a);
	aml_package(&a, 256);
	cr_assert_eq(aml_check(&a, &e), -1);
	aml_release(&a);
}

/* --- Round trip through iasl --- */

static bool have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

/* Runs `cmd` in dir with stdout+stderr captured into out; returns the exit status. */
static int run_in(const char *dir, const char *cmd, char *out, size_t out_size)
{
	char line[1024];
	snprintf(line, sizeof(line), "cd '%s' && %s 2>&1", dir, cmd);
	FILE *p = popen(line, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, out_size - 1, p);
	out[n] = 0;
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_file(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s not written", path);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)size + 1);
	cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = 0;
	fclose(f);
	return buf;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* iasl's messages: "Error 6xxx", "Warning 3xxx", and the per-table checksum complaint. */
static void assert_iasl_clean(const char *what, const char *out)
{
	const char *bad[] = { "Error", "Warning", "error", "warning", "Incorrect", "Invalid" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(strstr(out, bad[i]), "%s: iasl said \"%s\":\n%s", what, bad[i], out);
}

static void disassemble(const char *dir, const char *file)
{
	char cmd[256], out[16384];
	snprintf(cmd, sizeof(cmd), "iasl -d %s", file);
	int rc = run_in(dir, cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "iasl -d %s exited %d:\n%s", file, rc, out);
	assert_iasl_clean(file, out);
	char dsl[64];
	snprintf(dsl, sizeof(dsl), "%.*s.dsl", (int)(strchr(file, '.') - file), file);
	char *text = read_file(dir, dsl);
	assert_iasl_clean(dsl, text);
	free(text);
}

static void recompile(const char *dir, const char *dsl)
{
	char cmd[256], out[16384];
	snprintf(cmd, sizeof(cmd), "iasl -p recompiled %s", dsl);
	int rc = run_in(dir, cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "iasl %s exited %d:\n%s", dsl, rc, out);
	cr_assert_not_null(strstr(out, "0 Errors, 0 Warnings"), "iasl %s:\n%s", dsl, out);
}

static void make_temp_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/ember-acpi-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_temp_dir(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void dump_table(const struct built *b, const char *dir, uint64_t gpa, const char *file)
{
	const struct acpi_header *h = gpa_ptr(b, gpa, sizeof(*h));
	write_file(dir, file, gpa_ptr(b, gpa, h->length), h->length);
}

static void iasl_round_trip(unsigned ncpus, const uint32_t *ids)
{
	if (!have_iasl())
		cr_skip_test("iasl (acpica-tools) is not installed");
	struct built b;
	build(&b, ncpus, ids);
	char dir[64];
	make_temp_dir(dir, sizeof(dir));

	const struct acpi_fadt *f = fadt_of(&b);
	dump_table(&b, dir, rsdp_of(&b)->xsdt_address, "XSDT.dat");
	dump_table(&b, dir, xsdt_entry(xsdt_of(&b), 0), "FACP.dat");
	dump_table(&b, dir, xsdt_entry(xsdt_of(&b), 1), "APIC.dat");
	dump_table(&b, dir, f->x_dsdt, "DSDT.aml");

	/* (This iasl cannot disassemble a lone RSDP; the structure tests cover it.) */
	const char *files[] = { "XSDT.dat", "FACP.dat", "APIC.dat", "DSDT.aml" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		disassemble(dir, files[i]);

	char *dsdt = read_file(dir, "DSDT.dsl");
	cr_assert_not_null(strstr(dsdt, "PNP0501"), "%s", dsdt);
	cr_assert_not_null(strstr(dsdt, "PNP0B00"), "%s", dsdt);
	cr_assert_not_null(strstr(dsdt, "PNP0303"), "%s", dsdt);
	/* iasl prints the object as "Name (\_S5, Package (0x02)  // _S5_: S5 System State". */
	cr_assert_not_null(strstr(dsdt, "_S5_"), "%s", dsdt);
	cr_assert_not_null(strstr(dsdt, "Name (\\_S5, Package (0x02)"), "%s", dsdt);
	cr_assert_not_null(strstr(dsdt, "IRQNoFlags"), "%s", dsdt);
	free(dsdt);
	char *madt = read_file(dir, "APIC.dsl");
	cr_assert_not_null(strstr(madt, "Processor Local APIC"), "%s", madt);
	if (ids)
		cr_assert_not_null(strstr(madt, "Processor Local x2APIC"), "%s", madt);
	free(madt);
	char *fadt = read_file(dir, "FACP.dsl");
	cr_assert_not_null(strstr(fadt, "Hardware Reduced (V5) : 1"), "%s", fadt);
	free(fadt);

	recompile(dir, "DSDT.dsl");
	remove_temp_dir(dir);
	guest_mem_destroy(&b.gm);
}

Test(acpi_iasl, tables_disassemble_and_dsdt_recompiles_1cpu) { iasl_round_trip(1, NULL); }
Test(acpi_iasl, tables_disassemble_and_dsdt_recompiles_4cpus) { iasl_round_trip(4, NULL); }

Test(acpi_iasl, tables_disassemble_with_x2apic_255cpus)
{
	uint32_t ids[255];
	for (unsigned i = 0; i < 255; i++)
		ids[i] = 2 * i; /* 0..508: half of them need x2APIC entries */
	iasl_round_trip(255, ids);
}

/* The helpers the PCI root bridge will use, wrapped in an SSDT and checked by iasl. */
Test(acpi_iasl, address_space_helpers_round_trip)
{
	if (!have_iasl())
		cr_skip_test("iasl (acpica-tools) is not installed");
	struct aml a;
	aml_init(&a);
	struct aml_block sb = aml_scope(&a, "\\_SB");
	struct aml_block dev = aml_device(&a, "PCI0");
	aml_name_eisaid(&a, "_HID", "PNP0A08");
	aml_name_eisaid(&a, "_CID", "PNP0A03");
	aml_name_integer(&a, "_SEG", 0);
	aml_name_integer(&a, "_UID", 0);
	aml_name_string(&a, "DESC", "Ember test bridge");
	aml_name(&a, "_CRS");
	struct aml_block rt = aml_resource_template(&a);
	aml_res_word_bus_number(&a, 0, 0xff);
	aml_res_io_fixed(&a, 0xcf8, 8);
	aml_res_word_io(&a, 0x0000, 0x0cf7);
	aml_res_word_io(&a, 0x0d00, 0xffff);
	aml_res_dword_memory(&a, AML_MEM_NONCACHEABLE, true, 0xc0000000, 0xdfffffff);
	aml_res_qword_memory(&a, AML_MEM_PREFETCHABLE, true, 0x8000000000ULL, 0xffffffffffULL);
	aml_res_memory32_fixed(&a, true, 0xe0000000, 0x10000000);
	aml_res_interrupt(&a, 20, true, true);
	aml_end(&a, rt);
	aml_end(&a, dev);
	aml_end(&a, sb);
	struct error e;
	cr_assert_eq(aml_check(&a, &e), 0, "%s", e.msg);

	size_t len = sizeof(struct acpi_header) + a.len;
	uint8_t *table = calloc(1, len);
	struct acpi_header h = { .length = (uint32_t)len, .revision = 2, .oem_revision = 1,
				 .creator_revision = 1 };
	memcpy(h.signature, "SSDT", 4);
	memcpy(h.oem_id, "EMBER ", 6);
	memcpy(h.oem_table_id, "EMBERVM ", 8);
	memcpy(h.creator_id, "EMBR", 4);
	memcpy(table, &h, sizeof(h));
	memcpy(table + sizeof(h), a.data, a.len);
	table[9] = (uint8_t)-sum8(table, len);
	aml_release(&a);

	char dir[64];
	make_temp_dir(dir, sizeof(dir));
	write_file(dir, "SSDT.aml", table, len);
	free(table);
	disassemble(dir, "SSDT.aml");
	char *dsl = read_file(dir, "SSDT.dsl");
	const char *want[] = { "WordBusNumber", "WordIO", "DWordMemory", "QWordMemory",
			       "Memory32Fixed", "Interrupt (ResourceConsumer, Level, ActiveLow",
			       "Prefetchable", "0x00000014", "PNP0A08", "Ember test bridge" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(dsl, want[i]), "no \"%s\" in:\n%s", want[i], dsl);
	free(dsl);
	recompile(dir, "SSDT.dsl");
	remove_temp_dir(dir);
}
