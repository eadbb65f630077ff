/* One HTTP request as the API handlers see it, and the response they fill in. The server
 * (http_server.c) parses requests with http-parser and writes responses; handlers never see the
 * wire format. */
#ifndef EMBER_HTTP_MESSAGE_H
#define EMBER_HTTP_MESSAGE_H

#include <stdarg.h>
#include <stddef.h>

struct json_object;

/* Limits of one request (Firecracker's defaults where it has one: 51200 bytes of body). */
#define HTTP_MAX_URL          1024
#define HTTP_MAX_HEADER_BYTES 8192
#define HTTP_DEFAULT_MAX_BODY 51200

enum http_verb { HTTP_VERB_GET, HTTP_VERB_PUT, HTTP_VERB_PATCH, HTTP_VERB_OTHER };

struct http_request {
	enum http_verb verb;
	const char *method;         /* "GET", "DELETE", ... for messages */
	char url[HTTP_MAX_URL + 1]; /* as sent: path and maybe a query */
	char *body;                 /* NUL-terminated, NULL when the request had none */
	size_t body_len;
};

struct http_response {
	int status;                 /* 200, 204, 400, ... */
	char *body;                 /* malloc'd JSON text, or NULL */
	size_t body_len;
};

/* 204 No Content. */
void http_response_no_content(struct http_response *r);
/* `status` with `obj` as the JSON body; takes the reference to obj. */
void http_response_json(struct http_response *r, int status, struct json_object *obj);
/* `status` with Firecracker's error body {"fault_message": "..."}. */
void http_response_fault(struct http_response *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_response_vfault(struct http_response *r, int status, const char *fmt, va_list ap);
void http_response_clear(struct http_response *r);

/* The status line, headers and body, ready to send (malloc'd). Returns NULL when out of memory. */
char *http_response_serialize(const struct http_response *r, int keep_alive, size_t *len);

#endif
