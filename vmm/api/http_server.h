/* An HTTP/1.1 server on a Unix stream socket, driven by an io_uring event loop (no thread per
 * connection): accept, recv and send are loop submissions, requests are parsed with http-parser
 * (nodejs), and each complete request is handed to one handler function that fills in a
 * response.
 *
 * Bad input never stops the server: a request that is malformed, too large, chunked, truncated
 * (the client closed or stalled mid-request) gets 400 with a fault_message and its connection is
 * closed; other connections go on. Requests on one connection are answered in order
 * (pipelining works). */
#ifndef EMBER_HTTP_SERVER_H
#define EMBER_HTTP_SERVER_H

#include "../error.h"
#include "../event_loop.h"
#include "http_message.h"

typedef void (*http_handler_fn)(void *opaque, const struct http_request *req,
				struct http_response *resp);

struct http_server_config {
	const char *socket_path;
	size_t max_body;             /* 0: HTTP_DEFAULT_MAX_BODY */
	unsigned max_connections;    /* 0: 16; more are accepted and closed at once */
	unsigned request_timeout_ms; /* a started request must be complete by then; 0: 5000 */
	http_handler_fn handler;
	void *opaque;
};

struct http_server;

/* Binds and listens on cfg->socket_path (which must not exist) and starts accepting. */
struct http_server *http_server_create(struct event_loop *loop,
				       const struct http_server_config *cfg, struct error *e);
/* Closes every connection and the listening socket and removes the socket file. Call once the
 * loop no longer runs (after event_loop_destroy): pending submissions point into the server. */
void http_server_destroy(struct http_server *s);
unsigned http_server_connections(const struct http_server *s);

#endif
