/* Handlers of the configuration endpoints: the router only lets the PUT/PATCH ones through
 * before InstanceStart, so they own ctl->res without taking the lock. */
#include "api_handlers.h"
#include "fc_logging.h"

static void answer(struct http_response *resp, int rc, const struct error *e)
{
	if (rc < 0)
		http_response_fault(resp, 400, "%s", e->msg);
	else
		http_response_no_content(resp);
}

void api_get_machine_config(const struct api_call *call, struct http_response *resp)
{
	http_response_json(resp, 200, fc_machine_config_json(&call->ctl->res));
}

void api_put_machine_config(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_machine_config(&call->ctl->res, call->body, &e), &e);
}

void api_patch_machine_config(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_patch_machine_config(&call->ctl->res, call->body, &e), &e);
}

void api_put_boot_source(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_boot_source(&call->ctl->res, call->body, &e), &e);
}

void api_get_vm_config(const struct api_call *call, struct http_response *resp)
{
	http_response_json(resp, 200, fc_vm_config_json(&call->ctl->res));
}

void api_put_logger(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_apply_logger(&call->ctl->res, call->body, &e), &e);
}

void api_put_metrics(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	struct error e;
	answer(resp, fc_apply_metrics(&ctl->res, &ctl->metrics, ctl->opt.instance_id, call->body, &e),
	       &e);
}
