/* virtio-rng end to end without KVM: the device runs on its own thread and io_uring loop; the
 * test plays the guest driver through the PCI bus (negotiation, queue, MSI-X), offers buffers,
 * kicks through the notify region and waits for the used ring. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/rng.h"
#include "devices/virtio/virtio_pci.h"
#include "virtio_pci_test_driver.h"

static struct vdrv d;
static struct virtio_rng *rng;
static struct vd_ring r;

static void setup(void)
{
	vd_setup(&d);
	rng = virtio_rng_create(d.bus, -1, &d.gm, &d.e);
	cr_assert_not_null(rng, "%s", d.e.msg);
	vd_probe(&d, 1);
}

static void teardown(void)
{
	virtio_rng_destroy(rng);
	vd_teardown(&d);
}

TestSuite(virtio_rng, .init = setup, .fini = teardown, .timeout = 20);

static void bring_up(uint64_t features)
{
	vd_msix_on(&d, 2);
	vd_negotiate(&d, features);
	vd_write(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	vd_queue_setup(&d, &r, 0, 64, 1);
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&d) & VIRTIO_STATUS_DRIVER_OK);
}

/* Waits (up to 5 s) for used->idx to reach `want`. */
static bool wait_used(uint16_t want)
{
	for (int i = 0; i < 5000; i++) {
		if (vd_used_idx(&d, &r) == want)
			return true;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool wait_status(uint8_t bit)
{
	for (int i = 0; i < 5000; i++) {
		if (vd_status(&d) & bit)
			return true;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

Test(virtio_rng, identity)
{
	cr_expect_eq(vd_cfg_read(&d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 1);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), VIRTIO_RNG_QUEUE_SIZE);
	cr_expect_eq(d.device, 0, "virtio-rng has no device configuration");
	cr_expect_eq(vd_device_features(&d),
		     VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
			     VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
}

Test(virtio_rng, fills_a_buffer_and_interrupts)
{
	bring_up(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	uint64_t buf = vd_alloc(&d, 64);
	uint16_t head = vd_desc(&d, &r, buf, 64, VIRTQ_DESC_F_WRITE, 0);
	vd_offer(&d, &r, head);
	vd_kick(&d, 0);
	cr_assert(wait_used(1), "no used buffer");
	cr_expect_eq(vd_used(&d, &r, 0).id, head);
	cr_expect_eq(vd_used(&d, &r, 0).len, 64);
	const uint8_t *p = vd_host(&d, buf, 64);
	unsigned zeros = 0;
	for (int i = 0; i < 64; i++)
		zeros += p[i] == 0;
	cr_expect_lt(zeros, 16, "64 random bytes with %u zeros", zeros);
	cr_expect_eq(vd_msix_count(&d, 1), 1);
	cr_expect_eq(virtio_rng_bytes_served(rng), 64);
}

Test(virtio_rng, many_requests_with_event_idx)
{
	bring_up(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 16; i++) {
			uint64_t buf = vd_alloc(&d, 16);
			vd_offer(&d, &r, vd_desc(&d, &r, buf, 16, VIRTQ_DESC_F_WRITE, 0));
		}
		vd_kick(&d, 0);
		cr_assert(wait_used((uint16_t)(16 * (round + 1))), "round %d", round);
	}
	cr_expect_eq(virtio_rng_bytes_served(rng), 64 * 16);
	struct virtio_rng_counters c;
	virtio_rng_get_counters(rng, &c);
	cr_expect_eq(c.requests, 64);
	cr_expect_eq(c.bytes, 64 * 16);
	cr_expect_eq(c.host_fails, 0);
}

Test(virtio_rng, requests_are_capped_and_readable_buffers_ignored)
{
	bring_up(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	uint64_t big = vd_alloc(&d, 3 * VIRTIO_RNG_MAX_REQUEST);
	vd_offer(&d, &r, vd_desc(&d, &r, big, 3 * VIRTIO_RNG_MAX_REQUEST, VIRTQ_DESC_F_WRITE, 0));
	uint64_t ro = vd_alloc(&d, 32);
	vd_offer(&d, &r, vd_desc(&d, &r, ro, 32, 0, 0));
	vd_kick(&d, 0);
	cr_assert(wait_used(2));
	cr_expect_eq(vd_used(&d, &r, 0).len, VIRTIO_RNG_MAX_REQUEST);
	cr_expect_eq(vd_used(&d, &r, 1).len, 0);
	const uint8_t *tail = vd_host(&d, big + VIRTIO_RNG_MAX_REQUEST, 64);
	for (int i = 0; i < 64; i++)
		cr_expect_eq(tail[i], 0, "wrote past the cap");
}

Test(virtio_rng, buffers_before_driver_ok_are_served_on_activation)
{
	vd_msix_on(&d, 2);
	vd_negotiate(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vd_queue_setup(&d, &r, 0, 64, 1);
	uint64_t buf = vd_alloc(&d, 8);
	vd_offer(&d, &r, vd_desc(&d, &r, buf, 8, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 0); /* not live yet: ignored */
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	cr_expect_eq(vd_used_idx(&d, &r), 0);
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	cr_expect(wait_used(1));
}

Test(virtio_rng, hostile_ring_needs_reset_then_recovers)
{
	bring_up(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vd_offer(&d, &r, vd_desc(&d, &r, VD_RAM - 4, 64, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 0);
	cr_assert(wait_status(VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	cr_expect_eq(vd_msix_count(&d, 0), 1, "config interrupt");
	bring_up(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	uint64_t buf = vd_alloc(&d, 8);
	vd_offer(&d, &r, vd_desc(&d, &r, buf, 8, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 0);
	cr_expect(wait_used(1));
}
