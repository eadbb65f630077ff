/* Token buckets and the rate limiter, with Firecracker's semantics: a bucket starts full, the
 * one-time burst goes first and never comes back, refill is proportional to elapsed time with
 * fractions carried over, a request bigger than the bucket goes through once and blocks for the
 * payback time, a request that does not fit blocks for 100 ms, ops are given back when the
 * bytes of a request do not fit. Time is passed in, so every number here is exact. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "devices/rate_limiter.h"

#define MS 1000000ull  /* nanoseconds */
#define T0 (1000 * MS) /* an arbitrary start time */

static struct token_bucket bucket(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct token_bucket b;
	struct token_bucket_config c = { .size = size, .one_time_burst = burst,
					 .refill_time_ms = refill_ms };
	token_bucket_init(&b, &c, T0);
	return b;
}

Test(token_bucket, disabled_when_size_or_refill_is_zero)
{
	struct token_bucket a = bucket(0, 0, 100), b = bucket(100, 0, 0);
	cr_assert(!a.enabled);
	cr_assert(!b.enabled);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(token_bucket_take(&a, UINT64_MAX, T0, NULL), TOKEN_BUCKET_OK);
		cr_assert_eq(token_bucket_take(&b, UINT64_MAX, T0, NULL), TOKEN_BUCKET_OK);
	}
}

Test(token_bucket, starts_full_and_empties)
{
	struct token_bucket b = bucket(1000, 0, 1000);
	cr_assert_eq(b.budget, 1000);
	cr_assert_eq(token_bucket_take(&b, 600, T0, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(token_bucket_take(&b, 400, T0, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(token_bucket_take(&b, 1, T0, NULL), TOKEN_BUCKET_EMPTY);
	cr_assert_eq(b.budget, 0, "a failed take costs nothing");
}

Test(token_bucket, refills_in_proportion_to_time)
{
	struct token_bucket b = bucket(1000, 0, 1000); /* 1 token per ms */
	cr_assert_eq(token_bucket_take(&b, 1000, T0, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(token_bucket_take(&b, 251, T0 + 250 * MS, NULL), TOKEN_BUCKET_EMPTY);
	cr_assert_eq(b.budget, 250);
	cr_assert_eq(token_bucket_take(&b, 250, T0 + 250 * MS, NULL), TOKEN_BUCKET_OK);
	/* Never above the size, however long it waits. */
	token_bucket_refill(&b, T0 + 3600000 * MS);
	cr_assert_eq(b.budget, 1000);
}

Test(token_bucket, carries_fractions_of_a_token)
{
	/* 3 tokens per second: 500 ms earns 1.5 tokens; the half must not be lost. */
	struct token_bucket b = bucket(3, 0, 1000);
	cr_assert_eq(token_bucket_take(&b, 3, T0, NULL), TOKEN_BUCKET_OK);
	token_bucket_refill(&b, T0 + 500 * MS);
	cr_assert_eq(b.budget, 1);
	token_bucket_refill(&b, T0 + 999 * MS);
	cr_assert_eq(b.budget, 2, "1.5 + 1.497 tokens: the carried half makes the second");
	/* Many tiny steps earn as much as one big one. */
	struct token_bucket c = bucket(1000, 0, 1000);
	token_bucket_take(&c, 1000, T0, NULL);
	for (uint64_t t = 1; t <= 1000; t++)
		token_bucket_refill(&c, T0 + t * 333333); /* 1/3 ms steps */
	cr_assert_eq(c.budget, 333, "333.333 ms earn 333 tokens, got %llu",
		     (unsigned long long)c.budget);
}

Test(token_bucket, one_time_burst_goes_first_and_never_returns)
{
	struct token_bucket b = bucket(100, 50, 1000);
	cr_assert_eq(token_bucket_take(&b, 30, T0, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(b.burst_left, 20);
	cr_assert_eq(b.budget, 100, "the budget is untouched while the burst lasts");
	cr_assert_eq(token_bucket_take(&b, 70, T0, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(b.burst_left, 0);
	cr_assert_eq(b.budget, 50);
	token_bucket_refill(&b, T0 + 10000 * MS);
	cr_assert_eq(b.burst_left, 0);
	cr_assert_eq(b.budget, 100);
}

Test(token_bucket, no_refill_is_earned_during_the_burst)
{
	struct token_bucket b = bucket(100, 1000, 1000);
	cr_assert_eq(token_bucket_take(&b, 1000, T0 + 900 * MS, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(token_bucket_take(&b, 100, T0 + 900 * MS, NULL), TOKEN_BUCKET_OK);
	/* The clock restarted at the last burst take: 100 ms later, 10 tokens. */
	cr_assert_eq(token_bucket_take(&b, 11, T0 + 1000 * MS, NULL), TOKEN_BUCKET_EMPTY);
	cr_assert_eq(token_bucket_take(&b, 10, T0 + 1000 * MS, NULL), TOKEN_BUCKET_OK);
}

Test(token_bucket, overdraft_empties_and_reports_the_debt)
{
	struct token_bucket b = bucket(100, 0, 1000);
	uint64_t debt = 0;
	cr_assert_eq(token_bucket_take(&b, 40, T0, NULL), TOKEN_BUCKET_OK);
	cr_assert_eq(token_bucket_take(&b, 250, T0, &debt), TOKEN_BUCKET_OVERDRAWN);
	cr_assert_eq(debt, 190, "250 taken from 60: 190 owed");
	cr_assert_eq(b.budget, 0);
}

Test(token_bucket, give_back_is_capped)
{
	struct token_bucket b = bucket(100, 10, 1000);
	token_bucket_take(&b, 5, T0, NULL);
	token_bucket_give_back(&b, 100);
	cr_assert_eq(b.burst_left, 10, "the burst never exceeds its initial size");
	token_bucket_take(&b, 10, T0, NULL);
	token_bucket_take(&b, 30, T0, NULL);
	token_bucket_give_back(&b, 1000);
	cr_assert_eq(b.budget, 100);
}

Test(token_bucket, huge_values_do_not_overflow)
{
	struct token_bucket b = bucket(UINT64_MAX / 2, 0, RATE_LIMITER_MAX_REFILL_MS);
	cr_assert(b.enabled);
	cr_assert_eq(token_bucket_take(&b, UINT64_MAX / 2, T0, NULL), TOKEN_BUCKET_OK);
	token_bucket_refill(&b, T0 + RATE_LIMITER_MAX_REFILL_MS / 2 * MS);
	uint64_t half = UINT64_MAX / 4;
	cr_assert(b.budget >= half - 1 && b.budget <= half + 1, "budget %llu",
		  (unsigned long long)b.budget);
	struct token_bucket c = bucket(1, 0, RATE_LIMITER_MAX_REFILL_MS + 1);
	cr_assert(!c.enabled, "a refill time whose nanoseconds overflow disables the bucket");
}

/* ---- The two-bucket limiter ---- */

static struct rate_limiter limiter(uint64_t bw, uint64_t bw_ms, uint64_t ops, uint64_t ops_ms)
{
	struct rate_limiter rl;
	struct rate_limiter_config c = {
		.bandwidth = { .size = bw, .refill_time_ms = bw_ms },
		.ops = { .size = ops, .refill_time_ms = ops_ms },
	};
	rate_limiter_init(&rl, &c, T0);
	return rl;
}

Test(rate_limiter, unlimited_by_default)
{
	struct rate_limiter rl = limiter(0, 0, 0, 0);
	cr_assert(!rate_limiter_enabled(&rl));
	for (int i = 0; i < 1000; i++)
		cr_assert(rate_limiter_request(&rl, 65536, T0));
	cr_assert(!rate_limiter_blocked(&rl));
}

Test(rate_limiter, blocks_for_100ms_when_a_request_does_not_fit)
{
	struct rate_limiter rl = limiter(1000, 100, 0, 0); /* 10 MB/s */
	cr_assert(rate_limiter_request(&rl, 1000, T0));
	cr_assert(!rate_limiter_request(&rl, 1, T0));
	cr_assert(rate_limiter_blocked(&rl));
	cr_assert_eq(rate_limiter_wait_ms(&rl), RATE_LIMITER_RETRY_MS);
	/* Blocked means blocked, even once tokens are back... */
	cr_assert(!rate_limiter_request(&rl, 1, T0 + 200 * MS));
	/* ...until the owner's timer fires. */
	rate_limiter_unblock(&rl);
	cr_assert(rate_limiter_request(&rl, 1000, T0 + 200 * MS));
}

Test(rate_limiter, overdraft_passes_once_then_waits_the_payback_time)
{
	struct rate_limiter rl = limiter(1000, 100, 0, 0);
	cr_assert(rate_limiter_request(&rl, 3500, T0), "a frame larger than the bucket passes");
	cr_assert(rate_limiter_blocked(&rl));
	/* 2500 tokens owed at 1000 per 100 ms: 250 ms. */
	cr_assert_eq(rate_limiter_wait_ms(&rl), 250);
	cr_assert(!rate_limiter_request(&rl, 1, T0));
}

Test(rate_limiter, ops_are_given_back_when_the_bytes_do_not_fit)
{
	struct rate_limiter rl = limiter(100, 1000, 10, 1000);
	cr_assert(rate_limiter_request(&rl, 100, T0));
	cr_assert_eq(rl.ops.budget, 9);
	cr_assert(!rate_limiter_request(&rl, 50, T0));
	cr_assert_eq(rl.ops.budget, 9, "the op of a refused request is given back");
	rate_limiter_unblock(&rl);
	/* Ten ops per second: the eleventh frame waits even though bytes are free. */
	struct rate_limiter ops = limiter(0, 0, 10, 1000);
	for (int i = 0; i < 10; i++)
		cr_assert(rate_limiter_request(&ops, 1500, T0));
	cr_assert(!rate_limiter_request(&ops, 1500, T0));
}

Test(rate_limiter, sustained_rate_matches_the_configuration)
{
	/* 1 MiB per 100 ms, 1500-byte frames sent as fast as allowed for 10 simulated seconds,
	 * honouring each block with its wait: 100 bucketfuls, less what a partial frame leaves. */
	struct rate_limiter rl = limiter(1 << 20, 100, 0, 0);
	uint64_t now = T0, end = T0 + 10000 * MS, bytes = 0;
	while (now < end) {
		if (rate_limiter_request(&rl, 1500, now)) {
			bytes += 1500;
			continue;
		}
		now += rate_limiter_wait_ms(&rl) * MS;
		rate_limiter_unblock(&rl);
	}
	uint64_t expect = (1 << 20) * 100ull;
	cr_assert(bytes > expect - 100 * 1500 && bytes <= expect, "sent %llu, expected ~%llu",
		  (unsigned long long)bytes, (unsigned long long)expect);
}

Test(rate_limiter, update_keeps_sets_and_disables)
{
	struct rate_limiter rl = limiter(1000, 100, 10, 100);
	cr_assert(rate_limiter_request(&rl, 500, T0));
	struct rate_limiter_update u = {
		.bandwidth_action = RATE_LIMITER_KEEP,
		.ops_action = RATE_LIMITER_SET,
		.cfg.ops = { .size = 0, .refill_time_ms = 0 }, /* disable */
	};
	struct error e;
	cr_assert_eq(rate_limiter_update(&rl, &u, T0, &e), 0);
	cr_assert(rl.bandwidth.enabled);
	cr_assert_eq(rl.bandwidth.budget, 500, "a kept bucket keeps its state");
	cr_assert(!rl.ops.enabled);
	u = (struct rate_limiter_update){
		.bandwidth_action = RATE_LIMITER_SET,
		.ops_action = RATE_LIMITER_KEEP,
		.cfg.bandwidth = { .size = 4000, .refill_time_ms = 10, .one_time_burst = 7 },
	};
	cr_assert_eq(rate_limiter_update(&rl, &u, T0, &e), 0);
	cr_assert_eq(rl.bandwidth.budget, 4000, "a new bucket starts full");
	cr_assert_eq(rl.bandwidth.burst_left, 7);
	struct rate_limiter_config got;
	rate_limiter_get_config(&rl, &got);
	cr_assert_eq(got.bandwidth.size, 4000);
	cr_assert_eq(got.bandwidth.refill_time_ms, 10);
}

Test(rate_limiter, update_leaves_a_block_to_its_timer)
{
	struct rate_limiter rl = limiter(10, 1000, 0, 0);
	cr_assert(rate_limiter_request(&rl, 11, T0 + 1), "an overdraft passes");
	cr_assert(rate_limiter_blocked(&rl));
	struct rate_limiter_update u = { .bandwidth_action = RATE_LIMITER_SET };
	struct error e;
	cr_assert_eq(rate_limiter_update(&rl, &u, T0, &e), 0);
	cr_assert(rate_limiter_blocked(&rl), "Firecracker: the wait in progress runs out first");
	rate_limiter_unblock(&rl);
	cr_assert(rate_limiter_request(&rl, 1 << 30, T0), "now unlimited");
}

Test(rate_limiter, bad_updates_change_nothing)
{
	struct rate_limiter rl = limiter(1000, 100, 0, 0);
	struct rate_limiter_update u = {
		.bandwidth_action = RATE_LIMITER_SET,
		.cfg.bandwidth = { .size = 1, .refill_time_ms = RATE_LIMITER_MAX_REFILL_MS + 1 },
	};
	struct error e = { { 0 } };
	cr_assert_eq(rate_limiter_update(&rl, &u, T0, &e), -1);
	cr_assert(strstr(e.msg, "refill time"), "%s", e.msg);
	cr_assert_eq(rl.bandwidth.cfg.size, 1000);
}
