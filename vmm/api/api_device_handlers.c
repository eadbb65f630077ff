/* Handlers of the device endpoints: drives, network interfaces, vsock, entropy and balloon. The
 * PUTs run before InstanceStart and only fill ctl->res; the PATCHes and GETs after it reach the
 * running devices (under ctl->lock, which keeps ctl->vm alive) and then record the change in
 * ctl->res for GET /vm/config. */
#include <string.h>

#include "../../devices/virtio/balloon.h"
#include "../../devices/virtio/net.h"
#include "../vm.h"
#include "api_handlers.h"
#include "fc_devices.h"
#include "logger.h"

static void answer(struct http_response *resp, int rc, const struct error *e)
{
	if (rc < 0)
		http_response_fault(resp, 400, "%s", e->msg);
	else
		http_response_no_content(resp);
}

/* ---- before the boot ---- */

void api_put_drive(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_drive(&call->ctl->res, call->id, call->body, &e), &e);
}

void api_put_network_interface(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_network_interface(&call->ctl->res, call->id, call->body, &e), &e);
}

void api_put_vsock(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_vsock(&call->ctl->res, call->body, &e), &e);
}

void api_put_entropy(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_entropy(&call->ctl->res, call->body, &e), &e);
}

void api_put_balloon(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_put_balloon(&call->ctl->res, call->body, &e), &e);
}

/* ---- after the boot ---- */

void api_patch_drive(const struct api_call *call, struct http_response *resp)
{
	struct error e;
	answer(resp, fc_patch_drive(&call->ctl->res, call->id, call->body, &e), &e);
}

/* The running device of an interface, found by its id (the VM was built from ctl->res). */
static struct virtio_net *running_net(struct vm *vm, const struct net_options *o)
{
	for (unsigned i = 0; i < vm->cfg.nnets; i++)
		if (vm->nets[i] && strcmp(virtio_net_options(vm->nets[i])->id, o->id) == 0)
			return vm->nets[i];
	return NULL;
}

void api_patch_network_interface(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	struct fc_net_update u;
	struct error e;
	if (fc_parse_network_interface_update(&ctl->res, call->id, call->body, &u, &e) < 0) {
		answer(resp, -1, &e);
		return;
	}
	int rc;
	pthread_mutex_lock(&ctl->lock);
	struct virtio_net *net = ctl->vm ? running_net(ctl->vm, &ctl->res.nets[u.index]) : NULL;
	if (!net)
		rc = error_set(&e, "network-interfaces: '%s' has no running device", call->id);
	else
		rc = virtio_net_update_rate_limiters(net, &u.rx, &u.tx, &e);
	pthread_mutex_unlock(&ctl->lock);
	if (rc == 0) {
		fc_apply_network_interface_update(&ctl->res, &u);
		log_info("api", "network interface %s: rate limiters updated", call->id);
	}
	answer(resp, rc, &e);
}

/* The running balloon device (call with ctl->lock held), or NULL with e set. */
static struct virtio_balloon *running_balloon(struct api_control *ctl, struct error *e)
{
	if (!ctl->res.balloon.enabled) {
		error_set(e, "balloon: no balloon device is configured");
		return NULL;
	}
	if (!ctl->vm || !ctl->vm->balloon) {
		error_set(e, "balloon: the balloon device is not running");
		return NULL;
	}
	return ctl->vm->balloon;
}

void api_patch_balloon(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	uint32_t mib = 0;
	struct error e;
	int rc = -1;
	if (!ctl->res.balloon.enabled) {
		error_set(&e, "balloon: no balloon device is configured");
	} else if (fc_parse_balloon_update(&ctl->res, call->body, &mib, &e) == 0) {
		pthread_mutex_lock(&ctl->lock);
		struct virtio_balloon *b = running_balloon(ctl, &e);
		rc = b ? virtio_balloon_set_target(b, mib, &e) : -1;
		pthread_mutex_unlock(&ctl->lock);
	}
	if (rc == 0) {
		ctl->res.balloon.target_mib = mib;
		log_info("api", "balloon target set to %u MiB", mib);
	}
	answer(resp, rc, &e);
}

void api_patch_balloon_statistics(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	uint32_t seconds = 0;
	struct error e;
	int rc = -1;
	if (!ctl->res.balloon.enabled) {
		error_set(&e, "balloon: no balloon device is configured");
	} else if (fc_parse_balloon_stats_update(&ctl->res, call->body, &seconds, &e) == 0) {
		pthread_mutex_lock(&ctl->lock);
		struct virtio_balloon *b = running_balloon(ctl, &e);
		rc = b ? virtio_balloon_set_stats_interval(b, seconds, &e) : -1;
		pthread_mutex_unlock(&ctl->lock);
	}
	if (rc == 0)
		ctl->res.balloon.stats_interval_s = seconds;
	answer(resp, rc, &e);
}

/* Before the boot: the configuration. After: the device's view of it (the current target). */
void api_get_balloon(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	struct balloon_options b = ctl->res.balloon;
	struct error e;
	if (!b.enabled) {
		http_response_fault(resp, 400, "balloon: no balloon device is configured");
		return;
	}
	pthread_mutex_lock(&ctl->lock);
	bool started = ctl->state != API_VM_NOT_STARTED;
	struct virtio_balloon *dev = started ? running_balloon(ctl, &e) : NULL;
	if (dev) {
		struct balloon_info info;
		virtio_balloon_info(dev, &info);
		b.target_mib = info.target_mib;
		b.deflate_on_oom = info.deflate_on_oom;
		b.free_page_reporting = info.free_page_reporting;
		b.stats_interval_s = info.stats_interval_s;
	}
	pthread_mutex_unlock(&ctl->lock);
	if (started && !dev)
		http_response_fault(resp, 400, "%s", e.msg);
	else
		http_response_json(resp, 200, fc_balloon_json(&b));
}

void api_get_balloon_statistics(const struct api_call *call, struct http_response *resp)
{
	struct api_control *ctl = call->ctl;
	struct balloon_info info;
	struct balloon_stats stats;
	struct error e;
	int rc = -1;
	if (ctl->res.balloon.enabled && !ctl->res.balloon.stats_interval_s) {
		http_response_fault(resp, 400, "balloon: statistics were not enabled when the balloon "
				    "was configured (stats_polling_interval_s 0)");
		return;
	}
	pthread_mutex_lock(&ctl->lock);
	struct virtio_balloon *b = running_balloon(ctl, &e);
	if (b) {
		virtio_balloon_info(b, &info);
		rc = virtio_balloon_stats(b, &stats, &e);
	}
	pthread_mutex_unlock(&ctl->lock);
	if (rc < 0)
		http_response_fault(resp, 400, "%s", e.msg);
	else
		http_response_json(resp, 200, fc_balloon_stats_json(&info, &stats));
}
