/* Inside libvirt_domain_parse: one parse's state and the XML helpers its sections share
 * (libvirt_xml.c: the domain, os, memory, features; libvirt_xml_cpu.c: vCPUs, CPU model,
 * pinning, NUMA, memory backing; libvirt_xml_devices.c: disks and interfaces;
 * libvirt_xml_small_devices.c: consoles, rng, vsock, balloon and the implicit devices).
 *
 * Every section either maps what it reads into d->cfg, records an issue (libvirt_issues.h) and
 * leaves the item out, or, for a value that is malformed in itself, fails with lx_invalid. */
#ifndef EMBER_LIBVIRT_XML_H
#define EMBER_LIBVIRT_XML_H

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stdbool.h>
#include <stdint.h>

#include "libvirt_domain.h"

struct lx {
	xmlDocPtr doc;
	xmlXPathContextPtr xpath;
	struct libvirt_domain *d;
	const struct libvirt_parse_options *opt;
	struct error *e;
	/* What one section learns and a later one needs. */
	uint64_t memory;          /* <memory>, bytes */
	uint64_t current_memory;  /* <currentMemory>, bytes (= memory when absent) */
	xmlNodePtr current_memory_node;
	bool vcpu_pinned;         /* <cputune> pinned every vCPU: <vcpu cpuset> does not apply */
	bool balloon_virtio;      /* <memballoon model='virtio'> */
	xmlNodePtr vsock_node;    /* <vsock>, mapped once the metadata's socket path is known */
	const char *metadata_vsock_uds; /* <ember:vsock uds=...> in <metadata> */
};

/* "/domain/devices/disk[2]" or, with attr, ".../@attr". malloc'd; NULL when out of memory. */
char *lx_where(const xmlNode *node, const char *attr);

/* Records that Ember cannot honour node (or its attribute attr, may be NULL). */
void lx_issue(struct lx *p, const xmlNode *node, const char *attr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void lx_issue_fatal(struct lx *p, const xmlNode *node, const char *attr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Fails the parse: "WHERE: message". Returns -1. */
int lx_invalid(struct lx *p, const xmlNode *node, const char *attr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Attribute value (without namespace), malloc'd; NULL when absent. Free with free(). */
char *lx_attr(const xmlNode *node, const char *name);
bool lx_has_attr(const xmlNode *node, const char *name);
/* True when the attribute is present and equals value. */
bool lx_attr_is(const xmlNode *node, const char *name, const char *value);
/* True when the attribute is absent or equals one of the NULL-terminated values. */
bool lx_attr_in(const xmlNode *node, const char *name, const char *const *values);
/* The element's text content, malloc'd (never NULL unless out of memory). */
char *lx_text(const xmlNode *node);

/* An element named `name` (no namespace) of the XML namespace-free kind. */
bool lx_is(const xmlNode *node, const char *name);
/* First child element named `name`, or NULL. */
xmlNodePtr lx_child(const xmlNode *node, const char *name);
/* First node the XPath expression finds (relative to the document), or NULL. */
xmlNodePtr lx_find(struct lx *p, const char *xpath);

/* Whether `name` is in the NULL-terminated list. */
bool lx_name_in(const xmlChar *name, const char *const *list);
/* Every child element of node whose name is not in `known` gets an issue: "<name>: why". */
void lx_other_children(struct lx *p, const xmlNode *node, const char *const *known,
		       const char *why);

/* An unsigned number from the element's text or an attribute, within [min, max]. Absent
 * attribute: *out = dflt and 0. Malformed or out of range: lx_invalid. */
int lx_uint_text(struct lx *p, const xmlNode *node, unsigned long long min,
		 unsigned long long max, unsigned long long *out);
int lx_uint_attr(struct lx *p, const xmlNode *node, const char *attr, unsigned long long min,
		 unsigned long long max, unsigned long long dflt, unsigned long long *out);
/* A size: the element's text scaled by its unit attribute (default_scale without one). */
int lx_size(struct lx *p, const xmlNode *node, uint64_t default_scale, uint64_t *bytes);

/* Sections. Each returns 0, or -1 after lx_invalid. */
int lx_parse_vcpu(struct lx *p);      /* <vcpu>, <vcpus> */
int lx_parse_cputune(struct lx *p);   /* <cputune> (after vcpu) */
int lx_parse_cpu(struct lx *p);       /* <cpu>: mode, model, topology */
int lx_parse_numatune(struct lx *p);  /* <numatune> */
int lx_parse_memory_backing(struct lx *p); /* <memoryBacking> */
int lx_parse_devices(struct lx *p);   /* <devices> */
int lx_map_vsock(struct lx *p);       /* the <vsock> noted by lx_parse_devices (after metadata) */

/* Devices of libvirt_xml_small_devices.c, dispatched by lx_parse_devices. */
int lx_serial(struct lx *p, xmlNodePtr node, unsigned *count);
int lx_console(struct lx *p, xmlNodePtr node, unsigned *virtio_count);
int lx_rng(struct lx *p, xmlNodePtr node);
int lx_memballoon(struct lx *p, xmlNodePtr node);
/* Devices libvirt adds by itself (controllers, PS/2 input, ...) and the like: true when node
 * is one Ember may leave out without the guest missing anything it was promised. */
bool lx_harmless_device(const xmlNode *node);

#endif
