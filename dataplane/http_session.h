/*
 * dataplane/http_session.h - internal to the HTTP injection API: the
 * session and per-worker server state shared by http_server.c (I/O,
 * request framing, authentication, limits) and http_inject.c (the
 * endpoints, from a complete request to the store's commit and the
 * response).
 *
 * Session states:
 *   HEAD    reading a request head (or idle between kept-alive requests)
 *   BODY    reading a Content-Length body (body_left bytes to go)
 *   CHUNKED reading a chunked body
 *   COMMIT  the request's messages are with the store; input is held
 *           until every append has completed and the response is queued
 */
#ifndef SLUICE_DATAPLANE_HTTP_SESSION_H
#define SLUICE_DATAPLANE_HTTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/dkim.h"
#include "dataplane/accept.h"
#include "dataplane/buf.h"
#include "dataplane/conn.h"
#include "dataplane/http_body.h"
#include "dataplane/http_keys.h"
#include "dataplane/http_parse.h"
#include "dataplane/pool.h"
#include "dataplane/store.h"
#include "dataplane/worker.h"

struct sl_config_http;

enum http_state {
	HS_HEAD = 0,
	HS_BODY,
	HS_CHUNKED,
	HS_COMMIT,
};

enum http_endpoint {
	EP_MESSAGES = 0,	/* POST /v1/messages */
	EP_SEND,		/* POST /v1/send */
};

struct http_job;

struct http_session {
	struct sl_conn *conn;
	struct http_server *srv;
	struct http_session *prev, *next;
	struct sl_timer idle;		/* idle_timeout, rearmed on every receive */
	struct sl_timer deadline;	/* request_timeout from a request's first byte */

	enum http_state state;
	char client[48];
	char key_name[SL_HTTP_KEY_NAME_MAX + 1];	/* the API key that authenticated */
	bool closing;		/* close once the output is sent */
	bool linger;		/* closing: drop input for a while before the close */
	bool closed;		/* the connection is gone */
	bool send_busy;

	struct sl_http_request req;
	enum http_endpoint endpoint;
	struct sl_buf body;
	uint64_t body_left;
	struct sl_http_chunked chunked;
	struct http_job *job;	/* while COMMIT */

	struct sl_buf in;
	struct sl_buf out[2];	/* out[fill] collects; out[fill ^ 1] may be in flight */
	unsigned fill;
};

/* One per worker. */
struct http_server {
	struct sl_worker *worker;
	const struct sl_config_http *cfg;
	const char *hostname;
	uint64_t smtp_max_recipients;
	struct sl_http_keys *keys;
	struct sl_pool sessions;
	struct http_session *list;
	unsigned nsessions;
	bool draining;
	struct sl_dkim_body hasher;
	unsigned body_hash_mask;
	uint64_t requests;	/* requests answered, for the log at stop */
	uint64_t injected;	/* messages committed */
	char busy[320];		/* the 503 response for connections over max_sessions */
};

/* http_server.c */
void http_respond(struct http_session *s, int status, const char *extra_headers,
		  const char *json);
void http_respond_error(struct http_session *s, const struct sl_http_error *err);
void http_request_done(struct http_session *s);
void http_resume(struct http_session *s);
void http_session_release(struct http_session *s);

/* http_inject.c */
void http_handle(struct http_session *s);
void http_job_free(struct http_job *job);

#endif
