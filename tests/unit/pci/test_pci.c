/* PCI bus and configuration space: both access mechanisms, the host bridge, read-only fields,
 * BAR sizing / placement / moves and the window dispatch, the capability list, and what a
 * hostile guest's odd accesses do. No KVM involved (vm_fd -1). */
#include "pci_test_util.h"

static struct pci_fixture f;

/* A device with a 64-bit BAR 0 of 32 KiB whose handler records the last access. */
struct fake {
	struct pci_device *dev;
	uint64_t last_offset;
	uint32_t last_size;
	bool last_write;
	uint64_t last_value;
	unsigned accesses;
	uint64_t moved_gpa[PCI_NUM_BARS];
	unsigned moves;
	unsigned hook_calls;
};

static void fake_bar_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct fake *fk = opaque;
	fk->last_offset = offset;
	fk->last_size = size;
	fk->last_write = is_write;
	fk->accesses++;
	if (is_write) {
		fk->last_value = 0;
		memcpy(&fk->last_value, data, size);
	} else {
		memset(data, 0x5a, size);
	}
}

static void fake_moved(void *opaque, unsigned bar, uint64_t gpa)
{
	struct fake *fk = opaque;
	fk->moved_gpa[bar] = gpa;
	fk->moves++;
}

static void fake_hook(void *opaque, uint32_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	struct fake *fk = opaque;
	(void)offset;
	fk->hook_calls++;
	if (!is_write)
		memset(data, 0x77, size);
}

static void fake_create(struct fake *fk, bool plug)
{
	memset(fk, 0, sizeof(*fk));
	struct pci_device_info info = { .name = "fake", .vendor_id = 0x1af4, .device_id = 0x1044,
		.subsystem_vendor_id = 0x1af4, .subsystem_id = 0x40, .revision = 1,
		.class_code = 0xff0000, .opaque = fk, .bar_moved = fake_moved,
		.config_hook = fake_hook };
	fk->dev = pci_device_create(f.bus, &info, &f.e);
	cr_assert_not_null(fk->dev, "%s", f.e.msg);
	cr_assert_eq(pci_device_add_bar(fk->dev, 0, 0x8000, true, fake_bar_io, fk, &f.e), 0, "%s",
		     f.e.msg);
	if (plug)
		cr_assert_eq(pci_device_plug(fk->dev, &f.e), 0, "%s", f.e.msg);
}

static void setup(void) { pf_setup(&f); }
static void teardown(void) { pf_teardown(&f); }

TestSuite(pci, .init = setup, .fini = teardown);

Test(pci, host_bridge_in_slot_0_through_both_mechanisms)
{
	cr_expect_eq(pf_cf8_read(&f, 0, PCI_VENDOR_ID, 2), PCI_HOST_BRIDGE_VENDOR);
	cr_expect_eq(pf_cf8_read(&f, 0, PCI_DEVICE_ID, 2), PCI_HOST_BRIDGE_DEVICE);
	cr_expect_eq(pf_ecam_read(&f, 0, PCI_VENDOR_ID, 4),
		     PCI_HOST_BRIDGE_DEVICE << 16 | PCI_HOST_BRIDGE_VENDOR);
	cr_expect_eq(pf_ecam_read(&f, 0, PCI_CLASS_DEVICE, 2), PCI_CLASS_BRIDGE_HOST);
	cr_expect_eq(pf_cf8_read(&f, 0, PCI_CLASS_DEVICE, 2), PCI_CLASS_BRIDGE_HOST);
	cr_expect_eq(pf_cf8_read(&f, 0, PCI_HEADER_TYPE, 1), 0);
}

Test(pci, empty_slots_functions_and_buses_read_all_ones)
{
	cr_expect_eq(pf_cf8_read(&f, 5, PCI_VENDOR_ID, 4), 0xffffffffu);
	cr_expect_eq(pf_ecam_read(&f, 31, PCI_VENDOR_ID, 2), 0xffff);
	cr_expect_eq(pf_mmio_read(&f, pf_ecam_addr(0, 1, 0), 4), 0xffffffffu, "function 1");
	/* Bus 1 lies outside the ECAM range Ember claims: the MMIO bus answers all-ones. */
	cr_expect_eq(pf_mmio_read(&f, LAYOUT_PCI_ECAM_START + (1 << 20), 4), 0xffffffffu);
	uint32_t addr = 0x80010000u, v = 0; /* bus 1 through 0xcf8 */
	io_bus_dispatch(&f.pio, 0xcf8, (uint8_t *)&addr, 4, true);
	io_bus_dispatch(&f.pio, 0xcfc, (uint8_t *)&v, 4, false);
	cr_expect_eq(v, 0xffffffffu);
}

Test(pci, config_address_latch)
{
	uint32_t addr = 0x80000800u, back = 0;
	io_bus_dispatch(&f.pio, 0xcf8, (uint8_t *)&addr, 4, true);
	io_bus_dispatch(&f.pio, 0xcf8, (uint8_t *)&back, 4, false);
	cr_expect_eq(back, addr);
	/* A byte write to 0xcf9 (reset control on PCs) does not touch the latch. */
	uint8_t b = 0x06;
	io_bus_dispatch(&f.pio, 0xcf9, &b, 1, true);
	io_bus_dispatch(&f.pio, 0xcf8, (uint8_t *)&back, 4, false);
	cr_expect_eq(back, addr);
	/* Enable bit clear: no configuration cycle. */
	addr = 0x00000000u;
	uint32_t v = 0;
	io_bus_dispatch(&f.pio, 0xcf8, (uint8_t *)&addr, 4, true);
	io_bus_dispatch(&f.pio, 0xcfc, (uint8_t *)&v, 4, false);
	cr_expect_eq(v, 0xffffffffu);
}

Test(pci, sub_dword_data_port_accesses)
{
	struct fake fk;
	fake_create(&fk, true);
	cr_assert_eq(fk.dev->slot, 1);
	cr_expect_eq(pf_cf8_read(&f, 1, PCI_DEVICE_ID, 2), 0x1044);
	cr_expect_eq(pf_cf8_read(&f, 1, PCI_DEVICE_ID + 1, 1), 0x10);
	cr_expect_eq(pf_cf8_read(&f, 1, PCI_REVISION_ID, 1), 1);
	cr_expect_eq(pf_cf8_read(&f, 1, PCI_SUBSYSTEM_ID, 2), 0x40);
	pci_device_destroy(fk.dev);
}

Test(pci, read_only_fields_survive_writes)
{
	struct fake fk;
	fake_create(&fk, true);
	for (unsigned reg = 0; reg < 0x40; reg += 4) {
		if (reg == PCI_COMMAND || (reg >= PCI_BASE_ADDRESS_0 && reg <= PCI_BASE_ADDRESS_5) ||
		    reg == PCI_CACHE_LINE_SIZE || reg == PCI_INTERRUPT_LINE)
			continue;
		uint32_t before = pf_ecam_read(&f, 1, reg, 4);
		pf_ecam_write(&f, 1, reg, 0xffffffffu, 4);
		pf_ecam_write(&f, 1, reg, 0, 4);
		cr_expect_eq(pf_ecam_read(&f, 1, reg, 4), before, "register 0x%x changed", reg);
	}
	/* Interrupt line is scratch, interrupt pin stays 0 (no INTx). */
	pf_ecam_write(&f, 1, PCI_INTERRUPT_LINE, 0xffff, 2);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_INTERRUPT_LINE, 1), 0xff);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_INTERRUPT_PIN, 1), 0);
	/* Only the defined command bits stick. */
	pf_ecam_write(&f, 1, PCI_COMMAND, 0xffff, 2);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_COMMAND, 2), 0x547);
	pci_device_destroy(fk.dev);
}

Test(pci, odd_and_misaligned_accesses)
{
	cr_expect_eq(pf_ecam_read(&f, 0, 1, 2), 0xffff, "misaligned word");
	cr_expect_eq(pf_ecam_read(&f, 0, 2, 4), 0xffffffffu, "misaligned dword");
	cr_expect_eq(pf_mmio_read(&f, pf_ecam_addr(0, 0, 0), 8), ~0ull, "qword");
	cr_expect_eq(pf_ecam_read(&f, 0, 0x100, 4), 0, "extended space reads zero");
	cr_expect_eq(pf_ecam_read(&f, 0, 0xffc, 4), 0);
	pf_ecam_write(&f, 0, 0x100, 0xffffffffu, 4);
	cr_expect_eq(pf_ecam_read(&f, 0, 0x100, 4), 0);
	/* Through 0xcfd a word access is misaligned too. */
	uint32_t addr = 0x80000000u;
	uint16_t v = 0;
	io_bus_dispatch(&f.pio, 0xcf8, (uint8_t *)&addr, 4, true);
	io_bus_dispatch(&f.pio, 0xcfd, (uint8_t *)&v, 2, false);
	cr_expect_eq(v, 0xffff);
}

Test(pci, bar_placed_and_decoding_after_plug)
{
	struct fake fk;
	fake_create(&fk, true);
	uint32_t lo = pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_0, 4);
	uint32_t hi = pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_1, 4);
	cr_expect_eq(lo & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64);
	uint64_t gpa = ((uint64_t)hi << 32) | (lo & ~0xfu);
	cr_expect_eq(gpa, LAYOUT_PCI_MMIO32_START);
	cr_expect(pf_ecam_read(&f, 1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	cr_expect_eq(fk.moves, 1);
	cr_expect_eq(fk.moved_gpa[0], gpa);
	cr_expect_eq(fk.dev->bars[0].gpa, gpa);

	cr_expect_eq(pf_mmio_read(&f, gpa + 0x10, 4), 0x5a5a5a5a);
	cr_expect_eq(fk.last_offset, 0x10);
	pf_mmio_write(&f, gpa + 0x7ff8, 0x1122334455667788ull, 8);
	cr_expect_eq(fk.last_offset, 0x7ff8);
	cr_expect_eq(fk.last_value, 0x1122334455667788ull);
	/* Straddling the end of the BAR: nobody's access. */
	unsigned before = fk.accesses;
	cr_expect_eq(pf_mmio_read(&f, gpa + 0x7ffc, 8), ~0ull);
	cr_expect_eq(fk.accesses, before);
	pci_device_destroy(fk.dev);
}

Test(pci, bar_sizing_reads_size_mask_and_stops_decoding)
{
	struct fake fk;
	fake_create(&fk, true);
	uint64_t gpa = fk.dev->bars[0].gpa;
	uint32_t lo = pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_0, 4);
	pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_0, 0xffffffffu, 4);
	pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_1, 0xffffffffu, 4);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_0, 4), 0xffff8004u);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_1, 4), 0xffffffffu);
	cr_expect_eq(fk.dev->bars[0].gpa, PCI_BAR_UNMAPPED);
	cr_expect_eq(fk.moved_gpa[0], PCI_BAR_UNMAPPED);
	cr_expect_eq(pf_mmio_read(&f, gpa, 4), 0xffffffffu, "old address still decodes");
	pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_0, lo, 4);
	pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_1, 0, 4);
	cr_expect_eq(fk.dev->bars[0].gpa, gpa);
	cr_expect_eq(fk.moved_gpa[0], gpa);
	cr_expect_eq(pf_mmio_read(&f, gpa, 4), 0x5a5a5a5a);
	/* Unimplemented BARs and the ROM BAR size as 0. */
	pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_2, 0xffffffffu, 4);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_2, 4), 0);
	pf_ecam_write(&f, 1, PCI_ROM_ADDRESS, 0xffffffffu, 4);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_ROM_ADDRESS, 4), 0);
	pci_device_destroy(fk.dev);
}

Test(pci, guest_moves_a_bar)
{
	struct fake fk;
	fake_create(&fk, true);
	uint64_t old = fk.dev->bars[0].gpa, want = LAYOUT_PCI_MMIO32_START + 0x100000;
	/* Unaligned low bits are dropped by the mask: the BAR lands size-aligned. */
	pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_0, (uint32_t)want | 0x1230, 4);
	cr_expect_eq(fk.dev->bars[0].gpa, want);
	cr_expect_eq(fk.moved_gpa[0], want);
	cr_expect_eq(pf_mmio_read(&f, old, 4), 0xffffffffu);
	cr_expect_eq(pf_mmio_read(&f, want + 8, 4), 0x5a5a5a5a);
	cr_expect_eq(fk.last_offset, 8);
	pci_device_destroy(fk.dev);
}

Test(pci, bars_outside_the_window_or_disabled_do_not_decode)
{
	struct fake fk;
	fake_create(&fk, true);
	uint64_t gpa = fk.dev->bars[0].gpa;
	/* Memory decoding off. */
	pf_ecam_write(&f, 1, PCI_COMMAND, 0, 2);
	cr_expect_eq(fk.dev->bars[0].gpa, PCI_BAR_UNMAPPED);
	cr_expect_eq(pf_mmio_read(&f, gpa, 4), 0xffffffffu);
	pf_ecam_write(&f, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_expect_eq(fk.dev->bars[0].gpa, gpa);
	/* Over guest RAM, over the ECAM, above 4 GiB, over the LAPIC, at 0. */
	uint64_t bad[] = { 0x100000, LAYOUT_PCI_ECAM_START, 0x100000000ull,
			   LAYOUT_LAPIC, 0 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_0, (uint32_t)bad[i], 4);
		pf_ecam_write(&f, 1, PCI_BASE_ADDRESS_1, (uint32_t)(bad[i] >> 32), 4);
		cr_expect_eq(fk.dev->bars[0].gpa, PCI_BAR_UNMAPPED, "BAR at 0x%llx decodes",
			     (unsigned long long)bad[i]);
	}
	/* RAM and the ECAM are untouched: the ECAM still answers for the host bridge. */
	cr_expect_eq(pf_ecam_read(&f, 0, PCI_VENDOR_ID, 2), PCI_HOST_BRIDGE_VENDOR);
	pci_device_destroy(fk.dev);
}

Test(pci, overlapping_bars_from_the_guest_do_not_crash)
{
	struct fake a, b;
	fake_create(&a, true);
	fake_create(&b, true);
	cr_expect_neq(a.dev->bars[0].gpa, b.dev->bars[0].gpa);
	cr_expect_eq(b.dev->bars[0].gpa % 0x8000, 0);
	pf_ecam_write(&f, 2, PCI_BASE_ADDRESS_0, (uint32_t)a.dev->bars[0].gpa, 4);
	cr_expect_eq(b.dev->bars[0].gpa, a.dev->bars[0].gpa);
	pf_mmio_read(&f, a.dev->bars[0].gpa, 4);
	cr_expect_eq(a.accesses + b.accesses, 1);
	pci_device_destroy(a.dev);
	pci_device_destroy(b.dev);
}

Test(pci, capability_list)
{
	struct fake fk;
	fake_create(&fk, false);
	uint8_t cap1[8] = { PCI_CAP_ID_VNDR, 0xee, 8, 1, 2, 3, 4, 5 };
	uint8_t cap2[6] = { PCI_CAP_ID_VNDR, 0xee, 6, 9, 9, 9 };
	uint8_t w2[6] = { 0, 0, 0, 0xff, 0, 0 };
	uint8_t off1, off2;
	cr_assert_eq(pci_device_add_capability(fk.dev, cap1, 8, NULL, &off1, &f.e), 0);
	cr_assert_eq(pci_device_add_capability(fk.dev, cap2, 6, w2, &off2, &f.e), 0);
	cr_assert_eq(pci_device_plug(fk.dev, &f.e), 0, "%s", f.e.msg);
	cr_expect_eq(off1, 0x40);
	cr_expect_eq(off2, 0x48);
	cr_expect(pf_ecam_read(&f, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_CAPABILITY_LIST, 1), 0x40);
	cr_expect_eq(pf_ecam_read(&f, 1, 0x41, 1), 0x48);
	cr_expect_eq(pf_ecam_read(&f, 1, 0x49, 1), 0);
	cr_expect_eq(pf_ecam_read(&f, 1, 0x43, 1), 1);
	/* Only the byte the mask allows changes; IDs and next pointers never do. */
	pf_ecam_write(&f, 1, 0x48, 0xffffffffu, 4);
	cr_expect_eq(pf_ecam_read(&f, 1, 0x48, 4), 0xff060009u);
	pf_ecam_write(&f, 1, 0x40, 0, 4);
	cr_expect_eq(pf_ecam_read(&f, 1, 0x40, 2), 0x4809);
	/* No room: a capability must fit below 0x100. */
	uint8_t big[200] = { PCI_CAP_ID_VNDR };
	uint8_t off;
	cr_expect_eq(pci_device_add_capability(fk.dev, big, 200, NULL, &off, &f.e), -1);
	pci_device_destroy(fk.dev);
}

Test(pci, config_hook_sees_its_range)
{
	struct fake fk;
	fake_create(&fk, false);
	pci_device_set_config_hook(fk.dev, 0x60, 0x64);
	cr_assert_eq(pci_device_plug(fk.dev, &f.e), 0);
	pf_ecam_read(&f, 1, 0x5c, 4);
	cr_expect_eq(fk.hook_calls, 0);
	cr_expect_eq(pf_ecam_read(&f, 1, 0x62, 2), 0x7777);
	pf_ecam_write(&f, 1, 0x60, 1, 4);
	cr_expect_eq(fk.hook_calls, 2);
	pci_device_destroy(fk.dev);
}

Test(pci, bar_validation)
{
	struct pci_device_info info = { .name = "v" };
	struct pci_device *d = pci_device_create(f.bus, &info, &f.e);
	cr_assert_not_null(d);
	cr_expect_eq(pci_device_add_bar(d, 0, 0x3000, false, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 0, 0x800, false, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 0, 1ull << 32, true, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 5, 0x1000, true, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 6, 0x1000, false, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 2, 0x1000, true, NULL, NULL, &f.e), 0, "%s", f.e.msg);
	cr_expect_eq(pci_device_add_bar(d, 3, 0x1000, false, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 1, 0x1000, true, NULL, NULL, &f.e), -1);
	cr_expect_eq(pci_device_add_bar(d, 4, 0x1000, false, NULL, NULL, &f.e), 0);
	cr_expect_eq(pci_device_plug(d, &f.e), 0);
	cr_expect_eq(pci_device_add_bar(d, 0, 0x1000, false, NULL, NULL, &f.e), -1, "after plug");
	/* A 32-bit BAR's register pair: BAR 4 is 32-bit, BAR 5 unimplemented. */
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_4, 4) & 0xf, 0);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_BASE_ADDRESS_5, 4), 0);
	pci_device_destroy(d);
}

Test(pci, slots_run_out)
{
	struct pci_device *devs[PCI_SLOTS];
	struct pci_device_info info = { .name = "filler" };
	for (unsigned i = 1; i < PCI_SLOTS; i++) {
		devs[i] = pci_device_create(f.bus, &info, &f.e);
		cr_assert_eq(pci_device_plug(devs[i], &f.e), 0, "%s", f.e.msg);
	}
	struct pci_device *extra = pci_device_create(f.bus, &info, &f.e);
	cr_expect_eq(pci_device_plug(extra, &f.e), -1);
	cr_expect(strstr(f.e.msg, "slots") != NULL, "%s", f.e.msg);
	pci_device_destroy(extra);
	pci_device_destroy(devs[7]);
	cr_expect_eq(pf_ecam_read(&f, 7, PCI_VENDOR_ID, 2), 0xffff, "unplugged");
	for (unsigned i = 1; i < PCI_SLOTS; i++)
		if (i != 7)
			pci_device_destroy(devs[i]);
}

Test(pci, window_is_claimed_once_on_the_mmio_bus)
{
	struct error e;
	cr_expect_eq(io_bus_add(&f.mmio, LAYOUT_PCI_MMIO32_START + 0x1000, 0x1000,
				fake_bar_io, NULL, "intruder", &e), -1);
	cr_expect_eq(io_bus_add(&f.pio, 0xcfc, 1, fake_bar_io, NULL, "intruder", &e), -1);
	/* An unclaimed part of the window reads all-ones. */
	cr_expect_eq(pf_mmio_read(&f, LAYOUT_PCI_MMIO32_START + 0x1000000, 4), 0xffffffffu);
}
