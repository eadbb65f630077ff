/* Firecracker-style metrics: one JSON object per line, written to a file or named pipe on
 * FlushMetrics, periodically, and when the VM stops. Counters in the Firecracker groups
 * ("vcpu", "api_server", the devices' groups of metrics_devices.h) are deltas since the previous
 * line, as in Firecracker; the "ember" group holds totals and gauges (see docs/api.md for every
 * field). */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "../error.h"
#include "metrics_devices.h"

struct metrics_exits {
	uint64_t io_in, io_out, mmio_read, mmio_write, hlt, intr, system_event, failures, other;
};

/* What the caller knows at flush time. */
struct metrics_sample {
	const char *state;          /* "Not started", "Running", "Paused" */
	uint64_t uptime_us;         /* since process start */
	int64_t guest_ready_us;     /* process start to the guest's ready mark; -1: not yet */
	int64_t api_startup_us;     /* process start to the API socket listening; -1: no API */
	uint64_t api_requests;      /* totals */
	uint64_t api_bad_requests;
	struct metrics_exits exits; /* totals over all vCPUs */
	struct metrics_devices devices; /* every device's totals */
};

struct json_object;

struct metrics {
	int fd;                     /* -1: not configured */
	struct metrics_sample last; /* for deltas */
	uint64_t lines;
	char *id;                   /* emitted as "id" when set (Firecracker's emit_id) */
	struct json_object *properties; /* emitted as "properties" when set */
};

void metrics_init(struct metrics *m);
/* Opens (creating) path for appending. Firecracker allows this once per process. */
int metrics_open(struct metrics *m, const char *path, struct error *e);
bool metrics_is_open(const struct metrics *m);
/* Adds "id" (when id is non-NULL) and "properties" (an object of strings; the reference is
 * taken) to every line. */
int metrics_set_labels(struct metrics *m, const char *id, struct json_object *properties,
		       struct error *e);
int metrics_flush(struct metrics *m, const struct metrics_sample *now, struct error *e);
void metrics_close(struct metrics *m);

/* Resident set size of this process in bytes (0 if unknown). */
uint64_t metrics_rss_bytes(void);

#endif
