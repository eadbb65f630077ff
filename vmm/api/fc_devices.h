/* Firecracker's device objects, read into struct fc_resources and written back for GET
 * /vm/config and GET /balloon: drives (fc_drives.c), network interfaces (fc_net.c), vsock,
 * entropy and balloon (fc_devices.c). PUT bodies and config-file entries share one reader
 * (path_id NULL for a file entry); PATCH bodies are parsed into an update that the API handler
 * applies to the running device first and to fc_resources once the device took it. Every reader
 * is all or nothing: on error fc_resources is unchanged and e names the object and the field. */
#ifndef EMBER_FC_DEVICES_H
#define EMBER_FC_DEVICES_H

#include <json-c/json.h>
#include <stdint.h>

#include "../../devices/virtio/balloon.h"
#include "../error.h"
#include "fc_resources.h"

/* ---- drives ---- */

/* PUT /drives/{id}: creates the drive or replaces the one with the same id. At most one root
 * drive, always first (the guest's /dev/vda). */
int fc_put_drive(struct fc_resources *r, const char *path_id, struct json_object *body,
		 struct error *e);
/* PATCH /drives/{id}: Ember cannot change a running drive (no media change, no block rate
 * limiter), so anything but a no-op is refused naming the field. */
int fc_patch_drive(const struct fc_resources *r, const char *path_id, struct json_object *body,
		   struct error *e);
struct json_object *fc_drives_json(const struct fc_resources *r);
/* The io engine of the VM: the first drive's explicit io_engine, else r->default_io_engine. */
enum virtio_blk_engine fc_drives_engine(const struct fc_resources *r);
/* Fills cfg->disks, ndisks and io_engine. */
void fc_drives_vm_config(const struct fc_resources *r, struct vm_config *cfg);
/* What the root drive adds to the command line, "" without one ("root=/dev/vda rw"). */
void fc_drives_root_args(const struct fc_resources *r, char *buf, size_t size);

/* ---- network interfaces ---- */

int fc_put_network_interface(struct fc_resources *r, const char *path_id,
			     struct json_object *body, struct error *e);

/* PATCH /network-interfaces/{id}: the rate limiters of interface `index`. */
struct fc_net_update {
	unsigned index;
	struct rate_limiter_update rx, tx;
};
int fc_parse_network_interface_update(const struct fc_resources *r, const char *path_id,
				      struct json_object *body, struct fc_net_update *u,
				      struct error *e);
/* Records an update the device took, for GET /vm/config. */
void fc_apply_network_interface_update(struct fc_resources *r, const struct fc_net_update *u);
struct json_object *fc_network_interfaces_json(const struct fc_resources *r);

/* ---- vsock, entropy, balloon ---- */

int fc_put_vsock(struct fc_resources *r, struct json_object *body, struct error *e);
struct json_object *fc_vsock_json(const struct fc_resources *r);

int fc_put_entropy(struct fc_resources *r, struct json_object *body, struct error *e);

/* PUT /balloon; amount_mib may not exceed the machine's memory. */
int fc_put_balloon(struct fc_resources *r, struct json_object *body, struct error *e);
/* PATCH /balloon: the new target in MiB. */
int fc_parse_balloon_update(const struct fc_resources *r, struct json_object *body,
			    uint32_t *amount_mib, struct error *e);
/* PATCH /balloon/statistics: the new interval; statistics cannot be turned on or off after the
 * boot (Firecracker's rule). */
int fc_parse_balloon_stats_update(const struct fc_resources *r, struct json_object *body,
				  uint32_t *interval_s, struct error *e);
/* The Balloon object (GET /balloon, GET /vm/config). */
struct json_object *fc_balloon_json(const struct balloon_options *b);
/* The BalloonStats object (GET /balloon/statistics). */
struct json_object *fc_balloon_stats_json(const struct balloon_info *info,
					  const struct balloon_stats *stats);

#endif
