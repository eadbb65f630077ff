/* Firecracker's RateLimiter object in API bodies and config files,
 *
 *     {"bandwidth": TokenBucket, "ops": TokenBucket}
 *     TokenBucket: {"size": N, "refill_time": MS, "one_time_burst": N}   (size, refill_time required)
 *
 * read into Ember's devices/rate_limiter.h structures and written back for GET /vm/config. A
 * bucket with size or refill_time 0 is disabled (no limit), as in Firecracker. */
#ifndef EMBER_FC_RATE_LIMITER_H
#define EMBER_FC_RATE_LIMITER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "../../devices/rate_limiter.h"
#include "../error.h"

/* Largest size / one_time_burst accepted (tokens): far beyond any real link, and clear of the
 * int64 saturation of the JSON reader. */
#define FC_RATE_LIMITER_MAX_TOKENS (1ULL << 60)

/* Reads the optional RateLimiter field `key` of obj. A bucket that is given becomes
 * RATE_LIMITER_SET in *u (its values in u->cfg), an absent or null one RATE_LIMITER_KEEP (u->cfg
 * zero: for a new device, no limit). Returns 1 when the field is there, 0 when absent or null,
 * -1 (e filled, naming "what: key.bucket: field") on a wrong type, an unknown field or a value
 * out of range. */
int fc_json_get_rate_limiter(struct json_object *obj, const char *what, const char *key,
			     struct rate_limiter_update *u, struct error *e);

/* Whether a configuration limits anything (one of its buckets is enabled). */
bool fc_rate_limiter_limits(const struct rate_limiter_config *cfg);

/* What a PATCH does to a stored configuration (Firecracker's semantics; see rate_limiter.h). */
void fc_rate_limiter_merge(struct rate_limiter_config *cfg, const struct rate_limiter_update *u);

/* The RateLimiter object for cfg with only its enabled buckets, or NULL when none is (Firecracker
 * then shows no limiter). */
struct json_object *fc_rate_limiter_json(const struct rate_limiter_config *cfg);

#endif
