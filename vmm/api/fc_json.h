/* Strict reading of Firecracker's JSON documents (API bodies, --config-file): exactly one JSON
 * value, objects whose every key is known, fields of the right type and range. Messages name the
 * object and the field, e.g. "machine-config: missing field 'mem_size_mib'". A JSON null counts
 * as an absent field, like Firecracker's optional fields. */
#ifndef EMBER_FC_JSON_H
#define EMBER_FC_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../error.h"

/* Parses text[0..len) into one JSON value; anything after it but whitespace is an error. */
struct json_object *fc_json_parse(const char *text, size_t len, struct error *e);

/* obj must be an object whose keys all appear in `allowed` (NULL-terminated). */
int fc_json_check_object(struct json_object *obj, const char *what, const char *const *allowed,
			 struct error *e);

/* Field getters: 1 when the field is there (and *out set), 0 when absent or null, -1 (e filled)
 * when it has the wrong type or range. */
int fc_json_get_string(struct json_object *obj, const char *what, const char *key,
		       const char **out, struct error *e);
int fc_json_get_bool(struct json_object *obj, const char *what, const char *key, bool *out,
		     struct error *e);
int fc_json_get_int(struct json_object *obj, const char *what, const char *key, int64_t min,
		    int64_t max, int64_t *out, struct error *e);

/* A nested object: 1 and *out set when the field is an object, 0 when absent or null, -1 for any
 * other type. */
int fc_json_get_object(struct json_object *obj, const char *what, const char *key,
		       struct json_object **out, struct error *e);

/* For a getter's result on a required field: turns 0 (absent) into "missing field" (-1). */
int fc_json_required(int rc, const char *what, const char *key, struct error *e);

/* Firecracker's resource ids (drive_id, iface_id, path segments): 1-64 characters of A-Z, a-z,
 * 0-9 and '_'. */
#define FC_ID_MAX 64
bool fc_id_is_valid(const char *id);

#endif
