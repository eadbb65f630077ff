/* The API's handlers. The router has checked the method, the path, the life-cycle phase and that
 * a body which must be there parses as JSON; a handler checks the body's fields and acts. */
#ifndef EMBER_API_HANDLERS_H
#define EMBER_API_HANDLERS_H

#include <json-c/json.h>

#include "api_control.h"
#include "http_message.h"

struct api_call {
	struct api_control *ctl;
	const struct http_request *req;
	const char *id;           /* the {id} path segment, or NULL */
	struct json_object *body; /* the parsed body, or NULL */
};

typedef void (*api_handler_fn)(const struct api_call *call, struct http_response *resp);

/* api_config_handlers.c: what is configured before InstanceStart. */
void api_get_machine_config(const struct api_call *call, struct http_response *resp);
void api_put_machine_config(const struct api_call *call, struct http_response *resp);
void api_patch_machine_config(const struct api_call *call, struct http_response *resp);
void api_put_boot_source(const struct api_call *call, struct http_response *resp);
void api_get_vm_config(const struct api_call *call, struct http_response *resp);
void api_put_logger(const struct api_call *call, struct http_response *resp);
void api_put_metrics(const struct api_call *call, struct http_response *resp);

/* api_device_handlers.c: drives, network interfaces, vsock, entropy, balloon. */
void api_put_drive(const struct api_call *call, struct http_response *resp);
void api_patch_drive(const struct api_call *call, struct http_response *resp);
void api_put_network_interface(const struct api_call *call, struct http_response *resp);
void api_patch_network_interface(const struct api_call *call, struct http_response *resp);
void api_put_vsock(const struct api_call *call, struct http_response *resp);
void api_put_entropy(const struct api_call *call, struct http_response *resp);
void api_put_balloon(const struct api_call *call, struct http_response *resp);
void api_patch_balloon(const struct api_call *call, struct http_response *resp);
void api_get_balloon(const struct api_call *call, struct http_response *resp);
void api_patch_balloon_statistics(const struct api_call *call, struct http_response *resp);
void api_get_balloon_statistics(const struct api_call *call, struct http_response *resp);

/* api_vm_handlers.c: the instance and its life cycle. */
void api_get_instance_info(const struct api_call *call, struct http_response *resp);
void api_get_version(const struct api_call *call, struct http_response *resp);
void api_put_actions(const struct api_call *call, struct http_response *resp);
void api_patch_vm(const struct api_call *call, struct http_response *resp);

/* Firecracker's messages for calls in the wrong phase. */
#define API_MSG_AFTER_BOOT "The requested operation is not supported after starting the microVM."
#define API_MSG_BEFORE_BOOT "The requested operation is not supported before starting the microVM."

#endif
