/* Routes one API request to its handler: Firecracker's paths and methods, the pre-boot /
 * post-boot rules, path ids and JSON bodies checked before a handler runs. Unknown paths and
 * methods, and endpoints Ember does not support, answer 400 with a fault_message naming them. */
#ifndef EMBER_API_ROUTER_H
#define EMBER_API_ROUTER_H

#include <stdbool.h>

#include "http_message.h"

/* The http_server handler; opaque is the struct api_control. */
void api_router_handle(void *opaque, const struct http_request *req, struct http_response *resp);

/* Firecracker's resource ids: 1-64 characters of A-Z, a-z, 0-9 and '_'. */
bool api_id_is_valid(const char *id);

#endif
