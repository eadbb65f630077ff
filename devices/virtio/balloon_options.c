/* --balloon parsing: "size=MiB[,deflate_on_oom=on|off][,free_page_reporting=on|off]
 * [,stats=SECONDS]". size is required, each key may appear once, and every value is checked
 * here so that a typo gets a one-line message before any VM is built. Whether the size fits the
 * guest's RAM is the device's check (virtio_balloon_create): the options do not know the RAM. */
#include "balloon_options.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define BALLOON_KEY_MAX   24
#define BALLOON_VALUE_MAX 24

static const char *const known_keys = "size, deflate_on_oom, free_page_reporting, stats";

/* Copies the next "key=value" item of `text` (from *pos) into key and value. Returns 1 with an
 * item, 0 at the end, -1 on an error. */
static int next_item(const char *text, size_t *pos, char key[BALLOON_KEY_MAX],
		     char value[BALLOON_VALUE_MAX], struct error *e)
{
	const char *p = text + *pos;
	if (*p == '\0')
		return 0;
	size_t k = 0, v = 0;
	while (*p && *p != '=' && *p != ',') {
		if (k + 1 >= BALLOON_KEY_MAX)
			return error_set(e, "--balloon: key '%.*s...' is too long", BALLOON_KEY_MAX - 1,
					 text + *pos);
		key[k++] = *p++;
	}
	key[k] = '\0';
	if (*p != '=')
		return error_set(e, "--balloon: '%s' needs a value (key=value; keys: %s)", key,
				 known_keys);
	for (p++; *p && *p != ','; p++) {
		if (v + 1 >= BALLOON_VALUE_MAX)
			return error_set(e, "--balloon: the value of '%s' is too long", key);
		value[v++] = *p;
	}
	value[v] = '\0';
	if (*p == ',' && *++p == '\0')
		return error_set(e, "--balloon: trailing comma after '%s=%s'", key, value);
	*pos = (size_t)(p - text);
	return 1;
}

/* A plain decimal number that fits 32 bits (no sign, no suffix, no spaces). */
static int parse_u32(const char *value, uint32_t *out)
{
	if (!isdigit((unsigned char)value[0]))
		return -1;
	uint64_t n = 0;
	for (const char *p = value; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static int parse_switch(const char *key, const char *value, bool *out, struct error *e)
{
	if (strcmp(value, "on") == 0)
		*out = true;
	else if (strcmp(value, "off") == 0)
		*out = false;
	else
		return error_set(e, "--balloon: %s=%s: the value must be on or off", key, value);
	return 0;
}

enum { SEEN_SIZE = 1, SEEN_DEFLATE = 2, SEEN_REPORTING = 4, SEEN_STATS = 8 };

static int apply_item(const char *key, const char *value, struct balloon_options *o,
		      unsigned *seen, struct error *e)
{
	static const struct { const char *name; unsigned bit; } keys[] = {
		{ "size", SEEN_SIZE }, { "deflate_on_oom", SEEN_DEFLATE },
		{ "free_page_reporting", SEEN_REPORTING }, { "stats", SEEN_STATS },
	};
	unsigned bit = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i].name) == 0)
			bit = keys[i].bit;
	if (!bit)
		return error_set(e, "--balloon: unknown key '%s' (keys: %s)", key, known_keys);
	if (*seen & bit)
		return error_set(e, "--balloon: '%s' is given twice", key);
	*seen |= bit;
	switch (bit) {
	case SEEN_SIZE:
		if (parse_u32(value, &o->target_mib) < 0)
			return error_set(e, "--balloon: size=%s is not a number of MiB (0-%u)", value,
					 UINT32_MAX);
		return 0;
	case SEEN_DEFLATE:
		return parse_switch(key, value, &o->deflate_on_oom, e);
	case SEEN_REPORTING:
		return parse_switch(key, value, &o->free_page_reporting, e);
	default:
		if (parse_u32(value, &o->stats_interval_s) < 0)
			return error_set(e, "--balloon: stats=%s is not a number of seconds (0 turns "
					    "statistics off)", value);
		return 0;
	}
}

int balloon_options_parse(const char *text, struct balloon_options *o, struct error *e)
{
	struct balloon_options parsed = { .enabled = true };
	char key[BALLOON_KEY_MAX], value[BALLOON_VALUE_MAX];
	size_t pos = 0;
	unsigned seen = 0;
	int r;
	if (!text[0])
		return error_set(e, "--balloon: empty; e.g. --balloon size=0,free_page_reporting=on");
	while ((r = next_item(text, &pos, key, value, e)) == 1)
		if (apply_item(key, value, &parsed, &seen, e) < 0)
			return -1;
	if (r < 0)
		return -1;
	if (!(seen & SEEN_SIZE))
		return error_set(e, "--balloon: no size= given (the MiB to take from the guest at "
				    "boot, e.g. size=0)");
	*o = parsed;
	return 0;
}
