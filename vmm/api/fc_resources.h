/* The VM being configured through Firecracker's vocabulary (boot-source, machine-config, logger,
 * metrics, drives, network-interfaces, vsock, entropy, balloon), filled from API bodies or a
 * --config-file, and turned into a struct vm_config at InstanceStart. After the boot it is what
 * GET /vm/config shows (run-time updates are written back). What Ember cannot do (pmem, MMDS,
 * snapshots, ...) is refused, never stored: see docs/api.md. The device objects are read and
 * written by fc_devices.h. */
#ifndef EMBER_FC_RESOURCES_H
#define EMBER_FC_RESOURCES_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "../error.h"
#include "../vm_config.h"
#include "fc_json.h"
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

/* Firecracker's cache_type. Ember's virtio-blk always offers and honours flushes, so both behave
 * as Writeback; the value is kept to be shown as given. */
enum fc_cache_type { FC_CACHE_UNSAFE, FC_CACHE_WRITEBACK };

#define FC_MAX_DRIVES       VIRTIO_BLK_MAX_DISKS
#define FC_PARTUUID_MAX     64

/* One PUT /drives/{id} (or "drives" entry). */
struct fc_drive {
	char id[FC_ID_MAX + 1];
	char path[VIRTIO_BLK_PATH_MAX];
	char partuuid[FC_PARTUUID_MAX + 1]; /* "" when not given */
	bool is_root;
	bool read_only;
	enum fc_cache_type cache;
	bool io_engine_set;                 /* false: the VM's engine (Ember's default: io_uring) */
	enum virtio_blk_engine io_engine;
};

struct fc_resources {
	bool boot_source_set;
	char *kernel_image_path, *initrd_path, *boot_args; /* initrd, boot_args may be NULL */
	struct fc_machine_config machine;
	struct fc_logger_config logger;
	struct fc_metrics_config metrics;

	/* Devices, in the order the guest sees them (the root drive first, as Firecracker). */
	struct fc_drive drives[FC_MAX_DRIVES];
	unsigned ndrives;
	struct net_options nets[NET_MAX_DEVICES]; /* id = iface_id, tap = host_dev_name */
	unsigned nnets;
	bool entropy;                      /* PUT /entropy: a virtio-rng device */
	struct vsock_options vsock;        /* .enabled once PUT /vsock */
	struct balloon_options balloon;    /* .enabled once PUT /balloon */
	enum virtio_blk_engine default_io_engine; /* drives without io_engine; flags: --io-engine */
	char *boot_cmdline;                /* boot_args + the root device, built at InstanceStart */
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

/* The vm_config to boot (its strings point into r). Fails without a boot source. As Firecracker,
 * a root drive appends "root=/dev/vda" (or "root=PARTUUID=<partuuid>") and "ro" or "rw" to the
 * command line. */
int fc_resources_vm_config(struct fc_resources *r, struct vm_config *cfg, struct error *e);

/* GET /machine-config and GET /vm/config bodies. */
struct json_object *fc_machine_config_json(const struct fc_resources *r);
struct json_object *fc_vm_config_json(const struct fc_resources *r);

#endif
