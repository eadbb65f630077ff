/* virtio-net rate limiting on the real data path: frames per second and bytes per second in each
 * direction, the overdraft of a frame larger than the bucket, and changing limits while frames
 * flow (virtio_net_update_rate_limiters, what the API's PATCH uses). Timings are checked with
 * wide margins: the point is "held back, then released", not scheduler precision. */
#include <criterion/criterion.h>
#include <string.h>

#include "test_virtio_net_util.h"

static struct nt t;

static void teardown(void)
{
	nt_teardown(&t);
}

TestSuite(virtio_net_limits, .fini = teardown, .timeout = 30);

/* Counts frames with magics magic..magic+n-1 reaching the host within ms. */
static unsigned host_count(uint32_t magic, unsigned n, unsigned ms)
{
	uint8_t got[2048];
	unsigned seen = 0;
	uint64_t end = nt_now_ms() + ms;
	while (seen < n && nt_now_ms() < end)
		if (nt_host_recv(&t, got, sizeof(got), magic + seen, (unsigned)(end - nt_now_ms())) >
		    0)
			seen++;
	return seen;
}

static void send_frames(uint32_t magic, unsigned n, uint32_t len)
{
	uint8_t frame[2048];
	for (unsigned i = 0; i < n; i++) {
		nt_frame(frame, len, magic + i, (uint8_t)i);
		nt_send(&t, NULL, frame, len, 0);
	}
}

Test(virtio_net_limits, tx_frames_per_second_then_lifted_at_runtime)
{
	nt_setup(&t, "tap=" NT_TAP ",tx-ops=2:1000", 0); /* 2 frames per second, bucket of 2 */
	nt_bring_up(&t, NT_FEATURES);
	send_frames(0x1000, 6, 100);
	cr_expect_eq(host_count(0x1000, 2, 1000), 2, "the full bucket passes at once");
	uint64_t t0 = nt_now_ms();
	cr_expect_eq(host_count(0x1002, 1, 2000), 1);
	uint64_t waited = nt_now_ms() - t0;
	cr_expect(waited >= 300 && waited <= 1500, "third frame after %llu ms (~500 expected)",
		  (unsigned long long)waited);
	cr_expect_geq(nt_counters(&t).tx_rate_limited, 1);
	struct rate_limiter_update off = { .bandwidth_action = RATE_LIMITER_KEEP,
					   .ops_action = RATE_LIMITER_SET };
	struct error e;
	cr_assert_eq(virtio_net_update_rate_limiters(t.net, NULL, &off, &e), 0, "%s", e.msg);
	t0 = nt_now_ms();
	cr_expect_eq(host_count(0x1003, 3, 2000), 3);
	cr_expect_leq(nt_now_ms() - t0, 400, "no limit after the update (one wait at most)");
	struct rate_limiter_config rx, tx;
	virtio_net_get_rate_limiters(t.net, &rx, &tx);
	cr_expect_eq(tx.ops.size, 0);
}

Test(virtio_net_limits, rx_bandwidth)
{
	/* 3000 bytes per 100 ms for guest-bound traffic. Frames of 1000 bytes (1012 with the
	 * header): two fit the bucket, the third waits for the next refill, so 20 take ~0.9 s. */
	nt_setup(&t, "tap=" NT_TAP ",rx-bw=3000:100", 0);
	nt_bring_up(&t, NT_FEATURES);
	for (int i = 0; i < 60; i++)
		nt_post_rx(&t, 2048);
	vd_kick(&t.d, NT_RXQ);
	uint8_t frame[1000];
	uint64_t t0 = nt_now_ms();
	for (uint32_t i = 0; i < 20; i++) {
		nt_frame(frame, sizeof(frame), 0x2000 + i, (uint8_t)i);
		nt_host_send(&t, frame, sizeof(frame));
	}
	for (int i = 0; i < 1000 && vd_used_idx(&t.d, &t.rx) == 0; i++)
		nt_sleep_ms(1);
	uint16_t early = vd_used_idx(&t.d, &t.rx);
	cr_expect(early >= 1 && early <= 6, "%u frames at first (2 fit the bucket)", early);
	cr_assert(nt_wait_used(&t, &t.rx, 20, 5000), "used %u", vd_used_idx(&t.d, &t.rx));
	uint64_t took = nt_now_ms() - t0;
	cr_expect(took >= 400 && took <= 3000, "20 frames took %llu ms (~900 expected)",
		  (unsigned long long)took);
	struct virtio_net_counters c = nt_counters(&t);
	cr_expect_eq(c.rx_frames, 20);
	cr_expect_geq(c.rx_rate_limited, 1);
}

Test(virtio_net_limits, a_frame_larger_than_the_bucket_passes_then_pays_back)
{
	/* A 100-byte bucket refilled every 100 ms (1 KB/s): a 1000-byte frame overdraws it by
	 * 912 bytes (header included), so the next frame waits ~912 ms. */
	nt_setup(&t, "tap=" NT_TAP ",tx-bw=100:100", 0);
	nt_bring_up(&t, NT_FEATURES);
	uint64_t t0 = nt_now_ms();
	send_frames(0x3000, 2, 1000);
	cr_expect_eq(host_count(0x3000, 1, 500), 1, "the big frame passes at once");
	cr_expect_eq(host_count(0x3001, 1, 3000), 1);
	uint64_t waited = nt_now_ms() - t0;
	cr_expect(waited >= 700 && waited <= 2500, "second frame after %llu ms (~912 expected)",
		  (unsigned long long)waited);
}

Test(virtio_net_limits, limits_set_at_runtime_apply_to_later_frames)
{
	nt_setup(&t, "tap=" NT_TAP, 0);
	nt_bring_up(&t, NT_FEATURES);
	send_frames(0x4000, 5, 100);
	cr_expect_eq(host_count(0x4000, 5, 1000), 5, "no limit yet");
	struct rate_limiter_update one_per_sec = {
		.bandwidth_action = RATE_LIMITER_KEEP,
		.ops_action = RATE_LIMITER_SET,
		.cfg.ops = { .size = 1, .refill_time_ms = 1000 },
	};
	struct error e;
	cr_assert_eq(virtio_net_update_rate_limiters(t.net, NULL, &one_per_sec, &e), 0);
	send_frames(0x4100, 3, 100);
	cr_expect_eq(host_count(0x4100, 3, 400), 1, "one frame per second from now on");
	struct rate_limiter_update bad = { .ops_action = RATE_LIMITER_SET,
					   .cfg.ops = { .size = 1, .refill_time_ms = ~0ull } };
	cr_expect_eq(virtio_net_update_rate_limiters(t.net, &bad, NULL, &e), -1);
	cr_expect(strstr(e.msg, "refill time"), "%s", e.msg);
}
