/* virtio-balloon end to end without KVM: the device runs on its own thread and io_uring loop;
 * the test plays the guest driver through the PCI bus (negotiation, queues, MSI-X), fills
 * page-number buffers, kicks, and checks with mincore(2) that inflated and reported memory
 * really left the host, and that everything a hostile driver sends is counted, not obeyed. */
#include <criterion/criterion.h>
#include <endian.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "devices/virtio/balloon.h"
#include "devices/virtio/balloon_internal.h"
#include "devices/virtio/virtio_pci.h"
#include "virtio_pci_test_driver.h"

#define MIB (1ull << 20)
#define V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define F_STATS VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ)
#define F_OOM VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#define F_REPORT VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING)
#define AREA (40 * MIB) /* guest memory the tests balloon: clear of rings and buffers */

static struct vdrv d;
static struct virtio_balloon *b;
static struct vd_ring rq[4];

static void setup(void)
{
	vd_setup(&d);
}

static void teardown(void)
{
	virtio_balloon_destroy(b);
	b = NULL;
	vd_teardown(&d);
}

TestSuite(virtio_balloon, .init = setup, .fini = teardown, .timeout = 30);

static void start(const char *spec)
{
	struct balloon_options o;
	cr_assert_eq(balloon_options_parse(spec, &o, &d.e), 0, "%s", d.e.msg);
	b = virtio_balloon_create(d.bus, -1, &d.gm, &o, &d.e);
	cr_assert_not_null(b, "%s", d.e.msg);
	vd_probe(&d, 1);
}

/* Negotiates `features`, maps the config vector to 0 and `nq` queues to vectors 1.., live. */
static void bring_up(uint64_t features, unsigned nq)
{
	vd_msix_on(&d, nq + 1);
	vd_negotiate(&d, V1 | features);
	vd_write(&d, VIRTIO_PCI_COMMON_CONFIG_MSIX_VECTOR, 0, 2);
	for (unsigned q = 0; q < nq; q++)
		vd_queue_setup(&d, &rq[q], (uint16_t)q, 64, (uint16_t)(q + 1));
	vd_set_status(&d, vd_status(&d) | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(vd_status(&d) & VIRTIO_STATUS_DRIVER_OK);
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Waits (up to 10 s) for queue q's used->idx to reach `want`. */
static bool wait_used(unsigned q, uint16_t want)
{
	for (int i = 0; i < 10000; i++) {
		if (vd_used_idx(&d, &rq[q]) == want)
			return true;
		pause_ms(1);
	}
	return false;
}

static uint32_t config32(unsigned offset)
{
	return (uint32_t)vd_mmio_read(&d, d.device + offset, 4);
}

static uint64_t resident(uint64_t gpa, uint64_t len)
{
	static unsigned char vec[8192];
	cr_assert_leq(len / 4096, sizeof(vec));
	cr_assert_eq(mincore(vd_host(&d, gpa, len), len, vec), 0);
	uint64_t n = 0;
	for (uint64_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

static void touch(uint64_t gpa, uint64_t len, uint8_t v)
{
	memset(vd_host(&d, gpa, len), v, len);
}

/* A buffer of le32 page numbers, offered as one readable descriptor on queue q and kicked. */
static void send_pfns(unsigned q, const uint32_t *pfns, size_t n)
{
	uint64_t buf = vd_alloc(&d, (uint32_t)(n * 4));
	uint32_t *p = vd_host(&d, buf, n * 4);
	for (size_t i = 0; i < n; i++)
		p[i] = htole32(pfns[i]);
	vd_offer(&d, &rq[q], vd_desc(&d, &rq[q], buf, (uint32_t)(n * 4), 0, 0));
	vd_kick(&d, (uint16_t)q);
}

static void send_range(unsigned q, uint64_t gpa, uint64_t pages, bool descending)
{
	static uint32_t pfns[4096];
	cr_assert_leq(pages, 4096);
	for (uint64_t i = 0; i < pages; i++)
		pfns[i] = (uint32_t)(gpa / 4096 + (descending ? pages - 1 - i : i));
	send_pfns(q, pfns, pages);
}

static struct balloon_counters counters(void)
{
	struct balloon_counters c;
	virtio_balloon_get_counters(b, &c);
	return c;
}

Test(virtio_balloon, identity_features_and_queues)
{
	start("size=16,deflate_on_oom=on,free_page_reporting=on,stats=10");
	cr_expect_eq(vd_cfg_read(&d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_BALLOON);
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 4);
	cr_expect_eq(vd_device_features(&d) & 0xffffff, F_STATS | F_OOM | F_REPORT);
	cr_expect_eq(d.device_len, 8);
	cr_expect_eq(config32(0), 16 * 256, "num_pages is the target in 4 KiB pages");
	cr_expect_eq(config32(4), 0);
}

Test(virtio_balloon, plain_balloon_has_two_queues_and_no_features)
{
	start("size=0");
	cr_expect_eq(vd_read(&d, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 2);
	cr_expect_eq(vd_device_features(&d) & 0xffffff, 0);
	struct balloon_stats s;
	cr_expect_eq(virtio_balloon_stats(b, &s, &d.e), -1);
	cr_expect(strstr(d.e.msg, "statistics are off"), "%s", d.e.msg);
	cr_expect_eq(virtio_balloon_set_stats_interval(b, 5, &d.e), -1);
	cr_expect(strstr(d.e.msg, "cannot be turned on later"), "%s", d.e.msg);
}

Test(virtio_balloon, a_target_larger_than_ram_is_refused)
{
	struct balloon_options o;
	cr_assert_eq(balloon_options_parse("size=65", &o, &d.e), 0);
	cr_expect_null(virtio_balloon_create(d.bus, -1, &d.gm, &o, &d.e));
	cr_expect(strstr(d.e.msg, "more than the guest's 64 MiB"), "%s", d.e.msg);
}

Test(virtio_balloon, actual_is_the_drivers_num_pages_is_not)
{
	start("size=8");
	bring_up(0, 2);
	vd_mmio_write(&d, d.device + 0, 12345, 4);
	cr_expect_eq(config32(0), 8 * 256, "num_pages is read-only");
	vd_mmio_write(&d, d.device + 4, 1024, 4);
	cr_expect_eq(config32(4), 1024);
	vd_mmio_write(&d, d.device + 5, 0x08, 1); /* byte access to actual's second byte */
	cr_expect_eq(config32(4), 0x800);
	struct balloon_info info;
	virtio_balloon_info(b, &info);
	cr_expect_eq(info.target_mib, 8);
	cr_expect_eq(info.target_pages, 2048);
	cr_expect_eq(info.actual_pages, 0x800);
	cr_expect_eq(info.actual_mib, 8);
	vd_set_status(&d, 0);
	cr_expect_eq(config32(4), 0, "a reset clears actual");
}

Test(virtio_balloon, a_new_target_raises_a_config_interrupt)
{
	start("size=0");
	bring_up(0, 2);
	uint8_t gen = (uint8_t)vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1);
	cr_assert_eq(virtio_balloon_set_target(b, 32, &d.e), 0, "%s", d.e.msg);
	cr_expect_eq(config32(0), 32 * 256);
	cr_expect_eq(vd_msix_count(&d, 0), 1, "config interrupt");
	cr_expect_neq((uint8_t)vd_read(&d, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1), gen);
	cr_expect_eq(virtio_balloon_set_target(b, 65, &d.e), -1);
	cr_expect(strstr(d.e.msg, "more than the guest's 64 MiB of RAM"), "%s", d.e.msg);
	cr_expect_eq(config32(0), 32 * 256, "a refused target changes nothing");
	cr_expect_eq(virtio_balloon_set_target(b, 0, &d.e), 0);
	cr_expect_eq(config32(0), 0);
}

Test(virtio_balloon, inflating_gives_the_pages_back_to_the_host)
{
	start("size=4");
	bring_up(0, 2);
	touch(AREA - MIB, 6 * MIB, 0xab);
	cr_assert_eq(resident(AREA, 4 * MIB), 1024);
	/* Linux's batches: 256 page numbers per buffer, here in descending order. */
	for (int i = 0; i < 4; i++)
		send_range(0, AREA + (uint64_t)i * MIB, 256, true);
	cr_assert(wait_used(0, 4), "inflate buffers not returned");
	cr_expect_eq(vd_used(&d, &rq[0], 0).len, 0);
	cr_expect_eq(resident(AREA, 4 * MIB), 0, "inflated pages are still backed");
	cr_expect_eq(resident(AREA - MIB, MIB), 256, "a neighbour was released");
	cr_expect_eq(resident(AREA + 4 * MIB, MIB), 256, "a neighbour was released");
	const uint8_t *p = vd_host(&d, AREA, 4 * MIB);
	cr_expect(p[0] == 0 && p[4 * MIB - 1] == 0, "released memory reads as zeros");
	struct balloon_counters c = counters();
	cr_expect_eq(c.inflate_pages, 1024);
	cr_expect_eq(c.inflate_buffers, 4);
	cr_expect_eq(c.inflated_bytes_released, 4 * MIB);
	cr_expect_eq(c.pfns_ignored, 0);
	struct balloon_info info;
	virtio_balloon_info(b, &info);
	cr_expect_eq(info.inflated_pages_released, 1024);
	/* Deflate: counted, and the guest may use the pages again. */
	for (int i = 0; i < 4; i++)
		send_range(1, AREA + (uint64_t)i * MIB, 256, false);
	cr_assert(wait_used(1, 4));
	cr_expect_eq(counters().deflate_pages, 1024);
	touch(AREA, 4 * MIB, 1);
	cr_expect_eq(resident(AREA, 4 * MIB), 1024);
	cr_expect_eq(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

Test(virtio_balloon, hostile_page_numbers_are_counted_and_ignored)
{
	start("size=0");
	bring_up(0, 2);
	touch(AREA, MIB, 0x5a);
	uint32_t pfns[] = {
		(uint32_t)(VD_RAM / 4096),      /* first page past RAM */
		UINT32_MAX,
		(uint32_t)(0xc0000000u / 4096), /* the PCI window */
		(uint32_t)(AREA / 4096), (uint32_t)(AREA / 4096), /* a duplicate */
		(uint32_t)(AREA / 4096 + 1),
	};
	send_pfns(0, pfns, 6);
	/* A buffer whose length is not whole page numbers: the partial one is dropped. */
	uint64_t odd = vd_alloc(&d, 6);
	uint32_t le = htole32((uint32_t)(AREA / 4096 + 2));
	memcpy(vd_host(&d, odd, 4), &le, 4);
	vd_offer(&d, &rq[0], vd_desc(&d, &rq[0], odd, 6, 0, 0));
	/* A writable-only buffer carries no page numbers at all. */
	uint64_t w = vd_alloc(&d, 64);
	vd_offer(&d, &rq[0], vd_desc(&d, &rq[0], w, 64, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 0);
	cr_assert(wait_used(0, 3));
	struct balloon_counters c = counters();
	cr_expect_eq(c.pfns_ignored, 3);
	cr_expect_eq(c.pfns_duplicate, 1);
	cr_expect_eq(c.inflate_pages, 3);
	cr_expect_eq(resident(AREA, 3 * 4096), 0);
	cr_expect_eq(resident(AREA + 3 * 4096, MIB - 3 * 4096), 256 - 3);
	cr_expect_eq(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0, "the device goes on");
}

Test(virtio_balloon, one_buffer_carries_at_most_16384_page_numbers)
{
	start("size=0");
	bring_up(0, 2);
	/* 16384 numbers of pages past RAM (ignored), then 16 real ones that come too late. */
	const uint32_t n = 16384 + 16;
	uint64_t buf = vd_alloc(&d, n * 4);
	uint32_t *p = vd_host(&d, buf, n * 4ull);
	for (uint32_t i = 0; i < n; i++)
		p[i] = htole32(i < 16384 ? (uint32_t)(VD_RAM / 4096) + i
					 : (uint32_t)(AREA / 4096) + i - 16384);
	touch(AREA, 16 * 4096, 9);
	vd_offer(&d, &rq[0], vd_desc(&d, &rq[0], buf, n * 4, 0, 0));
	vd_kick(&d, 0);
	cr_assert(wait_used(0, 1));
	cr_expect_eq(counters().pfns_ignored, n);
	cr_expect_eq(counters().inflate_pages, 0);
	cr_expect_eq(resident(AREA, 16 * 4096), 16, "pages past the cap were released");
}

Test(virtio_balloon, a_broken_ring_needs_a_reset_then_works_again)
{
	start("size=0");
	bring_up(0, 2);
	vd_offer(&d, &rq[0], vd_desc(&d, &rq[0], VD_RAM - 4, 64, 0, 0));
	vd_kick(&d, 0);
	for (int i = 0; i < 5000 && !(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); i++)
		pause_ms(1);
	cr_assert(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	bring_up(0, 2);
	touch(AREA, MIB, 1);
	send_range(0, AREA, 256, false);
	cr_assert(wait_used(0, 1));
	cr_expect_eq(resident(AREA, MIB), 0);
}

/* A statistics buffer: free and total memory around a tag Ember does not know. */
static uint64_t stats_buffer(uint64_t memfree)
{
	uint64_t buf = vd_alloc(&d, 3 * BALLOON_STAT_ENTRY_SIZE);
	uint8_t *p = vd_host(&d, buf, 3 * BALLOON_STAT_ENTRY_SIZE);
	struct { uint16_t tag; uint64_t val; } entries[3] = {
		{ BALLOON_STAT_MEMFREE, memfree }, { 99, 7 }, { BALLOON_STAT_MEMTOT, 64 * MIB } };
	for (unsigned i = 0; i < 3; i++) {
		uint16_t t = htole16(entries[i].tag);
		uint64_t v = htole64(entries[i].val);
		memcpy(p + i * BALLOON_STAT_ENTRY_SIZE, &t, 2);
		memcpy(p + i * BALLOON_STAT_ENTRY_SIZE + 2, &v, 8);
	}
	return buf;
}

static void offer_stats(uint64_t memfree, unsigned entries)
{
	uint64_t buf = stats_buffer(memfree);
	vd_offer(&d, &rq[2], vd_desc(&d, &rq[2], buf, entries * BALLOON_STAT_ENTRY_SIZE, 0, 0));
	vd_kick(&d, 2);
}

static bool wait_memfree(uint64_t want)
{
	struct balloon_stats s;
	for (int i = 0; i < 10000; i++) {
		if (virtio_balloon_stats(b, &s, &d.e) == 0 && (s.has & 1u << BALLOON_STAT_MEMFREE) &&
		    s.value[BALLOON_STAT_MEMFREE] == want)
			return true;
		pause_ms(1);
	}
	return false;
}

Test(virtio_balloon, statistics_are_polled_on_the_interval)
{
	start("size=0,stats=1");
	bring_up(F_STATS, 3);
	offer_stats(1111, 3);
	cr_assert(wait_memfree(1111), "first statistics not parsed");
	struct balloon_stats s;
	cr_assert_eq(virtio_balloon_stats(b, &s, &d.e), 0);
	cr_expect_eq(s.has, 1u << BALLOON_STAT_MEMFREE | 1u << BALLOON_STAT_MEMTOT);
	cr_expect_eq(s.value[BALLOON_STAT_MEMTOT], 64 * MIB);
	cr_expect_eq(vd_used_idx(&d, &rq[2]), 0, "the device holds the buffer");
	/* The timer returns it: the request for fresh values. */
	cr_assert(wait_used(2, 1), "the buffer did not come back after the interval");
	cr_expect_eq(vd_msix_count(&d, 3), 1, "statsq interrupt");
	offer_stats(2222, 1);
	cr_assert(wait_memfree(2222));
	cr_assert_eq(virtio_balloon_stats(b, &s, &d.e), 0);
	cr_expect_eq(s.has, 1u << BALLOON_STAT_MEMFREE, "each buffer replaces the last");
	cr_assert(wait_used(2, 2));
	struct balloon_counters c = counters();
	cr_expect_eq(c.stats_updates, 2);
	cr_expect_eq(c.stats_unknown_tags, 1);
}

Test(virtio_balloon, a_shorter_interval_applies_at_once)
{
	start("size=0,stats=3600");
	bring_up(F_STATS, 3);
	offer_stats(5, 3);
	cr_assert(wait_memfree(5));
	pause_ms(50);
	cr_expect_eq(vd_used_idx(&d, &rq[2]), 0);
	cr_expect_eq(virtio_balloon_set_stats_interval(b, 0, &d.e), -1);
	cr_expect(strstr(d.e.msg, "cannot be turned off"), "%s", d.e.msg);
	cr_assert_eq(virtio_balloon_set_stats_interval(b, 1, &d.e), 0, "%s", d.e.msg);
	cr_assert(wait_used(2, 1), "the hour-long timer was not shortened");
	struct balloon_info info;
	virtio_balloon_info(b, &info);
	cr_expect_eq(info.stats_interval_s, 1);
}

Test(virtio_balloon, free_page_reports_release_what_they_describe)
{
	start("size=0,free_page_reporting=on");
	bring_up(F_REPORT, 3); /* without STATS_VQ the reporting queue is queue 2 */
	touch(AREA, 8 * MIB, 0x77);
	/* Two blocks in one report, device-writable as Linux posts them; the second is not
	 * page-aligned at either end, so its partial pages stay. */
	uint16_t tail = vd_desc(&d, &rq[2], AREA + 4 * MIB + 100, 2 * MIB, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = vd_desc(&d, &rq[2], AREA, 2 * MIB,
				VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, tail);
	vd_offer(&d, &rq[2], head);
	vd_kick(&d, 2);
	cr_assert(wait_used(2, 1));
	cr_expect_eq(vd_used(&d, &rq[2], 0).id, head);
	cr_expect_eq(resident(AREA, 2 * MIB), 0);
	cr_expect_eq(resident(AREA + 2 * MIB, 2 * MIB), 512);
	cr_expect_eq(resident(AREA + 4 * MIB, 4096), 1);
	cr_expect_eq(resident(AREA + 4 * MIB + 4096, 2 * MIB - 4096), 0);
	cr_expect_eq(resident(AREA + 6 * MIB, 4096), 1);
	struct balloon_counters c = counters();
	cr_expect_eq(c.reports, 1);
	cr_expect_eq(c.reported_blocks, 2);
	cr_expect_eq(c.reported_bytes, 4 * MIB);
	cr_expect_eq(c.reported_bytes_released, 4 * MIB - 4096);
	struct balloon_info info;
	virtio_balloon_info(b, &info);
	cr_expect_eq(info.reported_bytes_released, 4 * MIB - 4096);
	cr_expect(info.free_page_reporting);
}

Test(virtio_balloon, a_report_outside_ram_breaks_the_queue_not_the_host)
{
	start("size=0,free_page_reporting=on");
	bring_up(F_REPORT, 3);
	vd_offer(&d, &rq[2], vd_desc(&d, &rq[2], VD_RAM - MIB, 2 * MIB, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 2);
	for (int i = 0; i < 5000 && !(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); i++)
		pause_ms(1);
	cr_expect(vd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_expect_eq(counters().reported_bytes_released, 0);
}

Test(virtio_balloon, queue_numbers_follow_the_negotiated_features)
{
	start("size=0,free_page_reporting=on,stats=60");
	/* Both negotiated: statsq is 2, reporting_vq 3. */
	bring_up(F_STATS | F_REPORT, 4);
	touch(AREA, 4 * MIB, 1);
	vd_offer(&d, &rq[3], vd_desc(&d, &rq[3], AREA, 2 * MIB, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 3);
	cr_assert(wait_used(3, 1));
	cr_expect_eq(resident(AREA, 2 * MIB), 0);
	/* A driver that skips STATS_VQ finds the reporting queue at 2. */
	bring_up(F_REPORT, 3);
	vd_offer(&d, &rq[2], vd_desc(&d, &rq[2], AREA + 2 * MIB, 2 * MIB, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 2);
	cr_assert(wait_used(2, 1));
	cr_expect_eq(resident(AREA + 2 * MIB, 2 * MIB), 0);
	cr_expect_eq(counters().stats_updates, 0);
}

Test(virtio_balloon, memfd_backed_ram_is_punched)
{
	guest_mem_destroy(&d.gm);
	struct memory_backing mb;
	memory_backing_defaults(&mb);
	mb.kind = MEMORY_BACKING_MEMFD;
	cr_assert_eq(guest_mem_init_backed(&d.gm, VD_RAM, &mb, &d.e), 0, "%s", d.e.msg);
	start("size=0,free_page_reporting=on");
	bring_up(F_REPORT, 3);
	touch(AREA, 4 * MIB, 3);
	send_range(0, AREA, 256, false);
	cr_assert(wait_used(0, 1));
	cr_expect_eq(resident(AREA, MIB), 0);
	vd_offer(&d, &rq[2], vd_desc(&d, &rq[2], AREA + 2 * MIB, 2 * MIB, VIRTQ_DESC_F_WRITE, 0));
	vd_kick(&d, 2);
	cr_assert(wait_used(2, 1));
	cr_expect_eq(resident(AREA + 2 * MIB, 2 * MIB), 0);
	cr_expect_eq(resident(AREA + MIB, MIB), 256);
	cr_expect_eq(counters().release_errors, 0);
}

Test(virtio_balloon, snapshot_gives_the_held_statistics_buffer_back)
{
	start("size=4,stats=3600");
	bring_up(F_STATS, 3);
	vd_mmio_write(&d, d.device + 4, 512, 4);
	offer_stats(42, 3);
	cr_assert(wait_memfree(42));
	struct virtio_pci *vp = virtio_balloon_transport(b);
	static uint8_t snap[4096];
	size_t len = 0;
	cr_assert_eq(virtio_pci_save(vp, snap, sizeof(snap), &len, &d.e), 0, "%s", d.e.msg);
	cr_assert_eq(virtio_pci_restore(vp, snap, len, &d.e), 0, "%s", d.e.msg);
	cr_expect_eq(config32(0), 4 * 256);
	cr_expect_eq(config32(4), 512);
	/* The restored device pops the buffer again (the restore kicks) and holds it. */
	for (int i = 0; i < 5000 && counters().stats_updates < 2; i++)
		pause_ms(1);
	cr_expect_eq(counters().stats_updates, 2);
	cr_expect_eq(vd_used_idx(&d, &rq[2]), 0);
	snap[len - 1] = 0xee; /* a reserved byte */
	cr_expect_eq(virtio_pci_restore(vp, snap, len, &d.e), -1);
}
