/* The control thread of an API-driven Ember (`ember --api-sock`, `--config-file`, `ember run
 * --api-sock`) and its hand-over with the main thread.
 *
 * The control thread runs one io_uring loop: the HTTP server (when there is an API socket), the
 * periodic metrics timer, a stop eventfd and SIGINT/SIGTERM/SIGHUP. Before InstanceStart it owns
 * the configuration (struct fc_resources); InstanceStart hands a struct vm_config to the main
 * thread, which creates the VM, publishes it here and runs it. While it runs, handlers use it
 * (pause, Ctrl-Alt-Del, metrics) under `lock`; when it stops, the main thread takes it back,
 * stops this thread and exits with the VM's status. */
#ifndef EMBER_API_CONTROL_H
#define EMBER_API_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "../error.h"
#include "../event_loop.h"
#include "../vm_config.h"
#include "fc_resources.h"
#include "metrics.h"

struct vm;
struct http_server;

enum api_vm_state { API_VM_NOT_STARTED, API_VM_RUNNING, API_VM_PAUSED };

#define API_DEFAULT_METRICS_PERIOD_MS 60000 /* Firecracker flushes metrics once a minute */

struct api_options {
	const char *socket_path;     /* NULL: no API socket */
	const char *instance_id;     /* GET / "id"; default "anonymous-instance" */
	unsigned metrics_period_ms;  /* 0: API_DEFAULT_METRICS_PERIOD_MS */
	size_t max_body;             /* 0: HTTP_DEFAULT_MAX_BODY */
};

struct api_control {
	struct api_options opt;
	uint64_t start_ns;           /* CLOCK_MONOTONIC at process start */
	int64_t api_startup_us;      /* when the socket started listening; -1 without one */

	pthread_mutex_t lock;        /* guards the fields up to `res` */
	pthread_cond_t cond;
	enum api_vm_state state;
	struct vm *vm;               /* the running VM, or NULL */
	bool boot_requested;         /* control -> main: boot_cfg is ready */
	bool boot_answered;          /* main -> control: boot_rc and boot_error are set */
	int boot_rc;
	struct error boot_error;
	struct vm_config boot_cfg;
	bool exit_requested;         /* a signal before boot: the main thread exits */

	/* Only the control thread touches these (the main thread after joining it). */
	struct fc_resources res;
	struct metrics metrics;
	uint64_t requests, bad_requests;
	struct event_loop loop;
	struct http_server *server;
	int stop_fd, signal_fd;
	struct ev_op stop_op, signal_op, metrics_op;
	struct signalfd_siginfo siginfo;
	struct __kernel_timespec metrics_ts;
	pthread_t thread;
	bool thread_started;
};

/* Blocks the control signals in the calling (main) thread and binds the socket. The main thread
 * may then fill `res` and `metrics` (a config file) before starting the control thread. */
int api_control_init(struct api_control *ctl, const struct api_options *opt, uint64_t start_ns,
		     struct error *e);
int api_control_start_thread(struct api_control *ctl, struct error *e);
/* Stops and joins the control thread, writes a last metrics line, closes and removes the socket.
 * Call before the VM is destroyed; also cleans up after a failed api_control_init. */
void api_control_stop(struct api_control *ctl);

/* Main thread: waits for InstanceStart (1, *cfg set), or for a request to exit (0). */
int api_control_wait_boot(struct api_control *ctl, struct vm_config *cfg);
/* Main thread: reports the result of creating the VM (vm NULL and e set when it failed). */
void api_control_boot_done(struct api_control *ctl, struct vm *vm, const struct error *e);

/* Control thread (InstanceStart): hands cfg to the main thread and waits for the result. */
int api_control_request_boot(struct api_control *ctl, const struct vm_config *cfg,
			     struct error *e);
/* A metrics line now (FlushMetrics, the timer, exit). Takes `lock`. */
int api_control_flush_metrics(struct api_control *ctl, struct error *e);
const char *api_state_name(enum api_vm_state state);

#endif
