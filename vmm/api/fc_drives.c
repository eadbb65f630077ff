/* Firecracker's Drive objects (PUT/PATCH /drives/{id}, "drives" in a config file) as Ember's
 * virtio-blk disks. Semantics follow Firecracker's block builder: a PUT with a known id replaces
 * that drive in place, a new root drive goes first, a drive that becomes root is swapped into the
 * first slot, and a second root drive is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_devices.h"
#include "fc_rate_limiter.h"

#define WHAT "drives"

static int find_drive(const struct fc_resources *r, const char *id)
{
	for (unsigned i = 0; i < r->ndrives; i++)
		if (strcmp(r->drives[i].id, id) == 0)
			return (int)i;
	return -1;
}

static int check_body_id(const char *path_id, const char *body_id, struct error *e)
{
	if (path_id && strcmp(path_id, body_id) != 0)
		return error_set(e, "The id from the path does not match the id from the body!");
	if (!fc_id_is_valid(body_id))
		return error_set(e, WHAT ": drive_id '%.80s' must be 1-%d characters of A-Z, a-z, "
				    "0-9 and _", body_id, FC_ID_MAX);
	return 0;
}

/* Firecracker opens the image when the drive is configured: so does this check, with the rule
 * of Ember's virtio-blk (a regular file or a block device). */
static int check_image(const char *id, const char *path, bool read_only, struct error *e)
{
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return error_errno(e, WHAT ": drive '%s': cannot open path_on_host '%s'%s", id, path,
				   read_only ? "" : " for writing");
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = error_errno(e, WHAT ": drive '%s': cannot stat '%s'", id, path);
	else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		rc = error_set(e, WHAT ": drive '%s': path_on_host '%s' is not a regular file or a "
			       "block device", id, path);
	close(fd);
	return rc;
}

/* It lands on the kernel command line as root=PARTUUID=<partuuid>: a UUID-like word. */
static int check_partuuid(const char *s, struct error *e)
{
	size_t len = strlen(s);
	if (len == 0 || len > FC_PARTUUID_MAX || strspn(s, "0123456789abcdefABCDEF-") != len)
		return error_set(e, WHAT ": partuuid '%.80s' must be 1-%d hexadecimal digits and "
				    "dashes", s, FC_PARTUUID_MAX);
	return 0;
}

static int parse_cache_type(const char *s, enum fc_cache_type *out, struct error *e)
{
	if (strcmp(s, "Unsafe") == 0)
		*out = FC_CACHE_UNSAFE;
	else if (strcmp(s, "Writeback") == 0)
		*out = FC_CACHE_WRITEBACK;
	else
		return error_set(e, WHAT ": cache_type '%.32s' is not Unsafe or Writeback", s);
	return 0;
}

static int parse_io_engine(const char *s, enum virtio_blk_engine *out, struct error *e)
{
	if (strcmp(s, "Sync") == 0)
		*out = VIRTIO_BLK_ENGINE_SYNC;
	else if (strcmp(s, "Async") == 0)
		*out = VIRTIO_BLK_ENGINE_IO_URING;
	else
		return error_set(e, WHAT ": io_engine '%.32s' is not Sync or Async", s);
	return 0;
}

static const char *io_engine_name(enum virtio_blk_engine engine)
{
	return engine == VIRTIO_BLK_ENGINE_SYNC ? "Sync" : "Async";
}

/* Ember's virtio-blk has no rate limiter: a limiter whose buckets are all disabled is harmless,
 * anything else would be silently ignored, so it is refused. */
static int refuse_rate_limiter(struct json_object *body, struct error *e)
{
	struct rate_limiter_update u;
	int rc = fc_json_get_rate_limiter(body, WHAT, "rate_limiter", &u, e);
	if (rc < 0)
		return -1;
	if (rc > 0 && fc_rate_limiter_limits(&u.cfg))
		return error_set(e, WHAT ": rate_limiter is not supported: Ember's virtio-blk has no "
				    "rate limiter");
	return 0;
}

/* The body's fields into *d (d->id set by the caller). */
static int read_drive(struct json_object *body, struct fc_drive *d, struct error *e)
{
	const char *path = NULL, *partuuid = NULL, *cache = NULL, *engine = NULL, *socket = NULL;
	if (fc_json_required(fc_json_get_bool(body, WHAT, "is_root_device", &d->is_root, e), WHAT,
			     "is_root_device", e) < 0 ||
	    fc_json_get_bool(body, WHAT, "is_read_only", &d->read_only, e) < 0 ||
	    fc_json_get_string(body, WHAT, "path_on_host", &path, e) < 0 ||
	    fc_json_get_string(body, WHAT, "partuuid", &partuuid, e) < 0 ||
	    fc_json_get_string(body, WHAT, "cache_type", &cache, e) < 0 ||
	    fc_json_get_string(body, WHAT, "io_engine", &engine, e) < 0 ||
	    fc_json_get_string(body, WHAT, "socket", &socket, e) < 0)
		return -1;
	if (socket)
		return error_set(e, WHAT ": 'socket' (vhost-user-block) is not supported by Ember");
	if (!path)
		return error_set(e, WHAT ": missing field 'path_on_host'");
	if (strlen(path) == 0 || strlen(path) >= sizeof(d->path))
		return error_set(e, WHAT ": path_on_host must be 1-%zu bytes", sizeof(d->path) - 1);
	strcpy(d->path, path);
	if (partuuid) {
		if (check_partuuid(partuuid, e) < 0)
			return -1;
		strcpy(d->partuuid, partuuid);
	}
	if (cache && parse_cache_type(cache, &d->cache, e) < 0)
		return -1;
	d->io_engine_set = engine != NULL;
	if (engine && parse_io_engine(engine, &d->io_engine, e) < 0)
		return -1;
	if (refuse_rate_limiter(body, e) < 0)
		return -1;
	return check_image(d->id, d->path, d->read_only, e);
}

/* Ember has one io engine per VM: explicit engines must agree (skip = the slot being replaced). */
static int check_engine(const struct fc_resources *r, const struct fc_drive *d, int skip,
			struct error *e)
{
	if (!d->io_engine_set)
		return 0;
	for (unsigned i = 0; i < r->ndrives; i++) {
		const struct fc_drive *o = &r->drives[i];
		if ((int)i != skip && o->io_engine_set && o->io_engine != d->io_engine)
			return error_set(e, WHAT ": drive '%s' asks for io_engine %s but drive '%s' "
					    "uses %s: Ember has one io engine per VM", d->id,
					 io_engine_name(d->io_engine), o->id,
					 io_engine_name(o->io_engine));
	}
	return 0;
}

static int check_root(const struct fc_resources *r, const struct fc_drive *d, int skip,
		      struct error *e)
{
	if (!d->is_root)
		return 0;
	for (unsigned i = 0; i < r->ndrives; i++)
		if ((int)i != skip && r->drives[i].is_root)
			return error_set(e, WHAT ": drive '%s' is already the root device: a VM has "
					    "one root block device", r->drives[i].id);
	return 0;
}

/* Places d as Firecracker does (see the top of the file). */
static void insert_drive(struct fc_resources *r, const struct fc_drive *d, int pos)
{
	if (pos >= 0) {
		r->drives[pos] = *d;
		if (d->is_root && pos != 0) {
			struct fc_drive first = r->drives[0];
			r->drives[0] = r->drives[pos];
			r->drives[pos] = first;
		}
		return;
	}
	if (d->is_root) {
		memmove(&r->drives[1], &r->drives[0], r->ndrives * sizeof(r->drives[0]));
		r->drives[0] = *d;
	} else {
		r->drives[r->ndrives] = *d;
	}
	r->ndrives++;
}

int fc_put_drive(struct fc_resources *r, const char *path_id, struct json_object *body,
		 struct error *e)
{
	static const char *const fields[] = { "drive_id", "path_on_host", "is_root_device",
					      "is_read_only", "partuuid", "cache_type",
					      "io_engine", "rate_limiter", "socket", NULL };
	struct fc_drive d = { 0 };
	const char *id = NULL;
	if (fc_json_check_object(body, WHAT, fields, e) < 0 ||
	    fc_json_required(fc_json_get_string(body, WHAT, "drive_id", &id, e), WHAT, "drive_id",
			     e) < 0 ||
	    check_body_id(path_id, id, e) < 0)
		return -1;
	strcpy(d.id, id);
	if (read_drive(body, &d, e) < 0)
		return -1;
	int pos = find_drive(r, d.id);
	if (pos < 0 && r->ndrives == FC_MAX_DRIVES)
		return error_set(e, WHAT ": at most %d drives", FC_MAX_DRIVES);
	if (check_root(r, &d, pos, e) < 0 || check_engine(r, &d, pos, e) < 0)
		return -1;
	insert_drive(r, &d, pos);
	return 0;
}

int fc_patch_drive(const struct fc_resources *r, const char *path_id, struct json_object *body,
		   struct error *e)
{
	static const char *const fields[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	const char *id = NULL, *path = NULL;
	int rc;
	if (fc_json_check_object(body, WHAT, fields, e) < 0 ||
	    fc_json_required(fc_json_get_string(body, WHAT, "drive_id", &id, e), WHAT, "drive_id",
			     e) < 0 ||
	    check_body_id(path_id, id, e) < 0 ||
	    fc_json_get_string(body, WHAT, "path_on_host", &path, e) < 0)
		return -1;
	if (find_drive(r, id) < 0)
		return error_set(e, WHAT ": there is no drive '%s'", id);
	if (path)
		return error_set(e, WHAT ": path_on_host cannot change while the VM runs: Ember's "
				    "virtio-blk has no media change");
	struct rate_limiter_update u;
	if ((rc = fc_json_get_rate_limiter(body, WHAT, "rate_limiter", &u, e)) < 0)
		return -1;
	if (rc == 0)
		return error_set(e, WHAT ": nothing to update (path_on_host or rate_limiter)");
	/* Disabling the limiter a drive does not have is the one change that can be honoured. */
	if (fc_rate_limiter_limits(&u.cfg))
		return error_set(e, WHAT ": rate_limiter is not supported: Ember's virtio-blk has no "
				    "rate limiter");
	return 0;
}

enum virtio_blk_engine fc_drives_engine(const struct fc_resources *r)
{
	for (unsigned i = 0; i < r->ndrives; i++)
		if (r->drives[i].io_engine_set)
			return r->drives[i].io_engine;
	return r->default_io_engine;
}

static struct json_object *drive_json(const struct fc_drive *d, enum virtio_blk_engine engine)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "drive_id", json_object_new_string(d->id));
	if (d->partuuid[0])
		json_object_object_add(o, "partuuid", json_object_new_string(d->partuuid));
	json_object_object_add(o, "is_root_device", json_object_new_boolean(d->is_root));
	json_object_object_add(o, "cache_type", json_object_new_string(
		d->cache == FC_CACHE_WRITEBACK ? "Writeback" : "Unsafe"));
	json_object_object_add(o, "is_read_only", json_object_new_boolean(d->read_only));
	json_object_object_add(o, "path_on_host", json_object_new_string(d->path));
	json_object_object_add(o, "io_engine", json_object_new_string(io_engine_name(engine)));
	return o;
}

struct json_object *fc_drives_json(const struct fc_resources *r)
{
	struct json_object *a = json_object_new_array();
	enum virtio_blk_engine engine = fc_drives_engine(r);
	for (unsigned i = 0; i < r->ndrives; i++)
		json_object_array_add(a, drive_json(&r->drives[i], engine));
	return a;
}

void fc_drives_vm_config(const struct fc_resources *r, struct vm_config *cfg)
{
	cfg->ndisks = r->ndrives;
	for (unsigned i = 0; i < r->ndrives; i++) {
		struct virtio_blk_options *o = &cfg->disks[i];
		memset(o, 0, sizeof(*o));
		strcpy(o->path, r->drives[i].path);
		o->readonly = r->drives[i].read_only;
		o->queues = 1;
	}
	cfg->io_engine = fc_drives_engine(r);
}

void fc_drives_root_args(const struct fc_resources *r, char *buf, size_t size)
{
	buf[0] = '\0';
	for (unsigned i = 0; i < r->ndrives; i++) {
		const struct fc_drive *d = &r->drives[i];
		if (!d->is_root)
			continue;
		const char *mode = d->read_only ? "ro" : "rw";
		if (d->partuuid[0])
			snprintf(buf, size, "root=PARTUUID=%s %s", d->partuuid, mode);
		else
			snprintf(buf, size, "root=/dev/vda %s", mode);
		return;
	}
}
