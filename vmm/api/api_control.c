#include "api_control.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/legacy/debug_port.h"
#include "../../devices/virtio/balloon.h"
#include "../../devices/virtio/blk.h"
#include "../../devices/virtio/console.h"
#include "../../devices/virtio/net.h"
#include "../../devices/virtio/rng.h"
#include "../../devices/virtio/vsock.h"
#include "../vcpu.h"
#include "../vm.h"
#include "api_router.h"
#include "http_server.h"
#include "logger.h"

#define CONTROL_RING_ENTRIES 64

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *api_state_name(enum api_vm_state state)
{
	switch (state) {
	case API_VM_RUNNING: return "Running";
	case API_VM_PAUSED: return "Paused";
	default: return "Not started";
	}
}

/* ---- metrics ---- */

static uint64_t load(_Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static void sum_exits(struct vm *vm, struct metrics_exits *x)
{
	memset(x, 0, sizeof(*x));
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu_exit_stats *s = &vm->vcpus[i].exits;
		x->io_in += load(&s->io_in);
		x->io_out += load(&s->io_out);
		x->mmio_read += load(&s->mmio_read);
		x->mmio_write += load(&s->mmio_write);
		x->hlt += load(&s->hlt);
		x->intr += load(&s->intr);
		x->system_event += load(&s->system_event);
		x->failures += load(&s->failures);
		x->other += load(&s->other);
	}
}

/* Every device's totals (the getters read atomics: the device threads keep running). Drives are
 * named by the API's drive_id (`disk<i>` for --disk flags), in the VM's disk order; interfaces
 * by their iface_id. */
static void sample_devices(struct api_control *ctl, struct vm *vm, struct metrics_devices *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < vm->cfg.ndisks && i < VIRTIO_BLK_MAX_DISKS; i++) {
		if (!vm->disks[i])
			continue;
		struct metrics_block_device *b = &d->block[d->nblock++];
		if (i < ctl->res.ndrives)
			snprintf(b->id, sizeof(b->id), "%s", ctl->res.drives[i].id);
		else
			snprintf(b->id, sizeof(b->id), "disk%u", i);
		virtio_blk_get_stats(vm->disks[i], &b->c);
	}
	for (unsigned i = 0; i < vm->cfg.nnets && i < NET_MAX_DEVICES; i++) {
		if (!vm->nets[i])
			continue;
		struct metrics_net_device *n = &d->net[d->nnet++];
		snprintf(n->id, sizeof(n->id), "%s", virtio_net_options(vm->nets[i])->id);
		virtio_net_get_counters(vm->nets[i], &n->c);
	}
	if ((d->has_vsock = vm->vsock))
		virtio_vsock_get_counters(vm->vsock, &d->vsock);
	if ((d->has_balloon = vm->balloon))
		virtio_balloon_get_counters(vm->balloon, &d->balloon);
	if ((d->has_entropy = vm->rng))
		virtio_rng_get_counters(vm->rng, &d->entropy);
	if ((d->has_console = vm->vcon)) {
		d->console_bytes_in = virtio_console_bytes_in(vm->vcon);
		d->console_bytes_out = virtio_console_bytes_out(vm->vcon);
	}
}

int api_control_flush_metrics(struct api_control *ctl, struct error *e)
{
	struct metrics_sample s = {
		.uptime_us = (monotonic_ns() - ctl->start_ns) / 1000,
		.guest_ready_us = -1,
		.api_startup_us = ctl->api_startup_us,
		.api_requests = ctl->requests,
		.api_bad_requests = ctl->bad_requests,
		.exits = ctl->metrics.last.exits, /* no VM (yet, or any more): no new exits */
		.devices = ctl->metrics.last.devices,
	};
	pthread_mutex_lock(&ctl->lock);
	s.state = api_state_name(ctl->state);
	if (ctl->vm) {
		sum_exits(ctl->vm, &s.exits);
		sample_devices(ctl, ctl->vm, &s.devices);
		if (ctl->vm->debug_port)
			s.guest_ready_us = debug_port_ready_us(ctl->vm->debug_port);
	}
	pthread_mutex_unlock(&ctl->lock);
	return metrics_flush(&ctl->metrics, &s, e);
}

static void arm_metrics_timer(struct api_control *ctl)
{
	event_loop_timeout(&ctl->loop, &ctl->metrics_op, &ctl->metrics_ts, ctl->opt.metrics_period_ms);
}

static void on_metrics_timer(struct ev_op *op, int res)
{
	struct api_control *ctl = container_of(op, struct api_control, metrics_op);
	(void)res;
	struct error e;
	if (metrics_is_open(&ctl->metrics) && api_control_flush_metrics(ctl, &e) < 0)
		log_warn("metrics", "%s", e.msg);
	arm_metrics_timer(ctl);
}

/* ---- stop and signals ---- */

static void on_stop(struct ev_op *op, int res)
{
	struct api_control *ctl = container_of(op, struct api_control, stop_op);
	(void)res;
	event_loop_stop(&ctl->loop);
}

static void on_signal(struct ev_op *op, int res)
{
	struct api_control *ctl = container_of(op, struct api_control, signal_op);
	(void)res;
	/* The VM's own loop may read the same signal first (then this read finds nothing). */
	if (read(ctl->signal_fd, &ctl->siginfo, sizeof(ctl->siginfo)) == sizeof(ctl->siginfo)) {
		const char *name = strsignal((int)ctl->siginfo.ssi_signo);
		pthread_mutex_lock(&ctl->lock);
		if (ctl->vm) {
			fprintf(stderr, "\nember: %s received, stopping the VM\n", name);
			vm_request_stop(ctl->vm, 0);
		} else {
			fprintf(stderr, "ember: %s received, exiting\n", name);
			ctl->exit_requested = true;
			pthread_cond_broadcast(&ctl->cond);
		}
		pthread_mutex_unlock(&ctl->lock);
	}
	event_loop_poll(&ctl->loop, &ctl->signal_op, ctl->signal_fd, POLLIN);
}

static void *control_thread(void *arg)
{
	struct api_control *ctl = arg;
	pthread_setname_np(pthread_self(), "ember-api");
	struct error e;
	if (event_loop_run(&ctl->loop, &e) < 0) {
		log_error("api", "control loop failed: %s", e.msg);
		pthread_mutex_lock(&ctl->lock);
		ctl->exit_requested = true;
		if (ctl->vm)
			vm_request_stop(ctl->vm, 1);
		pthread_cond_broadcast(&ctl->cond);
		pthread_mutex_unlock(&ctl->lock);
	}
	return NULL;
}

/* ---- start and stop ---- */

static int open_signals(struct api_control *ctl, struct error *e)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return error_set(e, "cannot block signals");
	ctl->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ctl->signal_fd < 0)
		return error_errno(e, "signalfd");
	return 0;
}

static int start_server(struct api_control *ctl, struct error *e)
{
	struct http_server_config cfg = {
		.socket_path = ctl->opt.socket_path,
		.max_body = ctl->opt.max_body,
		.handler = api_router_handle,
		.opaque = ctl,
	};
	ctl->server = http_server_create(&ctl->loop, &cfg, e);
	if (!ctl->server)
		return -1;
	ctl->api_startup_us = (int64_t)((monotonic_ns() - ctl->start_ns) / 1000);
	log_info("api", "API server listening on %s", ctl->opt.socket_path);
	return 0;
}

int api_control_init(struct api_control *ctl, const struct api_options *opt, uint64_t start_ns,
		     struct error *e)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->opt = *opt;
	if (!ctl->opt.instance_id)
		ctl->opt.instance_id = "anonymous-instance";
	if (!ctl->opt.metrics_period_ms)
		ctl->opt.metrics_period_ms = API_DEFAULT_METRICS_PERIOD_MS;
	ctl->start_ns = start_ns;
	ctl->api_startup_us = -1;
	ctl->stop_fd = ctl->signal_fd = -1;
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->cond, NULL);
	fc_resources_init(&ctl->res);
	metrics_init(&ctl->metrics);
	logger_set_instance_id(ctl->opt.instance_id);

	if (open_signals(ctl, e) < 0)
		return -1;
	ctl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl->stop_fd < 0)
		return error_errno(e, "eventfd");
	if (event_loop_init(&ctl->loop, CONTROL_RING_ENTRIES, e) < 0)
		return -1;
	if (ctl->opt.socket_path && start_server(ctl, e) < 0)
		return -1;
	ctl->stop_op.done = on_stop;
	ctl->signal_op.done = on_signal;
	ctl->metrics_op.done = on_metrics_timer;
	event_loop_poll(&ctl->loop, &ctl->stop_op, ctl->stop_fd, POLLIN);
	event_loop_poll(&ctl->loop, &ctl->signal_op, ctl->signal_fd, POLLIN);
	arm_metrics_timer(ctl);
	return 0;
}

int api_control_start_thread(struct api_control *ctl, struct error *e)
{
	int rc = pthread_create(&ctl->thread, NULL, control_thread, ctl);
	if (rc != 0)
		return error_set(e, "cannot start the API thread: %s", strerror(rc));
	ctl->thread_started = true;
	return 0;
}

void api_control_stop(struct api_control *ctl)
{
	if (ctl->thread_started) {
		uint64_t one = 1;
		if (write(ctl->stop_fd, &one, sizeof(one)) < 0) {
			/* a fresh eventfd cannot be full */
		}
		pthread_join(ctl->thread, NULL);
		ctl->thread_started = false;
	}
	struct error e;
	if (metrics_is_open(&ctl->metrics) && api_control_flush_metrics(ctl, &e) < 0)
		log_warn("metrics", "%s", e.msg);
	pthread_mutex_lock(&ctl->lock);
	ctl->vm = NULL;
	pthread_mutex_unlock(&ctl->lock);
	event_loop_destroy(&ctl->loop);
	http_server_destroy(ctl->server); /* after the loop: no submission points into it any more */
	ctl->server = NULL;
	if (ctl->stop_fd >= 0)
		close(ctl->stop_fd);
	if (ctl->signal_fd >= 0)
		close(ctl->signal_fd);
	ctl->stop_fd = ctl->signal_fd = -1;
	metrics_close(&ctl->metrics);
	fc_resources_free(&ctl->res);
}

/* ---- the hand-over with the main thread ---- */

int api_control_wait_boot(struct api_control *ctl, struct vm_config *cfg)
{
	pthread_mutex_lock(&ctl->lock);
	while (!ctl->boot_requested && !ctl->exit_requested)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	int rc = ctl->boot_requested ? 1 : 0;
	if (rc) {
		*cfg = ctl->boot_cfg;
		ctl->boot_requested = false;
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

void api_control_boot_done(struct api_control *ctl, struct vm *vm, const struct error *e)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->boot_rc = vm ? 0 : -1;
	if (!vm && e)
		ctl->boot_error = *e;
	if (vm) {
		ctl->vm = vm;
		ctl->state = API_VM_RUNNING;
		if (ctl->exit_requested) /* a signal came while the VM was being built */
			vm_request_stop(vm, 0);
	}
	ctl->boot_answered = true;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

int api_control_request_boot(struct api_control *ctl, const struct vm_config *cfg, struct error *e)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->boot_cfg = *cfg;
	ctl->boot_requested = true;
	ctl->boot_answered = false;
	pthread_cond_broadcast(&ctl->cond);
	while (!ctl->boot_answered)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	int rc = ctl->boot_rc;
	if (rc < 0)
		*e = ctl->boot_error;
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}
