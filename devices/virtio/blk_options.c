/* --disk and --io-engine parsing. A disk spec is a comma-separated list of key=value pairs; path
 * is required, each key may appear once, and every value is checked here so that a typo gets a
 * one-line message before any VM is built. */
#include "blk_options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 16

static const char *const known_keys = "path, readonly, direct, queues, serial, poll_us";

/* Copies the next "key=value" item of `spec` (starting at *pos) into key and value, turning ",,"
 * into ','. Returns 1 with an item, 0 at the end, -1 on an error. */
static int next_item(const char *spec, size_t *pos, char *key, char *value, size_t value_cap,
		     struct error *e)
{
	const char *p = spec + *pos;
	if (*p == '\0')
		return 0;
	size_t k = 0;
	while (*p && *p != '=' && *p != ',') {
		if (k + 1 >= KEY_MAX)
			return error_set(e, "--disk: key '%.*s...' is too long", KEY_MAX, spec + *pos);
		key[k++] = *p++;
	}
	key[k] = '\0';
	if (*p != '=')
		return error_set(e, "--disk: '%s' needs a value (key=value; keys: %s)", key,
				 known_keys);
	p++;
	size_t v = 0;
	for (;;) {
		if (*p == ',' && p[1] == ',') {
			p++; /* an escaped comma: keep one */
		} else if (*p == ',' || *p == '\0') {
			break;
		}
		if (v + 1 >= value_cap)
			return error_set(e, "--disk: the value of '%s' is too long (at most %zu bytes)",
					 key, value_cap - 1);
		value[v++] = *p++;
	}
	value[v] = '\0';
	if (*p == ',') {
		p++;
		if (*p == '\0')
			return error_set(e, "--disk: trailing comma after '%s=%s'", key, value);
	}
	*pos = (size_t)(p - spec);
	return 1;
}

static int parse_switch(const char *key, const char *value, bool *out, struct error *e)
{
	if (strcmp(value, "on") == 0)
		*out = true;
	else if (strcmp(value, "off") == 0)
		*out = false;
	else
		return error_set(e, "--disk: %s=%s: the value must be on or off", key, value);
	return 0;
}

/* A decimal number in [min, max] for key. */
static int parse_number(const char *key, const char *value, long min, long max, unsigned *out,
			struct error *e)
{
	char *end;
	errno = 0;
	long n = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0')
		return error_set(e, "--disk: %s=%s is not a number", key, value);
	if (n < min || n > max)
		return error_set(e, "--disk: %s=%ld is out of range (%ld-%ld)", key, n, min, max);
	*out = (unsigned)n;
	return 0;
}

/* The serial goes to the guest verbatim (GET_ID, /sys/block/vdX/serial): printable ASCII. */
static int parse_serial(const char *value, char *serial, struct error *e)
{
	size_t n = strlen(value);
	if (n > VIRTIO_BLK_SERIAL_MAX)
		return error_set(e, "--disk: serial=%s is longer than %d characters", value,
				 VIRTIO_BLK_SERIAL_MAX);
	for (size_t i = 0; i < n; i++)
		if (value[i] < 0x21 || value[i] > 0x7e)
			return error_set(e, "--disk: serial=%s: only printable ASCII without spaces",
					 value);
	memcpy(serial, value, n + 1);
	return 0;
}

enum {
	SEEN_PATH = 1, SEEN_READONLY = 2, SEEN_DIRECT = 4, SEEN_QUEUES = 8, SEEN_SERIAL = 16,
	SEEN_POLL = 32,
};

static int apply_item(const char *key, const char *value, struct virtio_blk_options *o,
		      unsigned *seen, struct error *e)
{
	static const struct { const char *name; unsigned bit; } keys[] = {
		{ "path", SEEN_PATH },     { "readonly", SEEN_READONLY }, { "direct", SEEN_DIRECT },
		{ "queues", SEEN_QUEUES }, { "serial", SEEN_SERIAL },     { "poll_us", SEEN_POLL },
	};
	unsigned bit = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i].name) == 0)
			bit = keys[i].bit;
	if (!bit)
		return error_set(e, "--disk: unknown key '%s' (keys: %s)", key, known_keys);
	if (*seen & bit)
		return error_set(e, "--disk: '%s' is given twice", key);
	*seen |= bit;
	switch (bit) {
	case SEEN_PATH:
		if (!value[0])
			return error_set(e, "--disk: path= is empty");
		strcpy(o->path, value); /* next_item bounded it by sizeof(o->path) */
		return 0;
	case SEEN_READONLY:
		return parse_switch(key, value, &o->readonly, e);
	case SEEN_DIRECT:
		return parse_switch(key, value, &o->direct, e);
	case SEEN_QUEUES:
		return parse_number(key, value, 1, VIRTIO_BLK_MAX_QUEUES, &o->queues, e);
	case SEEN_POLL:
		return parse_number(key, value, 0, VIRTIO_BLK_MAX_POLL_US, &o->poll_us, e);
	default:
		return parse_serial(value, o->serial, e);
	}
}

int virtio_blk_parse_disk(const char *spec, struct virtio_blk_options *o, struct error *e)
{
	memset(o, 0, sizeof(*o));
	o->queues = 1;
	char key[KEY_MAX];
	char value[VIRTIO_BLK_PATH_MAX];
	size_t pos = 0;
	unsigned seen = 0;
	int r;
	while ((r = next_item(spec, &pos, key, value, sizeof(value), e)) == 1)
		if (apply_item(key, value, o, &seen, e) < 0)
			return -1;
	if (r < 0)
		return -1;
	if (!(seen & SEEN_PATH))
		return error_set(e, "--disk: no path= given (e.g. --disk path=disk.img)");
	return 0;
}

int virtio_blk_parse_engine(const char *text, enum virtio_blk_engine *engine, struct error *e)
{
	if (strcmp(text, "io_uring") == 0)
		*engine = VIRTIO_BLK_ENGINE_IO_URING;
	else if (strcmp(text, "sync") == 0)
		*engine = VIRTIO_BLK_ENGINE_SYNC;
	else
		return error_set(e, "--io-engine: '%s' is not io_uring or sync", text);
	return 0;
}

const char *virtio_blk_engine_name(enum virtio_blk_engine engine)
{
	return engine == VIRTIO_BLK_ENGINE_SYNC ? "sync" : "io_uring";
}
