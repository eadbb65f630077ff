/* Split virtqueue, well-behaved driver: chains, indirect tables, index wrap-around, notification
 * suppression in both modes, snapshots, and the transport-facing checks. */
#include <criterion/criterion.h>
#include <endian.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "virtq_test_ring.h"

#define F_EVENT_IDX VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_INDIRECT VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)

/* Our own constants agree with the kernel's uapi headers (and coexist with them). */
_Static_assert(VIRTQ_DESC_F_NEXT == VRING_DESC_F_NEXT, "NEXT");
_Static_assert(VIRTQ_DESC_F_WRITE == VRING_DESC_F_WRITE, "WRITE");
_Static_assert(VIRTQ_DESC_F_INDIRECT == VRING_DESC_F_INDIRECT, "INDIRECT");
_Static_assert(VIRTQ_AVAIL_F_NO_INTERRUPT == VRING_AVAIL_F_NO_INTERRUPT, "NO_INTERRUPT");
_Static_assert(VIRTQ_USED_F_NO_NOTIFY == VRING_USED_F_NO_NOTIFY, "NO_NOTIFY");
_Static_assert(VIRTIO_F_INDIRECT_DESC == VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC");
_Static_assert(VIRTIO_F_EVENT_IDX == VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX");
_Static_assert(VIRTIO_STATUS_DEVICE_NEEDS_RESET == VIRTIO_CONFIG_S_NEEDS_RESET, "NEEDS_RESET");
_Static_assert(VIRTIO_STATUS_FEATURES_OK == VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK");
_Static_assert(VIRTIO_PCI_COMMON_QUEUE_DESC == VIRTIO_PCI_COMMON_Q_DESCLO, "Q_DESC");
_Static_assert(VIRTIO_PCI_COMMON_QUEUE_DEVICE == VIRTIO_PCI_COMMON_Q_USEDLO, "Q_USED");
_Static_assert(VIRTIO_PCI_COMMON_QUEUE_RESET == VIRTIO_PCI_COMMON_Q_RESET, "Q_RESET");
_Static_assert(VIRTIO_PCI_COMMON_DEVICE_STATUS == VIRTIO_PCI_COMMON_STATUS, "STATUS");
_Static_assert(VIRTIO_PCI_CAPF_NOTIFY_MULT == VIRTIO_PCI_NOTIFY_CAP_MULT, "NOTIFY_MULT");

static struct test_ring t;

static void setup_plain(void) { tr_setup(&t, 16, VIRTIO_BIT(VIRTIO_F_VERSION_1)); }
static void setup_features(void) { tr_setup(&t, 16, F_EVENT_IDX | F_INDIRECT); }
static void teardown(void) { tr_teardown(&t); }

static int pop(void)
{
	return virtqueue_pop(&t.vq, &t.gm, &t.chain, &t.e);
}

Test(virtqueue, single_readable_buffer, .init = setup_plain, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 64);
	memcpy(tr_host(&t, buf), "hello", 5);
	tr_desc(&t, 3, buf, 64, 0, 0);
	tr_offer(&t, 3);
	cr_assert_eq(virtqueue_pending(&t.vq, &t.gm), 1);

	cr_assert_eq(pop(), 1, "%s", t.e.msg);
	cr_assert_eq(t.chain.head, 3);
	cr_assert_eq(t.chain.nout, 1);
	cr_assert_eq(t.chain.nin, 0);
	cr_assert_eq(t.chain.out_bytes, 64);
	cr_assert_eq(t.chain.iov[0].iov_base, tr_host(&t, buf));
	cr_assert_eq(t.chain.iov[0].iov_len, 64);
	cr_assert_eq(pop(), 0, "ring is now empty");
	cr_assert_eq(t.vq.inflight, 1);

	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 3, 0, &t.e), 0, "%s", t.e.msg);
	cr_assert_eq(tr_used_idx(&t), 1);
	cr_assert_eq(tr_used_elem(&t, 0).id, 3);
	cr_assert_eq(tr_used_elem(&t, 0).len, 0);
	cr_assert_eq(t.vq.inflight, 0);
	cr_assert_eq(t.vq.stats.popped, 1);
	cr_assert_eq(t.vq.stats.pushed, 1);
}

Test(virtqueue, readable_then_writable_chain, .init = setup_plain, .fini = teardown)
{
	uint64_t hdr = tr_alloc(&t, 16), data = tr_alloc(&t, 512), status = tr_alloc(&t, 1);
	memcpy(tr_host(&t, hdr), "0123456789abcdef", 16);
	memset(tr_host(&t, data), 'D', 512);
	tr_desc(&t, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 5);
	tr_desc(&t, 5, data, 512, VIRTQ_DESC_F_NEXT, 9);
	tr_desc(&t, 9, status, 1, VIRTQ_DESC_F_WRITE, 0);
	tr_offer(&t, 0);

	cr_assert_eq(pop(), 1, "%s", t.e.msg);
	cr_assert_eq(t.chain.ndesc, 3);
	cr_assert_eq(t.chain.nout, 2);
	cr_assert_eq(t.chain.nin, 1);
	cr_assert_eq(t.chain.out_bytes, 528);
	cr_assert_eq(t.chain.in_bytes, 1);
	cr_assert_eq(t.chain.iov[2].iov_base, tr_host(&t, status));

	/* Copy helpers cross iovec boundaries and stop at the part's end. */
	char got[20];
	cr_assert_eq(virtq_chain_copy_from(&t.chain, 12, got, 8), 8);
	cr_assert_arr_eq(got, "cdefDDDD", 8);
	cr_assert_eq(virtq_chain_copy_from(&t.chain, 520, got, 20), 8, "short at the end");
	cr_assert_eq(virtq_chain_copy_to(&t.chain, 0, "\x2a\x2b", 2), 1, "writable part is 1 byte");
	cr_assert_eq(*(uint8_t *)tr_host(&t, status), 0x2a);

	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 1, &t.e), 0, "%s", t.e.msg);
	cr_assert_eq(tr_used_elem(&t, 0).len, 1);
}

Test(virtqueue, zero_length_descriptors_are_skipped, .init = setup_plain, .fini = teardown)
{
	uint64_t a = tr_alloc(&t, 8), b = tr_alloc(&t, 8);
	tr_desc(&t, 0, a, 8, VIRTQ_DESC_F_NEXT, 1);
	tr_desc(&t, 1, 0xdead0000000ull, 0, VIRTQ_DESC_F_NEXT, 2);  /* no data: address unused */
	tr_desc(&t, 2, b, 8, VIRTQ_DESC_F_WRITE, 0);
	tr_offer(&t, 0);
	cr_assert_eq(pop(), 1, "%s", t.e.msg);
	cr_assert_eq(t.chain.ndesc, 3);
	cr_assert_eq(t.chain.nout + t.chain.nin, 2);
}

Test(virtqueue, indirect_table, .init = setup_features, .fini = teardown)
{
	uint64_t table = tr_alloc(&t, 3 * 16);
	uint64_t out = tr_alloc(&t, 100), out2 = tr_alloc(&t, 200), in = tr_alloc(&t, 300);
	/* Linux-style: indices in the table chained by next; WRITE on the pointer is ignored. */
	tr_desc_at(&t, table, 0, out, 100, VIRTQ_DESC_F_NEXT, 2);
	tr_desc_at(&t, table, 2, out2, 200, VIRTQ_DESC_F_NEXT, 1);
	tr_desc_at(&t, table, 1, in, 300, VIRTQ_DESC_F_WRITE, 0);
	tr_desc(&t, 7, table, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	tr_offer(&t, 7);

	cr_assert_eq(pop(), 1, "%s", t.e.msg);
	cr_assert_eq(t.chain.head, 7);
	cr_assert_eq(t.chain.ndesc, 4);
	cr_assert_eq(t.chain.nout, 2);
	cr_assert_eq(t.chain.nin, 1);
	cr_assert_eq(t.chain.iov[1].iov_base, tr_host(&t, out2));
	cr_assert_eq(t.chain.in_bytes, 300);
}

Test(virtqueue, direct_descriptors_then_indirect_table, .init = setup_features, .fini = teardown)
{
	/* 2.7.5.3.2: zero or more chained descriptors followed by one indirect descriptor. */
	uint64_t hdr = tr_alloc(&t, 16), table = tr_alloc(&t, 32);
	uint64_t d1 = tr_alloc(&t, 10), d2 = tr_alloc(&t, 20);
	tr_desc(&t, 1, hdr, 16, VIRTQ_DESC_F_NEXT, 2);
	tr_desc(&t, 2, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	tr_desc_at(&t, table, 0, d1, 10, VIRTQ_DESC_F_NEXT, 1);
	tr_desc_at(&t, table, 1, d2, 20, VIRTQ_DESC_F_WRITE, 0);
	tr_offer(&t, 1);
	cr_assert_eq(pop(), 1, "%s", t.e.msg);
	cr_assert_eq(t.chain.nout, 2);
	cr_assert_eq(t.chain.nin, 1);
	cr_assert_eq(t.chain.out_bytes, 26);
}

Test(virtqueue, full_queue_and_longest_chain, .init = setup_plain, .fini = teardown)
{
	/* One chain through all 16 descriptors is legal (exactly queue size). */
	uint64_t buf = tr_alloc(&t, 16);
	for (uint16_t i = 0; i < 16; i++)
		tr_desc(&t, i, buf + i, 1, i < 15 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	tr_offer(&t, 0);
	cr_assert_eq(pop(), 1, "%s", t.e.msg);
	cr_assert_eq(t.chain.nout, 16);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 0, &t.e), 0, "%s", t.e.msg);

	/* 16 one-descriptor chains in flight at once. */
	for (uint16_t i = 0; i < 16; i++) {
		tr_desc(&t, i, buf + i, 1, 0, 0);
		tr_offer(&t, i);
	}
	for (uint16_t i = 0; i < 16; i++) {
		cr_assert_eq(pop(), 1, "%s", t.e.msg);
		cr_assert_eq(t.chain.head, i);
	}
	cr_assert_eq(t.vq.inflight, 16);
	/* Completion out of order is fine. */
	for (int i = 15; i >= 0; i--)
		cr_assert_eq(virtqueue_push(&t.vq, &t.gm, (uint16_t)i, (uint32_t)i, &t.e), 0);
	cr_assert_eq(tr_used_elem(&t, 1).id, 15);
	cr_assert_eq(tr_used_idx(&t), 17);
}

Test(virtqueue, indices_wrap_past_65535, .init = setup_plain, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 4);
	for (uint16_t i = 0; i < 16; i++)
		tr_desc(&t, i, buf, 4, VIRTQ_DESC_F_WRITE, 0);
	/* Batches of 3 so ring slots and indices move unevenly across the 2^16 wrap. */
	uint32_t total = 0;
	while (total < 70000) {
		for (int k = 0; k < 3; k++)
			tr_offer(&t, (uint16_t)((total + k) % 16));
		for (int k = 0; k < 3; k++) {
			cr_assert_eq(pop(), 1, "at %u: %s", total, t.e.msg);
			cr_assert_eq(t.chain.head, (total + k) % 16);
		}
		for (int k = 0; k < 3; k++)
			cr_assert_eq(virtqueue_push(&t.vq, &t.gm, (uint16_t)((total + k) % 16), 4,
						    &t.e), 0);
		total += 3;
	}
	cr_assert_eq(pop(), 0);
	cr_assert_eq(t.vq.last_avail_idx, (uint16_t)total);
	cr_assert_eq(tr_used_idx(&t), (uint16_t)total);
	cr_assert_eq(tr_used_elem(&t, (uint16_t)(total - 1)).id, (total - 1) % 16);
}

Test(virtqueue, event_idx_used_event_decides_interrupts, .init = setup_features, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 4);
	for (uint16_t i = 0; i < 16; i++)
		tr_desc(&t, i, buf, 4, VIRTQ_DESC_F_WRITE, 0);
	cr_assert_not(virtqueue_should_notify(&t.vq, &t.gm), "nothing pushed yet");

	/* used_event 0: interrupt after the first used entry (spec note in 2.7.7.2). */
	tr_set_used_event(&t, 0);
	tr_offer(&t, 0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 4, &t.e), 0);
	cr_assert(virtqueue_should_notify(&t.vq, &t.gm));
	cr_assert_not(virtqueue_should_notify(&t.vq, &t.gm), "nothing new since");

	/* Driver wants an interrupt only when entry 3 is used (used idx reaches 4). */
	tr_set_used_event(&t, 3);
	for (uint16_t i = 1; i <= 3; i++) {
		tr_offer(&t, i);
		cr_assert_eq(pop(), 1);
		cr_assert_eq(virtqueue_push(&t.vq, &t.gm, i, 4, &t.e), 0);
		bool want = i == 3;
		cr_assert_eq(virtqueue_should_notify(&t.vq, &t.gm), want, "used idx %u", i + 1);
	}
	/* A batch that steps over used_event still notifies once. */
	tr_set_used_event(&t, 5);
	for (uint16_t i = 4; i <= 7; i++) {
		tr_offer(&t, i);
		cr_assert_eq(pop(), 1);
		cr_assert_eq(virtqueue_push(&t.vq, &t.gm, i, 4, &t.e), 0);
	}
	cr_assert(virtqueue_should_notify(&t.vq, &t.gm), "used idx went 4 -> 8, past event 5");
	/* The NO_INTERRUPT flag is ignored under EVENT_IDX (2.7.7.2). */
	tr_set_avail_flags(&t, VIRTQ_AVAIL_F_NO_INTERRUPT);
	tr_set_used_event(&t, 8);
	tr_offer(&t, 8);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 8, 4, &t.e), 0);
	cr_assert(virtqueue_should_notify(&t.vq, &t.gm));
	cr_assert_eq(t.vq.stats.notified, 4);
	cr_assert_eq(t.vq.stats.suppressed, 2);
}

Test(virtqueue, event_idx_across_wrap, .init = setup_features, .fini = teardown)
{
	/* Device and driver indices near 65535: the 16-bit arithmetic must still decide right. */
	struct virtqueue_state s;
	virtqueue_save(&t.vq, &s);
	s.last_avail_idx = s.used_idx = s.signalled_used = 65534;
	cr_assert_eq(virtqueue_restore(&t.vq, &s, &t.gm, &t.e), 0, "%s", t.e.msg);
	tr_set_avail_idx(&t, 65534);
	*(uint16_t *)tr_host(&t, TR_USED + 2) = htole16(65534);
	uint64_t buf = tr_alloc(&t, 4);
	for (uint16_t i = 0; i < 4; i++)
		tr_desc(&t, i, buf, 4, 0, 0);
	tr_set_used_event(&t, 0);  /* wake me when used idx reaches 1, i.e. after the wrap */
	for (uint16_t i = 0; i < 3; i++) {
		tr_offer(&t, i);
		cr_assert_eq(pop(), 1, "%s", t.e.msg);
		cr_assert_eq(virtqueue_push(&t.vq, &t.gm, i, 0, &t.e), 0);
		cr_assert_eq(virtqueue_should_notify(&t.vq, &t.gm), i == 2, "step %u", i);
	}
	cr_assert_eq(tr_used_idx(&t), 1);
}

Test(virtqueue, no_interrupt_flag_without_event_idx, .init = setup_plain, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 4);
	tr_desc(&t, 0, buf, 4, 0, 0);
	tr_set_used_event(&t, 100);  /* must be ignored without EVENT_IDX */
	tr_offer(&t, 0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 0, &t.e), 0);
	cr_assert(virtqueue_should_notify(&t.vq, &t.gm));

	tr_set_avail_flags(&t, VIRTQ_AVAIL_F_NO_INTERRUPT);
	tr_offer(&t, 0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 0, &t.e), 0);
	cr_assert_not(virtqueue_should_notify(&t.vq, &t.gm));
}

Test(virtqueue, kick_suppression_event_idx, .init = setup_features, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 4);
	tr_desc(&t, 0, buf, 4, 0, 0);
	for (int i = 0; i < 5; i++)
		tr_offer(&t, 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(pop(), 1);
		cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 0, &t.e), 0);
	}
	/* The empty pop publishes avail_event = where the device stopped. */
	cr_assert_eq(pop(), 0);
	cr_assert_eq(tr_avail_event(&t), 5);
	cr_assert_eq(tr_used_flags(&t), 0, "flags stay 0 under EVENT_IDX");

	virtqueue_disable_notify(&t.vq, &t.gm);
	tr_offer(&t, 0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 0, &t.e), 0);
	cr_assert_eq(pop(), 0);
	cr_assert_eq(tr_avail_event(&t), 5, "polling: avail_event is not re-armed");
	cr_assert_not(virtqueue_enable_notify(&t.vq, &t.gm), "nothing pending");
	cr_assert_eq(tr_avail_event(&t), 6);
	tr_offer(&t, 0);
	cr_assert(virtqueue_enable_notify(&t.vq, &t.gm), "a buffer arrived: pop again");

	virtqueue_set_avail_event(&t.vq, &t.gm, 1234);
	cr_assert_eq(tr_avail_event(&t), 1234);
}

Test(virtqueue, kick_suppression_flag, .init = setup_plain, .fini = teardown)
{
	virtqueue_disable_notify(&t.vq, &t.gm);
	cr_assert_eq(tr_used_flags(&t), VIRTQ_USED_F_NO_NOTIFY);
	cr_assert_not(virtqueue_enable_notify(&t.vq, &t.gm));
	cr_assert_eq(tr_used_flags(&t), 0);
	virtqueue_set_avail_event(&t.vq, &t.gm, 77);
	cr_assert_eq(tr_avail_event(&t), 0, "no avail_event without EVENT_IDX");
}

Test(virtqueue, iov_limit_is_the_device_cap, .init = setup_plain, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 4);
	for (uint16_t i = 0; i < 4; i++)
		tr_desc(&t, i, buf, 4, i < 3 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	tr_offer(&t, 0);
	struct iovec iov[4];
	struct virtq_chain c;
	virtq_chain_init(&c, iov, 4);
	cr_assert_eq(virtqueue_pop(&t.vq, &t.gm, &c, &t.e), 1, "exactly at the cap: %s", t.e.msg);
	cr_assert_eq(c.nout, 4);
}

Test(virtqueue, push_of_unknown_head_is_a_device_error, .init = setup_plain, .fini = teardown)
{
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 0, 0, &t.e), -1, "nothing in flight");
	cr_assert(strstr(t.e.msg, "not in flight"), "%s", t.e.msg);
	cr_assert_eq(virtqueue_push(&t.vq, &t.gm, 16, 0, &t.e), -1);
	cr_assert_not(t.vq.broken, "a device bug does not break the guest's queue");
	cr_assert_eq(tr_used_idx(&t), 0);
}

Test(virtqueue, save_restore_roundtrip, .init = setup_features, .fini = teardown)
{
	uint64_t buf = tr_alloc(&t, 4);
	tr_desc(&t, 2, buf, 4, 0, 0);
	tr_offer(&t, 2);
	tr_offer(&t, 2);
	cr_assert_eq(pop(), 1);
	struct virtqueue_state s;
	virtqueue_save(&t.vq, &s);

	struct virtqueue q;
	virtqueue_init(&q, 16);
	cr_assert_eq(virtqueue_restore(&q, &s, &t.gm, &t.e), 0, "%s", t.e.msg);
	cr_assert(q.enabled && q.event_idx && q.indirect);
	cr_assert_eq(q.last_avail_idx, 1);
	cr_assert_eq(q.inflight, 1);
	cr_assert_eq(virtqueue_push(&q, &t.gm, 2, 4, &t.e), 0, "%s", t.e.msg);
	cr_assert_eq(virtqueue_pop(&q, &t.gm, &t.chain, &t.e), 1, "%s", t.e.msg);

	struct virtqueue small;
	virtqueue_init(&small, 8);
	cr_assert_eq(virtqueue_restore(&small, &s, &t.gm, &t.e), -1, "size 16 > max 8");
	cr_assert(strstr(t.e.msg, "queue size 16"), "%s", t.e.msg);
	s.used_gpa = TR_RAM - 8;
	cr_assert_eq(virtqueue_restore(&q, &s, &t.gm, &t.e), -1);
	cr_assert(strstr(t.e.msg, "used ring"), "%s", t.e.msg);
}

Test(virtqueue, transport_checks_size_and_ring_placement)
{
	struct guest_mem gm;
	struct error e;
	cr_assert_eq(guest_mem_init(&gm, TR_RAM, &e), 0, "%s", e.msg);
	struct virtqueue vq;
	virtqueue_init(&vq, 256);
	cr_assert_eq(vq.size, 256, "the device offers its maximum");
	cr_assert_eq(virtqueue_set_size(&vq, 100, &e), -1);
	cr_assert(strstr(e.msg, "not a power of 2"), "%s", e.msg);
	cr_assert_eq(virtqueue_set_size(&vq, 512, &e), -1);
	cr_assert_eq(virtqueue_set_size(&vq, 0, &e), -1);
	cr_assert_eq(virtqueue_set_size(&vq, 64, &e), 0, "%s", e.msg);

	vq.desc_gpa = TR_DESC + 8;
	vq.avail_gpa = TR_AVAIL;
	vq.used_gpa = TR_USED;
	cr_assert_eq(virtqueue_enable(&vq, &gm, 0, &e), -1);
	cr_assert(strstr(e.msg, "not 16-byte aligned"), "%s", e.msg);
	vq.desc_gpa = TR_DESC;
	vq.used_gpa = TR_USED + 2;
	cr_assert_eq(virtqueue_enable(&vq, &gm, 0, &e), -1);
	cr_assert(strstr(e.msg, "used ring at 0x300002 is not 4-byte aligned"), "%s", e.msg);
	vq.used_gpa = TR_RAM - 16;  /* starts in RAM, runs past its end */
	cr_assert_eq(virtqueue_enable(&vq, &gm, 0, &e), -1);
	cr_assert(strstr(e.msg, "outside guest RAM"), "%s", e.msg);
	vq.avail_gpa = UINT64_MAX - 1;
	cr_assert_eq(virtqueue_enable(&vq, &gm, 0, &e), -1, "wrapping avail ring");
	cr_assert_not(vq.enabled);

	vq.avail_gpa = TR_AVAIL;
	vq.used_gpa = TR_USED;
	cr_assert_eq(virtqueue_enable(&vq, &gm, F_INDIRECT, &e), 0, "%s", e.msg);
	cr_assert(vq.indirect && !vq.event_idx);
	cr_assert_eq(virtqueue_set_size(&vq, 32, &e), -1, "not while enabled");

	virtqueue_reset(&vq);
	cr_assert_not(vq.enabled);
	cr_assert_eq(vq.size, 256);
	cr_assert_eq(vq.max_size, 256);

	virtqueue_init(&vq, 1000);
	cr_assert_eq(vq.max_size, 512, "a device max is rounded down to a power of 2");
	virtqueue_init(&vq, 65535);
	cr_assert_eq(vq.max_size, 32768);
	guest_mem_destroy(&gm);
}

Test(virtqueue, disabled_queue_is_empty)
{
	struct guest_mem gm;
	struct error e;
	cr_assert_eq(guest_mem_init(&gm, TR_RAM, &e), 0, "%s", e.msg);
	struct virtqueue vq;
	virtqueue_init(&vq, 16);
	struct iovec iov[4];
	struct virtq_chain c;
	virtq_chain_init(&c, iov, 4);
	cr_assert_eq(virtqueue_pop(&vq, &gm, &c, &e), 0);
	cr_assert_eq(virtqueue_pending(&vq, &gm), 0);
	cr_assert_not(virtqueue_should_notify(&vq, &gm));
	cr_assert_eq(virtqueue_push(&vq, &gm, 0, 0, &e), -1);
	guest_mem_destroy(&gm);
}
