/* Shared by the libvirt unit tests: parse a fixture (tests/libvirt/fixtures, found through
 * $EMBER_LIBVIRT_FIXTURES) or an inline domain. */
#ifndef EMBER_TEST_LIBVIRT_H
#define EMBER_TEST_LIBVIRT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/libvirt_domain.h"

static inline char *test_read_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("EMBER_LIBVIRT_FIXTURES");
	cr_assert_not_null(dir, "EMBER_LIBVIRT_FIXTURES is not set");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	static char buf[1 << 16];
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* Parses fixture `name`; asserts it parses. */
static inline void test_parse_fixture(const char *name, struct libvirt_domain *d)
{
	size_t len;
	char *xml = test_read_fixture(name, &len);
	struct error e = { "" };
	cr_assert_eq(libvirt_domain_parse(d, xml, len, NULL, &e), 0, "%s: %s", name, e.msg);
}

/* Parses an inline domain; returns what libvirt_domain_parse returned. */
static inline int test_parse_text(const char *xml, struct libvirt_domain *d, struct error *e)
{
	return libvirt_domain_parse(d, xml, strlen(xml), NULL, e);
}

/* A domain around `devices` (and `extra` top-level elements) that Ember can otherwise run. */
#define TEST_DOMAIN(extra, devices)                                                     \
	"<domain type='kvm'><name>t</name><memory unit='MiB'>256</memory>"                 \
	"<os><type arch='x86_64'>hvm</type><kernel>/k</kernel></os>" extra                 \
	"<devices>" devices "</devices></domain>"

/* Asserts that exactly the issue at `where` is listed. */
#define ASSERT_ONLY_ISSUE(d, path)                                                      \
	do {                                                                            \
		char *list_ = libvirt_issues_join(&(d)->issues, false);                     \
		cr_assert_eq((d)->issues.n, 1, "issues: %s", list_);                        \
		cr_assert_str_eq((d)->issues.items[0].where, path, "issues: %s", list_);    \
		free(list_);                                                            \
	} while (0)

#define ASSERT_NO_ISSUES(d)                                                             \
	do {                                                                            \
		char *list_ = libvirt_issues_join(&(d)->issues, false);                     \
		cr_assert_eq((d)->issues.n, 0, "issues: %s", list_);                        \
		free(list_);                                                            \
	} while (0)

#endif
