#include "fc_config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fc_devices.h"
#include "fc_json.h"
#include "fc_logging.h"

/* Sections Ember cannot honour yet: a null (or, for lists, an empty list) is fine. */
static const struct {
	const char *key;
	bool list;
	const char *what;
} unsupported[] = {
	{ "pmem", true, "pmem devices" },
	{ "cpu-config", false, "custom CPU templates (cpu-config)" },
	{ "mmds-config", false, "MMDS (the microVM metadata service)" },
	{ "memory-hotplug", false, "memory hot-plug" },
	{ "serial", false, "serial output configuration" },
};

static const char *const known_keys[] = {
	"boot-source", "machine-config", "logger", "metrics", "drives", "network-interfaces",
	"pmem", "cpu-config", "balloon", "vsock", "mmds-config", "entropy", "memory-hotplug",
	"serial", NULL,
};

static struct json_object *section(struct json_object *doc, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(doc, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static int check_unsupported(struct json_object *doc, struct error *e)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		struct json_object *v = section(doc, unsupported[i].key);
		if (!v)
			continue;
		if (unsupported[i].list && !json_object_is_type(v, json_type_array))
			return error_set(e, "'%s' must be a list", unsupported[i].key);
		if (unsupported[i].list && json_object_array_length(v) == 0)
			continue;
		return error_set(e, "'%s': Ember does not support %s yet", unsupported[i].key,
				 unsupported[i].what);
	}
	return 0;
}

typedef int (*list_entry_fn)(struct fc_resources *r, const char *path_id,
			     struct json_object *body, struct error *e);

/* "drives: missing field 'x'" -> "drives[1]: missing field 'x'". */
static int name_entry(struct error *e, const char *key, size_t index)
{
	size_t len = strlen(key);
	char rest[sizeof(e->msg)];
	if (strncmp(e->msg, key, len) == 0 && strncmp(e->msg + len, ": ", 2) == 0) {
		snprintf(rest, sizeof(rest), "%s", e->msg + len + 2);
		return error_set(e, "%s[%zu]: %s", key, index, rest);
	}
	return error_prefix(e, "%s[%zu]", key, index);
}

/* A list section ("drives", "network-interfaces"): each entry as its PUT would be. */
static int apply_list(struct json_object *doc, const char *key, list_entry_fn put,
		      struct fc_resources *r, struct error *e)
{
	struct json_object *v = section(doc, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return error_set(e, "'%s' must be a list", key);
	for (size_t i = 0; i < json_object_array_length(v); i++)
		if (put(r, NULL, json_object_array_get_idx(v, i), e) < 0)
			return name_entry(e, key, i);
	return 0;
}

/* Devices in Firecracker's order: block, network, vsock, entropy, balloon (after the
 * machine-config, which its amount_mib must fit in). */
static int apply_devices(struct json_object *doc, struct fc_resources *r, struct error *e)
{
	struct json_object *v;
	if (apply_list(doc, "drives", fc_put_drive, r, e) < 0 ||
	    apply_list(doc, "network-interfaces", fc_put_network_interface, r, e) < 0)
		return -1;
	if ((v = section(doc, "vsock")) && fc_put_vsock(r, v, e) < 0)
		return -1;
	if ((v = section(doc, "entropy")) && fc_put_entropy(r, v, e) < 0)
		return -1;
	if ((v = section(doc, "balloon")) && fc_put_balloon(r, v, e) < 0)
		return -1;
	return 0;
}

int fc_config_apply(struct json_object *doc, struct fc_resources *r, struct metrics *m,
		    const char *instance_id, struct error *e)
{
	if (fc_json_check_object(doc, "config file", known_keys, e) < 0)
		return -1;
	struct json_object *v;
	/* The logger first, as Firecracker does, so that what follows can be logged. */
	if ((v = section(doc, "logger")) && fc_apply_logger(r, v, e) < 0)
		return -1;
	if ((v = section(doc, "metrics")) && fc_apply_metrics(r, m, instance_id, v, e) < 0)
		return -1;
	if (!(v = section(doc, "boot-source")))
		return error_set(e, "missing field 'boot-source'");
	if (fc_put_boot_source(r, v, e) < 0)
		return -1;
	if ((v = section(doc, "machine-config")) && fc_put_machine_config(r, v, e) < 0)
		return -1;
	if (apply_devices(doc, r, e) < 0)
		return -1;
	/* Last: a broken machine-config is the more useful message. */
	return check_unsupported(doc, e);
}

static char *read_file(const char *path, size_t *len, struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error_errno(e, "cannot open");
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) < 0) {
		error_errno(e, "cannot stat");
	} else if (!S_ISREG(st.st_mode)) {
		error_set(e, "not a regular file");
	} else if (st.st_size > FC_CONFIG_FILE_MAX) {
		error_set(e, "larger than %d bytes", FC_CONFIG_FILE_MAX);
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		error_set(e, "out of memory");
	} else {
		ssize_t n = read(fd, buf, (size_t)st.st_size);
		if (n < 0) {
			error_errno(e, "cannot read");
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	close(fd);
	return buf;
}

int fc_config_file_load(const char *path, struct fc_resources *r, struct metrics *m,
			const char *instance_id, struct error *e)
{
	size_t len = 0;
	char *text = read_file(path, &len, e);
	if (!text)
		return error_prefix(e, "config file '%s'", path);
	struct json_object *doc = fc_json_parse(text, len, e);
	free(text);
	int rc = doc ? fc_config_apply(doc, r, m, instance_id, e) : -1;
	json_object_put(doc);
	return rc < 0 ? error_prefix(e, "config file '%s'", path) : 0;
}
