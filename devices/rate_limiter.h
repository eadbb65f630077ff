/* Token-bucket rate limiting with Firecracker's semantics, for device I/O (virtio-net today).
 *
 * A bucket has a `size` (tokens it holds when full), a `refill_time_ms` (time to go from empty to
 * full: the rate is size / refill_time) and a `one_time_burst` (extra tokens available once, at
 * the start, that never come back). It starts full. A consumer takes tokens from the burst first,
 * then from the budget; the budget refills with elapsed time (passively, when a request needs
 * more than is left), never above `size`. A request larger than the whole bucket is let through
 * once and empties it: the debt blocks the limiter for debt / size * refill_time.
 *
 * A rate limiter pairs two buckets: bandwidth (bytes) and ops (requests); either may be disabled
 * (size or refill time 0 = unlimited). When a request does not fit, the limiter *blocks*: every
 * request fails until the owner has waited rate_limiter_wait_ms() and called
 * rate_limiter_unblock() (Firecracker arms a timerfd for this; Ember devices use an io_uring
 * timeout). A failed request costs nothing: it can be retried after the wait.
 *
 * Time comes from the caller (CLOCK_MONOTONIC nanoseconds), so the math is testable. The structs
 * are plain data (snapshots) and not thread-safe: the owner serialises access. */
#ifndef EMBER_RATE_LIMITER_H
#define EMBER_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/error.h"

/* How long a limiter blocks after a request that did not fit (Firecracker's refill timer). */
#define RATE_LIMITER_RETRY_MS 100u
/* Longest refill time accepted: 100 days (its nanoseconds must fit 64 bits). */
#define RATE_LIMITER_MAX_REFILL_MS (100ull * 24 * 3600 * 1000)

struct token_bucket_config {
	uint64_t size;            /* tokens when full; 0 disables the bucket */
	uint64_t one_time_burst;  /* extra tokens available once */
	uint64_t refill_time_ms;  /* empty to full; 0 disables the bucket */
};

struct token_bucket {
	struct token_bucket_config cfg;
	bool enabled;
	uint64_t budget;          /* tokens left, <= cfg.size */
	uint64_t burst_left;      /* one-time burst left, <= cfg.one_time_burst */
	uint64_t last_update_ns;  /* refill accounted up to here */
	/* Refill rate as a reduced fraction: tokens = elapsed_ns * rate_tokens / rate_ns. */
	uint64_t rate_tokens, rate_ns;
};

enum token_bucket_result {
	TOKEN_BUCKET_OK,          /* taken */
	TOKEN_BUCKET_EMPTY,       /* not enough tokens; nothing taken */
	TOKEN_BUCKET_OVERDRAWN,   /* more than the whole bucket: taken, the bucket owes the rest */
};

/* A full bucket (disabled when size or refill_time_ms is 0). */
void token_bucket_init(struct token_bucket *b, const struct token_bucket_config *cfg,
		       uint64_t now_ns);
/* Takes `tokens`. With TOKEN_BUCKET_OVERDRAWN, *debt gets the tokens taken beyond what the bucket
 * had. A disabled bucket always says OK. */
enum token_bucket_result token_bucket_take(struct token_bucket *b, uint64_t tokens, uint64_t now_ns,
					   uint64_t *debt);
/* Gives tokens back (undoing a take), into the burst while it lasts, else the budget; never above
 * the configured amounts. */
void token_bucket_give_back(struct token_bucket *b, uint64_t tokens);
/* Adds the tokens earned since the last update (what take does when it runs short). */
void token_bucket_refill(struct token_bucket *b, uint64_t now_ns);

enum rate_limiter_kind { RATE_LIMITER_BYTES, RATE_LIMITER_OPS };

struct rate_limiter_config {
	struct token_bucket_config bandwidth; /* bytes */
	struct token_bucket_config ops;       /* requests */
};

struct rate_limiter {
	struct token_bucket bandwidth, ops;
	bool blocked;             /* refuse everything until rate_limiter_unblock */
	uint64_t wait_ms;         /* how long to wait once blocked */
};

/* What an update does to one bucket (Firecracker's PATCH semantics: a bucket not mentioned is
 * kept; one given with size or refill time 0 is disabled; any other replaces it, full). */
enum rate_limiter_bucket_action { RATE_LIMITER_KEEP, RATE_LIMITER_SET };

struct rate_limiter_update {
	enum rate_limiter_bucket_action bandwidth_action, ops_action;
	struct rate_limiter_config cfg;   /* the buckets to SET */
};

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       uint64_t now_ns);
/* Checks a configuration (refill time range); a zero size or refill time is valid (disabled). */
int rate_limiter_config_check(const struct rate_limiter_config *cfg, struct error *e);
bool rate_limiter_enabled(const struct rate_limiter *rl);

/* Takes `tokens` of one kind. False when blocked or when they do not fit (then the limiter
 * blocks for RATE_LIMITER_RETRY_MS). An overdraft succeeds and blocks for the time the bucket
 * needs to pay it back. */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t tokens, enum rate_limiter_kind kind,
			  uint64_t now_ns);
/* One I/O of `bytes`: one op and `bytes` bytes, all or nothing (the op is given back when the
 * bytes do not fit), as Firecracker's devices count requests. */
bool rate_limiter_request(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);
/* Undoes a consume of `tokens` of one kind. */
void rate_limiter_give_back(struct rate_limiter *rl, uint64_t tokens, enum rate_limiter_kind kind);

bool rate_limiter_blocked(const struct rate_limiter *rl);
/* Milliseconds to wait before rate_limiter_unblock, at least 1 (meaningful while blocked). */
uint64_t rate_limiter_wait_ms(const struct rate_limiter *rl);
/* The wait is over: requests are accepted again (buckets refill as they are used). */
void rate_limiter_unblock(struct rate_limiter *rl);

/* Applies an update (see enum rate_limiter_bucket_action). As in Firecracker, a blocked limiter
 * stays blocked until its owner unblocks it (the wait in progress runs out first). */
int rate_limiter_update(struct rate_limiter *rl, const struct rate_limiter_update *u,
			uint64_t now_ns, struct error *e);

/* The current configuration (what a GET would show). */
void rate_limiter_get_config(const struct rate_limiter *rl, struct rate_limiter_config *cfg);

/* CLOCK_MONOTONIC in nanoseconds, the clock the limiter expects from devices. */
uint64_t rate_limiter_now_ns(void);

#endif
