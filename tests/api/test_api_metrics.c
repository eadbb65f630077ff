/* Metrics lines: one JSON object per line, Firecracker's counters as deltas, Ember's totals. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/api/metrics.h"

static struct json_object *line(FILE *f)
{
	char buf[8192];
	cr_assert_not_null(fgets(buf, sizeof(buf), f), "a metrics line");
	cr_assert_eq(buf[strlen(buf) - 1], '\n');
	struct json_object *o = json_tokener_parse(buf);
	cr_assert_not_null(o, "valid JSON: %s", buf);
	return o;
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
