/* The value syntaxes of libvirt's domain XML that Ember maps (docs/libvirt.md):
 *
 *   sizes     "<memory unit='GiB'>2</memory>": a decimal count scaled by a unit. Units, as
 *             libvirt's formatdomain documents them and case-insensitive: b/bytes; k, KiB (2^10);
 *             KB (10^3); M/MiB, MB; G/GiB, GB; T/TiB, TB; P/PiB, PB; E/EiB, EB. No unit: the
 *             element's default (KiB for <memory>, <currentMemory> and hugepage sizes).
 *   cpusets   "0-3,^2,8": CPU or NUMA node numbers, ranges, and ^N to take one out again, as in
 *             <vcpu cpuset>, <vcpupin cpuset> and <numatune><memory nodeset>.
 *
 * Pure functions: no XML, no libvirt. */
#ifndef EMBER_LIBVIRT_UNITS_H
#define EMBER_LIBVIRT_UNITS_H

#include <stdint.h>

#include "../cpu_list.h"
#include "../error.h"

/* `number` scaled by `unit` (NULL or "": default_scale bytes per count) into *bytes. Overflow,
 * signs, fractions, an empty number and unknown units are errors. */
int libvirt_size_parse(const char *number, const char *unit, uint64_t default_scale,
		       uint64_t *bytes, struct error *e);

/* A libvirt cpuset into *out, in ascending order (libvirt's sets are bitmaps: order carries no
 * meaning). An empty set (everything excluded) is an error. */
int libvirt_cpuset_parse(const char *text, struct cpu_list *out, struct error *e);

/* *out = the decimal number in text (surrounding white space allowed), at most max. */
int libvirt_uint_parse(const char *text, unsigned long long max, unsigned long long *out,
		       struct error *e);

#endif
