#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int metrics_open(struct metrics *m, const char *path, struct error *e)
{
	if (m->fd >= 0)
		return error_set(e, "metrics: reinitialization of metrics is not allowed");
	/* Non-blocking: a named pipe nobody reads must not stall the VMM (the line is lost). */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
	if (fd < 0)
		return error_errno(e, "metrics: cannot open '%s'", path);
	m->fd = fd;
	return 0;
}

bool metrics_is_open(const struct metrics *m)
{
	return m->fd >= 0;
}

int metrics_set_labels(struct metrics *m, const char *id, struct json_object *properties,
		       struct error *e)
{
	char *copy = NULL;
	if (id && !(copy = strdup(id))) {
		json_object_put(properties);
		return error_set(e, "metrics: out of memory");
	}
	free(m->id);
	json_object_put(m->properties);
	m->id = copy;
	m->properties = properties;
	return 0;
}

void metrics_close(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	free(m->id);
	m->id = NULL;
	json_object_put(m->properties);
	m->properties = NULL;
}

uint64_t metrics_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	unsigned long long size = 0, resident = 0;
	int n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_i64(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static struct json_object *exits_json(const struct metrics_exits *x)
{
	struct json_object *o = json_object_new_object();
	add_u64(o, "io_in", x->io_in);
	add_u64(o, "io_out", x->io_out);
	add_u64(o, "mmio_read", x->mmio_read);
	add_u64(o, "mmio_write", x->mmio_write);
	add_u64(o, "hlt", x->hlt);
	add_u64(o, "intr", x->intr);
	add_u64(o, "system_event", x->system_event);
	add_u64(o, "failures", x->failures);
	add_u64(o, "other", x->other);
	add_u64(o, "total", x->io_in + x->io_out + x->mmio_read + x->mmio_write + x->hlt + x->intr +
			    x->system_event + x->failures + x->other);
	return o;
}

/* Firecracker's "vcpu" group: exits since the previous line. */
static struct json_object *vcpu_delta_json(const struct metrics_exits *now,
					   const struct metrics_exits *last)
{
	struct json_object *o = json_object_new_object();
	add_u64(o, "exit_io_in", now->io_in - last->io_in);
	add_u64(o, "exit_io_out", now->io_out - last->io_out);
	add_u64(o, "exit_mmio_read", now->mmio_read - last->mmio_read);
	add_u64(o, "exit_mmio_write", now->mmio_write - last->mmio_write);
	add_u64(o, "failures", now->failures - last->failures);
	return o;
}

static struct json_object *sample_json(const struct metrics *m, const struct metrics_sample *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct json_object *o = json_object_new_object();
	add_u64(o, "utc_timestamp_ms", (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	if (m->id)
		json_object_object_add(o, "id", json_object_new_string(m->id));
	if (m->properties)
		json_object_object_add(o, "properties", json_object_get(m->properties));

	struct json_object *api = json_object_new_object();
	if (s->api_startup_us >= 0)
		add_i64(api, "process_startup_time_us", s->api_startup_us);
	add_u64(api, "requests", s->api_requests - m->last.api_requests);
	add_u64(api, "bad_requests", s->api_bad_requests - m->last.api_bad_requests);
	json_object_object_add(o, "api_server", api);
	json_object_object_add(o, "vcpu", vcpu_delta_json(&s->exits, &m->last.exits));

	struct json_object *ember = json_object_new_object();
	json_object_object_add(ember, "state", json_object_new_string(s->state));
	add_u64(ember, "uptime_us", s->uptime_us);
	add_i64(ember, "guest_ready_us", s->guest_ready_us);
	add_u64(ember, "rss_bytes", metrics_rss_bytes());
	add_u64(ember, "api_requests_total", s->api_requests);
	json_object_object_add(ember, "vm_exits_total", exits_json(&s->exits));
	metrics_devices_json(o, ember, &s->devices, &m->last.devices);
	json_object_object_add(o, "ember", ember);
	return o;
}

int metrics_flush(struct metrics *m, const struct metrics_sample *now, struct error *e)
{
	if (m->fd < 0)
		return error_set(e, "metrics: the metrics system is not configured (PUT /metrics)");
	struct json_object *o = sample_json(m, now);
	size_t len = 0;
	int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *text = o ? json_object_to_json_string_length(o, flags, &len) : NULL;
	int rc = 0;
	if (!text) {
		rc = error_set(e, "metrics: out of memory");
	} else {
		/* Many drives and interfaces make long lines (tens of KiB): on the heap. */
		char *line = malloc(len + 1);
		if (!line) {
			rc = error_set(e, "metrics: out of memory");
		} else {
			memcpy(line, text, len);
			line[len] = '\n';
			/* One write per line: readers of a pipe see whole lines. */
			ssize_t n = write(m->fd, line, len + 1);
			if (n < 0)
				rc = error_errno(e, "metrics: cannot write");
			else if ((size_t)n != len + 1)
				rc = error_set(e, "metrics: short write (%zd of %zu bytes)", n, len + 1);
			free(line);
		}
	}
	json_object_put(o);
	if (rc == 0) {
		m->last = *now;
		m->lines++;
	}
	return rc;
}
