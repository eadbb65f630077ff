/* One VM from its configuration to its end, as `ember run` and the libvirt front ends run it
 * (the API runs its VM itself: InstanceStart hands the VM to its control thread). */
#ifndef EMBER_VM_RUNNER_H
#define EMBER_VM_RUNNER_H

#include <stdint.h>

#include "vm_config.h"

/* Exit statuses of ember's front ends (besides the VM's own). */
#define EXIT_RUNTIME_ERROR 1
#define EXIT_USAGE_ERROR   2

/* Creates the VM, runs it until it stops and destroys it. Returns the process exit status: the
 * VM's, or EXIT_RUNTIME_ERROR after printing "ember: <why>" when it could not be created
 * or failed. Once per process (the VM is large and static). */
int vm_run_config(const struct vm_config *cfg, uint64_t start_ns);

#endif
