/* Firmware boot (docs/firmware.md) without KVM: the image checks, the memory map and fw_cfg
 * items a firmware gets, the Q35 identity of the PCI bus as OVMF probes it, the ACPI PM timer
 * and the PM1 control register OVMF powers off with. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/legacy/acpi_pm_timer.h"
#include "devices/legacy/fw_cfg.h"
#include "devices/legacy/q35_pm_control.h"
#include "devices/pci/pci_q35.h"
#include "port_io.h"
#include "vmm/firmware.h"

/* ---- the image ---- */

static char *temp_file(size_t size)
{
	char *path = strdup("/tmp/ember-fw-test.XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (size >= 16)
		cr_assert_eq(pwrite(fd, "reset-vector-end", 16, (off_t)size - 16), 16);
	close(fd);
	return path;
}

static void expect_load_error(size_t size, const char *what)
{
	char *path = temp_file(size);
	struct firmware fw;
	struct error e;
	cr_assert_lt(firmware_load(&fw, path, &e), 0, "%zu bytes", size);
	cr_assert(strstr(e.msg, what) && strstr(e.msg, path), "%s", e.msg);
	unlink(path);
	free(path);
}

Test(firmware, image_checks)
{
	expect_load_error(0, "empty");
	expect_load_error(2 * 1024 * 1024 + 100, "4 KiB pages");
	expect_load_error(32 * 1024, "64 KiB to 16 MiB");
	expect_load_error(32 * 1024 * 1024, "64 KiB to 16 MiB");
	struct firmware fw;
	struct error e;
	cr_assert_lt(firmware_load(&fw, "/nonexistent/OVMF.fd", &e), 0);
	cr_assert(strstr(e.msg, "cannot open firmware"), "%s", e.msg);
	cr_assert_lt(firmware_load(&fw, "/tmp", &e), 0);
	cr_assert(strstr(e.msg, "not a regular file"), "%s", e.msg);

	char *path = temp_file(2 * 1024 * 1024);
	cr_assert_eq(firmware_load(&fw, path, &e), 0, "%s", e.msg);
	cr_assert_eq(fw.gpa, LAYOUT_4G - 2 * 1024 * 1024, "ends at 4 GiB");
	cr_assert_eq(memcmp(fw.image + fw.size - 16, "reset-vector-end", 16), 0);
	firmware_release(&fw);
	unlink(path);
	free(path);
}

/* ---- what the firmware is told ---- */

Test(firmware, e820_for_firmware)
{
	struct guest_mem mem;
	struct error e;
	cr_assert_eq(guest_mem_init(&mem, 4ULL << 30, &e), 0, "%s", e.msg); /* crosses the hole */
	struct e820_entry map[8];
	size_t n = firmware_e820(&mem, map, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(map[0].addr, 0, "RAM from 0: the firmware carves its own legacy areas");
	cr_assert_eq(map[0].size, guest_mem_low_end(&mem));
	cr_assert_eq(map[0].type, E820_RAM);
	cr_assert_eq(map[1].addr, LAYOUT_FW_KVM_PAGES);
	cr_assert_eq(map[1].type, E820_RESERVED);
	cr_assert_eq(map[2].addr, LAYOUT_4G);
	cr_assert_eq(map[0].size + map[2].size, 4ULL << 30);
	cr_assert_eq(firmware_e820(&mem, map, 1), 1, "bounded by max");
	guest_mem_destroy(&mem);
}

static uint64_t item_le(struct fw_cfg *f, uint16_t key, uint32_t want_len)
{
	uint32_t len;
	const uint8_t *p = fw_cfg_item(f, key, &len);
	cr_assert_not_null(p, "key 0x%x", key);
	cr_assert_eq(len, want_len, "key 0x%x", key);
	uint64_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static const uint8_t *file(struct fw_cfg *f, const char *name, uint32_t *len)
{
	int key = fw_cfg_file_key(f, name);
	cr_assert_geq(key, 0, "no file %s", name);
	return fw_cfg_item(f, (uint16_t)key, len);
}

Test(firmware, fw_cfg_items_for_a_machine)
{
	struct guest_mem mem;
	struct error e;
	cr_assert_eq(guest_mem_init(&mem, 512ULL << 20, &e), 0, "%s", e.msg);
	struct fw_cfg *f = fw_cfg_create(&mem, &e);
	cr_assert_not_null(f, "%s", e.msg);
	uint32_t ids[] = { 0, 1, 8 };
	struct acpi_config acpi = { .ncpus = 3, .apic_ids = ids, .pci_buses = 1,
				    .ecam_base = LAYOUT_Q35_ECAM_START };
	uint8_t kernel[8192] = { 0 };
	memcpy(kernel + 0x202, "HdrS", 4);
	struct fw_cfg_kernel k = { .kernel = kernel, .kernel_size = sizeof(kernel),
				   .cmdline = "quiet" };
	struct firmware_machine m = { .mem = &mem, .ncpus = 3, .max_cpus = 9, .acpi = &acpi,
				      .kernel = &k };
	cr_assert_eq(firmware_fw_cfg_setup(f, &m, &e), 0, "%s", e.msg);

	cr_assert_eq(item_le(f, FW_CFG_RAM_SIZE, 8), 512ULL << 20);
	cr_assert_eq(item_le(f, FW_CFG_NB_CPUS, 2), 3);
	cr_assert_eq(item_le(f, FW_CFG_MAX_CPUS, 2), 9);
	cr_assert_eq(item_le(f, FW_CFG_SETUP_SIZE, 4), 5 * 512, "setup_sects 0 means 4");
	cr_assert_eq(item_le(f, FW_CFG_CMDLINE_SIZE, 4), 6);
	uint32_t len;
	const uint8_t *p = file(f, "etc/e820", &len);
	cr_assert_eq(len, 2 * 20, "low RAM and the reserved KVM pages, 20 bytes each");
	uint64_t size;
	memcpy(&size, p + 8, 8);
	cr_assert_eq(size, 512ULL << 20);
	p = file(f, "etc/system-states", &len);
	cr_assert_eq(len, 6);
	for (unsigned i = 0; i < len; i++)
		cr_assert_eq(p[i], 0, "no S1-S4");
	p = file(f, "opt/ovmf/X-PciMmio64Mb", &len);
	cr_assert_eq(len, 1);
	cr_assert_eq(p[0], '0');
	file(f, "bootorder", &len);
	cr_assert_eq(len, 0);
	file(f, "etc/acpi/rsdp", &len);
	cr_assert_eq(len, 36);
	file(f, "etc/acpi/tables", &len);
	cr_assert_gt(len, 36 * 5);
	file(f, "etc/table-loader", &len);
	cr_assert_eq(len % 128, 0);
	fw_cfg_destroy(f);
	guest_mem_destroy(&mem);
}

/* ---- the Q35 identity, probed the way OVMF does ---- */

struct q35_fixture {
	struct io_bus pio, mmio;
	struct pci_bus *bus;
	struct pci_device *lpc;
};

static void q35_setup(struct q35_fixture *q)
{
	struct error e;
	memset(q, 0, sizeof(*q));
	io_bus_init(&q->pio, "pio");
	io_bus_init(&q->mmio, "mmio");
	q->bus = pci_bus_create_ecam(&q->pio, &q->mmio, -1, LAYOUT_Q35_ECAM_START, &e);
	cr_assert_not_null(q->bus, "%s", e.msg);
	cr_assert_eq(pci_q35_init(q->bus, &q->lpc, &e), 0, "%s", e.msg);
}

static void q35_teardown(struct q35_fixture *q)
{
	pci_device_destroy(q->lpc);
	pci_bus_destroy(q->bus);
	io_bus_destroy(&q->pio);
	io_bus_destroy(&q->mmio);
}

/* Mechanism #1, as OVMF's PEI phase reads config space. */
static uint32_t cf8_read(struct q35_fixture *q, unsigned slot, unsigned reg)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc);
	io_bus_dispatch(&q->pio, 0xcf8, (uint8_t *)&addr, 4, true);
	uint32_t v = 0;
	io_bus_dispatch(&q->pio, 0xcfc, (uint8_t *)&v, 4, false);
	return v;
}

/* ECAM at 0xB0000000, as its DXE phase does. */
static uint32_t ecam_read(struct q35_fixture *q, unsigned slot, unsigned reg)
{
	uint32_t v = 0;
	io_bus_dispatch(&q->mmio, LAYOUT_Q35_ECAM_START + ((uint64_t)slot << 15) + reg,
			(uint8_t *)&v, 4, false);
	return v;
}

static void ecam_write(struct q35_fixture *q, unsigned slot, unsigned reg, uint32_t v)
{
	io_bus_dispatch(&q->mmio, LAYOUT_Q35_ECAM_START + ((uint64_t)slot << 15) + reg,
			(uint8_t *)&v, 4, true);
}

Test(firmware, q35_as_ovmf_sees_it)
{
	struct q35_fixture q;
	q35_setup(&q);
	cr_assert_eq(cf8_read(&q, 0, 0), (uint32_t)Q35_MCH_DEVICE_ID << 16 | Q35_VENDOR_INTEL);
	cr_assert_eq(ecam_read(&q, 0, 0), cf8_read(&q, 0, 0), "both mechanisms agree");
	cr_assert_eq(ecam_read(&q, Q35_LPC_SLOT, 0),
		     (uint32_t)Q35_LPC_DEVICE_ID << 16 | Q35_VENDOR_INTEL);
	/* PMBASE 0x600 (bit 0: I/O) with ACPI_EN set: OVMF leaves both alone, and cannot move
	 * them. */
	cr_assert_eq(cf8_read(&q, Q35_LPC_SLOT, 0x40), Q35_PMBASE | 1);
	cr_assert_eq(cf8_read(&q, Q35_LPC_SLOT, 0x44) & 0xff, 0x80);
	ecam_write(&q, Q35_LPC_SLOT, 0x40, 0xb001);
	cr_assert_eq(ecam_read(&q, Q35_LPC_SLOT, 0x40), Q35_PMBASE | 1);
	/* What OVMF writes: PCIEXBAR (read back), RCBA, PIRQ routing. */
	cr_assert_eq(ecam_read(&q, 0, 0x60), (uint32_t)LAYOUT_Q35_ECAM_START | 1);
	ecam_write(&q, 0, 0x60, 0);
	cr_assert_eq(ecam_read(&q, 0, 0x60), 0);
	cr_assert_eq(ecam_read(&q, 0, 0), (uint32_t)Q35_MCH_DEVICE_ID << 16 | Q35_VENDOR_INTEL,
		     "the ECAM does not move with it");
	ecam_write(&q, Q35_LPC_SLOT, 0xf0, 0xfed1c001);
	cr_assert_eq(ecam_read(&q, Q35_LPC_SLOT, 0xf0), 0xfed1c001);
	ecam_write(&q, Q35_LPC_SLOT, 0x60, 0x0b0a0b0a);
	cr_assert_eq(ecam_read(&q, Q35_LPC_SLOT, 0x60), 0x0b0a0b0a);
	/* The class is "other bridge", not ISA: OVMF's SIO drivers stay away. */
	cr_assert_eq(ecam_read(&q, Q35_LPC_SLOT, 8) >> 8, 0x068000);
	/* Nothing at the old ECAM address. */
	uint32_t v = 0;
	cr_assert(!io_bus_dispatch(&q.mmio, LAYOUT_PCI_ECAM_START, (uint8_t *)&v, 4, false));
	q35_teardown(&q);
}

Test(firmware, q35_needs_its_ecam)
{
	struct io_bus pio, mmio;
	io_bus_init(&pio, "pio");
	io_bus_init(&mmio, "mmio");
	struct error e;
	struct pci_bus *bus = pci_bus_create(&pio, &mmio, -1, &e);
	cr_assert_not_null(bus, "%s", e.msg);
	struct pci_device *lpc;
	cr_assert_lt(pci_q35_init(bus, &lpc, &e), 0);
	cr_assert_null(lpc);
	pci_bus_destroy(bus);
	io_bus_destroy(&pio);
	io_bus_destroy(&mmio);
}

/* ---- the PM block ---- */

Test(firmware, pm_timer_counts_at_3_58_mhz_in_24_bits)
{
	struct error e;
	struct acpi_pm_timer *t = acpi_pm_timer_create(&e);
	cr_assert_not_null(t, "%s", e.msg);
	cr_assert_eq(acpi_pm_timer_value(t, 0), 0);
	cr_assert_eq(acpi_pm_timer_value(t, 1000000000ULL), ACPI_PM_TIMER_HZ & ACPI_PM_TIMER_MASK);
	cr_assert_eq(acpi_pm_timer_value(t, 1000ULL), 3, "1 us = 3.58 ticks");
	/* No overflow for any host time: a century of nanoseconds. */
	uint64_t century = 100ULL * 365 * 24 * 3600 * 1000000000ULL;
	cr_assert_leq(acpi_pm_timer_value(t, century), ACPI_PM_TIMER_MASK);
	/* Port reads: the live counter moves forward; writes change nothing. */
	uint32_t a = 0, b = 0;
	acpi_pm_timer_io(t, 0, (uint8_t *)&a, 4, false);
	usleep(2000);
	acpi_pm_timer_io(t, 0, (uint8_t *)&b, 4, false);
	cr_assert_leq(a, ACPI_PM_TIMER_MASK);
	cr_assert_neq(a, b, "2 ms is ~7000 ticks");
	acpi_pm_timer_io(t, 0, (uint8_t *)&a, 4, true);
	/* Save/restore continues from the saved value. */
	struct acpi_pm_timer_state st;
	acpi_pm_timer_save(t, &st);
	struct acpi_pm_timer *u = acpi_pm_timer_create(&e);
	acpi_pm_timer_restore(u, &st);
	acpi_pm_timer_io(u, 0, (uint8_t *)&b, 4, false);
	cr_assert_lt((b - st.counter) & ACPI_PM_TIMER_MASK, ACPI_PM_TIMER_HZ / 10,
		     "restored counter continues from %u (read %u)", st.counter, b);
	acpi_pm_timer_destroy(u);
	acpi_pm_timer_destroy(t);
}

Test(firmware, pm1_control_powers_off_on_s5)
{
	struct power_log log = { 0 };
	struct power_ctl power = { .request = record_power, .opaque = &log };
	struct error e;
	struct q35_pm_control *p = q35_pm_control_create(&power, &e);
	cr_assert_not_null(p, "%s", e.msg);
	/* OVMF's BDS sets SCI_EN; it reads back. */
	uint16_t v = 1;
	q35_pm_control_io(p, 0, (uint8_t *)&v, 2, true);
	v = 0;
	q35_pm_control_io(p, 0, (uint8_t *)&v, 2, false);
	cr_assert_eq(v, 1);
	/* Another sleep type with SLP_EN: stored, no power-off (a VM cannot suspend). */
	v = (uint16_t)(1 | 5 << 10 | Q35_PM1_CNT_SLP_EN);
	q35_pm_control_io(p, 0, (uint8_t *)&v, 2, true);
	cr_assert_eq(log.count, 0);
	q35_pm_control_io(p, 0, (uint8_t *)&v, 2, false);
	cr_assert_eq(v, 1 | 5 << 10, "SLP_EN reads as 0");
	/* ResetSystem(EfiResetShutdown): SLP_TYP 0, then SLP_EN, as two 16-bit writes. */
	v = 1;
	q35_pm_control_io(p, 0, (uint8_t *)&v, 2, true);
	v = (uint16_t)(1 | Q35_PM1_CNT_SLP_EN);
	q35_pm_control_io(p, 0, (uint8_t *)&v, 2, true);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.ev, POWER_OFF);
	/* Byte writes assemble the register too; reads past it float. */
	out8(q35_pm_control_io, p, 1, (uint8_t)(Q35_PM1_CNT_SLP_EN >> 8));
	cr_assert_eq(log.count, 2);
	cr_assert_eq(in8(q35_pm_control_io, p, 2), 0xff);
	struct q35_pm_control_state st;
	q35_pm_control_save(p, &st);
	cr_assert_eq(st.pm1_cnt, 1);
	q35_pm_control_restore(p, &(struct q35_pm_control_state){ .pm1_cnt = 0xffff });
	q35_pm_control_save(p, &st);
	cr_assert_eq(st.pm1_cnt, 0xffff & ~Q35_PM1_CNT_SLP_EN);
	q35_pm_control_destroy(p);
}
