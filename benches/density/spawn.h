/* Starting one VM process for the density benchmark. */
#ifndef EMBER_DENSITY_SPAWN_H
#define EMBER_DENSITY_SPAWN_H

#include <sys/types.h>

#include "density.h"

/* Starts argv[0] (an absolute path) with stdin on /dev/null (null_fd) and stdout+stderr on a
 * new pipe whose read end (close-on-exec) goes to *out_fd. The child gets its own
 * process group, so a Ctrl-C at the terminal reaches only the launcher, which then tears the
 * VMs down in order, and PR_SET_PDEATHSIG(SIGKILL), so a launcher that dies outright takes its
 * VMs with it. Must be called from the thread that lives as long as the VMs (the main thread).
 * Stamps *spawn_ns just before the clone and returns the pid once the exec has happened. */
pid_t density_spawn(char *const argv[], int null_fd, int *out_fd, uint64_t *spawn_ns,
		    struct error *e);

/* Signals the launcher itself handles; the child resets them before its exec. */
void density_spawn_set_handled_signals(const int *sigs, int n);

#endif
