/* The XML helpers of libvirt_xml.h: locations, attributes, numbers, issues. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt_units.h"
#include "libvirt_xml.h"

char *lx_where(const xmlNode *node, const char *attr)
{
	xmlChar *path = xmlGetNodePath(node);
	if (!path)
		return NULL;
	char *out = NULL;
	if (asprintf(&out, "%s%s%s", (const char *)path, attr ? "/@" : "", attr ? attr : "") < 0)
		out = NULL;
	xmlFree(path);
	return out;
}

static void issue(struct lx *p, bool fatal, const xmlNode *node, const char *attr,
		  const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void issue(struct lx *p, bool fatal, const xmlNode *node, const char *attr,
		  const char *fmt, va_list ap)
{
	char why[512];
	vsnprintf(why, sizeof(why), fmt, ap);
	char *where = lx_where(node, attr);
	if (fatal)
		libvirt_issues_add_fatal(&p->d->issues, where ? where : "?", "%s", why);
	else
		libvirt_issues_add(&p->d->issues, where ? where : "?", "%s", why);
	free(where);
}

void lx_issue(struct lx *p, const xmlNode *node, const char *attr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	issue(p, false, node, attr, fmt, ap);
	va_end(ap);
}

void lx_issue_fatal(struct lx *p, const xmlNode *node, const char *attr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	issue(p, true, node, attr, fmt, ap);
	va_end(ap);
}

int lx_invalid(struct lx *p, const xmlNode *node, const char *attr, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char *where = lx_where(node, attr);
	error_set(p->e, "%s: %s", where ? where : "?", msg);
	free(where);
	return -1;
}

char *lx_attr(const xmlNode *node, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)name);
	if (!v)
		return NULL;
	char *out = strdup((const char *)v);
	xmlFree(v);
	return out;
}

bool lx_has_attr(const xmlNode *node, const char *name)
{
	return xmlHasNsProp(node, (const xmlChar *)name, NULL) != NULL;
}

bool lx_attr_is(const xmlNode *node, const char *name, const char *value)
{
	char *v = lx_attr(node, name);
	bool same = v && strcmp(v, value) == 0;
	free(v);
	return same;
}

bool lx_attr_in(const xmlNode *node, const char *name, const char *const *values)
{
	char *v = lx_attr(node, name);
	bool in = !v || lx_name_in((const xmlChar *)v, values);
	free(v);
	return in;
}

char *lx_text(const xmlNode *node)
{
	xmlChar *v = xmlNodeGetContent(node);
	char *out = strdup(v ? (const char *)v : "");
	xmlFree(v);
	return out;
}

bool lx_is(const xmlNode *node, const char *name)
{
	return node && node->type == XML_ELEMENT_NODE && !node->ns &&
	       strcmp((const char *)node->name, name) == 0;
}

xmlNodePtr lx_child(const xmlNode *node, const char *name)
{
	for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
		if (lx_is(c, name))
			return c;
	return NULL;
}

xmlNodePtr lx_find(struct lx *p, const char *xpath)
{
	xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)xpath, p->xpath);
	xmlNodePtr node = NULL;
	if (r && r->type == XPATH_NODESET && r->nodesetval && r->nodesetval->nodeNr > 0)
		node = r->nodesetval->nodeTab[0];
	xmlXPathFreeObject(r);
	return node;
}

bool lx_name_in(const xmlChar *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp((const char *)name, *list) == 0)
			return true;
	return false;
}

void lx_other_children(struct lx *p, const xmlNode *node, const char *const *known,
		       const char *why)
{
	for (xmlNodePtr c = node->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!c->ns && lx_name_in(c->name, known))
			continue;
		lx_issue(p, c, NULL, "<%s>: %s", (const char *)c->name, why);
	}
}

int lx_uint_text(struct lx *p, const xmlNode *node, unsigned long long min,
		 unsigned long long max, unsigned long long *out)
{
	char *text = lx_text(node);
	struct error e;
	int rc = text ? libvirt_uint_parse(text, max, out, &e) : error_set(&e, "out of memory");
	free(text);
	if (rc < 0)
		return lx_invalid(p, node, NULL, "%s", e.msg);
	if (*out < min)
		return lx_invalid(p, node, NULL, "%llu is below the minimum %llu", *out, min);
	return 0;
}

int lx_uint_attr(struct lx *p, const xmlNode *node, const char *attr, unsigned long long min,
		 unsigned long long max, unsigned long long dflt, unsigned long long *out)
{
	char *text = lx_attr(node, attr);
	if (!text) {
		*out = dflt;
		return 0;
	}
	struct error e;
	int rc = libvirt_uint_parse(text, max, out, &e);
	free(text);
	if (rc < 0)
		return lx_invalid(p, node, attr, "%s", e.msg);
	if (*out < min)
		return lx_invalid(p, node, attr, "%llu is below the minimum %llu", *out, min);
	return 0;
}

int lx_size(struct lx *p, const xmlNode *node, uint64_t default_scale, uint64_t *bytes)
{
	char *text = lx_text(node), *unit = lx_attr(node, "unit");
	struct error e;
	int rc = text ? libvirt_size_parse(text, unit, default_scale, bytes, &e)
		      : error_set(&e, "out of memory");
	free(text);
	free(unit);
	if (rc < 0)
		return lx_invalid(p, node, NULL, "%s", e.msg);
	return 0;
}
