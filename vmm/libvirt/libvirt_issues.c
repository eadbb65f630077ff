#include "libvirt_issues.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void add(struct libvirt_issues *l, bool fatal, const char *where, const char *fmt,
		va_list ap)
{
	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 8;
		struct libvirt_issue *items = realloc(l->items, cap * sizeof(*items));
		if (!items) {
			l->out_of_memory = true;
			return;
		}
		l->items = items;
		l->cap = cap;
	}
	char *why = NULL;
	int n = vasprintf(&why, fmt, ap);
	char *w = strdup(where);
	if (n < 0 || !w) {
		free(w);
		if (n >= 0)
			free(why);
		l->out_of_memory = true;
		return;
	}
	l->items[l->n++] = (struct libvirt_issue){ .where = w, .why = why, .fatal = fatal };
	l->nfatal += fatal;
}

void libvirt_issues_add(struct libvirt_issues *l, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(l, false, where, fmt, ap);
	va_end(ap);
}

void libvirt_issues_add_fatal(struct libvirt_issues *l, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(l, true, where, fmt, ap);
	va_end(ap);
}

void libvirt_issues_free(struct libvirt_issues *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		free(l->items[i].where);
		free(l->items[i].why);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

bool libvirt_issues_mention(const struct libvirt_issues *l, const char *prefix)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strncmp(l->items[i].where, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

char *libvirt_issues_join(const struct libvirt_issues *l, bool only_fatal)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	unsigned count = only_fatal ? l->nfatal : l->n;
	fprintf(f, "%u thing%s Ember cannot honour: ", count, count == 1 ? "" : "s");
	const char *sep = "";
	for (unsigned i = 0; i < l->n; i++) {
		if (only_fatal && !l->items[i].fatal)
			continue;
		fprintf(f, "%s%s (%s)", sep, l->items[i].where, l->items[i].why);
		sep = "; ";
	}
	if (l->out_of_memory)
		fprintf(f, "; (more: out of memory while listing them)");
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void libvirt_issues_warn(const struct libvirt_issues *l, const char *domain, FILE *out)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!l->items[i].fatal)
			fprintf(out, "ember: warning: libvirt domain '%s': ignoring %s (%s)\n",
				domain, l->items[i].where, l->items[i].why);
	if (l->out_of_memory)
		fprintf(out, "ember: warning: libvirt domain '%s': more issues were lost (out of "
			"memory)\n", domain);
}
