/*
 * dataplane/http_server.c - sluiced's HTTP injection API: sessions, request
 * framing, authentication, limits and the worker module.
 *
 * Contract:
 *   sl_http_server_register() adds the API as a worker module. Each worker
 *   listens on every http.listen address (SO_REUSEPORT). It uses the same
 *   connection interface (conn.h) and io_uring loop as the SMTP server.
 *   Sessions come from a per-worker pool of http.max_sessions.
 *
 * Before its body is read, a request goes through these checks in order:
 *   head syntax (400, 431, 501, 505)
 *   client address in http.allow_networks (403)
 *   API key (401)
 *   method and path (405, 404)
 *   a body length (411) within http.max_request_size (413)
 *   a supported Content-Type (415)
 * Then "100 Continue" is sent when the client asked for it, the body is
 * read (Content-Length or chunked) and http_inject.c handles it.
 *
 * HTTP/1.1 keep-alive: after a response, pipelined input is processed as
 * the next request. A response to a request whose body was not read (a
 * check failed before it) closes the connection, because the rest of the
 * input cannot be framed. Timeouts: http.idle_timeout without input
 * closes the connection (408 when a request was under way), and a request
 * must be complete within http.request_timeout of its first byte (408).
 *
 * NOTE: a request body is held in memory whole (up to http.max_request_size
 * per session) before it is parsed, and JSON parsing allocates per request.
 * Memory is thus bounded by max_sessions x max_request_size per worker,
 * not by a pool made at start as for SMTP sessions.
 */
#include "dataplane/http_server.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_http.h"
#include "ctl/config/config_smtp.h"
#include "dataplane/ctl_link.h"
#include "dataplane/http_session.h"

/*
 * After an error response to a request whose body was not read, input is
 * read and dropped for this long before the close. A close with unread
 * input resets the connection, and the client would lose the response.
 */
#define LINGER_MS 2000

/* Response bytes collected while a send is in flight, beyond which input waits. */
#define MAX_PENDING_OUTPUT (256 * 1024)

static void flush_output(struct http_session *s);
static void session_free(struct http_session *s);
static void process(struct http_session *s);

/* Responses. */

static void count_request(struct http_session *s, int status)
{
	struct sl_shm_worker *counters = sl_sluiced_counters(s->srv->worker);

	s->srv->requests++;
	if (!counters)
		return;
	atomic_fetch_add_explicit(&counters->http_requests, 1, memory_order_relaxed);
	if (status >= 400)
		atomic_fetch_add_explicit(&counters->http_rejected, 1, memory_order_relaxed);
}

void http_respond(struct http_session *s, int status, const char *extra_headers,
		  const char *json)
{
	struct sl_buf *b = &s->out[s->fill];
	char head[512];
	size_t len = json ? strlen(json) : 0;
	int n;

	if (status >= 200)
		count_request(s, status);
	if (status >= 200 && !s->req.keep_alive)
		s->closing = true;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nServer: sluice\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n%s%s\r\n",
		     status, sl_http_reason(status), len + (json ? 1 : 0),
		     s->closing ? "Connection: close\r\n"
				: s->req.minor == 0 ? "Connection: keep-alive\r\n" : "",
		     extra_headers ? extra_headers : "");
	sl_buf_append(b, head, (size_t)n);
	if (json) {
		sl_buf_append(b, json, len);
		sl_buf_append(b, "\n", 1);
	}
}

/* The JSON error body: {"error": {"status", "field", "message"}}. */
void http_respond_error(struct http_session *s, const struct sl_http_error *err)
{
	const char *extra = NULL;
	json_t *e = json_pack("{s:{s:i,s:s,s:s}}", "error", "status", err->status, "field",
			      err->field, "message", err->message);
	char *text = json_dumps(e, JSON_COMPACT);

	if (err->status == 401)
		extra = "WWW-Authenticate: Bearer realm=\"sluice\"\r\n";
	else if (err->status == 405)
		extra = "Allow: POST\r\n";
	else if (err->status == 503 || err->status == 507)
		extra = err->status == 507 ? "Retry-After: 60\r\n" : "Retry-After: 5\r\n";
	/* The message may quote client input, so it is logged JSON-escaped. */
	json_t *m = json_string_nocheck(err->message);
	char *quoted = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;

	sl_info("http reject client=%s key=%s method=%s target=%s status=%d field=%s "
		"message=%s", s->client, s->key_name[0] ? s->key_name : "-",
		s->req.method_text[0] ? s->req.method_text : "-",
		s->req.target[0] ? s->req.target : "-", err->status,
		err->field[0] ? err->field : "-", quoted ? quoted : "\"\"");
	http_respond(s, err->status, extra, text);
	free(quoted);
	json_decref(m);
	free(text);
	json_decref(e);
}

/* Reject a request whose body was not read: the connection ends after it. */
static void reject_early(struct http_session *s, int status, const char *fmt, const char *arg)
{
	struct sl_http_error err = { .status = status };

	snprintf(err.message, sizeof(err.message), fmt, arg);
	s->closing = true;
	s->linger = true;
	http_respond_error(s, &err);
}

/* Output. */

static void send_done(struct sl_conn *conn, void *user, uint64_t tag, int result)
{
	struct http_session *s = user;

	(void)conn;
	s->out[tag].len = 0;
	s->send_busy = false;
	if (result < 0 || s->closed)
		return;
	flush_output(s);
	process(s);
}

static void session_close(struct http_session *s)
{
	sl_conn_close(s->conn);
}

static void flush_output(struct http_session *s)
{
	struct sl_buf *b = &s->out[s->fill];
	struct iovec iov;

	if (s->closed || s->send_busy)
		return;
	if (b->len == 0) {
		if (s->closing && s->linger)
			sl_timer_arm(s->srv->worker, &s->deadline, LINGER_MS);
		else if (s->closing)
			session_close(s);
		return;
	}
	iov.iov_base = b->p;
	iov.iov_len = b->len;
	if (sl_conn_send(s->conn, &iov, 1, s->fill) < 0) {
		session_close(s);
		return;
	}
	s->send_busy = true;
	s->fill ^= 1;
	if (s->closing && !s->linger)
		session_close(s);	/* the backend sends what is queued first */
}

/* Request framing. */

/* Wipe the request's copy of the credentials. */
static void forget_credentials(struct http_session *s)
{
	OPENSSL_cleanse(s->req.authorization, sizeof(s->req.authorization));
}

/* Reset for the next request on a kept-alive connection. */
void http_request_done(struct http_session *s)
{
	forget_credentials(s);
	sl_timer_cancel(s->srv->worker, &s->deadline);
	s->state = HS_HEAD;
	s->body.len = 0;
	s->body_left = 0;
	s->key_name[0] = '\0';
	memset(&s->req, 0, sizeof(s->req));
	/* Keep a large body buffer only while it is small enough to reuse. */
	if (s->body.cap > 1024 * 1024)
		sl_buf_free(&s->body);
}

static bool route(struct http_session *s)
{
	static const struct {
		const char *path;
		enum http_endpoint endpoint;
	} routes[] = {
		{ "/v1/messages", EP_MESSAGES },
		{ "/v1/send", EP_SEND },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(s->req.target, routes[i].path) != 0)
			continue;
		if (s->req.method != SL_HTTP_POST) {
			reject_early(s, 405, "method %s is not allowed here: use POST",
				     s->req.method_text);
			return false;
		}
		s->endpoint = routes[i].endpoint;
		return true;
	}
	reject_early(s, 404, "no endpoint %.100s: use POST /v1/messages or POST /v1/send",
		     s->req.target);
	return false;
}

static bool check_client(struct http_session *s)
{
	const struct sl_config_http *c = s->srv->cfg;
	const char *name;
	bool given;

	if (c->allow_networks.n &&
	    !sl_config_network_contains(&c->allow_networks, (const struct sockaddr *)&s->conn->peer)) {
		reject_early(s, 403, "client address %s is not in http.allow_networks", s->client);
		return false;
	}
	given = s->req.authorization[0] != '\0';
	name = given ? sl_http_keys_check(s->srv->keys, s->req.authorization) : NULL;
	forget_credentials(s);
	if (!name) {
		reject_early(s, 401, "%s: send Authorization: Bearer KEY with a key from "
			     "http.api_keys_file", given ? "invalid API key" : "missing API key");
		return false;
	}
	snprintf(s->key_name, sizeof(s->key_name), "%s", name);
	return true;
}

static bool check_content_type(struct http_session *s)
{
	char type[128];

	if (!s->req.content_type[0] ||
	    sl_http_media_type(s->req.content_type, type, sizeof(type)) < 0) {
		reject_early(s, 415, "missing or invalid Content-Type '%.100s'", s->req.content_type);
		return false;
	}
	if (s->endpoint == EP_MESSAGES &&
	    strcmp(type, "multipart/form-data") != 0 && strcmp(type, "multipart/mixed") != 0) {
		reject_early(s, 415, "Content-Type %s is not supported by /v1/messages: send "
			     "multipart/form-data or multipart/mixed", type);
		return false;
	}
	if (s->endpoint == EP_SEND && strcmp(type, "application/json") != 0) {
		reject_early(s, 415, "Content-Type %s is not supported by /v1/send: send "
			     "application/json", type);
		return false;
	}
	return true;
}

static bool check_length(struct http_session *s)
{
	const struct sl_config_http *c = s->srv->cfg;
	char limit[32];

	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)c->max_request_size);
	if (!s->req.chunked && s->req.content_length < 0) {
		reject_early(s, 411, "%s", "missing Content-Length: send the body size or use "
			     "Transfer-Encoding: chunked");
		return false;
	}
	if (s->req.content_length > (int64_t)c->max_request_size) {
		reject_early(s, 413, "request body larger than http.max_request_size (%s bytes)",
			     limit);
		return false;
	}
	return true;
}

/* Parse a complete head at the start of s->in; returns its length or 0 when it failed. */
static size_t start_request(struct http_session *s, size_t head_len)
{
	struct sl_http_error err;
	int rc = sl_http_parse_head(s->in.p, head_len, &s->req, &err);

	/* The head may hold an API key: keep no copy of it in the input buffer. */
	OPENSSL_cleanse(s->in.p, head_len);
	if (rc < 0) {
		s->closing = true;
		s->linger = true;
		http_respond_error(s, &err);
		return 0;
	}
	if (!check_client(s) || !route(s) || !check_length(s) || !check_content_type(s))
		return 0;
	s->body.len = 0;
	if (s->req.chunked) {
		s->state = HS_CHUNKED;
		sl_http_chunked_begin(&s->chunked, s->srv->cfg->max_request_size);
	} else {
		s->state = HS_BODY;
		s->body_left = (uint64_t)s->req.content_length;
	}
	if (s->req.expect_continue && s->in.len == head_len &&
	    (s->req.chunked || s->body_left > 0))
		sl_buf_append(&s->out[s->fill], "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return head_len;
}

/* Read a head from s->in at *pos; returns false when more input is needed or it failed. */
static bool take_head(struct http_session *s, size_t *pos)
{
	const struct sl_config_http *c = s->srv->cfg;
	size_t avail = s->in.len - *pos, head_len;

	if (*pos) {
		sl_buf_consume(&s->in, *pos);
		*pos = 0;
	}
	if (avail && !s->deadline.deadline)
		sl_timer_arm(s->srv->worker, &s->deadline, c->request_timeout);
	head_len = sl_http_head_end(s->in.p, avail);
	if (head_len == 0 || head_len > c->max_header_size) {
		if (head_len > c->max_header_size || avail > c->max_header_size) {
			char limit[32];

			snprintf(limit, sizeof(limit), "%llu", (unsigned long long)c->max_header_size);
			reject_early(s, 431, "request head larger than http.max_header_size (%s bytes)",
				     limit);
		}
		return false;
	}
	if (start_request(s, head_len) == 0)
		return false;
	*pos = head_len;
	return true;
}

/* Consume body bytes from s->in at *pos. */
static void take_body(struct http_session *s, size_t *pos)
{
	const uint8_t *p = s->in.p + *pos;
	size_t avail = s->in.len - *pos;
	struct sl_http_error err;
	bool done;

	if (s->state == HS_BODY) {
		size_t n = avail < s->body_left ? avail : (size_t)s->body_left;

		sl_buf_append(&s->body, p, n);
		*pos += n;
		s->body_left -= n;
		if (s->body_left == 0)
			http_handle(s);
		return;
	}
	long n = sl_http_chunked_decode(&s->chunked, p, avail, &s->body, &done, &err);

	if (n < 0) {
		s->closing = true;
		s->linger = true;
		http_respond_error(s, &err);
		*pos = s->in.len;
		return;
	}
	*pos += (size_t)n;
	if (done)
		http_handle(s);
}

static void process(struct http_session *s)
{
	size_t pos = 0;

	while (!s->closing && !s->closed && s->state != HS_COMMIT &&
	       s->out[s->fill].len < MAX_PENDING_OUTPUT) {
		if (s->state == HS_HEAD) {
			if (!take_head(s, &pos))
				break;
			continue;
		}
		if (pos >= s->in.len && !(s->state == HS_BODY && s->body_left == 0))
			break;
		take_body(s, &pos);
	}
	sl_buf_consume(&s->in, pos);
	if (s->closing)
		s->in.len = 0;
	flush_output(s);
}

/* Connection callbacks. */

static void session_recv(struct sl_conn *conn, void *user, const uint8_t *data, size_t len)
{
	struct http_session *s = user;
	const struct sl_config_http *c = s->srv->cfg;

	(void)conn;
	if (s->closing)
		return;	/* dropped, also while lingering */
	sl_timer_arm(s->srv->worker, &s->idle, c->idle_timeout);
	sl_buf_append(&s->in, data, len);
	if (s->state == HS_COMMIT && s->in.len > c->max_request_size + c->max_header_size) {
		/* The pending request still gets its response, then the connection closes. */
		sl_warn("http client=%s sent more than %llu bytes of pipelined input while a "
			"request was being committed, closing after its response", s->client,
			(unsigned long long)(c->max_request_size + c->max_header_size));
		s->closing = true;
		s->in.len = 0;
		return;
	}
	process(s);
}

static void session_closed(struct sl_conn *conn, void *user, int reason)
{
	struct http_session *s = user;

	(void)conn;
	(void)reason;
	s->closed = true;
	s->conn = NULL;
	sl_timer_cancel(s->srv->worker, &s->idle);
	sl_timer_cancel(s->srv->worker, &s->deadline);
	/* A request waiting for its commit keeps the session until the store replies. */
	if (s->state != HS_COMMIT)
		session_free(s);
}

static const struct sl_conn_handler session_handler = {
	.recv = session_recv,
	.sent = send_done,
	.closed = session_closed,
};

static void timed_out(struct http_session *s, const char *which, uint64_t ms)
{
	bool under_way = s->state != HS_HEAD || s->in.len > 0;

	sl_info("http client=%s %s after %llu ms, closing", s->client, which,
		(unsigned long long)ms);
	if (under_way) {
		reject_early(s, 408, "%s: send the whole request sooner", which);
	} else {
		s->closing = true;
	}
	flush_output(s);
}

static void idle_expired(struct sl_worker *w, struct sl_timer *t)
{
	struct http_session *s = (struct http_session *)((char *)t - offsetof(struct http_session, idle));

	if (s->state == HS_COMMIT || s->closing) {
		sl_timer_arm(w, &s->idle, s->srv->cfg->idle_timeout);
		return;
	}
	timed_out(s, "idle timeout", s->srv->cfg->idle_timeout);
}

static void deadline_expired(struct sl_worker *w, struct sl_timer *t)
{
	struct http_session *s =
		(struct http_session *)((char *)t - offsetof(struct http_session, deadline));

	(void)w;
	if (s->linger) {
		session_close(s);
		return;
	}
	if (s->state == HS_COMMIT || s->closing)
		return;
	timed_out(s, "request timeout", s->srv->cfg->request_timeout);
}

/* Sessions. */

static void session_free(struct http_session *s)
{
	struct http_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	forget_credentials(s);
	sl_buf_free(&s->in);
	sl_buf_free(&s->body);
	sl_buf_free(&s->out[0]);
	sl_buf_free(&s->out[1]);
	sl_pool_put(&srv->sessions, s);
}

/* Process held input after a commit's response. */
void http_resume(struct http_session *s)
{
	process(s);
}

void http_session_release(struct http_session *s)
{
	session_free(s);
}

static const struct sl_conn_handler reject_handler = { 0 };

static int reject_connection(struct sl_conn *conn, const char *text, const char *client)
{
	struct iovec iov = { (void *)text, strlen(text) };

	sl_info("http client=%s rejected with 503: too many connections or shutting down", client);
	conn->handler = &reject_handler;
	conn->user = NULL;
	sl_conn_send(conn, &iov, 1, 0);
	sl_conn_close(conn);
	return 0;
}

static int session_accept(struct sl_conn *conn, void *arg)
{
	struct http_server *srv = arg;
	struct http_session *s;
	char client[48];

	sl_addr_text(&conn->peer, client, sizeof(client));
	if (srv->draining)
		return reject_connection(conn, srv->busy, client);
	s = sl_pool_get(&srv->sessions);
	if (!s)
		return reject_connection(conn, srv->busy, client);
	s->conn = conn;
	s->srv = srv;
	s->idle.fn = idle_expired;
	s->deadline.fn = deadline_expired;
	memcpy(s->client, client, sizeof(s->client));
	s->next = srv->list;
	if (srv->list)
		srv->list->prev = s;
	srv->list = s;
	srv->nsessions++;
	conn->handler = &session_handler;
	conn->user = s;
	sl_timer_arm(srv->worker, &s->idle, srv->cfg->idle_timeout);
	return 0;
}

/* The worker module. */

/* The 503 response for a connection that gets no session (sent from this text). */
static void make_busy_response(struct http_server *srv)
{
	static const char body[] = "{\"error\":{\"status\":503,\"field\":\"\",\"message\":"
				   "\"too many connections or stopping, try again later\"}}\n";

	snprintf(srv->busy, sizeof(srv->busy),
		 "HTTP/1.1 503 Service Unavailable\r\nServer: sluice\r\n"
		 "Content-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\n"
		 "Content-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
}

static int server_listen(struct sl_worker *w, struct http_server *srv)
{
	const struct sl_config_http *c = srv->cfg;

	for (size_t i = 0; i < c->listen.n; i++) {
		const struct sl_config_endpoint *ep = &c->listen.v[i];
		int rc = sl_listen(w, (const struct sockaddr *)&ep->addr, ep->len, session_accept, srv);

		if (rc < 0) {
			sl_err("http: listen on %s failed: %s", ep->text, strerror(-rc));
			return rc;
		}
		if (sl_worker_index(w) == 0)
			sl_info("http: listening on %s", ep->text);
	}
	return 0;
}

static int server_init(struct sl_worker *w, void **state)
{
	const struct sl_config *cfg = sl_worker_config(w);
	const struct sl_config_http *c = sl_config_http(cfg);
	const struct sl_config_smtp *smtp = sl_config_smtp(cfg);
	static char hostname[256];
	struct http_server *srv;
	char err[512];
	int rc;

	*state = NULL;
	if (c->listen.n == 0)
		return 0;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	*state = srv;
	srv->worker = w;
	srv->cfg = c;
	if (smtp->hostname) {
		srv->hostname = smtp->hostname;
	} else {
		if (!hostname[0] && gethostname(hostname, sizeof(hostname) - 1) < 0)
			strcpy(hostname, "localhost");
		srv->hostname = hostname;
	}
	srv->body_hash_mask = sl_accept_body_mask(smtp);
	make_busy_response(srv);
	rc = sl_http_keys_load(c->api_keys_file, &srv->keys, err, sizeof(err));
	if (rc < 0) {
		sl_err("http: %s", err);
		return rc;
	}
	rc = sl_pool_init(&srv->sessions, sizeof(struct http_session), c->max_sessions);
	if (rc < 0)
		return rc;
	return server_listen(w, srv);
}

/*
 * Shutdown: idle connections are closed. A request under way gets 503,
 * unless its messages are with the store: it gets its response first.
 */
static bool server_drain(struct sl_worker *w, void *state)
{
	struct http_server *srv = state;

	(void)w;
	if (!srv)
		return false;
	srv->draining = true;
	for (struct http_session *s = srv->list; s; s = s->next) {
		if (s->closing || s->closed || s->state == HS_COMMIT)
			continue;
		if (s->state == HS_HEAD && s->in.len == 0) {
			s->closing = true;
		} else {
			struct sl_http_error err = { .status = 503 };

			snprintf(err.message, sizeof(err.message), "sluiced is stopping: retry the "
				 "request later");
			s->closing = true;
			http_respond_error(s, &err);
		}
		flush_output(s);
	}
	return srv->nsessions > 0;
}

static void server_fini(struct sl_worker *w, void *state)
{
	struct http_server *srv = state;

	if (!srv)
		return;
	sl_info("http: worker=%u stopped requests=%llu injected=%llu", sl_worker_index(w),
		(unsigned long long)srv->requests, (unsigned long long)srv->injected);
	sl_http_keys_free(srv->keys);
	sl_pool_destroy(&srv->sessions);
	sl_dkim_body_free(&srv->hasher);
	free(srv);
}

static const struct sl_worker_module http_module = {
	.name = "http-server",
	.init = server_init,
	.drain = server_drain,
	.fini = server_fini,
};

int sl_http_server_register(void)
{
	return sl_worker_module_register(&http_module);
}
