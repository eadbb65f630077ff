/* Parsing and checking of virtio-vsock options (the --vsock flag): "cid=N,uds=PATH[,id=ID]".
 * Keys may come in any order, each once; a value may hold a comma written twice (",,"). */
#include "vsock_options.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define VSOCK_KEY_MAX 8
#define VSOCK_KEYS    "cid, uds, id"

/* Copies the next "key=value" item of `text` (from *pos) into key and value, turning ",," into
 * ','. 1 with an item, 0 at the end, -1 on an error. */
static int next_item(const char *text, size_t *pos, char key[VSOCK_KEY_MAX], char *value,
		     size_t value_cap, struct error *e)
{
	const char *p = text + *pos;
	if (*p == '\0')
		return 0;
	size_t k = 0;
	while (*p && *p != '=' && *p != ',') {
		if (k + 1 >= VSOCK_KEY_MAX)
			return error_set(e, "unknown key '%.*s...' (keys: %s)", VSOCK_KEY_MAX,
					 text + *pos, VSOCK_KEYS);
		key[k++] = *p++;
	}
	key[k] = '\0';
	if (*p != '=')
		return error_set(e, "'%s' is not KEY=VALUE (keys: %s)", key, VSOCK_KEYS);
	p++;
	size_t v = 0;
	for (;;) {
		if (*p == ',' && p[1] == ',')
			p++; /* an escaped comma: keep one */
		else if (*p == ',' || *p == '\0')
			break;
		if (v + 1 >= value_cap)
			return error_set(e, "the value of '%s' is too long (at most %zu bytes)", key,
					 value_cap - 1);
		value[v++] = *p++;
	}
	value[v] = '\0';
	if (*p == ',' && *++p == '\0')
		return error_set(e, "trailing comma after '%s=%s'", key, value);
	*pos = (size_t)(p - text);
	return 1;
}

static int check_cid(uint64_t cid, struct error *e)
{
	/* 0 (hypervisor), 1 (local), 2 (host) are reserved; 2^32-1 is VMADDR_CID_ANY. */
	if (cid < VSOCK_MIN_GUEST_CID || cid > VSOCK_MAX_GUEST_CID)
		return error_set(e, "guest CID %llu is out of range (%u-%u; 0-2 are reserved)",
				 (unsigned long long)cid, VSOCK_MIN_GUEST_CID, VSOCK_MAX_GUEST_CID);
	return 0;
}

static int parse_cid(const char *value, uint32_t *cid, struct error *e)
{
	uint64_t v = 0;
	if (!value[0])
		return error_set(e, "cid= is empty (a guest CID, e.g. cid=3)");
	for (const char *p = value; *p; p++) {
		if (!isdigit((unsigned char)*p) || v > UINT32_MAX)
			return error_set(e, "cid '%s' is not a number from %u to %u", value,
					 VSOCK_MIN_GUEST_CID, VSOCK_MAX_GUEST_CID);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (check_cid(v, e) < 0)
		return -1;
	*cid = (uint32_t)v;
	return 0;
}

static int check_uds(const char *path, struct error *e)
{
	size_t len = strnlen(path, VSOCK_UDS_PATH_MAX + 1);
	if (len == 0)
		return error_set(e, "uds= is empty (the host Unix socket path)");
	if (len > VSOCK_UDS_PATH_MAX)
		return error_set(e, "uds path '%.40s...' is longer than %d bytes (PATH_<port> must fit "
				    "a Unix socket address)", path, VSOCK_UDS_PATH_MAX);
	if (path[len - 1] == '/')
		return error_set(e, "uds path '%s' names a directory, not a socket", path);
	return 0;
}

static int check_id(const char *id, struct error *e)
{
	size_t len = strnlen(id, VSOCK_ID_MAX + 1);
	if (len == 0 || len > VSOCK_ID_MAX)
		return error_set(e, "id '%.40s' must have 1 to %d characters", id, VSOCK_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return error_set(e, "id '%s' may only have letters, digits, '_', '-' and '.'",
					 id);
	}
	return 0;
}

enum { SEEN_CID = 1, SEEN_UDS = 2, SEEN_ID = 4 };

static int apply_item(const char *key, const char *value, struct vsock_options *o, unsigned *seen,
		      struct error *e)
{
	unsigned bit = !strcmp(key, "cid") ? SEEN_CID
		       : !strcmp(key, "uds") ? SEEN_UDS
		       : !strcmp(key, "id")  ? SEEN_ID
					     : 0;
	if (!bit)
		return error_set(e, "unknown key '%s' (keys: %s)", key, VSOCK_KEYS);
	if (*seen & bit)
		return error_set(e, "'%s' is given twice", key);
	*seen |= bit;
	if (bit == SEEN_CID)
		return parse_cid(value, &o->guest_cid, e);
	if (bit == SEEN_UDS) {
		if (check_uds(value, e) < 0)
			return -1;
		memcpy(o->uds_path, value, strlen(value) + 1);
		return 0;
	}
	if (check_id(value, e) < 0)
		return -1;
	memcpy(o->id, value, strlen(value) + 1);
	return 0;
}

int vsock_options_parse(const char *text, struct vsock_options *o, struct error *e)
{
	struct vsock_options n = { .enabled = true };
	snprintf(n.id, sizeof(n.id), "vsock0");
	char key[VSOCK_KEY_MAX];
	char value[VSOCK_UDS_PATH_MAX + 1]; /* the longest value (a path) */
	size_t pos = 0;
	unsigned seen = 0;
	int r;
	while ((r = next_item(text, &pos, key, value, sizeof(value), e)) == 1)
		if (apply_item(key, value, &n, &seen, e) < 0)
			return -1;
	if (r < 0)
		return -1;
	if (!(seen & SEEN_CID))
		return error_set(e, "cid=N is required (the guest's context id, 3 or more)");
	if (!(seen & SEEN_UDS))
		return error_set(e, "uds=PATH is required (the host Unix socket)");
	*o = n;
	return 0;
}

int vsock_options_check(const struct vsock_options *o, struct error *e)
{
	if (!o->enabled)
		return 0;
	if (check_cid(o->guest_cid, e) < 0 || check_id(o->id, e) < 0)
		return -1;
	if (strnlen(o->uds_path, sizeof(o->uds_path)) == sizeof(o->uds_path))
		return error_set(e, "uds path is not terminated");
	return check_uds(o->uds_path, e);
}
