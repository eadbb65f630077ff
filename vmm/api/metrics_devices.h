/* The devices' part of a metrics line. The API thread copies every device's counters (totals
 * since the VM started, each read atomically while the device threads run) into a struct
 * metrics_devices; a line then shows
 *
 *  - Firecracker's groups, as deltas since the previous line: "block" (all drives) and
 *    "block_<drive_id>", "net" (all interfaces) and "net_<iface_id>", "vsock", "balloon",
 *    "entropy" — only the counters Ember really keeps, under Firecracker's names;
 *  - Ember's own totals, with the devices' names for them, under "ember.devices".
 *
 * docs/api.md lists each field and the device counter behind it. */
#ifndef EMBER_METRICS_DEVICES_H
#define EMBER_METRICS_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "../../devices/virtio/balloon.h"
#include "../../devices/virtio/blk.h"
#include "../../devices/virtio/net.h"
#include "../../devices/virtio/rng.h"
#include "../../devices/virtio/vsock.h"

#define METRICS_DEVICE_ID_MAX 64 /* drive_id and iface_id are shorter */

struct metrics_block_device {
	char id[METRICS_DEVICE_ID_MAX + 1]; /* drive_id */
	struct virtio_blk_stats c;
};

struct metrics_net_device {
	char id[METRICS_DEVICE_ID_MAX + 1]; /* iface_id */
	struct virtio_net_counters c;
};

struct metrics_devices {
	unsigned nblock, nnet;
	struct metrics_block_device block[VIRTIO_BLK_MAX_DISKS];
	struct metrics_net_device net[NET_MAX_DEVICES];
	bool has_vsock, has_balloon, has_entropy, has_console;
	struct virtio_vsock_counters vsock;
	struct balloon_counters balloon;
	struct virtio_rng_counters entropy;
	uint64_t console_bytes_in, console_bytes_out;
};

struct json_object;

/* Adds Firecracker's device groups to `line` (deltas from `last`, matched by id: a device new
 * since `last` counts from zero) and "devices" (totals) to `ember`. */
void metrics_devices_json(struct json_object *line, struct json_object *ember,
			  const struct metrics_devices *now, const struct metrics_devices *last);

#endif
