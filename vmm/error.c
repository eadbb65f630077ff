#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends ": suffix" at msg[at], truncating to the buffer (a long message loses its tail). */
static void append_suffix(struct error *e, int at, const char *suffix)
{
	if (at < 0 || (size_t)at >= sizeof(e->msg) - 1)
		return;
	size_t room = sizeof(e->msg) - 1 - (size_t)at;
	const char sep[] = ": ";
	size_t n = 0;
	for (size_t i = 0; sep[i] && n < room; i++)
		e->msg[at + (int)n++] = sep[i];
	for (size_t i = 0; suffix[i] && n < room; i++)
		e->msg[at + (int)n++] = suffix[i];
	e->msg[at + (int)n] = '\0';
}

int error_set(struct error *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int error_errno(struct error *e, const char *fmt, ...)
{
	int saved = errno;
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	append_suffix(e, n, strerror(saved));
	return -1;
}

int error_prefix(struct error *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char old[sizeof(e->msg)];
	memcpy(old, e->msg, sizeof(old));
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	append_suffix(e, n, old);
	return -1;
}
