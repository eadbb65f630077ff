/* Metrics lines: one JSON object per line, Firecracker's counters as deltas, Ember's totals;
 * the devices' groups (block, block_<drive_id>, net, net_<iface_id>, vsock, balloon, entropy). */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/api/metrics.h"

static struct json_object *line(FILE *f)
{
	static char buf[1 << 17]; /* 16 drives and 8 interfaces make lines of tens of KiB */
	cr_assert_not_null(fgets(buf, sizeof(buf), f), "a metrics line");
	cr_assert_eq(buf[strlen(buf) - 1], '\n');
	struct json_object *o = json_tokener_parse(buf);
	cr_assert_not_null(o, "valid JSON: %s", buf);
	return o;
}

static bool has(struct json_object *o, const char *group)
{
	return json_object_object_get_ex(o, group, NULL);
}

static int64_t get(struct json_object *o, const char *group, const char *key)
{
	struct json_object *g, *v;
	cr_assert(json_object_object_get_ex(o, group, &g), "group %s", group);
	cr_assert(json_object_object_get_ex(g, key, &v), "%s.%s", group, key);
	return json_object_get_int64(v);
}

Test(metrics, counters_are_deltas_and_totals_are_totals)
{
	char path[] = "/tmp/ember-metrics-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct metrics m;
	struct error e;
	metrics_init(&m);
	cr_assert_eq(metrics_flush(&m, &(struct metrics_sample){ .state = "Running" }, &e), -1,
		     "not configured yet");
	cr_assert_eq(metrics_open(&m, path, &e), 0, "%s", e.msg);
	cr_assert_eq(metrics_open(&m, path, &e), -1, "only once");
	struct json_object *props = json_object_new_object();
	json_object_object_add(props, "team", json_object_new_string("vmm"));
	cr_assert_eq(metrics_set_labels(&m, "vm-7", props, &e), 0);

	struct metrics_sample s = { .state = "Running", .guest_ready_us = 1234, .api_startup_us = 56,
				    .api_requests = 10, .exits = { .io_out = 100, .io_in = 7 } };
	cr_assert_eq(metrics_flush(&m, &s, &e), 0, "%s", e.msg);
	s.exits.io_out = 130;
	s.api_requests = 12;
	cr_assert_eq(metrics_flush(&m, &s, &e), 0, "%s", e.msg);
	metrics_close(&m);

	FILE *f = fopen(path, "r");
	struct json_object *first = line(f), *second = line(f);
	fclose(f);
	unlink(path);
	cr_assert_eq(get(first, "vcpu", "exit_io_out"), 100);
	cr_assert_eq(get(second, "vcpu", "exit_io_out"), 30, "Firecracker's counters are deltas");
	cr_assert_eq(get(second, "vcpu", "exit_io_in"), 0);
	cr_assert_eq(get(second, "api_server", "requests"), 2);
	cr_assert_eq(get(second, "ember", "guest_ready_us"), 1234);
	cr_assert_gt(get(second, "ember", "rss_bytes"), 0);
	struct json_object *totals, *v;
	cr_assert(json_object_object_get_ex(json_object_object_get(second, "ember"), "vm_exits_total",
					    &totals));
	cr_assert(json_object_object_get_ex(totals, "io_out", &v));
	cr_assert_eq(json_object_get_int64(v), 130);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(second, "id")), "vm-7");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(
		json_object_object_get(second, "properties"), "team")), "vmm");
	json_object_put(first);
	json_object_put(second);
}

/* A metrics file in /tmp, configured, and a way to read its lines back. */
static void open_metrics(struct metrics *m, char *path)
{
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct error e;
	metrics_init(m);
	cr_assert_eq(metrics_open(m, path, &e), 0, "%s", e.msg);
}

static void flush(struct metrics *m, const struct metrics_sample *s)
{
	struct error e;
	cr_assert_eq(metrics_flush(m, s, &e), 0, "%s", e.msg);
}

static void add_drive(struct metrics_devices *d, const char *id, struct virtio_blk_stats c)
{
	struct metrics_block_device *b = &d->block[d->nblock++];
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->c = c;
}

static int64_t total(struct json_object *o, const char *device, const char *key)
{
	struct json_object *devices;
	cr_assert(json_object_object_get_ex(json_object_object_get(o, "ember"), "devices",
					    &devices));
	return get(devices, device, key);
}

Test(metrics, device_groups_are_deltas_per_device_and_summed)
{
	char path[] = "/tmp/ember-metrics-XXXXXX";
	struct metrics m;
	open_metrics(&m, path);

	/* Before boot: no devices, yet Firecracker's aggregate groups are there, all zeros. */
	struct metrics_sample s = { .state = "Not started", .guest_ready_us = -1 };
	flush(&m, &s);

	s.state = "Running";
	add_drive(&s.devices, "rootfs", (struct virtio_blk_stats){
		.requests = 12, .reads = 8, .writes = 2, .read_bytes = 8 * 4096,
		.write_bytes = 2 * 512, .flushes = 1, .io_errors = 1, .host_errors = 1,
		.unsupported = 1, .kicks = 9, .discards = 3 });
	s.devices.nnet = 1;
	snprintf(s.devices.net[0].id, sizeof(s.devices.net[0].id), "eth0");
	s.devices.net[0].c = (struct virtio_net_counters){ .rx_frames = 5, .rx_bytes = 700,
		.tx_frames = 4, .tx_bytes = 300, .tx_malformed = 1, .tx_bad_chains = 2,
		.tx_rate_limited = 6, .rx_buffer_waits = 7, .tap_gone = 1 };
	s.devices.has_entropy = true;
	s.devices.entropy = (struct virtio_rng_counters){ .requests = 2, .bytes = 64 };
	s.devices.has_balloon = true;
	s.devices.balloon = (struct balloon_counters){ .inflate_buffers = 3, .inflate_pages = 768,
		.stats_updates = 4, .reported_blocks = 32, .reported_bytes_released = 1 << 22 };
	flush(&m, &s);

	/* More traffic; a second drive appears (counted from zero). */
	s.devices.block[0].c.reads = 10;
	s.devices.block[0].c.read_bytes = 10 * 4096;
	s.devices.block[0].c.kicks = 10;
	add_drive(&s.devices, "data", (struct virtio_blk_stats){ .writes = 3, .write_bytes = 1536 });
	s.devices.entropy.requests = 5;
	s.devices.entropy.bytes = 160;
	s.devices.has_vsock = true;
	s.devices.vsock = (struct virtio_vsock_counters){ .rx_packets = 3, .tx_packets = 4,
		.tx_bytes = 11, .conns_from_host = 1, .conns_from_guest = 2, .conns_closed = 1,
		.active_connections = 2 };
	flush(&m, &s);
	metrics_close(&m);

	FILE *f = fopen(path, "r");
	struct json_object *before = line(f), *first = line(f), *second = line(f);
	fclose(f);
	unlink(path);

	cr_assert_eq(get(before, "block", "read_count"), 0);
	cr_assert_eq(get(before, "net", "rx_packets_count"), 0);
	cr_assert_eq(get(before, "vsock", "conns_added"), 0);
	cr_assert_eq(get(before, "entropy", "entropy_bytes"), 0);
	cr_assert(!has(before, "block_rootfs"), "no per-device group without the device");

	/* Firecracker's names over Ember's counters. */
	cr_assert_eq(get(first, "block_rootfs", "read_count"), 8);
	cr_assert_eq(get(first, "block_rootfs", "write_count"), 2);
	cr_assert_eq(get(first, "block_rootfs", "read_bytes"), 8 * 4096);
	cr_assert_eq(get(first, "block_rootfs", "write_bytes"), 1024);
	cr_assert_eq(get(first, "block_rootfs", "flush_count"), 1);
	cr_assert_eq(get(first, "block_rootfs", "invalid_reqs_count"), 2, "IOERR and UNSUPP");
	cr_assert_eq(get(first, "block_rootfs", "execute_fails"), 1, "host I/O failures");
	cr_assert_eq(get(first, "block_rootfs", "queue_event_count"), 9);
	cr_assert_eq(get(first, "block", "read_count"), 8);
	cr_assert_eq(get(first, "net_eth0", "rx_packets_count"), 5);
	cr_assert_eq(get(first, "net_eth0", "rx_bytes_count"), 700);
	cr_assert_eq(get(first, "net_eth0", "tx_packets_count"), 4);
	cr_assert_eq(get(first, "net_eth0", "tx_bytes_count"), 300);
	cr_assert_eq(get(first, "net_eth0", "tx_malformed_frames"), 3);
	cr_assert_eq(get(first, "net_eth0", "tx_rate_limiter_throttled"), 6);
	cr_assert_eq(get(first, "net_eth0", "no_rx_avail_buffer"), 7);
	cr_assert_eq(get(first, "net", "tx_bytes_count"), 300);
	cr_assert_eq(get(first, "entropy", "entropy_event_count"), 2);
	cr_assert_eq(get(first, "entropy", "entropy_bytes"), 64);
	cr_assert_eq(get(first, "balloon", "inflate_count"), 3);
	cr_assert_eq(get(first, "balloon", "stats_updates_count"), 4);
	cr_assert_eq(get(first, "balloon", "free_page_report_count"), 32);
	cr_assert_eq(get(first, "balloon", "free_page_report_freed"), 1 << 22);

	/* Deltas per device, the aggregate their sum; totals stay totals. */
	cr_assert_eq(get(second, "block_rootfs", "read_count"), 2);
	cr_assert_eq(get(second, "block_rootfs", "read_bytes"), 2 * 4096);
	cr_assert_eq(get(second, "block_rootfs", "write_count"), 0);
	cr_assert_eq(get(second, "block_data", "write_count"), 3);
	cr_assert_eq(get(second, "block", "read_count"), 2);
	cr_assert_eq(get(second, "block", "write_count"), 3);
	cr_assert_eq(get(second, "block", "write_bytes"), 1536);
	cr_assert_eq(get(second, "block", "queue_event_count"), 1);
	cr_assert_eq(get(second, "net_eth0", "rx_packets_count"), 0);
	cr_assert_eq(get(second, "entropy", "entropy_event_count"), 3);
	cr_assert_eq(get(second, "entropy", "entropy_bytes"), 96);
	cr_assert_eq(get(second, "balloon", "inflate_count"), 0);
	cr_assert_eq(get(second, "vsock", "rx_packets_count"), 3);
	cr_assert_eq(get(second, "vsock", "conns_added"), 3);
	cr_assert_eq(get(second, "vsock", "conns_removed"), 1);
	cr_assert_eq(total(second, "block_rootfs", "read_bytes"), 10 * 4096);
	cr_assert_eq(total(second, "block_rootfs", "discards"), 3);
	cr_assert_eq(total(second, "block_data", "write_bytes"), 1536);
	cr_assert_eq(total(second, "net_eth0", "tap_gone"), 1);
	cr_assert_eq(total(second, "entropy", "bytes"), 160);
	cr_assert_eq(total(second, "balloon", "inflate_pages"), 768);
	cr_assert_eq(total(second, "vsock", "active_connections"), 2);
	json_object_put(before);
	json_object_put(first);
	json_object_put(second);
}

Test(metrics, many_devices_make_one_long_line)
{
	char path[] = "/tmp/ember-metrics-XXXXXX";
	struct metrics m;
	open_metrics(&m, path);
	struct metrics_sample s = { .state = "Running", .guest_ready_us = -1 };
	for (unsigned i = 0; i < VIRTIO_BLK_MAX_DISKS; i++) {
		char id[METRICS_DEVICE_ID_MAX + 1];
		snprintf(id, sizeof(id), "drive-%02u-%.50s", i,
			 "with-a-rather-long-name-of-fifty-characters-xxxxxxxx");
		add_drive(&s.devices, id, (struct virtio_blk_stats){ .reads = i });
	}
	s.devices.nnet = NET_MAX_DEVICES;
	for (unsigned i = 0; i < NET_MAX_DEVICES; i++) {
		snprintf(s.devices.net[i].id, sizeof(s.devices.net[i].id), "eth%u", i);
		s.devices.net[i].c.rx_frames = i;
	}
	flush(&m, &s);
	metrics_close(&m);

	FILE *f = fopen(path, "r");
	struct json_object *o = line(f);
	fclose(f);
	unlink(path);
	cr_assert_gt(strlen(json_object_to_json_string(o)), 8192);
	cr_assert_eq(get(o, "block", "read_count"), 15 * 16 / 2);
	cr_assert_eq(get(o, "net", "rx_packets_count"), 7 * 8 / 2);
	cr_assert_eq(get(o, "net_eth7", "rx_packets_count"), 7);
	json_object_put(o);
}
