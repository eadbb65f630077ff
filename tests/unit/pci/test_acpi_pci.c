/* ACPI for PCI: the MCFG table, the PCI0 root bridge and the ECAM reservation in the DSDT, checked
 * structurally and (when acpica-tools is installed) through an iasl disassembly and recompile. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"
#include "devices/pci/pci.h"

static struct guest_mem gm;
static uint64_t rsdp;

static void build(unsigned buses)
{
	struct error e;
	cr_assert_eq(guest_mem_init(&gm, 64 << 20, &e), 0, "%s", e.msg);
	struct acpi_config cfg = { .ncpus = 2, .pci_buses = buses };
	cr_assert_eq(acpi_build(&gm, &cfg, &rsdp, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	guest_mem_destroy(&gm);
}

static const struct acpi_header *table(uint64_t gpa)
{
	const struct acpi_header *h = guest_mem_ptr(&gm, gpa, sizeof(*h));
	cr_assert_not_null(h);
	h = guest_mem_ptr(&gm, gpa, h->length);
	cr_assert_not_null(h);
	uint8_t sum = 0;
	for (uint32_t i = 0; i < h->length; i++)
		sum = (uint8_t)(sum + ((const uint8_t *)h)[i]);
	cr_assert_eq(sum, 0, "%.4s checksum", h->signature);
	return h;
}

/* The XSDT entry with this signature, or 0. */
static uint64_t find(const char *sig)
{
	const struct acpi_rsdp *r = guest_mem_ptr(&gm, rsdp, sizeof(*r));
	const struct acpi_header *x = table(r->xsdt_address);
	unsigned n = (unsigned)((x->length - sizeof(*x)) / 8);
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa;
		memcpy(&gpa, (const uint8_t *)(x + 1) + 8 * i, 8);
		if (memcmp(table(gpa)->signature, sig, 4) == 0)
			return gpa;
	}
	return 0;
}

Test(acpi_pci, no_pci_no_mcfg, .fini = teardown)
{
	build(0);
	cr_expect_eq(find("MCFG"), 0);
	cr_expect_neq(find("FACP"), 0);
}

Test(acpi_pci, mcfg_points_at_the_ecam, .fini = teardown)
{
	build(PCI_ECAM_BUSES);
	uint64_t gpa = find("MCFG");
	cr_assert_neq(gpa, 0);
	const struct acpi_header *h = table(gpa);
	cr_assert_eq(h->length, 60);
	cr_expect_eq(h->revision, 1);
	const uint8_t *alloc = (const uint8_t *)h + 44;
	uint64_t base;
	uint16_t segment;
	memcpy(&base, alloc, 8);
	memcpy(&segment, alloc + 8, 2);
	cr_expect_eq(base, LAYOUT_PCI_ECAM_START);
	cr_expect_eq(segment, 0);
	cr_expect_eq(alloc[10], 0, "start bus");
	cr_expect_eq(alloc[11], PCI_ECAM_BUSES - 1, "end bus");
}

Test(acpi_pci, too_many_buses, .fini = teardown)
{
	struct error e;
	cr_assert_eq(guest_mem_init(&gm, 64 << 20, &e), 0);
	struct acpi_config cfg = { .ncpus = 1, .pci_buses = 257 };
	cr_expect_eq(acpi_build(&gm, &cfg, &rsdp, &e), -1);
	cr_expect(strstr(e.msg, "PCI buses") != NULL, "%s", e.msg);
}

static int run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, size - 1, p);
	out[n] = 0;
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(acpi_pci, iasl_sees_the_root_bridge, .fini = teardown)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		cr_skip_test("iasl (acpica-tools) is not installed");
	build(PCI_ECAM_BUSES);
	char dir[] = "/tmp/ember-acpi-pci-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	const struct acpi_fadt *f = (const struct acpi_fadt *)table(find("FACP"));
	struct { uint64_t gpa; const char *name; } dumps[] = {
		{ f->x_dsdt, "DSDT.aml" }, { find("MCFG"), "MCFG.dat" } };
	for (size_t i = 0; i < 2; i++) {
		const struct acpi_header *h = table(dumps[i].gpa);
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", dir, dumps[i].name);
		FILE *out = fopen(path, "w");
		cr_assert_not_null(out);
		cr_assert_eq(fwrite(h, 1, h->length, out), h->length);
		fclose(out);
	}
	static char text[65536];
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d DSDT.aml MCFG.dat >/dev/null 2>&1 && "
		 "cat DSDT.dsl MCFG.dsl && iasl -p re DSDT.dsl 2>&1 | tail -3", dir);
	cr_assert_eq(run(cmd, text, sizeof(text)), 0, "%s", text);
	const char *want[] = { "PNP0A08", "PNP0A03", "PNP0C02", "_SEG", "_BBN",
			       "WordBusNumber", "0x0CF7", "0x0D00", "0xC0000000", "0xDFFFFFFF",
			       "0xE0000000", "Base Address : 00000000E0000000",
			       "End Bus Number : 00", "0 Errors, 0 Warnings" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(strstr(text, want[i]), "no \"%s\" in:\n%s", want[i], text);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
