#include "http_server.h"

#include <errno.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_MAX_CONNECTIONS 16
#define DEFAULT_REQUEST_TIMEOUT_MS 5000
#define CONN_BUF_SIZE 4096

enum conn_phase { CONN_RECEIVING, CONN_SENDING };

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	int fd;
	enum conn_phase phase;
	struct ev_op op;                  /* the one submission in flight */
	struct __kernel_timespec timeout;
	http_parser parser;
	char in[CONN_BUF_SIZE];
	size_t in_len, in_off;            /* received bytes, and how many the parser took */
	bool in_message;                  /* a request has begun and is not complete */
	bool have_request;                /* a complete request waits for its response */
	struct http_request req;
	size_t url_len, header_bytes, body_cap;
	char reject[200];                 /* why a callback refused the request */
	char *out;
	size_t out_len, out_off;
	bool close_after_send;
};

struct http_server {
	struct event_loop *loop;
	struct http_server_config cfg;
	char *path;
	int listen_fd;
	struct ev_op accept_op;
	struct http_conn *conns;
	unsigned nconns;
};

static void conn_receive(struct http_conn *c);
static void conn_parse(struct http_conn *c);

/* ---- http-parser callbacks: build c->req, refuse what is over a limit ---- */

static int refuse(struct http_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct http_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reject, sizeof(c->reject), fmt, ap);
	va_end(ap);
	return -1; /* makes http_parser_execute stop with a callback error */
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;
	free(c->req.body);
	memset(&c->req, 0, sizeof(c->req));
	c->url_len = c->header_bytes = c->body_cap = 0;
	c->in_message = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (len > HTTP_MAX_URL - c->url_len)
		return refuse(c, "request URL is longer than %d bytes", HTTP_MAX_URL);
	memcpy(c->req.url + c->url_len, at, len);
	c->url_len += len;
	c->req.url[c->url_len] = '\0';
	return 0;
}

static int on_header_data(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	(void)at;
	c->header_bytes += len;
	if (c->header_bytes > HTTP_MAX_HEADER_BYTES)
		return refuse(c, "request headers are larger than %d bytes", HTTP_MAX_HEADER_BYTES);
	return 0;
}

static enum http_verb verb_of(unsigned method)
{
	switch (method) {
	case HTTP_GET: return HTTP_VERB_GET;
	case HTTP_PUT: return HTTP_VERB_PUT;
	case HTTP_PATCH: return HTTP_VERB_PATCH;
	default: return HTTP_VERB_OTHER;
	}
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	c->req.verb = verb_of(p->method);
	c->req.method = http_method_str((enum http_method)p->method);
	if (p->flags & F_CHUNKED)
		return refuse(c, "chunked transfer encoding is not supported; send Content-Length");
	if (!(p->flags & F_CONTENTLENGTH) || p->content_length == 0)
		return 0;
	if (p->content_length > c->srv->cfg.max_body)
		return refuse(c, "request body of %llu bytes is larger than the limit of %zu bytes",
			      (unsigned long long)p->content_length, c->srv->cfg.max_body);
	c->body_cap = (size_t)p->content_length;
	c->req.body = malloc(c->body_cap + 1);
	if (!c->req.body)
		return refuse(c, "out of memory for a %zu-byte request body", c->body_cap);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	/* The parser never delivers more than Content-Length; check anyway. */
	if (!c->req.body || len > c->body_cap - c->req.body_len)
		return refuse(c, "request body is longer than its Content-Length");
	memcpy(c->req.body + c->req.body_len, at, len);
	c->req.body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	if (c->req.body)
		c->req.body[c->req.body_len] = '\0';
	c->in_message = false;
	c->have_request = true;
	c->close_after_send = !http_should_keep_alive(p);
	http_parser_pause(p, 1); /* one request at a time: the rest waits in c->in */
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_data,
	.on_header_value = on_header_data,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- connections ---- */

static void conn_close(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	close(c->fd);
	free(c->req.body);
	free(c->out);
	free(c);
}

static void conn_send_response(struct http_conn *c, struct http_response *resp)
{
	if (resp->status == 0)
		http_response_fault(resp, 500, "the request was not answered");
	free(c->out);
	c->out = http_response_serialize(resp, !c->close_after_send, &c->out_len);
	http_response_clear(resp);
	if (!c->out) {
		conn_close(c);
		return;
	}
	c->out_off = 0;
	c->phase = CONN_SENDING;
	if (event_loop_send(c->srv->loop, &c->op, c->fd, c->out, (unsigned)c->out_len) < 0)
		conn_close(c);
}

/* Answers 400 and hangs up: after a framing error the byte stream cannot be trusted. */
static void conn_reject(struct http_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void conn_reject(struct http_conn *c, const char *fmt, ...)
{
	struct http_response resp = { 0 };
	va_list ap;
	va_start(ap, fmt);
	http_response_vfault(&resp, 400, fmt, ap);
	va_end(ap);
	c->close_after_send = true;
	conn_send_response(c, &resp);
}

static void conn_answer(struct http_conn *c)
{
	struct http_response resp = { 0 };
	c->srv->cfg.handler(c->srv->cfg.opaque, &c->req, &resp);
	conn_send_response(c, &resp);
}

static void conn_parse(struct http_conn *c)
{
	size_t n = http_parser_execute(&c->parser, &parser_settings, c->in + c->in_off,
				       c->in_len - c->in_off);
	c->in_off += n;
	if (c->have_request) {
		conn_answer(c);
		return;
	}
	enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
	if (err != HPE_OK) {
		if (c->reject[0])
			conn_reject(c, "%s", c->reject);
		else
			conn_reject(c, "malformed HTTP request: %s", http_errno_description(err));
		return;
	}
	if (c->parser.upgrade) {
		conn_reject(c, "protocol upgrades and CONNECT are not supported");
		return;
	}
	conn_receive(c);
}

static void on_received(struct http_conn *c, int res)
{
	if (res == -ECANCELED && c->in_message) {
		conn_reject(c, "incomplete request: nothing more arrived for %u ms",
			    c->srv->cfg.request_timeout_ms);
		return;
	}
	if (res == -EINTR || res == -ECANCELED) {
		conn_receive(c);
		return;
	}
	if (res < 0) {
		conn_close(c);
		return;
	}
	if (res == 0) {
		/* The client closed (maybe only its sending side) in the middle of a request. */
		if (c->in_message)
			conn_reject(c, "truncated request: the connection closed before its end");
		else
			conn_close(c);
		return;
	}
	c->in_len = (size_t)res;
	c->in_off = 0;
	conn_parse(c);
}

static void on_sent(struct http_conn *c, int res)
{
	if (res <= 0) {
		conn_close(c);
		return;
	}
	c->out_off += (size_t)res;
	if (c->out_off < c->out_len) {
		if (event_loop_send(c->srv->loop, &c->op, c->fd, c->out + c->out_off,
				    (unsigned)(c->out_len - c->out_off)) < 0)
			conn_close(c);
		return;
	}
	free(c->out);
	c->out = NULL;
	if (c->close_after_send) {
		conn_close(c);
		return;
	}
	c->have_request = false;
	http_parser_pause(&c->parser, 0);
	if (c->in_off < c->in_len)
		conn_parse(c); /* a pipelined request is already here */
	else
		conn_receive(c);
}

static void on_conn_io(struct ev_op *op, int res)
{
	struct http_conn *c = container_of(op, struct http_conn, op);
	if (c->phase == CONN_RECEIVING)
		on_received(c, res);
	else
		on_sent(c, res);
}

static void conn_receive(struct http_conn *c)
{
	int rc;
	c->phase = CONN_RECEIVING;
	c->in_len = c->in_off = 0;
	/* Only a started request has a deadline; an idle keep-alive connection may wait. */
	if (c->in_message)
		rc = event_loop_recv_timeout(c->srv->loop, &c->op, c->fd, c->in, sizeof(c->in),
					     &c->timeout, c->srv->cfg.request_timeout_ms);
	else
		rc = event_loop_recv(c->srv->loop, &c->op, c->fd, c->in, sizeof(c->in));
	if (rc < 0)
		conn_close(c);
}

static void conn_open(struct http_server *s, int fd)
{
	if (s->nconns >= s->cfg.max_connections) {
		close(fd); /* the client sees EOF and may retry */
		return;
	}
	struct http_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->op.done = on_conn_io;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	conn_receive(c);
}

/* ---- listening ---- */

static void on_accept(struct ev_op *op, int res)
{
	struct http_server *s = container_of(op, struct http_server, accept_op);
	if (res >= 0)
		conn_open(s, res);
	/* Errors (EMFILE, ECONNABORTED, ...) concern one client; keep accepting. */
	event_loop_accept(s->loop, &s->accept_op, s->listen_fd);
}

static int bind_socket(struct http_server *s, struct error *e)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(s->path) >= sizeof(addr.sun_path))
		return error_set(e, "API socket path '%s' is longer than %zu bytes", s->path,
				 sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return error_errno(e, "socket");
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EADDRINUSE)
			return error_set(e, "API socket '%s' already exists (remove it first)", s->path);
		return error_errno(e, "cannot bind the API socket '%s'", s->path);
	}
	if (listen(s->listen_fd, 64) < 0)
		return error_errno(e, "listen on '%s'", s->path);
	return 0;
}

struct http_server *http_server_create(struct event_loop *loop,
				       const struct http_server_config *cfg, struct error *e)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(cfg->socket_path))) {
		free(s);
		error_set(e, "out of memory for the API server");
		return NULL;
	}
	s->loop = loop;
	s->cfg = *cfg;
	s->cfg.socket_path = s->path;
	if (!s->cfg.max_body)
		s->cfg.max_body = HTTP_DEFAULT_MAX_BODY;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!s->cfg.request_timeout_ms)
		s->cfg.request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	s->accept_op.done = on_accept;
	s->listen_fd = -1;
	bool bound = false;
	if (bind_socket(s, e) == 0) {
		bound = true;
		if (event_loop_accept(loop, &s->accept_op, s->listen_fd) == 0)
			return s;
		error_set(e, "cannot queue an accept on the API socket");
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (bound)
		unlink(s->path);
	free(s->path);
	free(s);
	return NULL;
}

void http_server_destroy(struct http_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	close(s->listen_fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

unsigned http_server_connections(const struct http_server *s)
{
	return s->nconns;
}
