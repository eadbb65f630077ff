/* virtio-net end to end without KVM: the device on its own thread, attached to a real TAP in a
 * private network namespace; the test plays the guest driver (through the PCI bus) and the host
 * network (an AF_PACKET socket on the TAP). Identity and configuration, frames both ways,
 * mergeable and single receive buffers, waiting for buffers, offload negotiation on the TAP. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/virtio/net_internal.h"
#include "test_virtio_net_util.h"

static struct nt t;

static void setup(void)
{
	nt_setup(&t, "tap=" NT_TAP ",mac=02:00:00:aa:bb:cc,mtu=9000", 9000);
}

static void teardown(void)
{
	nt_teardown(&t);
}

TestSuite(virtio_net, .init = setup, .fini = teardown, .timeout = 30);

Test(virtio_net, identity_and_configuration)
{
	cr_expect_eq(vd_cfg_read(&t.d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_NET);
	cr_expect_eq(vd_cfg_read(&t.d, PCI_CLASS_REVISION, 4) >> 8, 0x020000, "Ethernet");
	cr_expect_eq(vd_read(&t.d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 2);
	cr_expect_eq(vd_read(&t.d, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), VIRTIO_NET_QUEUE_SIZE);
	uint64_t f = vd_device_features(&t.d);
	cr_expect_eq(f & NT_FEATURES, NT_FEATURES, "offers 0x%llx", (unsigned long long)f);
	cr_expect(f & NT_F(MTU), "mtu= given: VIRTIO_NET_F_MTU offered");
	cr_expect(!(f & NT_F(CTRL_VQ)), "no control queue");
	cr_expect_eq(t.d.device_len >= 12, 1);
	uint8_t mac[6] = { 0x02, 0, 0, 0xaa, 0xbb, 0xcc };
	for (int i = 0; i < 6; i++)
		cr_expect_eq(nt_config(&t, (unsigned)i, 1), mac[i], "mac[%d]", i);
	cr_expect_eq(nt_config(&t, 6, 2), VIRTIO_NET_S_LINK_UP);
	cr_expect_eq(nt_config(&t, 8, 2), 1, "one queue pair");
	cr_expect_eq(nt_config(&t, 10, 2), 9000);
	cr_expect_eq(nt_config(&t, 4, 4), 0x0000ccbb | (VIRTIO_NET_S_LINK_UP << 16),
		     "a 4-byte read across fields");
}

Test(virtio_net, offloads_follow_the_driver)
{
	nt_bring_up(&t, NT_FEATURES);
	cr_expect_eq(t.net->tap.offloads, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 |
						  TAP_OFFLOAD_TSO_ECN | TAP_OFFLOAD_UFO);
	nt_bring_up(&t, VIRTIO_BIT(VIRTIO_F_VERSION_1) | NT_F(MAC));
	cr_expect_eq(t.net->tap.offloads, 0);
	vd_set_status(&t.d, 0);
	cr_expect_eq(t.net->tap.offloads, 0, "reset turns them off");
}

Test(virtio_net, guest_to_host)
{
	nt_bring_up(&t, NT_FEATURES);
	uint8_t frame[1000], got[2000];
	nt_frame(frame, sizeof(frame), 0xc0ffee01, 3);
	uint16_t head = nt_send(&t, NULL, frame, sizeof(frame), 0);
	int n = nt_host_recv(&t, got, sizeof(got), 0xc0ffee01, 2000);
	cr_assert_eq(n, (int)sizeof(frame));
	cr_expect(!memcmp(got, frame, sizeof(frame)));
	cr_assert(nt_wait_used(&t, &t.tx, 1, 1000));
	cr_expect_eq(vd_used(&t.d, &t.tx, 0).id, head);
	cr_expect_eq(vd_used(&t.d, &t.tx, 0).len, 0);
	struct virtio_net_counters c = nt_counters(&t);
	cr_expect_eq(c.tx_frames, 1);
	cr_expect_eq(c.tx_bytes, sizeof(frame));
}

Test(virtio_net, guest_to_host_split_anywhere)
{
	/* Header and frame each cut into 5 descriptors (a 12-byte header in 2-byte pieces):
	 * legal (5.1.6.2), however odd. */
	nt_bring_up(&t, NT_FEATURES);
	uint8_t frame[777], got[2000];
	nt_frame(frame, sizeof(frame), 0xc0ffee02, 9);
	nt_send(&t, NULL, frame, sizeof(frame), 5);
	int n = nt_host_recv(&t, got, sizeof(got), 0xc0ffee02, 2000);
	cr_assert_eq(n, (int)sizeof(frame));
	cr_expect(!memcmp(got, frame, sizeof(frame)));
}

Test(virtio_net, many_frames_each_way)
{
	nt_bring_up(&t, NT_FEATURES);
	for (int i = 0; i < 200; i++)
		nt_post_rx(&t, 2048);
	vd_kick(&t.d, NT_RXQ);
	uint8_t frame[1514], got[2048];
	for (uint32_t i = 0; i < 150; i++) {
		nt_frame(frame, sizeof(frame), 0xab000000 + i, (uint8_t)i);
		nt_host_send(&t, frame, sizeof(frame));
	}
	cr_assert(nt_wait_used(&t, &t.rx, 150, 3000), "rx used %u", vd_used_idx(&t.d, &t.rx));
	for (uint32_t i = 0; i < 100; i++) {
		nt_frame(frame, 100, 0xcd000000 + i, (uint8_t)i);
		nt_send(&t, NULL, frame, 100, 0);
		cr_assert_eq(nt_host_recv(&t, got, sizeof(got), 0xcd000000 + i, 2000), 100, "%u", i);
	}
	cr_assert(nt_wait_used(&t, &t.tx, 100, 2000)); /* counted before being returned */
	struct virtio_net_counters c = nt_counters(&t);
	cr_expect_eq(c.rx_frames, 150);
	cr_expect_eq(c.tx_frames, 100);
	cr_expect_eq(c.rx_dropped_truncated + c.rx_dropped_bad_header + c.tx_malformed, 0);
}

/* The used element for the i-th received buffer and its data. */
static uint8_t *rx_data(uint16_t i, uint64_t *bufs, uint32_t *len)
{
	struct virtq_used_elem el = vd_used(&t.d, &t.rx, i);
	*len = el.len;
	cr_assert_lt(el.id, VIRTIO_NET_QUEUE_SIZE);
	return vd_host(&t.d, bufs[el.id], el.len ? el.len : 1);
}

Test(virtio_net, host_to_guest_mergeable)
{
	nt_bring_up(&t, NT_FEATURES);
	/* 40 buffers of 2048: 80 KiB, enough for the device to read any frame. */
	uint64_t bufs[VIRTIO_NET_QUEUE_SIZE] = { 0 };
	for (int i = 0; i < 40; i++)
		bufs[t.rx.next_desc % t.rx.size] = nt_post_rx(&t, 2048);
	vd_kick(&t.d, NT_RXQ);
	static uint8_t frame[5000];
	nt_frame(frame, sizeof(frame), 0x11110001, 1);
	nt_host_send(&t, frame, sizeof(frame));
	/* 12 + 5000 bytes over 2048-byte buffers: 3 buffers, num_buffers 3. */
	cr_assert(nt_wait_used(&t, &t.rx, 3, 2000), "used %u", vd_used_idx(&t.d, &t.rx));
	uint8_t got[NT_HDR + sizeof(frame)];
	uint32_t off = 0;
	for (uint16_t i = 0; i < 3; i++) {
		uint32_t len;
		uint8_t *p = rx_data(i, bufs, &len);
		cr_assert_eq(len, i < 2 ? 2048 : NT_HDR + sizeof(frame) - 4096);
		memcpy(got + off, p, len);
		off += len;
	}
	cr_expect_eq(got[10] | got[11] << 8, 3, "num_buffers");
	cr_expect(!memcmp(got + NT_HDR, frame, sizeof(frame)));
	/* A small one next uses one buffer. */
	nt_frame(frame, 60, 0x11110002, 2);
	nt_host_send(&t, frame, 60);
	cr_assert(nt_wait_used(&t, &t.rx, 4, 2000));
	uint32_t len;
	uint8_t *p = rx_data(3, bufs, &len);
	cr_expect_eq(len, NT_HDR + 60);
	cr_expect_eq(p[10], 1, "num_buffers");
	cr_expect(!memcmp(p + NT_HDR, frame, 60));
	cr_expect_eq(nt_counters(&t).rx_bytes, 5060);
}

Test(virtio_net, host_to_guest_single_buffers)
{
	nt_bring_up(&t, VIRTIO_BIT(VIRTIO_F_VERSION_1) | NT_F(MAC));
	uint64_t bufs[VIRTIO_NET_QUEUE_SIZE] = { 0 };
	bufs[t.rx.next_desc % t.rx.size] = nt_post_rx(&t, 512);
	vd_kick(&t.d, NT_RXQ);
	uint8_t frame[1000];
	nt_frame(frame, sizeof(frame), 0x22220001, 5);
	nt_host_send(&t, frame, sizeof(frame)); /* does not fit: dropped */
	nt_frame(frame, 300, 0x22220002, 6);
	nt_host_send(&t, frame, 300);
	cr_assert(nt_wait_used(&t, &t.rx, 1, 2000));
	uint32_t len;
	uint8_t *p = rx_data(0, bufs, &len);
	cr_expect_eq(len, NT_HDR + 300);
	cr_expect_eq(p[0], 0, "flags 0 without GUEST_CSUM");
	cr_expect_eq(p[10], 1, "num_buffers is 1 without mergeable buffers");
	cr_expect(!memcmp(p + NT_HDR, frame, 300));
	cr_expect_eq(nt_counters(&t).rx_dropped_truncated, 1);
}

Test(virtio_net, frames_wait_for_buffers)
{
	nt_bring_up(&t, NT_FEATURES);
	uint8_t frame[200];
	nt_frame(frame, sizeof(frame), 0x33330001, 7);
	nt_host_send(&t, frame, sizeof(frame)); /* the TAP keeps it: the guest has no buffers */
	nt_sleep_ms(50);
	cr_expect_eq(vd_used_idx(&t.d, &t.rx), 0);
	cr_expect_geq(nt_counters(&t).rx_buffer_waits, 1);
	uint64_t bufs[VIRTIO_NET_QUEUE_SIZE] = { 0 };
	for (int i = 0; i < 40; i++)
		bufs[t.rx.next_desc % t.rx.size] = nt_post_rx(&t, 2048);
	vd_kick(&t.d, NT_RXQ);
	cr_assert(nt_wait_used(&t, &t.rx, 1, 2000));
	uint32_t len;
	uint8_t *p = rx_data(0, bufs, &len);
	cr_expect_eq(len, NT_HDR + sizeof(frame));
	cr_expect(!memcmp(p + NT_HDR, frame, sizeof(frame)));
	cr_expect_geq(vd_msix_count(&t.d, 1), 1, "rx interrupt");
}

Test(virtio_net, snapshot_gives_held_buffers_back)
{
	nt_bring_up(&t, NT_FEATURES);
	for (int i = 0; i < 40; i++)
		nt_post_rx(&t, 2048);
	vd_kick(&t.d, NT_RXQ);
	/* The device takes buffers once the TAP is read (on the kick). */
	for (int i = 0; i < 1000 && t.net->vp->queues[NT_RXQ].vq.inflight == 0; i++)
		nt_sleep_ms(1);
	struct virtqueue *vq = &t.net->vp->queues[NT_RXQ].vq;
	cr_assert_gt(vq->inflight, 0);
	static uint8_t snap[4096];
	size_t len;
	struct error e;
	cr_assert_eq(virtio_pci_save(t.net->vp, snap, sizeof(snap), &len, &e), 0, "%s", e.msg);
	cr_assert_eq(virtio_pci_restore(t.net->vp, snap, len, &e), 0, "%s", e.msg);
	/* Restored: nothing is held, the driver's buffers are all available again; and frames
	 * still flow. */
	cr_expect_eq(vq->inflight == 0 || vq->inflight == t.net->rx_count, 1);
	uint8_t frame[100];
	nt_frame(frame, sizeof(frame), 0x44440001, 1);
	nt_host_send(&t, frame, sizeof(frame));
	cr_expect(nt_wait_used(&t, &t.rx, 1, 2000));
}
