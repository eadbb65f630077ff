/* Parsing and checking of virtio-net options (the --net flag). */
#include "net_options.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NET_OPTIONS_MAX_TEXT 512

int net_tap_name_check(const char *name, struct error *e)
{
	size_t len = strlen(name);
	if (len == 0)
		return error_set(e, "the TAP name is empty");
	if (len > NET_TAP_NAME_MAX)
		return error_set(e, "TAP name '%s' is longer than %d characters", name,
				 NET_TAP_NAME_MAX);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return error_set(e, "'%s' cannot be an interface name", name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/' || c == ':' || isspace(c) || !isprint(c))
			return error_set(e, "TAP name '%s' has a character interface names cannot have",
					 name);
	}
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int net_mac_parse(const char *text, uint8_t mac[6], struct error *e)
{
	/* Exactly six pairs of hex digits separated by ':'. */
	if (strlen(text) != 17)
		return error_set(e, "MAC '%s' is not of the form XX:XX:XX:XX:XX:XX", text);
	uint8_t m[6];
	for (int i = 0; i < 6; i++) {
		const char *p = text + 3 * i;
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return error_set(e, "MAC '%s' is not of the form XX:XX:XX:XX:XX:XX", text);
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	if (m[0] & 1)
		return error_set(e, "MAC '%s' is a multicast address (lowest bit of the first byte)",
				 text);
	if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return error_set(e, "MAC '%s' is all zeros", text);
	memcpy(mac, m, 6);
	return 0;
}

const char *net_mac_format(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

/* A decimal number; with `binary_suffix`, K/M/G/T multiply by powers of 1024. */
static int parse_number(const char *text, bool binary_suffix, uint64_t *out)
{
	if (!isdigit((unsigned char)text[0]))
		return -1;
	uint64_t v = 0;
	const char *p = text;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	unsigned shift = 0;
	if (*p && binary_suffix) {
		const char *units = "KMGT";
		const char *u = strchr(units, toupper((unsigned char)*p));
		if (!u)
			return -1;
		shift = 10 * (unsigned)(u - units + 1);
		p++;
	}
	if (*p)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* "SIZE:REFILL_MS[:BURST]" (value of key `key`; `bytes` allows size suffixes). */
static int parse_bucket(const char *key, char *value, bool bytes, struct token_bucket_config *b,
			struct error *e)
{
	const char *unit = bytes ? "bytes" : "frames";
	char *refill = strchr(value, ':');
	if (!refill)
		return error_set(e, "%s '%s' is not SIZE:REFILL_MS[:BURST]", key, value);
	*refill++ = '\0';
	char *burst = strchr(refill, ':');
	if (burst)
		*burst++ = '\0';
	uint64_t size, ms, extra = 0;
	if (parse_number(value, bytes, &size) < 0 || size == 0)
		return error_set(e, "%s: size '%s' is not a positive number of %s%s", key, value,
				 unit, bytes ? " (K/M/G suffixes allowed)" : "");
	if (parse_number(refill, false, &ms) < 0 || ms == 0)
		return error_set(e, "%s: refill time '%s' is not a positive number of milliseconds",
				 key, refill);
	if (ms > RATE_LIMITER_MAX_REFILL_MS)
		return error_set(e, "%s: refill time %s ms is too long (at most 100 days)", key,
				 refill);
	if (burst && parse_number(burst, bytes, &extra) < 0)
		return error_set(e, "%s: one-time burst '%s' is not a number of %s", key, burst,
				 unit);
	*b = (struct token_bucket_config){ .size = size, .refill_time_ms = ms,
					   .one_time_burst = extra };
	return 0;
}

static int parse_mtu(const char *value, uint16_t *mtu, struct error *e)
{
	uint64_t v;
	if (parse_number(value, false, &v) < 0 || v < NET_MIN_MTU || v > NET_MAX_MTU)
		return error_set(e, "mtu '%s' is not a number from %d to %d", value, NET_MIN_MTU,
				 NET_MAX_MTU);
	*mtu = (uint16_t)v;
	return 0;
}

static int parse_id(const char *value, char id[NET_ID_MAX + 1], struct error *e)
{
	size_t len = strlen(value);
	if (len == 0 || len > NET_ID_MAX)
		return error_set(e, "id '%s' must have 1 to %d characters", value, NET_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return error_set(e, "id '%s' may only have letters, digits, '_', '-' and '.'",
					 value);
	}
	memcpy(id, value, len + 1);
	return 0;
}

static const char *const keys[] = { "tap", "id", "mac", "mtu", "rx-bw", "rx-ops", "tx-bw",
				    "tx-ops" };
enum { KEY_TAP, KEY_ID, KEY_MAC, KEY_MTU, KEY_RX_BW, KEY_RX_OPS, KEY_TX_BW, KEY_TX_OPS, NKEYS };

static int apply_key(int k, char *value, struct net_options *o, struct error *e)
{
	switch (k) {
	case KEY_TAP:
		if (net_tap_name_check(value, e) < 0)
			return -1;
		memcpy(o->tap, value, strlen(value) + 1);
		return 0;
	case KEY_ID: return parse_id(value, o->id, e);
	case KEY_MAC:
		o->mac_set = true;
		return net_mac_parse(value, o->mac, e);
	case KEY_MTU: return parse_mtu(value, &o->mtu, e);
	case KEY_RX_BW: return parse_bucket(keys[k], value, true, &o->rx.bandwidth, e);
	case KEY_RX_OPS: return parse_bucket(keys[k], value, false, &o->rx.ops, e);
	case KEY_TX_BW: return parse_bucket(keys[k], value, true, &o->tx.bandwidth, e);
	case KEY_TX_OPS: return parse_bucket(keys[k], value, false, &o->tx.ops, e);
	}
	return error_set(e, "internal: key %d", k);
}

static int find_key(const char *name)
{
	for (int k = 0; k < NKEYS; k++)
		if (!strcmp(name, keys[k]))
			return k;
	return -1;
}

int net_options_parse(const char *text, unsigned index, struct net_options *o, struct error *e)
{
	char buf[NET_OPTIONS_MAX_TEXT];
	if (strlen(text) >= sizeof(buf))
		return error_set(e, "'%.40s...' is too long", text);
	strcpy(buf, text);
	struct net_options n = { 0 };
	snprintf(n.id, sizeof(n.id), "net%u", index);
	bool seen[NKEYS] = { false };
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *value = strchr(item, '=');
		if (!value)
			return error_set(e, "'%s' is not KEY=VALUE (keys: tap, id, mac, mtu, rx-bw, "
					    "rx-ops, tx-bw, tx-ops)", item);
		*value++ = '\0';
		int k = find_key(item);
		if (k < 0)
			return error_set(e, "unknown key '%s' (keys: tap, id, mac, mtu, rx-bw, rx-ops, "
					    "tx-bw, tx-ops)", item);
		if (seen[k])
			return error_set(e, "'%s' is given twice", item);
		seen[k] = true;
		if (apply_key(k, value, &n, e) < 0)
			return -1;
	}
	if (!seen[KEY_TAP])
		return error_set(e, "tap=NAME is required (the host TAP interface to attach)");
	*o = n;
	return 0;
}

int net_options_check_list(const struct net_options *list, unsigned n, struct error *e)
{
	if (n > NET_MAX_DEVICES)
		return error_set(e, "at most %d network devices", NET_MAX_DEVICES);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < i; j++) {
			const struct net_options *a = &list[j], *b = &list[i];
			char mac[18];
			if (!strcmp(a->id, b->id))
				return error_set(e, "two network devices have the id '%s'", a->id);
			if (!strcmp(a->tap, b->tap))
				return error_set(e, "two network devices use the TAP '%s'", a->tap);
			if (a->mac_set && b->mac_set && !memcmp(a->mac, b->mac, 6))
				return error_set(e, "two network devices have the MAC %s",
						 net_mac_format(a->mac, mac));
		}
	return 0;
}
