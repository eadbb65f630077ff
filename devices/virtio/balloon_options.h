/* What a virtio-balloon device is made of, as `ember run --balloon` (or the API's /balloon, or
 * a config file's "balloon") describes it:
 *
 *   --balloon size=MiB[,deflate_on_oom=on][,free_page_reporting=on][,stats=SECONDS]
 *
 * size is the initial target (MiB the guest should give back; 0 = none yet), stats the
 * statistics polling interval in seconds (0 = statistics off), as Firecracker's
 * amount_mib / deflate_on_oom / stats_polling_interval_s. Plain data. */
#ifndef EMBER_VIRTIO_BALLOON_OPTIONS_H
#define EMBER_VIRTIO_BALLOON_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"

struct balloon_options {
	bool enabled;
	uint32_t target_mib;
	bool deflate_on_oom;        /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool free_page_reporting;   /* VIRTIO_BALLOON_F_REPORTING */
	uint32_t stats_interval_s;  /* VIRTIO_BALLOON_F_STATS_VQ when > 0 */
};

/* Parses one --balloon value into *o (enabled = true) or returns -1 with a one-line message. */
int balloon_options_parse(const char *text, struct balloon_options *o, struct error *e);

#endif
