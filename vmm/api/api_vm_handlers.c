/* Handlers of the instance: what it is (GET /, /version), its actions (InstanceStart,
 * SendCtrlAltDel, FlushMetrics) and its state (PATCH /vm: Paused / Resumed). */
#include <string.h>

#include "../../devices/legacy/i8042.h"
#include "../vm.h"
#include "api_handlers.h"
#include "fc_json.h"
#include "logger.h"

void api_get_instance_info(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	pthread_mutex_lock(&ctl->lock);
	enum api_vm_state state = ctl->state;
	pthread_mutex_unlock(&ctl->lock);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(ctl->opt.instance_id));
	json_object_object_add(o, "state", json_object_new_string(api_state_name(state)));
	json_object_object_add(o, "vmm_version", json_object_new_string(EMBER_VERSION));
	json_object_object_add(o, "app_name", json_object_new_string("Ember"));
	http_response_json(resp, 200, o);
}

void api_get_version(const struct api_call *call, struct http_response *resp)
{
	(void)call;
	struct json_object *o = json_object_new_object();
	/* Firecracker's field name; the value is Ember's version. */
	json_object_object_add(o, "firecracker_version", json_object_new_string(EMBER_VERSION));
	http_response_json(resp, 200, o);
}

static void instance_start(struct api_control *ctl, struct http_response *resp)
{
	pthread_mutex_lock(&ctl->lock);
	bool started = ctl->state != API_VM_NOT_STARTED;
	pthread_mutex_unlock(&ctl->lock);
	if (started) {
		http_response_fault(resp, 400, API_MSG_AFTER_BOOT);
		return;
	}
	struct vm_config cfg;
	struct error e;
	if (fc_resources_vm_config(&ctl->res, &cfg, &e) < 0 ||
	    api_control_request_boot(ctl, &cfg, &e) < 0) {
		http_response_fault(resp, 400, "InstanceStart: %s", e.msg);
		return;
	}
	log_info("api", "microVM started (%u vCPUs, %llu MiB)", cfg.ncpus,
		 (unsigned long long)(cfg.mem_size >> 20));
	http_response_no_content(resp);
}

static void send_ctrl_alt_del(struct api_control *ctl, struct http_response *resp)
{
	struct error e;
	int rc = 0;
	pthread_mutex_lock(&ctl->lock);
	if (!ctl->vm)
		rc = error_set(&e, API_MSG_BEFORE_BOOT);
	else
		rc = i8042_send_ctrl_alt_del(ctl->vm->i8042, &e);
	pthread_mutex_unlock(&ctl->lock);
	if (rc < 0)
		http_response_fault(resp, 400, "%s", e.msg);
	else
		http_response_no_content(resp);
}

static void flush_metrics(struct api_control *ctl, struct http_response *resp)
{
	struct error e;
	if (api_control_flush_metrics(ctl, &e) < 0)
		http_response_fault(resp, 400, "FlushMetrics: %s", e.msg);
	else
		http_response_no_content(resp);
}

void api_put_actions(const struct api_call *call, struct http_response *resp)
{
	static const char *const fields[] = { "action_type", NULL };
	const char *type = NULL;
	struct error e;
	if (fc_json_check_object(call->body, "actions", fields, &e) < 0 ||
	    fc_json_required(fc_json_get_string(call->body, "actions", "action_type", &type, &e),
			     "actions", "action_type", &e) < 0) {
		http_response_fault(resp, 400, "%s", e.msg);
		return;
	}
	if (strcmp(type, "InstanceStart") == 0)
		instance_start(call->ctl, resp);
	else if (strcmp(type, "SendCtrlAltDel") == 0)
		send_ctrl_alt_del(call->ctl, resp);
	else if (strcmp(type, "FlushMetrics") == 0)
		flush_metrics(call->ctl, resp);
	else
		http_response_fault(resp, 400, "actions: unknown action_type '%.64s' (InstanceStart, "
				    "SendCtrlAltDel, FlushMetrics)", type);
}

void api_patch_vm(const struct api_call *call, struct http_response *resp)
{
	static const char *const fields[] = { "state", NULL };
	struct api_control *ctl = call->ctl;
	const char *state = NULL;
	struct error e;
	if (fc_json_check_object(call->body, "vm", fields, &e) < 0 ||
	    fc_json_required(fc_json_get_string(call->body, "vm", "state", &state, &e), "vm", "state",
			     &e) < 0) {
		http_response_fault(resp, 400, "%s", e.msg);
		return;
	}
	bool pause = strcmp(state, "Paused") == 0;
	if (!pause && strcmp(state, "Resumed") != 0) {
		http_response_fault(resp, 400, "vm: state '%.32s' is not Paused or Resumed", state);
		return;
	}
	int rc = 0;
	pthread_mutex_lock(&ctl->lock);
	if (!ctl->vm) {
		rc = error_set(&e, API_MSG_BEFORE_BOOT);
	} else if (pause) {
		if ((rc = vm_pause(ctl->vm, &e)) == 0)
			ctl->state = API_VM_PAUSED;
	} else {
		if ((rc = vm_resume(ctl->vm, &e)) == 0)
			ctl->state = API_VM_RUNNING;
	}
	pthread_mutex_unlock(&ctl->lock);
	if (rc < 0) {
		http_response_fault(resp, 400, "%s", e.msg);
		return;
	}
	log_info("api", "microVM %s", pause ? "paused" : "resumed");
	http_response_no_content(resp);
}
