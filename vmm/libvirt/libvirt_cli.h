/* The libvirt front ends of ember (docs/libvirt.md), called from vmm/main.c:
 *
 *   ember run --libvirt-xml FILE [--libvirt-lenient] [--vsock-uds PATH] [tuning] [--api-sock P]
 *   ember libvirt run --connect URI --domain NAME [the same options]
 *   ember libvirt run --connect URI --define FILE [--domain NAME] [the same options]
 *
 * Each returns the process exit status: the VM's when it ran, 1 when the domain cannot run
 * (what Ember cannot honour is listed in one message) or libvirt fails, 2 on a usage error. */
#ifndef EMBER_LIBVIRT_CLI_H
#define EMBER_LIBVIRT_CLI_H

#include <stdint.h>

#include "../vm_config.h"

/* `ember run` with --libvirt-xml (cfg from cli_parse_run: the tuning flags and --api-sock). */
int libvirt_run_from_cli(const struct vm_config *cfg, uint64_t start_ns);

/* `ember libvirt ...`; argv[0] is "libvirt". */
int libvirt_main(int argc, char **argv, uint64_t start_ns);

#endif
