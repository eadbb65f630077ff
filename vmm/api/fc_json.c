#include "fc_json.h"

#include <string.h>

/* Deeper nesting than any Firecracker document has is an attack, not a configuration. */
#define FC_JSON_MAX_DEPTH 16

/* json-c takes 'single-quoted' strings even in strict mode; JSON has none. Finds a quote
 * outside a double-quoted string (offset, or -1). */
static long single_quote_at(const char *text, size_t len)
{
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		if (in_string && text[i] == '\\')
			i++;
		else if (text[i] == '"')
			in_string = !in_string;
		else if (!in_string && text[i] == '\'')
			return (long)i;
	}
	return -1;
}

struct json_object *fc_json_parse(const char *text, size_t len, struct error *e)
{
	if (!text || len == 0) {
		error_set(e, "the request has no JSON body");
		return NULL;
	}
	if (len > INT32_MAX) {
		error_set(e, "the JSON document is too large");
		return NULL;
	}
	long quote = single_quote_at(text, len);
	if (quote >= 0) {
		error_set(e, "invalid JSON at byte %ld: single-quoted strings are not JSON", quote);
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(FC_JSON_MAX_DEPTH);
	if (!tok) {
		error_set(e, "out of memory for the JSON parser");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (err == json_tokener_continue) {
		error_set(e, "invalid JSON: the document ends early");
		return NULL;
	}
	if (err == json_tokener_success && !obj) {
		error_set(e, "the JSON body is null; expected an object");
		return NULL;
	}
	if (err != json_tokener_success) {
		json_object_put(obj);
		error_set(e, "invalid JSON at byte %zu: %s", end, json_tokener_error_desc(err));
		return NULL;
	}
	for (size_t i = end; i < len; i++) {
		if (!strchr(" \t\r\n", text[i])) {
			json_object_put(obj);
			error_set(e, "invalid JSON: unexpected data after the document at byte %zu", i);
			return NULL;
		}
	}
	return obj;
}

static bool is_allowed(const char *key, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(key, *allowed) == 0)
			return true;
	return false;
}

int fc_json_check_object(struct json_object *obj, const char *what, const char *const *allowed,
			 struct error *e)
{
	if (!json_object_is_type(obj, json_type_object))
		return error_set(e, "%s: expected a JSON object", what);
	json_object_object_foreach(obj, key, value) {
		(void)value;
		if (!is_allowed(key, allowed))
			return error_set(e, "%s: unknown field '%.64s'", what, key);
	}
	return 0;
}

/* The field's value, or NULL when absent or null. */
static struct json_object *field(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return json_object_is_type(v, json_type_null) ? NULL : v;
}

int fc_json_get_string(struct json_object *obj, const char *what, const char *key,
		       const char **out, struct error *e)
{
	struct json_object *v = field(obj, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return error_set(e, "%s: '%s' must be a string", what, key);
	const char *s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return error_set(e, "%s: '%s' must not contain NUL characters", what, key);
	*out = s;
	return 1;
}

int fc_json_get_bool(struct json_object *obj, const char *what, const char *key, bool *out,
		     struct error *e)
{
	struct json_object *v = field(obj, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return error_set(e, "%s: '%s' must be true or false", what, key);
	*out = json_object_get_boolean(v);
	return 1;
}

int fc_json_get_int(struct json_object *obj, const char *what, const char *key, int64_t min,
		    int64_t max, int64_t *out, struct error *e)
{
	struct json_object *v = field(obj, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return error_set(e, "%s: '%s' must be an integer", what, key);
	/* json-c saturates at the int64 limits, which are outside every range used here. */
	int64_t n = json_object_get_int64(v);
	if (n < min || n > max)
		return error_set(e, "%s: '%s' is %lld, outside %lld-%lld", what, key, (long long)n,
				 (long long)min, (long long)max);
	*out = n;
	return 1;
}

int fc_json_get_object(struct json_object *obj, const char *what, const char *key,
		       struct json_object **out, struct error *e)
{
	struct json_object *v = field(obj, key);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return error_set(e, "%s: '%s' must be an object", what, key);
	*out = v;
	return 1;
}

int fc_json_required(int rc, const char *what, const char *key, struct error *e)
{
	if (rc == 0)
		return error_set(e, "%s: missing field '%s'", what, key);
	return rc;
}

bool fc_id_is_valid(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > FC_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}
