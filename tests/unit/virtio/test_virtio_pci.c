/* The virtio-pci transport's state machine, driven through the PCI bus the way a guest driver
 * does it: IDs and capabilities, feature negotiation, status rules, reset, queue configuration,
 * MSI-X vector mapping, ISR, device configuration bounds, kicks, DEVICE_NEEDS_RESET, the PCI
 * configuration access window, and snapshots. A fake two-queue device echoes chains back. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio_pci_internal.h"
#include "virtio_pci_test_driver.h"

#define FAKE_FEATURE   5            /* a device-specific feature bit */
#define FAKE_CFG_SIZE  12
#define ALL_FEATURES                                                                          \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |                      \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(FAKE_FEATURE))

struct fake {
	uint8_t cfg[FAKE_CFG_SIZE];
	unsigned resets, activations, notifies;
	bool fail_activate, fail_notify;
	uint64_t activated_with;
	uint8_t saved_marker;
	struct iovec iov[8];
};

static struct vdrv d;
static struct fake fk;
static struct virtio_pci *vp;

static uint64_t fake_features(void *opaque)
{
	(void)opaque;
	/* Bit 30 is a transport bit: the transport must drop it. */
	return VIRTIO_BIT(FAKE_FEATURE) | VIRTIO_BIT(30);
}

static void fake_cfg_read(void *opaque, uint32_t off, uint8_t *data, uint32_t size)
{
	memcpy(data, &((struct fake *)opaque)->cfg[off], size);
}

static void fake_cfg_write(void *opaque, uint32_t off, const uint8_t *data, uint32_t size)
{
	memcpy(&((struct fake *)opaque)->cfg[off], data, size);
}

static int fake_notify(void *opaque, struct virtqueue *vq, uint16_t index, struct error *e)
{
	struct fake *f = opaque;
	(void)index;
	f->notifies++;
	if (f->fail_notify)
		return error_set(e, "fake failure");
	struct virtq_chain c;
	int r;
	virtq_chain_init(&c, f->iov, 8);
	while ((r = virtqueue_pop(vq, &d.gm, &c, e)) == 1) {
		if (virtqueue_push(vq, &d.gm, c.head, c.in_bytes, e) < 0)
			return -1;
		virtq_chain_init(&c, f->iov, 8);
	}
	return r;
}

static int fake_activate(void *opaque, uint64_t features, struct error *e)
{
	struct fake *f = opaque;
	f->activations++;
	f->activated_with = features;
	return f->fail_activate ? error_set(e, "refused") : 0;
}

static void fake_reset(void *opaque)
{
	((struct fake *)opaque)->resets++;
}

static int fake_save(void *opaque, void *buf, size_t cap, size_t *len, struct error *e)
{
	if (cap < 1)
		return error_set(e, "no room");
	*(uint8_t *)buf = ((struct fake *)opaque)->saved_marker;
	*len = 1;
	return 0;
}

static int fake_restore(void *opaque, const void *buf, size_t len, struct error *e)
{
	if (len != 1)
		return error_set(e, "bad device record");
	((struct fake *)opaque)->saved_marker = *(const uint8_t *)buf;
	return 0;
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake", .device_id = 42, .class_code = VIRTIO_PCI_CLASS_OTHER, .num_queues = 2,
	.queue_max_size = 64, .config_size = FAKE_CFG_SIZE, .features = fake_features,
	.config_read = fake_cfg_read, .config_write = fake_cfg_write,
	.queue_notify = fake_notify, .activate = fake_activate, .reset = fake_reset,
	.save = fake_save, .restore = fake_restore,
};

static void setup(void)
{
	vd_setup(&d);
	memset(&fk, 0, sizeof(fk));
	vp = virtio_pci_create(d.bus, -1, &d.gm, &fake_ops, &fk, &d.e);
	cr_assert_not_null(vp, "%s", d.e.msg);
	vd_probe(&d, 1);
}

static void teardown(void)
{
	virtio_pci_destroy(vp);
	vd_teardown(&d);
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

/* Negotiated, both queues set up, MSI-X on (vector 0 config, 1 and 2 the queues), DRIVER_OK. */
static void bring_up(struct vd_ring *r0, struct vd_ring *r1)
{
	vd_msix_on(&d, 3);
	vd_negotiate(&d, ALL_FEATURES);
	vd_write(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	vd_queue_setup(&d, r0, 0, 16, 1);
	vd_queue_setup(&d, r1, 1, 16, 2);
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&d) & VIRTIO_STATUS_DRIVER_OK);
}

Test(virtio_pci, identity_and_capabilities)
{
	cr_expect_eq(vd_cfg_read(&d, PCI_VENDOR_ID, 2), 0x1af4);
	cr_expect_eq(vd_cfg_read(&d, PCI_DEVICE_ID, 2), 0x1040 + 42);
	cr_expect_eq(vd_cfg_read(&d, PCI_REVISION_ID, 1), 1);
	cr_expect_eq(vd_cfg_read(&d, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	cr_expect_eq(vd_cfg_read(&d, PCI_INTERRUPT_PIN, 1), 0);
	cr_expect_eq(d.common, d.bar + VIRTIO_PCI_COMMON_OFFSET);
	cr_expect_eq(d.notify_mult, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	cr_expect_eq(d.notify_len, 2 * VIRTIO_PCI_NOTIFY_MULTIPLIER);
	cr_expect_eq(d.device_len, FAKE_CFG_SIZE);
	cr_expect_eq(vd_cfg_read(&d, d.msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, 2);
}

Test(virtio_pci, values_after_reset)
{
	cr_expect_eq(vd_status(&d), 0);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	for (uint16_t q = 0; q < 2; q++) {
		vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, q, 2);
		cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 64);
		cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
		cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF, 2), q);
		cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2),
			     VIRTIO_MSI_NO_VECTOR);
	}
	/* A queue that does not exist reads size 0; writes to it go nowhere. */
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 7, 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 0);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 1, 2);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 0x1000, 8);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0);
	cr_expect_eq(vd_status(&d), 0);
}

Test(virtio_pci, offered_features)
{
	uint64_t f = vd_device_features(&d);
	cr_expect_eq(f, ALL_FEATURES, "offered 0x%llx", (unsigned long long)f);
	vd_write(&d, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 2, 4);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4), 0);
	vd_write(&d, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 0xffffffffu, 4);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4), 0);
}

static void try_features(uint64_t features, bool accepted)
{
	vd_set_status(&d, 0);
	vd_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_driver_features(&d, features);
	vd_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK);
	cr_expect_eq(!!(vd_status(&d) & VIRTIO_STATUS_FEATURES_OK), accepted,
		     "features 0x%llx", (unsigned long long)features);
}

Test(virtio_pci, features_ok_needs_version_1_and_only_offered_bits)
{
	try_features(VIRTIO_BIT(VIRTIO_F_VERSION_1), true);
	try_features(ALL_FEATURES, true);
	try_features(VIRTIO_BIT(FAKE_FEATURE), false);               /* legacy driver */
	try_features(0, false);
	try_features(ALL_FEATURES | VIRTIO_BIT(7), false);           /* not offered */
	try_features(ALL_FEATURES | VIRTIO_BIT(30), false);          /* dropped transport bit */
	try_features(ALL_FEATURES | VIRTIO_BIT(VIRTIO_F_RING_PACKED), false);
}

Test(virtio_pci, driver_features_freeze_at_features_ok)
{
	vd_negotiate(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vd_driver_features(&d, ALL_FEATURES);
	vd_write(&d, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 0, 4);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_DRIVER_FEATURE, 4), 0);
	cr_expect_eq(vp->driver_features, VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

Test(virtio_pci, status_rules)
{
	/* DRIVER_OK without FEATURES_OK does not stick, nor activate. */
	vd_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	cr_expect_eq(vd_status(&d), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	cr_expect_eq(fk.activations, 0);
	/* Bits cannot be cleared, and the driver cannot set DEVICE_NEEDS_RESET. */
	vd_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_expect_eq(vd_status(&d), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* The full sequence activates once with the negotiated features. */
	vd_negotiate(&d, ALL_FEATURES);
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	cr_expect_eq(fk.activations, 1);
	cr_expect_eq(fk.activated_with, ALL_FEATURES);
	cr_expect(vp->live);
	/* FAILED from the driver stops the device. */
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_FAILED);
	cr_expect_not(vp->live);
}

Test(virtio_pci, reset_clears_everything)
{
	struct vd_ring r0, r1;
	bring_up(&r0, &r1);
	unsigned resets = fk.resets;
	vd_set_status(&d, 0);
	cr_expect_eq(fk.resets, resets + 1);
	cr_expect_eq(vd_status(&d), 0);
	cr_expect_not(vp->live);
	cr_expect_eq(vp->driver_features, 0);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 1, 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 64);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	/* And the device comes back up after a reset. */
	bring_up(&r0, &r1);
	cr_expect(vp->live);
}

Test(virtio_pci, queue_addresses_by_halves_and_whole)
{
	vd_negotiate(&d, ALL_FEATURES);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 1, 2);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 0x11223340, 4);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC + 4, 0x5, 4);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0x511223340ull);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_DESC + 4, 4), 0x5);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DEVICE, 0x123456789abcull, 8);
	cr_expect_eq(vp->queues[1].vq.used_gpa, 0x123456789abcull);
	/* Odd widths hit no field. */
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 0xffff, 2);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC + 2, 0xffffffff, 4);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0x511223340ull);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 4), 0, "wide read of a word");
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 0, 1);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), 1, "byte write of a word");
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_CFG_SIZE, 4), 0, "past the structure");
}

Test(virtio_pci, enabled_queue_configuration_is_frozen)
{
	struct vd_ring r0, r1;
	bring_up(&r0, &r1);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SELECT, 0, 2);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 0x200000, 8);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), r0.desc);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DRIVER_OK);
	/* Resizing an enabled queue is a protocol error. */
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 8, 2);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 16);
}

Test(virtio_pci, bad_queue_size_needs_reset)
{
	vd_negotiate(&d, ALL_FEATURES);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 24, 2);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	vd_negotiate(&d, ALL_FEATURES);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 128, 2); /* above the maximum */
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	vd_negotiate(&d, ALL_FEATURES);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 32, 2);
	cr_expect_eq(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 32);
}

Test(virtio_pci, queue_enable_checks)
{
	/* Before FEATURES_OK. */
	vd_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 1, 2);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_expect_not(vp->queues[0].vq.enabled);
	/* Rings outside RAM or misaligned. */
	uint64_t bad[] = { VD_RAM - 0x10, 0x100008, 0xc0000000ull };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vd_negotiate(&d, ALL_FEATURES);
		vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DESC, bad[i], 8);
		vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DRIVER, 0x200000, 8);
		vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_DEVICE, 0x300000, 8);
		vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 1, 2);
		cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "desc 0x%llx",
			  (unsigned long long)bad[i]);
		cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
		/* DRIVER_OK does not stick while a reset is needed. */
		vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
		cr_expect_eq(vd_status(&d) & VIRTIO_STATUS_DRIVER_OK, 0);
	}
	/* Good rings, EVENT_IDX and INDIRECT_DESC taken from the negotiated features. */
	struct vd_ring r;
	vd_negotiate(&d, ALL_FEATURES);
	vd_queue_setup(&d, &r, 0, 16, VIRTIO_MSI_NO_VECTOR);
	cr_expect(vp->queues[0].vq.enabled);
	cr_expect(vp->queues[0].vq.event_idx);
	cr_expect(vp->queues[0].vq.indirect);
	vd_negotiate(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vd_queue_setup(&d, &r, 0, 16, VIRTIO_MSI_NO_VECTOR);
	cr_expect_not(vp->queues[0].vq.event_idx);
	cr_expect_not(vp->queues[0].vq.indirect);
}

Test(virtio_pci, msix_vectors_are_checked)
{
	/* Three vectors exist (config + 2 queues). */
	vd_write(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 2, 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 2), 2);
	vd_write(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 3, 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 0x8000, 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_MSI_NO_VECTOR);
	vd_write(&d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 1, 2);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), 1);
}

Test(virtio_pci, device_configuration_bounds)
{
	for (unsigned i = 0; i < FAKE_CFG_SIZE; i++)
		fk.cfg[i] = (uint8_t)(0x10 + i);
	cr_expect_eq(vd_mmio_read(&d, d.device, 4), 0x13121110);
	cr_expect_eq(vd_mmio_read(&d, d.device + 8, 4), 0x1b1a1918);
	cr_expect_eq(vd_mmio_read(&d, d.device + 10, 4), 0, "straddles the end");
	cr_expect_eq(vd_mmio_read(&d, d.device + 12, 1), 0, "past the end");
	cr_expect_eq(vd_mmio_read(&d, d.device + 0xffc, 8), 0, "far past the end");
	vd_mmio_write(&d, d.device + 4, 0xaabbccdd, 4);
	cr_expect_eq(fk.cfg[4], 0xdd);
	vd_mmio_write(&d, d.device + 11, 0xffff, 2);
	cr_expect_eq(fk.cfg[11], 0x1b, "write straddling the end");
}

Test(virtio_pci, isr_reads_clear)
{
	struct vd_ring r0, r1;
	bring_up(&r0, &r1);
	uint64_t buf = vd_alloc(&d, 32);
	vd_offer(&d, &r0, vd_desc(&d, &r0, buf, 32, VIRTQ_DESC_F_WRITE, 0));
	virtio_pci_process_queue(vp, 0);
	cr_expect_eq(vd_mmio_read(&d, d.isr, 1), VIRTIO_PCI_ISR_QUEUE);
	cr_expect_eq(vd_mmio_read(&d, d.isr, 1), 0);
	vd_mmio_write(&d, d.isr, 0xff, 1);
	cr_expect_eq(vd_mmio_read(&d, d.isr, 1), 0, "ISR is read-only");
}

Test(virtio_pci, kick_serves_the_queue_and_interrupts)
{
	struct vd_ring r0, r1;
	bring_up(&r0, &r1);
	cr_expect_eq(fk.activations, 1);
	uint64_t buf = vd_alloc(&d, 100);
	uint16_t out = vd_desc(&d, &r1, buf, 40, VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&d, &r1, buf + 40, 60, VIRTQ_DESC_F_WRITE, 0);
	vd_offer(&d, &r1, out);
	virtio_pci_process_queue(vp, 1);
	cr_expect_eq(vd_used_idx(&d, &r1), 1);
	cr_expect_eq(vd_used(&d, &r1, 0).id, out);
	cr_expect_eq(vd_used(&d, &r1, 0).len, 60);
	cr_expect_eq(vd_msix_count(&d, 2), 1, "queue 1's vector");
	cr_expect_eq(vd_msix_count(&d, 1), 0);
	cr_expect_eq(vd_used_idx(&d, &r0), 0);
	/* Out-of-range queue indices are ignored. */
	virtio_pci_process_queue(vp, 2);
	virtio_pci_process_queue(vp, 0xffff);
}

Test(virtio_pci, notify_region_forwards_kicks_to_the_eventfd)
{
	vd_kick(&d, 1);
	vd_kick(&d, 1);
	uint64_t n = 0;
	cr_expect_eq(read(vp->queues[1].kick_fd, &n, 8), 8);
	cr_expect_eq(n, 2);
	cr_expect_eq(read(vp->queues[0].kick_fd, &n, 8), -1, "queue 0 was not kicked");
	vd_kick(&d, 2); /* no such queue */
	vd_mmio_write(&d, d.notify + 2, 0, 2); /* between notify addresses */
	cr_expect_eq(read(vp->queues[0].kick_fd, &n, 8), -1);
	cr_expect_eq(read(vp->queues[1].kick_fd, &n, 8), -1);
}

Test(virtio_pci, ioeventfds_follow_the_bar)
{
	cr_expect_eq(vp->queues[0].ioeventfd_gpa, d.bar + VIRTIO_PCI_NOTIFY_OFFSET);
	cr_expect_eq(vp->queues[1].ioeventfd_gpa, d.bar + VIRTIO_PCI_NOTIFY_OFFSET + 4);
	uint64_t moved = d.bar + 0x100000;
	vd_cfg_write(&d, PCI_BASE_ADDRESS_0, (uint32_t)moved, 4);
	cr_expect_eq(vp->bar_gpa, moved);
	cr_expect_eq(vp->queues[1].ioeventfd_gpa, moved + VIRTIO_PCI_NOTIFY_OFFSET + 4);
	vd_cfg_write(&d, PCI_COMMAND, 0, 2);
	cr_expect_eq(vp->bar_gpa, PCI_BAR_UNMAPPED);
	cr_expect_eq(vp->queues[0].ioeventfd_gpa, 0);
	cr_expect_eq(vp->queues[1].ioeventfd_gpa, 0);
}

Test(virtio_pci, broken_queue_needs_reset_and_interrupts)
{
	struct vd_ring r0, r1;
	bring_up(&r0, &r1);
	/* A descriptor pointing outside guest RAM. */
	vd_offer(&d, &r0, vd_desc(&d, &r0, VD_RAM + 0x1000, 16, VIRTQ_DESC_F_WRITE, 0));
	virtio_pci_process_queue(vp, 0);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_expect_not(vp->live);
	cr_expect_eq(vd_msix_count(&d, 0), 1, "config vector");
	cr_expect_eq(vd_mmio_read(&d, d.isr, 1), VIRTIO_PCI_ISR_CONFIG);
	/* The device stays quiet until reset. */
	unsigned notifies = fk.notifies;
	virtio_pci_process_queue(vp, 1);
	cr_expect_eq(fk.notifies, notifies);
	bring_up(&r0, &r1);
	uint64_t buf = vd_alloc(&d, 8);
	vd_offer(&d, &r0, vd_desc(&d, &r0, buf, 8, VIRTQ_DESC_F_WRITE, 0));
	virtio_pci_process_queue(vp, 0);
	cr_expect_eq(vd_used_idx(&d, &r0), 1);
}

Test(virtio_pci, device_errors_and_refused_activation_need_reset)
{
	struct vd_ring r0, r1;
	fk.fail_activate = true;
	bring_up(&r0, &r1);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_expect_not(vp->live);
	fk.fail_activate = false;
	fk.fail_notify = true;
	bring_up(&r0, &r1);
	cr_expect(vp->live);
	virtio_pci_process_queue(vp, 0);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

Test(virtio_pci, pci_cfg_window_reaches_the_bar)
{
	unsigned cap = d.pci_cfg_cap;
	vd_set_status(&d, VIRTIO_STATUS_ACKNOWLEDGE);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_BAR, 0, 1);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_OFFSET, VIRTIO_PCI_COMMON_DEVICE_STATUS, 4);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_LENGTH, 1, 4);
	cr_expect_eq(vd_cfg_read(&d, cap + VIRTIO_PCI_CAP_SIZE, 1), VIRTIO_STATUS_ACKNOWLEDGE);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAP_SIZE, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
		     1);
	cr_expect_eq(vd_status(&d), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* num_queues through a 2-byte window. */
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_OFFSET, VIRTIO_PCI_COMMON_NUM_QUEUES, 4);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_LENGTH, 2, 4);
	cr_expect_eq(vd_cfg_read(&d, cap + VIRTIO_PCI_CAP_SIZE, 4) & 0xffff, 2);
	/* Bad windows do nothing: length 3, misaligned, outside the BAR, another BAR. */
	uint32_t bad[][3] = { { 0, 20, 3 }, { 0, 21, 2 }, { 0, VIRTIO_PCI_BAR_SIZE, 1 },
			      { 0, 0xfffffffe, 2 }, { 2, 20, 1 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_BAR, bad[i][0], 1);
		vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_OFFSET, bad[i][1], 4);
		vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_LENGTH, bad[i][2], 4);
		vd_cfg_write(&d, cap + VIRTIO_PCI_CAP_SIZE, 0, 4);
		cr_expect_eq(vd_status(&d), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
			     "window %zu changed the status", i);
	}
	/* The MSI-X table is reachable too. */
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_BAR, 0, 1);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_OFFSET, VIRTIO_PCI_MSIX_TABLE_OFFSET + 12, 4);
	vd_cfg_write(&d, cap + VIRTIO_PCI_CAPF_LENGTH, 4, 4);
	cr_expect_eq(vd_cfg_read(&d, cap + VIRTIO_PCI_CAP_SIZE, 4), 1, "vector 0 masked");
}

Test(virtio_pci, snapshot_round_trip)
{
	struct vd_ring r0, r1;
	bring_up(&r0, &r1);
	uint64_t buf = vd_alloc(&d, 8);
	vd_offer(&d, &r0, vd_desc(&d, &r0, buf, 8, VIRTQ_DESC_F_WRITE, 0));
	virtio_pci_process_queue(vp, 0);
	fk.saved_marker = 0x5c;
	uint8_t snap[1024];
	size_t len = 0;
	cr_assert_eq(virtio_pci_save(vp, snap, sizeof(snap), &len, &d.e), 0, "%s", d.e.msg);
	cr_expect_eq(len, virtio_pci_state_size(vp) + 1);
	cr_expect_eq(virtio_pci_save(vp, snap, 10, &len, &d.e), -1);
	len = virtio_pci_state_size(vp) + 1;

	struct fake other = { 0 };
	struct virtio_pci *vp2 = virtio_pci_create(d.bus, -1, &d.gm, &fake_ops, &other, &d.e);
	cr_assert_not_null(vp2, "%s", d.e.msg);
	cr_assert_eq(virtio_pci_restore(vp2, snap, len, &d.e), 0, "%s", d.e.msg);
	cr_expect_eq(vp2->status, vp->status);
	cr_expect_eq(vp2->driver_features, vp->driver_features);
	cr_expect(vp2->live);
	cr_expect_eq(vp2->queues[0].vq.used_idx, 1);
	cr_expect_eq(vp2->queues[1].msix_vector, 2);
	cr_expect_eq(other.saved_marker, 0x5c);

	/* Damaged records are refused and leave the device reset. */
	struct virtio_pci_state *s = (struct virtio_pci_state *)snap;
	s->driver_features |= VIRTIO_BIT(7);
	cr_expect_eq(virtio_pci_restore(vp2, snap, len, &d.e), -1);
	cr_expect_eq(vp2->status, 0);
	s->driver_features &= ~VIRTIO_BIT(7);
	s->config_msix_vector = 9;
	cr_expect_eq(virtio_pci_restore(vp2, snap, len, &d.e), -1);
	s->config_msix_vector = 0;
	s->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET; /* live with NEEDS_RESET */
	cr_expect_eq(virtio_pci_restore(vp2, snap, len, &d.e), -1);
	s->status &= (uint8_t)~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	struct virtio_pci_queue_state *q0 = (struct virtio_pci_queue_state *)(s + 1);
	q0->vq.desc_gpa = VD_RAM; /* ring outside RAM */
	cr_expect_eq(virtio_pci_restore(vp2, snap, len, &d.e), -1);
	cr_expect_eq(vp2->status, 0);
	cr_expect_eq(virtio_pci_restore(vp2, snap, 12, &d.e), -1, "truncated");
	virtio_pci_destroy(vp2);
}
