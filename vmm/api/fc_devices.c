/* Firecracker's Vsock, EntropyDevice and Balloon objects (PUT /vsock, /entropy, /balloon and
 * their config-file sections; PATCH /balloon and /balloon/statistics; GET /balloon and
 * /balloon/statistics) as Ember's vsock_options, rng flag and balloon_options. */
#include <string.h>

#include "fc_devices.h"
#include "fc_rate_limiter.h"

/* ---- vsock ---- */

int fc_put_vsock(struct fc_resources *r, struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	const char *what = "vsock";
	const char *uds = NULL, *id = NULL;
	int64_t cid = 0;
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    fc_json_required(fc_json_get_int(body, what, "guest_cid", VSOCK_MIN_GUEST_CID,
					     VSOCK_MAX_GUEST_CID, &cid, e), what, "guest_cid",
			     e) < 0 ||
	    fc_json_required(fc_json_get_string(body, what, "uds_path", &uds, e), what, "uds_path",
			     e) < 0 ||
	    fc_json_get_string(body, what, "vsock_id", &id, e) < 0)
		return -1;
	struct vsock_options o = { .enabled = true, .guest_cid = (uint32_t)cid };
	if (!id)
		id = "vsock0";
	if (strlen(id) == 0 || strlen(id) > VSOCK_ID_MAX)
		return error_set(e, "vsock: vsock_id must be 1-%d characters", VSOCK_ID_MAX);
	strcpy(o.id, id);
	if (strlen(uds) == 0 || strlen(uds) > VSOCK_UDS_PATH_MAX)
		return error_set(e, "vsock: uds_path must be 1-%d bytes (a Unix socket path with "
				    "room for \"_<port>\")", VSOCK_UDS_PATH_MAX);
	strcpy(o.uds_path, uds);
	if (vsock_options_check(&o, e) < 0)
		return error_prefix(e, "vsock");
	r->vsock = o;
	return 0;
}

struct json_object *fc_vsock_json(const struct fc_resources *r)
{
	/* vsock_id is deprecated: Firecracker leaves it out of its answers. */
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "guest_cid", json_object_new_int64(r->vsock.guest_cid));
	json_object_object_add(o, "uds_path", json_object_new_string(r->vsock.uds_path));
	return o;
}

/* ---- entropy ---- */

int fc_put_entropy(struct fc_resources *r, struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "rate_limiter", NULL };
	struct rate_limiter_update u;
	int rc;
	if (fc_json_check_object(body, "entropy", fields, e) < 0 ||
	    (rc = fc_json_get_rate_limiter(body, "entropy", "rate_limiter", &u, e)) < 0)
		return -1;
	if (rc > 0 && fc_rate_limiter_limits(&u.cfg))
		return error_set(e, "entropy: rate_limiter is not supported: Ember's virtio-rng has no "
				    "rate limiter");
	r->entropy = true;
	return 0;
}

/* ---- balloon ---- */

#define STATS_INTERVAL_MAX 65535 /* Firecracker's u16 */

static int check_amount(const struct fc_resources *r, int64_t mib, struct error *e)
{
	if ((uint64_t)mib > r->machine.mem_size_mib)
		return error_set(e, "balloon: amount_mib %lld is more than the guest's memory "
				    "(mem_size_mib %llu)", (long long)mib,
				 (unsigned long long)r->machine.mem_size_mib);
	return 0;
}

int fc_put_balloon(struct fc_resources *r, struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "amount_mib", "deflate_on_oom",
					      "stats_polling_interval_s", "free_page_hinting",
					      "free_page_reporting", NULL };
	const char *what = "balloon";
	int64_t mib = 0, interval = 0;
	bool hinting = false;
	struct balloon_options b = { .enabled = true };
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    fc_json_required(fc_json_get_int(body, what, "amount_mib", 0, UINT32_MAX, &mib, e),
			     what, "amount_mib", e) < 0 ||
	    fc_json_required(fc_json_get_bool(body, what, "deflate_on_oom", &b.deflate_on_oom, e),
			     what, "deflate_on_oom", e) < 0 ||
	    fc_json_get_int(body, what, "stats_polling_interval_s", 0, STATS_INTERVAL_MAX,
			    &interval, e) < 0 ||
	    fc_json_get_bool(body, what, "free_page_hinting", &hinting, e) < 0 ||
	    fc_json_get_bool(body, what, "free_page_reporting", &b.free_page_reporting, e) < 0)
		return -1;
	if (hinting)
		return error_set(e, "balloon: free_page_hinting is not supported by Ember (free page "
				    "reporting is: free_page_reporting)");
	if (check_amount(r, mib, e) < 0)
		return -1;
	b.target_mib = (uint32_t)mib;
	b.stats_interval_s = (uint32_t)interval;
	r->balloon = b;
	return 0;
}

int fc_parse_balloon_update(const struct fc_resources *r, struct json_object *body,
			    uint32_t *amount_mib, struct error *e)
{
	static const char *const fields[] = { "amount_mib", NULL };
	int64_t mib = 0;
	if (fc_json_check_object(body, "balloon", fields, e) < 0 ||
	    fc_json_required(fc_json_get_int(body, "balloon", "amount_mib", 0, UINT32_MAX, &mib, e),
			     "balloon", "amount_mib", e) < 0 ||
	    check_amount(r, mib, e) < 0)
		return -1;
	*amount_mib = (uint32_t)mib;
	return 0;
}

int fc_parse_balloon_stats_update(const struct fc_resources *r, struct json_object *body,
				  uint32_t *interval_s, struct error *e)
{
	static const char *const fields[] = { "stats_polling_interval_s", NULL };
	const char *what = "balloon/statistics";
	int64_t interval = 0;
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    fc_json_required(fc_json_get_int(body, what, "stats_polling_interval_s", 0,
					     STATS_INTERVAL_MAX, &interval, e), what,
			     "stats_polling_interval_s", e) < 0)
		return -1;
	if (r->balloon.stats_interval_s == 0)
		return error_set(e, "balloon: statistics were not enabled when the balloon was "
				    "configured (stats_polling_interval_s 0)");
	if (interval == 0)
		return error_set(e, "balloon: statistics cannot be turned off after the boot");
	*interval_s = (uint32_t)interval;
	return 0;
}

struct json_object *fc_balloon_json(const struct balloon_options *b)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "amount_mib", json_object_new_int64(b->target_mib));
	json_object_object_add(o, "deflate_on_oom", json_object_new_boolean(b->deflate_on_oom));
	json_object_object_add(o, "stats_polling_interval_s",
			       json_object_new_int64(b->stats_interval_s));
	json_object_object_add(o, "free_page_hinting", json_object_new_boolean(0));
	json_object_object_add(o, "free_page_reporting",
			       json_object_new_boolean(b->free_page_reporting));
	return o;
}

/* Counts above INT64_MAX cannot be a JSON integer json-c writes; they cannot happen either. */
static struct json_object *count_json(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

struct json_object *fc_balloon_stats_json(const struct balloon_info *info,
					  const struct balloon_stats *stats)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "target_pages", count_json(info->target_pages));
	json_object_object_add(o, "actual_pages", count_json(info->actual_pages));
	json_object_object_add(o, "target_mib", count_json(info->target_mib));
	json_object_object_add(o, "actual_mib", count_json(info->actual_mib));
	for (unsigned tag = 0; tag < BALLOON_STAT_COUNT; tag++)
		if (stats->has & (1u << tag))
			json_object_object_add(o, virtio_balloon_stat_name((enum balloon_stat_tag)tag),
					       count_json(stats->value[tag]));
	return o;
}
