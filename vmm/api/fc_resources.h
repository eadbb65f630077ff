/* The VM being configured through Firecracker's vocabulary (boot-source, machine-config, logger,
 * metrics), filled from API bodies or a --config-file, and turned into a struct vm_config at
 * InstanceStart. Devices Ember does not have yet (drives, network interfaces, vsock, balloon,
 * entropy, ...) are refused, never stored: see docs/api.md. */
#ifndef EMBER_FC_RESOURCES_H
#define EMBER_FC_RESOURCES_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "../error.h"
#include "../vm_config.h"
#include "logger.h"

/* Firecracker's defaults before any PUT /machine-config. */
#define FC_DEFAULT_VCPUS   1
#define FC_DEFAULT_MEM_MIB 128
#define FC_MAX_MEM_MIB     (VM_CONFIG_MAX_MEMORY >> 20)
#define FC_MIN_MEM_MIB     (VM_CONFIG_MIN_MEMORY >> 20)

enum fc_huge_pages { FC_HUGE_PAGES_NONE, FC_HUGE_PAGES_TRANSPARENT };

struct fc_machine_config {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	enum fc_huge_pages huge_pages;
};

struct fc_logger_config {
	bool configured;
	char *log_path;           /* NULL: standard error */
	enum log_level level;
	bool show_level, show_log_origin;
	char *module;             /* NULL: every module */
};

struct fc_metrics_config {
	bool configured;
	char *metrics_path;
};

struct fc_resources {
	bool boot_source_set;
	char *kernel_image_path, *initrd_path, *boot_args; /* initrd, boot_args may be NULL */
	struct fc_machine_config machine;
	struct fc_logger_config logger;
	struct fc_metrics_config metrics;
};

void fc_resources_init(struct fc_resources *r);
void fc_resources_free(struct fc_resources *r);
/* From a configuration that flags produced (`ember run --api-sock`), for the GET endpoints. */
int fc_resources_from_vm_config(struct fc_resources *r, const struct vm_config *cfg,
				struct error *e);

/* Bodies of PUT /boot-source, PUT and PATCH /machine-config. All or nothing: on error r is
 * unchanged. */
int fc_put_boot_source(struct fc_resources *r, struct json_object *body, struct error *e);
int fc_put_machine_config(struct fc_resources *r, struct json_object *body, struct error *e);
int fc_patch_machine_config(struct fc_resources *r, struct json_object *body, struct error *e);

/* The vm_config to boot (its strings point into r). Fails without a boot source. */
int fc_resources_vm_config(const struct fc_resources *r, struct vm_config *cfg, struct error *e);

/* GET /machine-config and GET /vm/config bodies. */
struct json_object *fc_machine_config_json(const struct fc_resources *r);
struct json_object *fc_vm_config_json(const struct fc_resources *r);

#endif
