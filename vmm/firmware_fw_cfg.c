/* What a firmware boot tells the firmware over fw_cfg (see firmware.h for the list). The names
 * and formats are QEMU's, because OVMF and SeaBIOS read exactly those: OVMF's PlatformPei takes
 * the memory below 4 GiB and above from "etc/e820", the CPU count from FW_CFG_NB_CPUS;
 * AcpiPlatformDxe runs "etc/table-loader"; QemuKernelLoaderFsDxe serves the kernel items. */
#include "firmware.h"

#include <string.h>

#include "../arch/x86/layout.h"

#define FW_E820_MAX 8
/* "etc/system-states": one byte per S state; bit 7 set means the state is offered. Ember offers
 * none of S1-S4 (a VM cannot suspend); S5 is the FADT's business. */
#define FW_SYSTEM_STATES 6

static size_t e820_add(struct e820_entry *out, size_t n, size_t max, uint64_t addr, uint64_t size,
		       uint32_t type)
{
	if (size == 0 || n >= max)
		return n;
	out[n] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	return n + 1;
}

size_t firmware_e820(const struct guest_mem *mem, struct e820_entry *out, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < mem->nregions; i++)
		if (mem->regions[i].gpa < LAYOUT_4G)
			n = e820_add(out, n, max, mem->regions[i].gpa, mem->regions[i].size, E820_RAM);
	/* QEMU reserves the same pages, so that nothing (a PCI BAR) is put where KVM keeps them. */
	n = e820_add(out, n, max, LAYOUT_FW_KVM_PAGES, LAYOUT_FW_KVM_PAGES_SIZE, E820_RESERVED);
	for (unsigned i = 0; i < mem->nregions; i++)
		if (mem->regions[i].gpa >= LAYOUT_4G)
			n = e820_add(out, n, max, mem->regions[i].gpa, mem->regions[i].size, E820_RAM);
	return n;
}

static int add_acpi(struct fw_cfg *f, const struct acpi_config *acpi, struct error *e)
{
	struct acpi_blobs b;
	if (acpi_build_blobs(acpi, &b, e) < 0)
		return -1;
	int rc = fw_cfg_add_file(f, ACPI_FILE_TABLES, b.tables, b.tables_len, e) < 0 ||
			 fw_cfg_add_file(f, ACPI_FILE_RSDP, b.rsdp, sizeof(b.rsdp), e) < 0 ||
			 fw_cfg_add_file(f, ACPI_FILE_LOADER, b.loader, b.loader_len, e) < 0
		 ? -1
		 : 0;
	acpi_blobs_free(&b);
	return rc;
}

static int add_machine(struct fw_cfg *f, const struct firmware_machine *m, struct error *e)
{
	struct e820_entry map[FW_E820_MAX];
	size_t n = firmware_e820(m->mem, map, FW_E820_MAX);
	static const uint8_t states[FW_SYSTEM_STATES] = { 0 };
	static const char mmio64_mb[] = "0";
	if (fw_cfg_add_u64(f, FW_CFG_RAM_SIZE, m->mem->size, e) < 0 ||
	    fw_cfg_add_u16(f, FW_CFG_NB_CPUS, (uint16_t)m->ncpus, e) < 0 ||
	    fw_cfg_add_u16(f, FW_CFG_MAX_CPUS, (uint16_t)m->max_cpus, e) < 0 ||
	    fw_cfg_add_u16(f, FW_CFG_NOGRAPHIC, 1, e) < 0 ||
	    fw_cfg_add_u16(f, FW_CFG_BOOT_MENU, 0, e) < 0 ||
	    fw_cfg_add_file(f, "etc/e820", map, n * sizeof(map[0]), e) < 0 ||
	    fw_cfg_add_file(f, "etc/system-states", states, sizeof(states), e) < 0 ||
	    fw_cfg_add_file(f, "bootorder", "", 0, e) < 0 ||
	    /* the text without its NUL, as QEMU's -fw_cfg string= stores it */
	    fw_cfg_add_file(f, "opt/ovmf/X-PciMmio64Mb", mmio64_mb, strlen(mmio64_mb), e) < 0)
		return -1;
	return 0;
}

int firmware_fw_cfg_setup(struct fw_cfg *f, const struct firmware_machine *m, struct error *e)
{
	if (add_machine(f, m, e) < 0 || add_acpi(f, m->acpi, e) < 0)
		return error_prefix(e, "fw_cfg");
	if (m->kernel && fw_cfg_set_kernel(f, m->kernel, e) < 0)
		return error_prefix(e, "fw_cfg");
	return 0;
}
