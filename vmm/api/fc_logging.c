#include "fc_logging.h"

#include <stdlib.h>
#include <string.h>

#include "fc_json.h"

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

int fc_apply_logger(struct fc_resources *r, struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "level", "log_path", "show_level", "show_log_origin",
					      "module", NULL };
	const char *what = "logger";
	const char *level_name = NULL, *path = NULL, *module = NULL;
	struct logger_settings s = { .level = LOG_LEVEL_INFO }; /* Firecracker's default level */
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    fc_json_get_string(body, what, "level", &level_name, e) < 0 ||
	    fc_json_get_string(body, what, "log_path", &path, e) < 0 ||
	    fc_json_get_bool(body, what, "show_level", &s.show_level, e) < 0 ||
	    fc_json_get_bool(body, what, "show_log_origin", &s.show_origin, e) < 0 ||
	    fc_json_get_string(body, what, "module", &module, e) < 0)
		return -1;
	if (level_name && logger_parse_level(level_name, &s.level) < 0)
		return error_set(e, "logger: level '%.32s' is not one of Error, Warning, Info, Debug, "
				    "Trace, Off", level_name);
	s.path = path;
	s.module = module;
	char *path_copy = dup_opt(path), *module_copy = dup_opt(module);
	if ((path && !path_copy) || (module && !module_copy)) {
		free(path_copy);
		free(module_copy);
		return error_set(e, "logger: out of memory");
	}
	if (logger_configure(&s, e) < 0) {
		free(path_copy);
		free(module_copy);
		return error_prefix(e, "logger");
	}
	free(r->logger.log_path);
	free(r->logger.module);
	r->logger = (struct fc_logger_config){
		.configured = true, .log_path = path_copy, .level = s.level,
		.show_level = s.show_level, .show_log_origin = s.show_origin, .module = module_copy,
	};
	return 0;
}

/* "properties": an object whose values are all strings. Returns a new reference or NULL. */
static struct json_object *read_properties(struct json_object *body, int *rc, struct error *e)
{
	struct json_object *props = NULL;
	*rc = 0;
	if (!json_object_object_get_ex(body, "properties", &props) ||
	    json_object_is_type(props, json_type_null))
		return NULL;
	if (!json_object_is_type(props, json_type_object)) {
		*rc = error_set(e, "metrics: 'properties' must be an object of strings");
		return NULL;
	}
	json_object_object_foreach(props, key, value) {
		if (!json_object_is_type(value, json_type_string)) {
			*rc = error_set(e, "metrics: property '%.64s' must be a string", key);
			return NULL;
		}
	}
	return json_object_get(props);
}

int fc_apply_metrics(struct fc_resources *r, struct metrics *m, const char *instance_id,
		     struct json_object *body, struct error *e)
{
	static const char *const fields[] = { "metrics_path", "emit_id", "properties", NULL };
	const char *what = "metrics";
	const char *path = NULL;
	bool emit_id = false;
	int rc;
	if (fc_json_check_object(body, what, fields, e) < 0 ||
	    fc_json_required(fc_json_get_string(body, what, "metrics_path", &path, e), what,
			     "metrics_path", e) < 0 ||
	    fc_json_get_bool(body, what, "emit_id", &emit_id, e) < 0)
		return -1;
	struct json_object *props = read_properties(body, &rc, e);
	if (rc < 0)
		return -1;
	char *path_copy = strdup(path);
	if (!path_copy) {
		json_object_put(props);
		return error_set(e, "metrics: out of memory");
	}
	if (metrics_open(m, path, e) < 0) {
		free(path_copy);
		json_object_put(props);
		return -1;
	}
	if (metrics_set_labels(m, emit_id ? instance_id : NULL, props, e) < 0) {
		free(path_copy);
		return -1;
	}
	free(r->metrics.metrics_path);
	r->metrics.metrics_path = path_copy;
	r->metrics.configured = true;
	return 0;
}
