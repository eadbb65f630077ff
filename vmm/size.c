#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static int unit_shift(const char *suffix, unsigned *shift)
{
	static const struct { const char *name; unsigned shift; } units[] = {
		{ "", 20 }, { "B", 0 },
		{ "K", 10 }, { "KB", 10 }, { "KiB", 10 },
		{ "M", 20 }, { "MB", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GB", 30 }, { "GiB", 30 },
		{ "T", 40 }, { "TB", 40 }, { "TiB", 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(suffix, units[i].name) == 0) {
			*shift = units[i].shift;
			return 0;
		}
	}
	return -1;
}

int size_parse(const char *text, uint64_t *bytes, struct error *e)
{
	if (!text || !isdigit((unsigned char)text[0]))
		return error_set(e, "invalid size '%s' (expected e.g. 512M or 2G)", text ? text : "");
	errno = 0;
	char *end;
	unsigned long long n = strtoull(text, &end, 10);
	unsigned shift;
	if (errno || unit_shift(end, &shift) < 0)
		return error_set(e, "invalid size '%s' (expected e.g. 512M or 2G)", text);
	if (shift && n > (UINT64_MAX >> shift))
		return error_set(e, "size '%s' is too large", text);
	*bytes = (uint64_t)n << shift;
	return 0;
}

const char *size_format(uint64_t bytes, char buf[32])
{
	static const char units[] = "KMGT";
	int u = -1;
	while (u < 3 && bytes && (bytes & 1023) == 0) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, 32, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, 32, "%llu%c", (unsigned long long)bytes, units[u]);
	return buf;
}
