#include "fc_resources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_devices.h"
#include "fc_json.h"

void fc_resources_init(struct fc_resources *r)
{
	memset(r, 0, sizeof(*r));
	r->machine.vcpu_count = FC_DEFAULT_VCPUS;
	r->machine.mem_size_mib = FC_DEFAULT_MEM_MIB;
	r->logger.level = LOG_LEVEL_WARNING;
	r->default_io_engine = VIRTIO_BLK_ENGINE_IO_URING; /* Ember's default, as `ember run` */
}

static void free_boot_source(struct fc_resources *r)
{
	free(r->kernel_image_path);
	free(r->initrd_path);
	free(r->boot_args);
	r->kernel_image_path = r->initrd_path = r->boot_args = NULL;
	r->boot_source_set = false;
}

void fc_resources_free(struct fc_resources *r)
{
	free_boot_source(r);
	free(r->logger.log_path);
	free(r->logger.module);
	free(r->metrics.metrics_path);
	free(r->boot_cmdline);
	memset(r, 0, sizeof(*r));
}

/* Firecracker checks the files when the boot source is set, not at InstanceStart. */
static int check_readable(const char *what, const char *path, struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(e, "boot-source: cannot open the %s '%s'", what, path);
	close(fd);
	return 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int fc_put_boot_source(struct fc_resources *r, struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "kernel_image_path", "initrd_path", "boot_args", NULL };
	const char *what = "boot-source";
	const char *kernel = NULL, *initrd = NULL, *args = NULL;
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    fc_json_required(fc_json_get_string(body, what, "kernel_image_path", &kernel, e), what,
			     "kernel_image_path", e) < 0 ||
	    fc_json_get_string(body, what, "initrd_path", &initrd, e) < 0 ||
	    fc_json_get_string(body, what, "boot_args", &args, e) < 0)
		return -1;
	if (check_readable("kernel image", kernel, e) < 0 ||
	    (initrd && check_readable("initrd", initrd, e) < 0))
		return -1;
	bool oom = false;
	char *k = dup_or_null(kernel, &oom), *i = dup_or_null(initrd, &oom), *a = dup_or_null(args, &oom);
	if (oom) {
		free(k);
		free(i);
		free(a);
		return error_set(e, "boot-source: out of memory");
	}
	free_boot_source(r);
	r->kernel_image_path = k;
	r->initrd_path = i;
	r->boot_args = a;
	r->boot_source_set = true;
	return 0;
}

static int parse_huge_pages(const char *s, enum fc_huge_pages *out, struct error *e)
{
	if (strcmp(s, "None") == 0)
		*out = FC_HUGE_PAGES_NONE;
	else if (strcmp(s, "Transparent") == 0)
		*out = FC_HUGE_PAGES_TRANSPARENT;
	else if (strcmp(s, "2M") == 0)
		return error_set(e, "machine-config: huge_pages '2M' (hugetlbfs) is not supported by "
				    "Ember yet; use 'None' or 'Transparent'");
	else
		return error_set(e, "machine-config: huge_pages '%.32s' is not one of None, "
				    "Transparent, 2M", s);
	return 0;
}

static int check_cpu_template(const char *s, struct error *e)
{
	static const char *const known[] = { "C3", "T2", "T2S", "T2CL", "T2A", "V1N1", NULL };
	if (strcmp(s, "None") == 0)
		return 0;
	for (size_t i = 0; known[i]; i++)
		if (strcmp(s, known[i]) == 0)
			return error_set(e, "machine-config: cpu_template '%s' is not supported by Ember "
					    "yet", s);
	return error_set(e, "machine-config: cpu_template '%.32s' is not a known template", s);
}

/* Reads the fields present in body over *m; `full` (PUT) requires the two mandatory ones and
 * resets the optional ones to their defaults first. */
static int read_machine_config(struct json_object *body, bool full, struct fc_machine_config *m,
			       struct error *e)
{
	static const char *const fields[] = { "vcpu_count", "mem_size_mib", "smt",
					      "track_dirty_pages", "huge_pages", "cpu_template",
					      NULL };
	const char *what = "machine-config";
	int64_t vcpus = m->vcpu_count, mib = (int64_t)m->mem_size_mib;
	bool track_dirty = false;
	const char *huge = NULL, *tmpl = NULL;
	if (full) {
		m->smt = false;
		m->huge_pages = FC_HUGE_PAGES_NONE;
	}
	int rc_vcpus, rc_mib;
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    (rc_vcpus = fc_json_get_int(body, what, "vcpu_count", 1, VM_CONFIG_MAX_CPUS, &vcpus,
					e)) < 0 ||
	    (rc_mib = fc_json_get_int(body, what, "mem_size_mib", FC_MIN_MEM_MIB, FC_MAX_MEM_MIB,
				      &mib, e)) < 0 ||
	    fc_json_get_bool(body, what, "smt", &m->smt, e) < 0 ||
	    fc_json_get_bool(body, what, "track_dirty_pages", &track_dirty, e) < 0 ||
	    fc_json_get_string(body, what, "huge_pages", &huge, e) < 0 ||
	    fc_json_get_string(body, what, "cpu_template", &tmpl, e) < 0)
		return -1;
	if (full && (fc_json_required(rc_vcpus, what, "vcpu_count", e) < 0 ||
		     fc_json_required(rc_mib, what, "mem_size_mib", e) < 0))
		return -1;
	if (track_dirty)
		return error_set(e, "machine-config: track_dirty_pages is not supported by Ember yet "
				    "(it has no snapshots)");
	if (huge && parse_huge_pages(huge, &m->huge_pages, e) < 0)
		return -1;
	if (tmpl && check_cpu_template(tmpl, e) < 0)
		return -1;
	if (m->smt && vcpus > 1 && vcpus % 2)
		return error_set(e, "machine-config: with smt, vcpu_count must be 1 or even (got %lld)",
				 (long long)vcpus);
	m->vcpu_count = (unsigned)vcpus;
	m->mem_size_mib = (uint64_t)mib;
	return 0;
}

/* Firecracker's rule: the memory cannot shrink below the balloon's target. */
static int check_balloon_fits(const struct fc_resources *r, const struct fc_machine_config *m,
			      struct error *e)
{
	if (r->balloon.enabled && r->balloon.target_mib > m->mem_size_mib)
		return error_set(e, "machine-config: mem_size_mib %llu is less than the balloon's "
				    "amount_mib %u", (unsigned long long)m->mem_size_mib,
				 r->balloon.target_mib);
	return 0;
}

int fc_put_machine_config(struct fc_resources *r, struct json_object *body, struct error *e)
{
	struct fc_machine_config m = r->machine;
	if (read_machine_config(body, true, &m, e) < 0 || check_balloon_fits(r, &m, e) < 0)
		return -1;
	r->machine = m;
	return 0;
}

int fc_patch_machine_config(struct fc_resources *r, struct json_object *body, struct error *e)
{
	struct fc_machine_config m = r->machine;
	if (read_machine_config(body, false, &m, e) < 0 || check_balloon_fits(r, &m, e) < 0)
		return -1;
	r->machine = m;
	return 0;
}

/* boot_args (or Ember's default) and what the root drive adds, as Firecracker appends it. */
static int build_cmdline(struct fc_resources *r, struct error *e)
{
	const char *base = r->boot_args ? r->boot_args : VM_CONFIG_DEFAULT_CMDLINE;
	char root[FC_PARTUUID_MAX + 32];
	fc_drives_root_args(r, root, sizeof(root));
	free(r->boot_cmdline);
	r->boot_cmdline = NULL;
	if (asprintf(&r->boot_cmdline, "%s%s%s", base, base[0] && root[0] ? " " : "", root) < 0) {
		r->boot_cmdline = NULL;
		return error_set(e, "out of memory");
	}
	return 0;
}

int fc_resources_vm_config(struct fc_resources *r, struct vm_config *cfg, struct error *e)
{
	if (!r->boot_source_set)
		return error_set(e, "cannot start the microVM without a boot source "
				    "(PUT /boot-source first)");
	if (build_cmdline(r, e) < 0)
		return -1;
	vm_config_defaults(cfg);
	cfg->kernel_path = r->kernel_image_path;
	cfg->initrd_path = r->initrd_path;
	cfg->cmdline = r->boot_cmdline;
	cfg->ncpus = r->machine.vcpu_count;
	cfg->mem_size = r->machine.mem_size_mib << 20;
	cfg->smt = r->machine.smt;
	fc_drives_vm_config(r, cfg);
	cfg->nnets = r->nnets;
	memcpy(cfg->nets, r->nets, r->nnets * sizeof(r->nets[0]));
	cfg->rng = r->entropy;
	cfg->vsock = r->vsock;
	cfg->balloon = r->balloon;
	return 0;
}

/* Flags' disks in Firecracker's terms: ids disk0, disk1, ...; flushes are honoured (Writeback). */
static void drives_from_vm_config(struct fc_resources *r, const struct vm_config *cfg)
{
	r->ndrives = cfg->ndisks < FC_MAX_DRIVES ? cfg->ndisks : FC_MAX_DRIVES;
	for (unsigned i = 0; i < r->ndrives; i++) {
		struct fc_drive *d = &r->drives[i];
		memset(d, 0, sizeof(*d));
		snprintf(d->id, sizeof(d->id), "disk%u", i);
		snprintf(d->path, sizeof(d->path), "%s", cfg->disks[i].path);
		d->read_only = cfg->disks[i].readonly;
		d->cache = FC_CACHE_WRITEBACK;
	}
	r->default_io_engine = cfg->io_engine;
}

int fc_resources_from_vm_config(struct fc_resources *r, const struct vm_config *cfg,
				struct error *e)
{
	bool oom = false;
	free_boot_source(r);
	r->kernel_image_path = dup_or_null(cfg->kernel_path, &oom);
	r->initrd_path = dup_or_null(cfg->initrd_path, &oom);
	r->boot_args = dup_or_null(cfg->cmdline, &oom);
	if (oom)
		return error_set(e, "out of memory");
	r->boot_source_set = cfg->kernel_path != NULL;
	r->machine.vcpu_count = cfg->ncpus;
	/* Flags allow any 4 KiB multiple; the API speaks MiB (rounded down for display). */
	r->machine.mem_size_mib = cfg->mem_size >> 20;
	r->machine.smt = cfg->smt;
	drives_from_vm_config(r, cfg);
	r->nnets = cfg->nnets < NET_MAX_DEVICES ? cfg->nnets : NET_MAX_DEVICES;
	memcpy(r->nets, cfg->nets, r->nnets * sizeof(r->nets[0]));
	r->entropy = cfg->rng;
	r->vsock = cfg->vsock;
	r->balloon = cfg->balloon;
	return 0;
}

struct json_object *fc_machine_config_json(const struct fc_resources *r)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "vcpu_count", json_object_new_int((int)r->machine.vcpu_count));
	json_object_object_add(o, "mem_size_mib", json_object_new_int64((int64_t)r->machine.mem_size_mib));
	json_object_object_add(o, "smt", json_object_new_boolean(r->machine.smt));
	json_object_object_add(o, "track_dirty_pages", json_object_new_boolean(0));
	json_object_object_add(o, "huge_pages", json_object_new_string(
		r->machine.huge_pages == FC_HUGE_PAGES_TRANSPARENT ? "Transparent" : "None"));
	return o;
}

static void add_string(struct json_object *o, const char *key, const char *value)
{
	if (value)
		json_object_object_add(o, key, json_object_new_string(value));
}

static struct json_object *boot_source_json(const struct fc_resources *r)
{
	struct json_object *o = json_object_new_object();
	add_string(o, "kernel_image_path", r->kernel_image_path);
	add_string(o, "initrd_path", r->initrd_path);
	add_string(o, "boot_args", r->boot_args);
	return o;
}

static struct json_object *logger_json(const struct fc_logger_config *l)
{
	struct json_object *o = json_object_new_object();
	add_string(o, "log_path", l->log_path);
	json_object_object_add(o, "level", json_object_new_string(logger_level_name(l->level)));
	json_object_object_add(o, "show_level", json_object_new_boolean(l->show_level));
	json_object_object_add(o, "show_log_origin", json_object_new_boolean(l->show_log_origin));
	add_string(o, "module", l->module);
	return o;
}

struct json_object *fc_vm_config_json(const struct fc_resources *r)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	/* Absent sections are left out rather than null: the schema has no nullable objects. */
	if (r->boot_source_set)
		json_object_object_add(o, "boot-source", boot_source_json(r));
	json_object_object_add(o, "machine-config", fc_machine_config_json(r));
	json_object_object_add(o, "drives", fc_drives_json(r));
	json_object_object_add(o, "network-interfaces", fc_network_interfaces_json(r));
	if (r->vsock.enabled)
		json_object_object_add(o, "vsock", fc_vsock_json(r));
	if (r->entropy)
		json_object_object_add(o, "entropy", json_object_new_object());
	if (r->balloon.enabled)
		json_object_object_add(o, "balloon", fc_balloon_json(&r->balloon));
	if (r->logger.configured)
		json_object_object_add(o, "logger", logger_json(&r->logger));
	if (r->metrics.configured) {
		struct json_object *m = json_object_new_object();
		add_string(m, "metrics_path", r->metrics.metrics_path);
		json_object_object_add(o, "metrics", m);
	}
	return o;
}
