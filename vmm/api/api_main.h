/* Entry points of an API-driven Ember, called from vmm/main.c:
 *
 *   ember --api-sock PATH [--config-file FILE] [--id ID] ...   Firecracker-style: configure through
 *                                                             the API (or the file) and boot
 *   ember --config-file FILE --no-api                         boot the file's VM, no API
 *   ember run --kernel ... --api-sock PATH                    boot the flags' VM, serve the API
 *   ember run --config-file FILE [--api-sock PATH]
 *
 * Each returns the process exit status: the VM's when it ran, 1 on a runtime error, 2 on a
 * usage error. */
#ifndef EMBER_API_MAIN_H
#define EMBER_API_MAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "../vm_config.h"

/* Whether argv[1] is one of the top-level options that start api_main. */
bool api_is_toplevel_option(const char *arg);
int api_main(int argc, char **argv, uint64_t start_ns);
/* `ember run` with --api-sock or --config-file (cfg from cli_parse_run). */
int api_run_from_cli(const struct vm_config *cfg, uint64_t start_ns);

#endif
