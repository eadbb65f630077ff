#include "metrics_devices.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* ---- Firecracker's groups: each is a set of counters under Firecracker's names ---- */

#define FC_FIELD(name) uint64_t name;
#define FC_NAME(name) #name,
#define FC_ONE(name) 1 +

/* A group's counters by name (the struct) or all at once (v[]) for deltas and sums. */
#define FC_GROUP(type, FIELDS)                                                                   \
	union type {                                                                             \
		struct { FIELDS(FC_FIELD) };                                                     \
		uint64_t v[FIELDS(FC_ONE) 0];                                                   \
	};                                                                                       \
	static const char *const type##_names[] = { FIELDS(FC_NAME) }

#define FC_BLOCK(X)                                                                              \
	X(read_count) X(write_count) X(read_bytes) X(write_bytes) X(flush_count)                 \
	X(invalid_reqs_count) X(execute_fails) X(queue_event_count)
#define FC_NET(X)                                                                                \
	X(rx_bytes_count) X(rx_packets_count) X(tx_bytes_count) X(tx_packets_count)              \
	X(rx_rate_limiter_throttled) X(tx_rate_limiter_throttled) X(no_rx_avail_buffer)          \
	X(tx_malformed_frames) X(tap_read_fails) X(tap_write_fails)
#define FC_VSOCK(X)                                                                              \
	X(rx_packets_count) X(rx_bytes_count) X(tx_packets_count) X(tx_bytes_count)              \
	X(conns_added) X(conns_removed)
#define FC_BALLOON(X)                                                                            \
	X(inflate_count) X(deflate_count) X(stats_updates_count) X(free_page_report_count)       \
	X(free_page_report_freed)
#define FC_ENTROPY(X) X(entropy_event_count) X(entropy_bytes) X(host_rng_fails)

FC_GROUP(fc_block, FC_BLOCK);
FC_GROUP(fc_net, FC_NET);
FC_GROUP(fc_vsock, FC_VSOCK);
FC_GROUP(fc_balloon, FC_BALLOON);
FC_GROUP(fc_entropy, FC_ENTROPY);

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Ember's totals in Firecracker's terms (docs/api.md explains each mapping). */
static union fc_block fc_block_of(const struct virtio_blk_stats *s)
{
	return (union fc_block){ {
		.read_count = s->reads,
		.write_count = s->writes,
		.read_bytes = s->read_bytes,
		.write_bytes = s->write_bytes,
		.flush_count = s->flushes,
		.invalid_reqs_count = s->io_errors + s->unsupported, /* any answer but OK */
		.execute_fails = s->host_errors,
		.queue_event_count = s->kicks,
	} };
}

static union fc_net fc_net_of(const struct virtio_net_counters *c)
{
	return (union fc_net){ {
		.rx_bytes_count = c->rx_bytes,
		.rx_packets_count = c->rx_frames,
		.tx_bytes_count = c->tx_bytes,
		.tx_packets_count = c->tx_frames,
		.rx_rate_limiter_throttled = c->rx_rate_limited,
		.tx_rate_limiter_throttled = c->tx_rate_limited,
		.no_rx_avail_buffer = c->rx_buffer_waits,
		.tx_malformed_frames = c->tx_malformed + c->tx_bad_chains,
		.tap_read_fails = c->tap_read_errors,
		.tap_write_fails = c->tx_tap_errors,
	} };
}

static union fc_vsock fc_vsock_of(const struct virtio_vsock_counters *c)
{
	return (union fc_vsock){ {
		.rx_packets_count = c->rx_packets,
		.rx_bytes_count = c->rx_bytes,
		.tx_packets_count = c->tx_packets,
		.tx_bytes_count = c->tx_bytes,
		.conns_added = c->conns_from_host + c->conns_from_guest,
		.conns_removed = c->conns_closed,
	} };
}

static union fc_balloon fc_balloon_of(const struct balloon_counters *c)
{
	return (union fc_balloon){ {
		.inflate_count = c->inflate_buffers,
		.deflate_count = c->deflate_buffers,
		.stats_updates_count = c->stats_updates,
		.free_page_report_count = c->reported_blocks,
		.free_page_report_freed = c->reported_bytes_released,
	} };
}

static union fc_entropy fc_entropy_of(const struct virtio_rng_counters *c)
{
	return (union fc_entropy){ {
		.entropy_event_count = c->requests,
		.entropy_bytes = c->bytes,
		.host_rng_fails = c->host_fails,
	} };
}

/* d = now - last, counter by counter (a counter that went back counts from zero). */
static void delta(uint64_t *d, const uint64_t *now, const uint64_t *last, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = now[i] >= last[i] ? now[i] - last[i] : now[i];
}

static void sum(uint64_t *total, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		total[i] += v[i];
}

static struct json_object *counters_json(const char *const *names, const uint64_t *v, size_t n)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, names[i], json_object_new_uint64(v[i]));
	return o;
}

#define GROUP_JSON(type, u) counters_json(type##_names, (u).v, COUNT_OF((u).v))

static void add_device_group(struct json_object *line, const char *prefix, const char *id,
			     struct json_object *group)
{
	char key[sizeof("block_") + METRICS_DEVICE_ID_MAX];
	snprintf(key, sizeof(key), "%s_%s", prefix, id);
	json_object_object_add(line, key, group);
}

static const struct metrics_block_device *find_block(const struct metrics_devices *d,
						     const char *id)
{
	for (unsigned i = 0; i < d->nblock; i++)
		if (!strcmp(d->block[i].id, id))
			return &d->block[i];
	return NULL;
}

static const struct metrics_net_device *find_net(const struct metrics_devices *d, const char *id)
{
	for (unsigned i = 0; i < d->nnet; i++)
		if (!strcmp(d->net[i].id, id))
			return &d->net[i];
	return NULL;
}

/* "block_<drive_id>" per drive and "block", their sum (Firecracker writes it even without
 * drives). */
static void block_groups(struct json_object *line, const struct metrics_devices *now,
			 const struct metrics_devices *last)
{
	union fc_block total = { { 0 } };
	for (unsigned i = 0; i < now->nblock; i++) {
		const struct metrics_block_device *was = find_block(last, now->block[i].id);
		union fc_block n = fc_block_of(&now->block[i].c), l = { { 0 } }, d;
		if (was)
			l = fc_block_of(&was->c);
		delta(d.v, n.v, l.v, COUNT_OF(d.v));
		sum(total.v, d.v, COUNT_OF(d.v));
		add_device_group(line, "block", now->block[i].id, GROUP_JSON(fc_block, d));
	}
	json_object_object_add(line, "block", GROUP_JSON(fc_block, total));
}

static void net_groups(struct json_object *line, const struct metrics_devices *now,
		       const struct metrics_devices *last)
{
	union fc_net total = { { 0 } };
	for (unsigned i = 0; i < now->nnet; i++) {
		const struct metrics_net_device *was = find_net(last, now->net[i].id);
		union fc_net n = fc_net_of(&now->net[i].c), l = { { 0 } }, d;
		if (was)
			l = fc_net_of(&was->c);
		delta(d.v, n.v, l.v, COUNT_OF(d.v));
		sum(total.v, d.v, COUNT_OF(d.v));
		add_device_group(line, "net", now->net[i].id, GROUP_JSON(fc_net, d));
	}
	json_object_object_add(line, "net", GROUP_JSON(fc_net, total));
}

/* The single devices: zeros when absent, as Firecracker writes them. */
static void single_groups(struct json_object *line, const struct metrics_devices *now,
			  const struct metrics_devices *last)
{
	union fc_vsock vs = { { 0 } }, vs_last = { { 0 } };
	if (now->has_vsock)
		vs = fc_vsock_of(&now->vsock);
	if (last->has_vsock)
		vs_last = fc_vsock_of(&last->vsock);
	delta(vs.v, vs.v, vs_last.v, COUNT_OF(vs.v));
	json_object_object_add(line, "vsock", GROUP_JSON(fc_vsock, vs));

	union fc_balloon b = { { 0 } }, b_last = { { 0 } };
	if (now->has_balloon)
		b = fc_balloon_of(&now->balloon);
	if (last->has_balloon)
		b_last = fc_balloon_of(&last->balloon);
	delta(b.v, b.v, b_last.v, COUNT_OF(b.v));
	json_object_object_add(line, "balloon", GROUP_JSON(fc_balloon, b));

	union fc_entropy r = { { 0 } }, r_last = { { 0 } };
	if (now->has_entropy)
		r = fc_entropy_of(&now->entropy);
	if (last->has_entropy)
		r_last = fc_entropy_of(&last->entropy);
	delta(r.v, r.v, r_last.v, COUNT_OF(r.v));
	json_object_object_add(line, "entropy", GROUP_JSON(fc_entropy, r));
}

/* ---- Ember's totals, with the devices' own names ---- */

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *block_totals(const struct virtio_blk_stats *s)
{
	struct json_object *o = json_object_new_object();
	add_u64(o, "requests", s->requests);
	add_u64(o, "reads", s->reads);
	add_u64(o, "writes", s->writes);
	add_u64(o, "read_bytes", s->read_bytes);
	add_u64(o, "write_bytes", s->write_bytes);
	add_u64(o, "flushes", s->flushes);
	add_u64(o, "discards", s->discards);
	add_u64(o, "write_zeroes", s->write_zeroes);
	add_u64(o, "io_errors", s->io_errors);
	add_u64(o, "host_errors", s->host_errors);
	add_u64(o, "unsupported", s->unsupported);
	add_u64(o, "kicks", s->kicks);
	return o;
}

static struct json_object *net_totals(const struct virtio_net_counters *c)
{
	struct json_object *o = json_object_new_object();
#define NET_TOTAL(name) add_u64(o, #name, c->name);
	VIRTIO_NET_COUNTERS(NET_TOTAL)
#undef NET_TOTAL
	return o;
}

static struct json_object *vsock_totals(const struct virtio_vsock_counters *c)
{
	struct json_object *o = json_object_new_object();
#define VSOCK_TOTAL(name) add_u64(o, #name, c->name);
	VIRTIO_VSOCK_COUNTERS(VSOCK_TOTAL)
#undef VSOCK_TOTAL
	add_u64(o, "active_connections", c->active_connections);
	return o;
}

static struct json_object *balloon_totals(const struct balloon_counters *c)
{
	struct json_object *o = json_object_new_object();
	add_u64(o, "inflate_pages", c->inflate_pages);
	add_u64(o, "deflate_pages", c->deflate_pages);
	add_u64(o, "inflate_buffers", c->inflate_buffers);
	add_u64(o, "deflate_buffers", c->deflate_buffers);
	add_u64(o, "pfns_ignored", c->pfns_ignored);
	add_u64(o, "pfns_duplicate", c->pfns_duplicate);
	add_u64(o, "inflated_bytes_released", c->inflated_bytes_released);
	add_u64(o, "reports", c->reports);
	add_u64(o, "reported_blocks", c->reported_blocks);
	add_u64(o, "reported_bytes", c->reported_bytes);
	add_u64(o, "reported_bytes_released", c->reported_bytes_released);
	add_u64(o, "stats_updates", c->stats_updates);
	add_u64(o, "stats_unknown_tags", c->stats_unknown_tags);
	add_u64(o, "release_errors", c->release_errors);
	return o;
}

static struct json_object *entropy_totals(const struct virtio_rng_counters *c)
{
	struct json_object *o = json_object_new_object();
	add_u64(o, "requests", c->requests);
	add_u64(o, "bytes", c->bytes);
	add_u64(o, "host_fails", c->host_fails);
	return o;
}

static struct json_object *device_totals(const struct metrics_devices *d)
{
	struct json_object *o = json_object_new_object();
	for (unsigned i = 0; i < d->nblock; i++)
		add_device_group(o, "block", d->block[i].id, block_totals(&d->block[i].c));
	for (unsigned i = 0; i < d->nnet; i++)
		add_device_group(o, "net", d->net[i].id, net_totals(&d->net[i].c));
	if (d->has_vsock)
		json_object_object_add(o, "vsock", vsock_totals(&d->vsock));
	if (d->has_balloon)
		json_object_object_add(o, "balloon", balloon_totals(&d->balloon));
	if (d->has_entropy)
		json_object_object_add(o, "entropy", entropy_totals(&d->entropy));
	if (d->has_console) {
		struct json_object *c = json_object_new_object();
		add_u64(c, "bytes_in", d->console_bytes_in);
		add_u64(c, "bytes_out", d->console_bytes_out);
		json_object_object_add(o, "console", c);
	}
	return o;
}

void metrics_devices_json(struct json_object *line, struct json_object *ember,
			  const struct metrics_devices *now, const struct metrics_devices *last)
{
	block_groups(line, now, last);
	net_groups(line, now, last);
	single_groups(line, now, last);
	json_object_object_add(ember, "devices", device_totals(now));
}
