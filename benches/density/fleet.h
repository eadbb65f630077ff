/* A fleet: the VMs of one VMM in one phase of the density benchmark. The main thread launches
 * them; a waiter thread owns the completion side of an io_uring with one read posted on every
 * VM's output pipe, and stamps the moment each VM's ready marker arrives. The launcher is not a
 * device thread, but it follows the project's rule anyway: io_uring, no epoll/poll. */
#ifndef EMBER_DENSITY_FLEET_H
#define EMBER_DENSITY_FLEET_H

#include <liburing.h>
#include <pthread.h>

#include "density.h"

struct density_fleet;
/* Called from the main thread about every 100 ms while it waits. */
typedef void (*density_progress_fn)(const struct density_fleet *f, void *opaque);

struct density_fleet {
	const struct density_launch *launch;
	struct density_vm *vms;
	unsigned capacity, launched;
	int null_fd;

	struct io_uring ring;
	pthread_mutex_t sq_lock;      /* both threads submit reads */
	pthread_t waiter;
	bool ring_ready, waiter_running;

	pthread_mutex_t lock;         /* guards the counters, flags and VM states below */
	pthread_cond_t changed;
	unsigned booting, ready, failed, died_after_ready;
	char failure[320];            /* the first failure, with the VM's last output */

	uint64_t launch_ns;           /* wall time of the launch phases, summed */
	uint64_t first_spawn_ns;
	char stop_reason[384];        /* why launching stopped before the target, or "" */

	uint64_t boot_timeout_ns;     /* a VM not ready by then has failed; 0: no limit */
	unsigned max_failures;        /* failures tolerated before launching stops (capacity must
					 leave room for them) */
	density_progress_fn progress;
	void *progress_opaque;
	uint64_t last_progress_ns;
};

int density_fleet_init(struct density_fleet *f, const struct density_launch *launch,
		       unsigned capacity, struct error *e);

/* Launches VMs until `target` have been launched in all (not counting failed ones), at most
 * `concurrency` booting at once, then waits until none is booting. Stops early, setting
 * f->stop_reason, when more than f->max_failures VMs have failed (exited, or not ready within
 * f->boot_timeout_ns), on an interrupt, when a process cannot be started, or when MemAvailable
 * falls below min_available_kib. Returns the number of VMs launched by this call. */
unsigned density_fleet_launch(struct density_fleet *f, unsigned target, unsigned concurrency,
			      uint64_t min_available_kib);

/* SIGTERM to every VM not yet reaped, then reaps them all; VMs still alive after `grace`
 * seconds get SIGKILL (counted in *killed). Returns the seconds from the first signal to the
 * last VM reaped. */
double density_fleet_teardown(struct density_fleet *f, double grace, unsigned *killed);

/* Stops the waiter and closes everything; the VM records stay readable until free. */
void density_fleet_stop(struct density_fleet *f);
void density_fleet_free(struct density_fleet *f);

/* What a VM said about its failure: its first diagnostic line ("ember: ...", "qemu-system...:")
 * or else the tail of its output, as one printable line. */
void density_vm_diagnostic(const struct density_vm *vm, char *buf, size_t size);

/* Kills every VM of every live fleet with SIGKILL: the last resort of a launcher that is about
 * to exit abnormally. Async-signal-safe. */
void density_fleet_kill_all(void);

#endif
