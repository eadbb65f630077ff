#include "api_router.h"

#include <string.h>

#include "api_handlers.h"
#include "fc_json.h"
#include "logger.h"

#define API_MAX_SEGMENTS 4

enum api_phase { PHASE_ANY, PHASE_PRE_BOOT, PHASE_POST_BOOT };

struct api_route {
	const char *path;       /* "{id}" stands for one id segment */
	enum http_verb verb;
	enum api_phase phase;
	bool needs_body;
	api_handler_fn handler; /* NULL: Ember does not support it; `missing` names what */
	const char *missing;
};

#define GET HTTP_VERB_GET
#define PUT HTTP_VERB_PUT
#define PATCH HTTP_VERB_PATCH
#define PRE PHASE_PRE_BOOT
#define POST PHASE_POST_BOOT
#define ANY PHASE_ANY

static const char PMEM[] = "pmem devices";
static const char HINTING[] = "balloon free page hinting";
static const char MMDS[] = "MMDS (the microVM metadata service)";
static const char SNAPSHOTS[] = "snapshots";
static const char HOTPLUG[] = "memory hot-plug";

static const struct api_route routes[] = {
	{ "/", GET, ANY, false, api_get_instance_info, NULL },
	{ "/version", GET, ANY, false, api_get_version, NULL },
	{ "/machine-config", GET, ANY, false, api_get_machine_config, NULL },
	{ "/machine-config", PUT, PRE, true, api_put_machine_config, NULL },
	{ "/machine-config", PATCH, PRE, true, api_patch_machine_config, NULL },
	{ "/boot-source", PUT, PRE, true, api_put_boot_source, NULL },
	{ "/vm/config", GET, ANY, false, api_get_vm_config, NULL },
	{ "/vm", PATCH, POST, true, api_patch_vm, NULL },
	{ "/actions", PUT, ANY, true, api_put_actions, NULL },
	{ "/logger", PUT, PRE, true, api_put_logger, NULL },
	{ "/metrics", PUT, PRE, true, api_put_metrics, NULL },
	{ "/drives/{id}", PUT, PRE, true, api_put_drive, NULL },
	{ "/drives/{id}", PATCH, POST, true, api_patch_drive, NULL },
	{ "/network-interfaces/{id}", PUT, PRE, true, api_put_network_interface, NULL },
	{ "/network-interfaces/{id}", PATCH, POST, true, api_patch_network_interface, NULL },
	{ "/pmem/{id}", PUT, PRE, true, NULL, PMEM },
	{ "/pmem/{id}", PATCH, POST, true, NULL, PMEM },
	{ "/vsock", PUT, PRE, true, api_put_vsock, NULL },
	{ "/entropy", PUT, PRE, true, api_put_entropy, NULL },
	{ "/cpu-config", PUT, PRE, true, NULL, "custom CPU templates (cpu-config)" },
	/* Firecracker answers PATCH /balloon and the statistics only after the boot. */
	{ "/balloon", GET, ANY, false, api_get_balloon, NULL },
	{ "/balloon", PUT, PRE, true, api_put_balloon, NULL },
	{ "/balloon", PATCH, POST, true, api_patch_balloon, NULL },
	{ "/balloon/statistics", GET, POST, false, api_get_balloon_statistics, NULL },
	{ "/balloon/statistics", PATCH, POST, true, api_patch_balloon_statistics, NULL },
	{ "/balloon/hinting/start", PATCH, POST, false, NULL, HINTING },
	{ "/balloon/hinting/status", GET, ANY, false, NULL, HINTING },
	{ "/balloon/hinting/stop", PATCH, POST, false, NULL, HINTING },
	{ "/mmds", GET, ANY, false, NULL, MMDS },
	{ "/mmds", PUT, ANY, false, NULL, MMDS },
	{ "/mmds", PATCH, ANY, false, NULL, MMDS },
	{ "/mmds/config", PUT, PRE, true, NULL, MMDS },
	{ "/snapshot/create", PUT, POST, true, NULL, SNAPSHOTS },
	{ "/snapshot/load", PUT, PRE, true, NULL, SNAPSHOTS },
	{ "/serial", PUT, PRE, true, NULL, "serial output configuration (/serial)" },
	{ "/hotplug/memory", GET, ANY, false, NULL, HOTPLUG },
	{ "/hotplug/memory", PUT, PRE, true, NULL, HOTPLUG },
	{ "/hotplug/memory", PATCH, POST, true, NULL, HOTPLUG },
};

bool api_id_is_valid(const char *id)
{
	return fc_id_is_valid(id);
}

struct split_path {
	char buf[HTTP_MAX_URL + 1];
	char *seg[API_MAX_SEGMENTS];
	unsigned n;
};

/* Splits "/a/b/c" into segments in place; false for empty segments or too many. */
static bool split(const char *path, struct split_path *sp)
{
	sp->n = 0;
	if (path[0] != '/')
		return false;
	strcpy(sp->buf, path);
	if (strcmp(sp->buf, "/") == 0)
		return true;
	char *p = sp->buf + 1;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p == '\0' || sp->n == API_MAX_SEGMENTS)
			return false;
		sp->seg[sp->n++] = p;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* Whether the route's path matches; *id is set to the segment that "{id}" took. */
static bool path_matches(const char *pattern, const struct split_path *sp, const char **id)
{
	struct split_path pat;
	split(pattern, &pat);
	if (pat.n != sp->n)
		return false;
	for (unsigned i = 0; i < pat.n; i++) {
		if (strcmp(pat.seg[i], "{id}") == 0)
			*id = sp->seg[i];
		else if (strcmp(pat.seg[i], sp->seg[i]) != 0)
			return false;
	}
	return true;
}

static const struct api_route *find_route(const struct http_request *req,
					  const struct split_path *sp, const char **id)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *candidate = NULL;
		if (routes[i].verb == req->verb && path_matches(routes[i].path, sp, &candidate)) {
			*id = candidate;
			return &routes[i];
		}
	}
	return NULL;
}

static enum api_vm_state current_state(struct api_control *ctl)
{
	pthread_mutex_lock(&ctl->lock);
	enum api_vm_state s = ctl->state;
	pthread_mutex_unlock(&ctl->lock);
	return s;
}

static bool phase_allows(struct api_control *ctl, enum api_phase phase, struct http_response *resp)
{
	bool started = current_state(ctl) != API_VM_NOT_STARTED;
	if (phase == PHASE_PRE_BOOT && started) {
		http_response_fault(resp, 400, API_MSG_AFTER_BOOT);
		return false;
	}
	if (phase == PHASE_POST_BOOT && !started) {
		http_response_fault(resp, 400, API_MSG_BEFORE_BOOT);
		return false;
	}
	return true;
}

static void route(struct api_control *ctl, const struct http_request *req,
		  struct http_response *resp)
{
	if (strpbrk(req->url, "?#")) {
		http_response_fault(resp, 400, "query strings are not supported: %.200s", req->url);
		return;
	}
	struct split_path sp;
	const char *id = NULL;
	const struct api_route *r = split(req->url, &sp) ? find_route(req, &sp, &id) : NULL;
	if (!r) {
		http_response_fault(resp, 400, "Invalid request method and/or path: %s %.200s.",
				    req->method ? req->method : "?", req->url);
		return;
	}
	if (id && !api_id_is_valid(id)) {
		http_response_fault(resp, 400, "invalid id '%.80s': ids are 1-%d characters of A-Z, "
				    "a-z, 0-9 and _", id, FC_ID_MAX);
		return;
	}
	if (!r->handler) {
		http_response_fault(resp, 400, "Ember does not support %s yet (%s %.200s)", r->missing,
				    req->method, req->url);
		return;
	}
	if (!phase_allows(ctl, r->phase, resp))
		return;
	struct api_call call = { .ctl = ctl, .req = req, .id = id };
	if (r->needs_body) {
		struct error e;
		call.body = fc_json_parse(req->body, req->body_len, &e);
		if (!call.body) {
			http_response_fault(resp, 400, "%s", e.msg);
			return;
		}
	}
	r->handler(&call, resp);
	json_object_put(call.body);
}

void api_router_handle(void *opaque, const struct http_request *req, struct http_response *resp)
{
	struct api_control *ctl = opaque;
	route(ctl, req, resp);
	ctl->requests++;
	if (resp->status >= 400) {
		ctl->bad_requests++;
		log_warn("api", "%s %.200s: %d %.*s", req->method, req->url, resp->status,
			 (int)resp->body_len, resp->body ? resp->body : "");
	} else {
		log_debug("api", "%s %.200s: %d", req->method, req->url, resp->status);
	}
}
