/* MSI-X: the capability, the table and PBA as the guest sees them through the BAR, and the
 * delivery state (irqfd bound or not, GSI routes) that follows enable / function mask / vector
 * mask / message validity. Without KVM the bindings are recorded, not made, and the eventfds
 * keep every signal, so the tests read them back. */
#include <unistd.h>

#include "devices/pci/pci_internal.h"
#include "pci_test_util.h"

#define NVEC       4
#define TABLE_OFF  0x4000
#define PBA_OFF    0x5000
#define MSI_ADDR   0xfee00000u

static struct pci_fixture f;
static struct pci_device *dev;
static uint64_t bar;

static void dummy_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t size, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0, size);
}

static void setup(void)
{
	pf_setup(&f);
	struct pci_device_info info = { .name = "msix-dev", .vendor_id = 0x1af4,
					.device_id = 0x1044 };
	dev = pci_device_create(f.bus, &info, &f.e);
	cr_assert_not_null(dev);
	cr_assert_eq(pci_device_add_bar(dev, 0, 0x8000, true, dummy_io, NULL, &f.e), 0);
	cr_assert_eq(pci_msix_add(dev, 0, TABLE_OFF, PBA_OFF, NVEC, &f.e), 0, "%s", f.e.msg);
	cr_assert_eq(pci_device_plug(dev, &f.e), 0, "%s", f.e.msg);
	bar = dev->bars[0].gpa;
}

static void teardown(void)
{
	pci_device_destroy(dev);
	pf_teardown(&f);
}

TestSuite(msix, .init = setup, .fini = teardown);

static uint8_t cap(void)
{
	return dev->msix->cap;
}

static void control(uint16_t v)
{
	pf_ecam_write(&f, 1, cap() + PCI_MSIX_FLAGS, v, 2);
}

static void entry(unsigned i, uint32_t lo, uint32_t hi, uint32_t data, uint32_t ctrl)
{
	uint64_t at = bar + TABLE_OFF + i * 16;
	pf_mmio_write(&f, at, lo, 4);
	pf_mmio_write(&f, at + 4, hi, 4);
	pf_mmio_write(&f, at + 8, data, 4);
	pf_mmio_write(&f, at + 12, ctrl, 4);
}

static uint64_t drain(unsigned i)
{
	uint64_t n = 0;
	if (read(dev->msix->v[i].fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static uint32_t pba(void)
{
	return (uint32_t)pf_mmio_read(&f, bar + PBA_OFF, 4);
}

Test(msix, capability_layout)
{
	uint8_t c = cap();
	cr_assert_neq(c, 0);
	cr_expect_eq(pf_ecam_read(&f, 1, PCI_CAPABILITY_LIST, 1), c);
	cr_expect_eq(pf_ecam_read(&f, 1, c, 1), PCI_CAP_ID_MSIX);
	cr_expect_eq(pf_ecam_read(&f, 1, c + PCI_MSIX_FLAGS, 2), NVEC - 1);
	cr_expect_eq(pf_ecam_read(&f, 1, c + PCI_MSIX_TABLE, 4), TABLE_OFF | 0);
	cr_expect_eq(pf_ecam_read(&f, 1, c + PCI_MSIX_PBA, 4), PBA_OFF | 0);
	/* Only enable and function mask are writable. */
	control(0xffff);
	cr_expect_eq(pf_ecam_read(&f, 1, c + PCI_MSIX_FLAGS, 2), 0xc000 | (NVEC - 1));
	pf_ecam_write(&f, 1, c + PCI_MSIX_TABLE, 0xffffffffu, 4);
	cr_expect_eq(pf_ecam_read(&f, 1, c + PCI_MSIX_TABLE, 4), TABLE_OFF);
}

Test(msix, vectors_start_masked_and_unbound)
{
	for (unsigned i = 0; i < NVEC; i++) {
		cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + i * 16 + 12, 4), 1);
		cr_expect_not(dev->msix->v[i].bound);
		cr_expect_eq(dev->msix->v[i].gsi, GSI_ROUTES_IRQCHIP_PINS + i);
	}
	cr_expect_eq(pba(), 0);
}

Test(msix, unmasked_valid_vector_is_routed_and_bound)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	entry(0, MSI_ADDR | 0x1000, 0, 0x41, 0);
	struct pci_msix_vector *v = &dev->msix->v[0];
	cr_expect(v->bound);
	cr_expect(atomic_load(&v->live));
	const struct gsi_msi_route *r = &f.bus->routes.msi[0];
	cr_expect(r->valid);
	cr_expect_eq(r->address_lo, MSI_ADDR | 0x1000);
	cr_expect_eq(r->data, 0x41);
	cr_expect_not(dev->msix->v[1].bound);
	pci_msix_notify(dev, 0);
	cr_expect_eq(drain(0), 1);
	cr_expect_eq(pba(), 0);
	/* Reads give back what was written. */
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF, 8), (uint64_t)(MSI_ADDR | 0x1000));
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + 8, 4), 0x41);
}

Test(msix, rewriting_the_message_updates_the_route_once)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	entry(0, MSI_ADDR, 0, 0x41, 0);
	uint64_t commits = f.bus->routes.commits;
	entry(0, MSI_ADDR, 0, 0x41, 0);
	cr_expect_eq(f.bus->routes.commits, commits, "unchanged message recommitted");
	pf_mmio_write(&f, bar + TABLE_OFF + 8, 0x42, 4);
	cr_expect_eq(f.bus->routes.commits, commits + 1);
	cr_expect_eq(f.bus->routes.msi[0].data, 0x42);
}

Test(msix, masked_vector_collects_pending_and_delivers_on_unmask)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	entry(1, MSI_ADDR, 0, 0x51, 1);
	pci_msix_notify(dev, 1);
	cr_expect_eq(pba(), 1u << 1);
	cr_expect_not(dev->msix->v[1].bound);
	uint64_t sent = f.bus->routes.messages_sent;
	pf_mmio_write(&f, bar + TABLE_OFF + 16 + 12, 0, 4); /* unmask */
	cr_expect(dev->msix->v[1].bound);
	cr_expect_eq(pba(), 0);
	/* The held signal was taken out of the eventfd and sent directly, once. */
	cr_expect_eq(f.bus->routes.messages_sent, sent + 1);
	cr_expect_eq(drain(1), 0);
	/* Unmasking with nothing pending sends nothing. */
	pf_mmio_write(&f, bar + TABLE_OFF + 16 + 12, 1, 4);
	pf_mmio_write(&f, bar + TABLE_OFF + 16 + 12, 0, 4);
	cr_expect_eq(f.bus->routes.messages_sent, sent + 1);
	/* Masking unbinds again. */
	pf_mmio_write(&f, bar + TABLE_OFF + 16 + 12, 1, 4);
	cr_expect_not(dev->msix->v[1].bound);
}

Test(msix, function_mask_and_enable_gate_every_vector)
{
	for (unsigned i = 0; i < NVEC; i++)
		entry(i, MSI_ADDR, 0, 0x60 + i, 0);
	for (unsigned i = 0; i < NVEC; i++)
		cr_expect_not(dev->msix->v[i].bound, "bound while MSI-X is off");
	control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (unsigned i = 0; i < NVEC; i++)
		cr_expect_not(dev->msix->v[i].bound, "bound while function-masked");
	pci_msix_notify(dev, 3);
	cr_expect_eq(pba(), 1u << 3);
	control(PCI_MSIX_FLAGS_ENABLE);
	for (unsigned i = 0; i < NVEC; i++)
		cr_expect(dev->msix->v[i].bound);
	cr_expect_eq(pba(), 0);
	control(0);
	for (unsigned i = 0; i < NVEC; i++)
		cr_expect_not(dev->msix->v[i].bound);
}

Test(msix, messages_outside_the_lapic_range_never_deliver)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	uint32_t bad[] = { 0, 0x12345678, 0xfed00000, 0xfef00000, 0xffe00000 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		entry(2, bad[i], 0, 0x41, 0);
		cr_expect_not(dev->msix->v[2].bound, "address 0x%x bound", bad[i]);
	}
	pci_msix_notify(dev, 2);
	cr_expect_eq(pba(), 1u << 2);
	entry(2, MSI_ADDR | 0xff000, 0, 0x41, 0);
	cr_expect(dev->msix->v[2].bound);
}

Test(msix, out_of_range_notify_is_ignored)
{
	pci_msix_notify(dev, NVEC);
	pci_msix_notify(dev, 1u << 31);
	cr_expect_eq(pba(), 0);
	cr_expect_eq(pci_msix_vectors(dev), NVEC);
}

Test(msix, odd_table_accesses)
{
	control(PCI_MSIX_FLAGS_ENABLE);
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF, 2), 0xffff, "word read");
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + 2, 4), 0xffffffffu, "misaligned");
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + 4, 8), ~0ull, "misaligned qword");
	pf_mmio_write(&f, bar + TABLE_OFF + 12, 0, 1); /* byte write to vector control: ignored */
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + 12, 4), 1);
	/* A qword write sets address low and high. */
	pf_mmio_write(&f, bar + TABLE_OFF, 0x00000001fee00000ull, 8);
	cr_expect_eq(dev->msix->v[0].address_lo, MSI_ADDR);
	cr_expect_eq(dev->msix->v[0].address_hi, 1);
	/* Reserved control bits are dropped. */
	pf_mmio_write(&f, bar + TABLE_OFF + 12, 0xfffffffe, 4);
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + 12, 4), 0);
	/* Past the last entry and between table and PBA: the device's own handler (zeros). */
	cr_expect_eq(pf_mmio_read(&f, bar + TABLE_OFF + NVEC * 16, 4), 0);
	/* PBA is read-only. */
	pf_mmio_write(&f, bar + PBA_OFF, 0xffffffffu, 4);
	cr_expect_eq(pba(), 0);
	cr_expect_eq(pf_mmio_read(&f, bar + PBA_OFF, 8), 0);
}

Test(msix, layout_validation)
{
	struct pci_device_info info = { .name = "bad" };
	struct pci_device *d = pci_device_create(f.bus, &info, &f.e);
	cr_assert_eq(pci_device_add_bar(d, 0, 0x2000, false, dummy_io, NULL, &f.e), 0);
	cr_expect_eq(pci_msix_add(d, 1, 0, 0x1000, 4, &f.e), -1, "BAR not implemented");
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x1000, 0, &f.e), -1, "no vectors");
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x1000, 2049, &f.e), -1, "too many");
	cr_expect_eq(pci_msix_add(d, 0, 4, 0x1000, 4, &f.e), -1, "unaligned table");
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x1004, 4, &f.e), -1, "unaligned PBA");
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x20, 4, &f.e), -1, "overlap");
	cr_expect_eq(pci_msix_add(d, 0, 0x1ff8, 0, 4, &f.e), -1, "table past the BAR");
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x2000, 4, &f.e), -1, "PBA past the BAR");
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x1000, 256, &f.e), 0, "%s", f.e.msg);
	cr_expect_eq(pci_msix_add(d, 0, 0, 0x1000, 4, &f.e), -1, "twice");
	pci_device_destroy(d);
}
