#include "fc_rate_limiter.h"

#include <stdio.h>
#include <string.h>

#include "fc_json.h"

static int read_bucket(struct json_object *obj, const char *what, struct token_bucket_config *b,
		       struct error *e)
{
	static const char *const fields[] = { "size", "refill_time", "one_time_burst", NULL };
	int64_t size = 0, refill = 0, burst = 0;
	if (fc_json_check_object(obj, what, fields, e) < 0 ||
	    fc_json_required(fc_json_get_int(obj, what, "size", 0, FC_RATE_LIMITER_MAX_TOKENS,
					     &size, e), what, "size", e) < 0 ||
	    fc_json_required(fc_json_get_int(obj, what, "refill_time", 0,
					     RATE_LIMITER_MAX_REFILL_MS, &refill, e), what,
			     "refill_time", e) < 0 ||
	    fc_json_get_int(obj, what, "one_time_burst", 0, FC_RATE_LIMITER_MAX_TOKENS, &burst,
			    e) < 0)
		return -1;
	b->size = (uint64_t)size;
	b->refill_time_ms = (uint64_t)refill;
	b->one_time_burst = (uint64_t)burst;
	return 0;
}

/* One optional bucket of a RateLimiter: SET when given, KEEP otherwise. */
static int read_bucket_field(struct json_object *limiter, const char *what, const char *key,
			     enum rate_limiter_bucket_action *action,
			     struct token_bucket_config *b, struct error *e)
{
	struct json_object *obj = NULL;
	char where[128];
	snprintf(where, sizeof(where), "%s.%s", what, key);
	int rc = fc_json_get_object(limiter, what, key, &obj, e);
	if (rc <= 0)
		return rc;
	if (read_bucket(obj, where, b, e) < 0)
		return -1;
	*action = RATE_LIMITER_SET;
	return 1;
}

int fc_json_get_rate_limiter(struct json_object *obj, const char *what, const char *key,
			     struct rate_limiter_update *u, struct error *e)
{
	static const char *const fields[] = { "bandwidth", "ops", NULL };
	memset(u, 0, sizeof(*u));
	u->bandwidth_action = u->ops_action = RATE_LIMITER_KEEP;
	struct json_object *limiter = NULL;
	int rc = fc_json_get_object(obj, what, key, &limiter, e);
	if (rc <= 0)
		return rc;
	char where[96];
	snprintf(where, sizeof(where), "%s: %s", what, key);
	if (fc_json_check_object(limiter, where, fields, e) < 0 ||
	    read_bucket_field(limiter, where, "bandwidth", &u->bandwidth_action,
			      &u->cfg.bandwidth, e) < 0 ||
	    read_bucket_field(limiter, where, "ops", &u->ops_action, &u->cfg.ops, e) < 0)
		return -1;
	if (rate_limiter_config_check(&u->cfg, e) < 0)
		return error_prefix(e, "%s", where);
	return 1;
}

static bool bucket_enabled(const struct token_bucket_config *b)
{
	return b->size && b->refill_time_ms;
}

bool fc_rate_limiter_limits(const struct rate_limiter_config *cfg)
{
	return bucket_enabled(&cfg->bandwidth) || bucket_enabled(&cfg->ops);
}

void fc_rate_limiter_merge(struct rate_limiter_config *cfg, const struct rate_limiter_update *u)
{
	if (u->bandwidth_action == RATE_LIMITER_SET)
		cfg->bandwidth = u->cfg.bandwidth;
	if (u->ops_action == RATE_LIMITER_SET)
		cfg->ops = u->cfg.ops;
}

static void add_bucket(struct json_object *o, const char *key, const struct token_bucket_config *b)
{
	if (!bucket_enabled(b))
		return;
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "size", json_object_new_int64((int64_t)b->size));
	if (b->one_time_burst)
		json_object_object_add(j, "one_time_burst",
				       json_object_new_int64((int64_t)b->one_time_burst));
	json_object_object_add(j, "refill_time", json_object_new_int64((int64_t)b->refill_time_ms));
	json_object_object_add(o, key, j);
}

struct json_object *fc_rate_limiter_json(const struct rate_limiter_config *cfg)
{
	if (!fc_rate_limiter_limits(cfg))
		return NULL;
	struct json_object *o = json_object_new_object();
	add_bucket(o, "bandwidth", &cfg->bandwidth);
	add_bucket(o, "ops", &cfg->ops);
	return o;
}
