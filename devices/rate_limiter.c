/* Token buckets and the two-bucket rate limiter (see rate_limiter.h for the semantics). */
#include "rate_limiter.h"

#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000ull

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

void token_bucket_init(struct token_bucket *b, const struct token_bucket_config *cfg,
		       uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	b->enabled = cfg->size && cfg->refill_time_ms &&
		     cfg->refill_time_ms <= RATE_LIMITER_MAX_REFILL_MS;
	if (!b->enabled)
		return;
	/* size tokens per refill_time_ms * 10^6 ns; reduce the fraction so that elapsed * tokens
	 * stays small, and keep the remainder of a partial token for the next refill. */
	uint64_t refill_ns = cfg->refill_time_ms * NS_PER_MS;
	uint64_t g = gcd(cfg->size, refill_ns);
	b->rate_tokens = cfg->size / g;
	b->rate_ns = refill_ns / g;
	b->budget = cfg->size;
	b->burst_left = cfg->one_time_burst;
	b->last_update_ns = now_ns;
}

void token_bucket_refill(struct token_bucket *b, uint64_t now_ns)
{
	if (!b->enabled || now_ns <= b->last_update_ns)
		return;
	uint64_t elapsed = now_ns - b->last_update_ns;
	if (elapsed >= b->cfg.refill_time_ms * NS_PER_MS) {
		b->budget = b->cfg.size;
		b->last_update_ns = now_ns;
		return;
	}
	/* elapsed < refill time, so tokens < size: no overflow in 128 bits, none in the result. */
	unsigned __int128 earned = (unsigned __int128)elapsed * b->rate_tokens / b->rate_ns;
	if (earned == 0)
		return; /* keep the time: it adds up to a token later */
	/* Advance the clock only by the time those whole tokens took (rounded up, so that no
	 * fraction of a nanosecond is spent twice). */
	unsigned __int128 spent = earned * b->rate_ns;
	uint64_t spent_ns = (uint64_t)(spent / b->rate_tokens) + (spent % b->rate_tokens != 0);
	b->last_update_ns += spent_ns;
	uint64_t tokens = (uint64_t)earned;
	b->budget = tokens >= b->cfg.size - b->budget ? b->cfg.size : b->budget + tokens;
}

enum token_bucket_result token_bucket_take(struct token_bucket *b, uint64_t tokens, uint64_t now_ns,
					   uint64_t *debt)
{
	if (!b->enabled)
		return TOKEN_BUCKET_OK;
	if (b->burst_left) {
		if (b->burst_left >= tokens) {
			b->burst_left -= tokens;
			/* No refill is earned while the burst lasts (the budget is still full). */
			b->last_update_ns = now_ns;
			return TOKEN_BUCKET_OK;
		}
		tokens -= b->burst_left;
		b->burst_left = 0;
	}
	if (tokens > b->budget) {
		token_bucket_refill(b, now_ns);
		if (tokens > b->cfg.size) {
			if (debt)
				*debt = tokens - b->budget;
			b->budget = 0;
			return TOKEN_BUCKET_OVERDRAWN;
		}
		if (tokens > b->budget)
			return TOKEN_BUCKET_EMPTY;
	}
	b->budget -= tokens;
	return TOKEN_BUCKET_OK;
}

static uint64_t add_capped(uint64_t a, uint64_t b, uint64_t cap)
{
	return b >= cap || a >= cap - b ? cap : a + b;
}

void token_bucket_give_back(struct token_bucket *b, uint64_t tokens)
{
	if (!b->enabled)
		return;
	if (b->burst_left)
		b->burst_left = add_capped(b->burst_left, tokens, b->cfg.one_time_burst);
	else
		b->budget = add_capped(b->budget, tokens, b->cfg.size);
}

/* ---- The two-bucket limiter ---- */

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       uint64_t now_ns)
{
	memset(rl, 0, sizeof(*rl));
	token_bucket_init(&rl->bandwidth, &cfg->bandwidth, now_ns);
	token_bucket_init(&rl->ops, &cfg->ops, now_ns);
}

static int bucket_check(const struct token_bucket_config *c, const char *what, struct error *e)
{
	if (c->refill_time_ms > RATE_LIMITER_MAX_REFILL_MS)
		return error_set(e, "%s refill time %llu ms is too long (at most 100 days)", what,
				 (unsigned long long)c->refill_time_ms);
	return 0;
}

int rate_limiter_config_check(const struct rate_limiter_config *cfg, struct error *e)
{
	if (bucket_check(&cfg->bandwidth, "bandwidth", e) < 0 ||
	    bucket_check(&cfg->ops, "ops", e) < 0)
		return -1;
	return 0;
}

bool rate_limiter_enabled(const struct rate_limiter *rl)
{
	return rl->bandwidth.enabled || rl->ops.enabled;
}

static struct token_bucket *bucket_of(struct rate_limiter *rl, enum rate_limiter_kind kind)
{
	return kind == RATE_LIMITER_BYTES ? &rl->bandwidth : &rl->ops;
}

/* ceil(debt / size * refill_time), at least 1 ms. */
static uint64_t payback_ms(const struct token_bucket *b, uint64_t debt)
{
	unsigned __int128 t = (unsigned __int128)debt * b->cfg.refill_time_ms;
	unsigned __int128 ms = t / b->cfg.size + (t % b->cfg.size != 0);
	if (ms > UINT32_MAX)
		ms = UINT32_MAX; /* ~50 days: effectively "until reconfigured" */
	return ms ? (uint64_t)ms : 1;
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t tokens, enum rate_limiter_kind kind,
			  uint64_t now_ns)
{
	if (rl->blocked)
		return false;
	struct token_bucket *b = bucket_of(rl, kind);
	uint64_t debt = 0;
	switch (token_bucket_take(b, tokens, now_ns, &debt)) {
	case TOKEN_BUCKET_OK:
		return true;
	case TOKEN_BUCKET_EMPTY:
		rl->blocked = true;
		rl->wait_ms = RATE_LIMITER_RETRY_MS;
		return false;
	case TOKEN_BUCKET_OVERDRAWN:
		rl->blocked = true;
		rl->wait_ms = payback_ms(b, debt);
		return true;
	}
	return false;
}

bool rate_limiter_request(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	if (!rate_limiter_consume(rl, 1, RATE_LIMITER_OPS, now_ns))
		return false;
	if (!rate_limiter_consume(rl, bytes, RATE_LIMITER_BYTES, now_ns)) {
		rate_limiter_give_back(rl, 1, RATE_LIMITER_OPS);
		return false;
	}
	return true;
}

void rate_limiter_give_back(struct rate_limiter *rl, uint64_t tokens, enum rate_limiter_kind kind)
{
	token_bucket_give_back(bucket_of(rl, kind), tokens);
}

bool rate_limiter_blocked(const struct rate_limiter *rl)
{
	return rl->blocked;
}

uint64_t rate_limiter_wait_ms(const struct rate_limiter *rl)
{
	return rl->wait_ms ? rl->wait_ms : 1;
}

void rate_limiter_unblock(struct rate_limiter *rl)
{
	rl->blocked = false;
	rl->wait_ms = 0;
}

int rate_limiter_update(struct rate_limiter *rl, const struct rate_limiter_update *u,
			uint64_t now_ns, struct error *e)
{
	struct rate_limiter_config check = u->cfg;
	if (u->bandwidth_action == RATE_LIMITER_KEEP)
		check.bandwidth = (struct token_bucket_config){ 0 };
	if (u->ops_action == RATE_LIMITER_KEEP)
		check.ops = (struct token_bucket_config){ 0 };
	if (rate_limiter_config_check(&check, e) < 0)
		return -1;
	if (u->bandwidth_action == RATE_LIMITER_SET)
		token_bucket_init(&rl->bandwidth, &u->cfg.bandwidth, now_ns);
	if (u->ops_action == RATE_LIMITER_SET)
		token_bucket_init(&rl->ops, &u->cfg.ops, now_ns);
	return 0;
}

void rate_limiter_get_config(const struct rate_limiter *rl, struct rate_limiter_config *cfg)
{
	cfg->bandwidth = rl->bandwidth.cfg;
	cfg->ops = rl->ops.cfg;
}

uint64_t rate_limiter_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
