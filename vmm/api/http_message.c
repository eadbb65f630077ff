#include "http_message.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_response_clear(struct http_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

void http_response_no_content(struct http_response *r)
{
	http_response_clear(r);
	r->status = 204;
}

void http_response_json(struct http_response *r, int status, struct json_object *obj)
{
	http_response_clear(r);
	r->status = status;
	if (!obj)
		return;
	size_t len = 0;
	int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *text = json_object_to_json_string_length(obj, flags, &len);
	r->body = text ? strndup(text, len) : NULL;
	r->body_len = r->body ? len : 0;
	json_object_put(obj);
	if (!r->body)
		r->status = 500; /* out of memory: an empty 500 still tells the client */
}

void http_response_vfault(struct http_response *r, int status, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	struct json_object *obj = json_object_new_object();
	if (obj)
		json_object_object_add(obj, "fault_message", json_object_new_string(msg));
	http_response_json(r, status, obj);
}

void http_response_fault(struct http_response *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	http_response_vfault(r, status, fmt, ap);
	va_end(ap);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	default: return "Unknown";
	}
}

char *http_response_serialize(const struct http_response *r, int keep_alive, size_t *len)
{
	char head[256];
	int n;
	if (r->body)
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nServer: Ember API\r\nConnection: %s\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     r->status, status_text(r->status), keep_alive ? "keep-alive" : "close",
			     r->body_len);
	else if (r->status == 204)
		/* No Content-Length on 204 (RFC 9110 8.6). */
		n = snprintf(head, sizeof(head), "HTTP/1.1 204 No Content\r\nServer: Ember API\r\n"
			     "Connection: %s\r\n\r\n", keep_alive ? "keep-alive" : "close");
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nServer: Ember API\r\nConnection: %s\r\n"
			     "Content-Length: 0\r\n\r\n",
			     r->status, status_text(r->status), keep_alive ? "keep-alive" : "close");
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	char *out = malloc((size_t)n + r->body_len);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)n);
	if (r->body_len)
		memcpy(out + n, r->body, r->body_len);
	*len = (size_t)n + r->body_len;
	return out;
}
