#include "libvirt_units.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* Reads decimal digits at *p (no sign, no white space) into *out; advances *p. */
static int read_decimal(const char **p, unsigned long long max, unsigned long long *out)
{
	const char *s = *p;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	*p = s;
	return 0;
}

int libvirt_uint_parse(const char *text, unsigned long long max, unsigned long long *out,
		       struct error *e)
{
	const char *start = skip_space(text ? text : ""), *p = start;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == start || *skip_space(p) != '\0')
		return error_set(e, "'%.40s' is not a number", text ? text : "");
	p = start;
	unsigned long long v;
	if (read_decimal(&p, max, &v) < 0)
		return error_set(e, "%.40s is out of range (at most %llu)", start, max);
	*out = v;
	return 0;
}

/* Bytes per count for a libvirt unit; 0 when the unit is unknown. The first letter picks the
 * power; "", "i"/"iB" after it mean 1024-based, "B" alone after it 1000-based. */
static uint64_t unit_scale(const char *unit)
{
	if (strcasecmp(unit, "b") == 0 || strcasecmp(unit, "bytes") == 0)
		return 1;
	static const char powers[] = "kmgtpe";
	const char *at = strchr(powers, tolower((unsigned char)unit[0]));
	if (!unit[0] || !at)
		return 0;
	unsigned power = (unsigned)(at - powers) + 1;
	const char *rest = unit + 1;
	uint64_t base;
	if (rest[0] == '\0' || strcasecmp(rest, "ib") == 0)
		base = 1024;
	else if (strcasecmp(rest, "b") == 0)
		base = 1000;
	else
		return 0;
	uint64_t scale = 1;
	for (unsigned i = 0; i < power; i++)
		scale *= base; /* at most 1024^6 = 2^60 */
	return scale;
}

int libvirt_size_parse(const char *number, const char *unit, uint64_t default_scale,
		       uint64_t *bytes, struct error *e)
{
	uint64_t scale = default_scale;
	if (unit && unit[0]) {
		scale = unit_scale(unit);
		if (!scale)
			return error_set(e, "unknown unit '%.20s' (b, KiB, MiB, GiB, TiB, KB, MB, ...)",
					 unit);
	}
	unsigned long long n;
	if (libvirt_uint_parse(number, UINT64_MAX, &n, e) < 0)
		return -1;
	if (n > UINT64_MAX / scale)
		return error_set(e, "%llu %s is too large", n, unit && unit[0] ? unit : "units");
	*bytes = (uint64_t)n * scale;
	return 0;
}

/* One item of a cpuset: "N", "N-M" or "^N", applied to `set`. */
static int apply_item(const char *item, bool *set, struct error *e)
{
	const char *p = skip_space(item);
	bool exclude = *p == '^';
	if (exclude)
		p = skip_space(p + 1);
	unsigned long long first, last;
	if (read_decimal(&p, CPU_LIST_MAX - 1, &first) < 0)
		return error_set(e, "'%.20s' is not a number below %d", item, CPU_LIST_MAX);
	last = first;
	p = skip_space(p);
	if (*p == '-' && !exclude) {
		p = skip_space(p + 1);
		if (read_decimal(&p, CPU_LIST_MAX - 1, &last) < 0)
			return error_set(e, "'%.20s' is not a range of numbers below %d", item,
					 CPU_LIST_MAX);
		if (last < first)
			return error_set(e, "range '%.20s' is reversed", item);
	}
	if (*skip_space(p) != '\0')
		return error_set(e, "'%.20s' is not N, N-M or ^N", item);
	for (unsigned long long i = first; i <= last; i++)
		set[i] = !exclude;
	return 0;
}

int libvirt_cpuset_parse(const char *text, struct cpu_list *out, struct error *e)
{
	out->n = 0;
	size_t len = strlen(text);
	char *copy = malloc(len + 1);
	bool *set = calloc(CPU_LIST_MAX, sizeof(*set));
	int rc = 0;
	if (!copy || !set) {
		rc = error_set(e, "out of memory");
		goto out;
	}
	memcpy(copy, text, len + 1);
	if (!*skip_space(copy)) {
		rc = error_set(e, "empty set");
		goto out;
	}
	char *rest = copy;
	for (char *item; (item = strsep(&rest, ","));) /* strsep: "1,,2" has an empty item */
		if ((rc = apply_item(item, set, e)) < 0)
			goto out;
	for (unsigned i = 0; i < CPU_LIST_MAX; i++)
		if (set[i])
			out->cpu[out->n++] = (uint16_t)i;
	if (!out->n)
		rc = error_set(e, "'%.40s' leaves nothing in the set", text);
out:
	free(copy);
	free(set);
	return rc;
}
