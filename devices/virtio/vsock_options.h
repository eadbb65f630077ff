/* What a virtio-vsock device is made of, as `ember run --vsock` (or the API's PUT /vsock, or a
 * config file's "vsock") describes it, with Firecracker's host-side convention:
 *
 *   --vsock cid=N,uds=PATH
 *
 * The guest's context id is N (3 .. 2^32-2). A host process connects to the Unix socket PATH
 * and sends "CONNECT <port>\n" to reach a guest listener on <port>; a guest connection to host
 * port P is forwarded to the Unix socket "PATH_P". Plain data (save/restore, API echo). */
#ifndef EMBER_VIRTIO_VSOCK_OPTIONS_H
#define EMBER_VIRTIO_VSOCK_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/error.h"

/* sun_path holds 108 bytes; "PATH_<port>" must still fit, so PATH leaves room for "_4294967295". */
#define VSOCK_UDS_PATH_MAX (108 - 12)
#define VSOCK_ID_MAX       31
#define VSOCK_MIN_GUEST_CID 3u
#define VSOCK_MAX_GUEST_CID 0xfffffffeu

struct vsock_options {
	bool enabled;
	char id[VSOCK_ID_MAX + 1];           /* the API's vsock_id; "vsock0" by default */
	uint32_t guest_cid;
	char uds_path[VSOCK_UDS_PATH_MAX + 1];
};

/* Parses one --vsock value into *o (enabled = true) or returns -1 with a one-line message. */
int vsock_options_parse(const char *text, struct vsock_options *o, struct error *e);
/* Validates fields filled by another front end (API, config file, libvirt). */
int vsock_options_check(const struct vsock_options *o, struct error *e);

#endif
