/* `--config-file FILE`: Firecracker's JSON configuration format, the same keys and objects as the
 * API ("boot-source", "machine-config", "logger", "metrics", "drives", "network-interfaces",
 * "vsock", "entropy", "balloon"). Sections for what Ember does not have (pmem, MMDS, ...) must be
 * null or empty. */
#ifndef EMBER_FC_CONFIG_FILE_H
#define EMBER_FC_CONFIG_FILE_H

#include "../error.h"
#include "fc_resources.h"
#include "metrics.h"

/* Largest config file read. */
#define FC_CONFIG_FILE_MAX (1024 * 1024)

int fc_config_file_load(const char *path, struct fc_resources *r, struct metrics *m,
			const char *instance_id, struct error *e);
/* The same from a document already in memory (tests). */
int fc_config_apply(struct json_object *doc, struct fc_resources *r, struct metrics *m,
		    const char *instance_id, struct error *e);

#endif
