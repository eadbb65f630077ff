/* Errors as values: a failing function fills a struct error with one line that names the problem
 * and returns -1; the caller adds context or prints it. */
#ifndef EMBER_ERROR_H
#define EMBER_ERROR_H

#include <stddef.h>

struct error {
	char msg[512];
};

/* Formats the message into e (if e is non-NULL) and returns -1, so callers can write
 * `return error_set(e, "...")`. */
int error_set(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like error_set, with ": strerror(errno)" appended. */
int error_errno(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message: "prefix: old message". */
int error_prefix(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
