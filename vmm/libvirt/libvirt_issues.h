/* What a libvirt domain asks for and Ember cannot honour: a list of (where, why) pairs, each
 * naming its place in the XML the way XPath does ("/domain/devices/graphics",
 * "/domain/devices/disk[2]/driver/@type"). The parser collects all of them so that one message
 * lists everything at once; with --libvirt-lenient they become warnings instead. */
#ifndef EMBER_LIBVIRT_ISSUES_H
#define EMBER_LIBVIRT_ISSUES_H

#include <stdbool.h>
#include <stdio.h>

struct libvirt_issue {
	char *where; /* XPath of the element or attribute */
	char *why;   /* what Ember cannot do, and what happens with --libvirt-lenient */
	bool fatal;  /* nothing to ignore: without it there is no VM (no kernel, not x86-64) */
};

struct libvirt_issues {
	struct libvirt_issue *items;
	unsigned n, cap;
	unsigned nfatal;
	bool out_of_memory; /* an issue could not be recorded: the list is incomplete */
};

/* An item --libvirt-lenient may ignore (the parser has left it out of the VM). */
void libvirt_issues_add(struct libvirt_issues *l, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An item that stops the VM even with --libvirt-lenient. */
void libvirt_issues_add_fatal(struct libvirt_issues *l, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void libvirt_issues_free(struct libvirt_issues *l);

/* True when some issue's `where` starts with `prefix` (tests, and callers checking a device). */
bool libvirt_issues_mention(const struct libvirt_issues *l, const char *prefix);

/* One line: "N things Ember cannot honour: WHERE (WHY); WHERE (WHY)" over all issues, or only
 * the fatal ones. malloc'd, NULL when out of memory. */
char *libvirt_issues_join(const struct libvirt_issues *l, bool only_fatal);

/* One "ember: warning: ..." line per issue that is not fatal. */
void libvirt_issues_warn(const struct libvirt_issues *l, const char *domain, FILE *out);

#endif
