/*
 * dataplane/smtp_server.c - sluiced's SMTP injection server: sessions,
 * their input and output, TLS, limits and the worker module.
 *
 * Contract:
 *   sl_smtp_server_register() adds the server as a worker module; each
 *   worker then listens on every smtp.listen address (SO_REUSEPORT), so
 *   the kernel spreads clients over the workers. Sessions come from a
 *   per-worker pool of smtp.max_sessions made at start.
 *
 * Input: received bytes (decrypted first under TLS) are appended to the
 * session's input buffer, and smtp_process() consumes complete command
 * lines or content from it. Processing pauses while a message waits for
 * the store's commit (pipelined commands stay buffered and run after the
 * reply) and resumes from the commit callback.
 *
 * Output: replies of one processing pass are collected and sent with one
 * send, so a pipelined group of commands gets one packet of replies.
 *
 * Limits count per worker. A new client over smtp.max_sessions or
 * smtp.max_sessions_per_client gets "421 4.7.0" and is disconnected.
 * A session idle for smtp.idle_timeout gets 421 4.4.2, and one with
 * smtp.max_errors rejected commands gets 421 4.7.0; both are closed.
 */
#include "dataplane/smtp_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_smtp.h"
#include "dataplane/smtp_session.h"

/* Input held while paused, beyond which the client is disconnected. */
#define MAX_HELD_INPUT (1024 * 1024)
/* Replies collected while a send is in flight, beyond which input waits. */
#define MAX_PENDING_OUTPUT (256 * 1024)

static const struct sl_worker_module smtp_module;
static void session_free(struct session *s);
static void flush_output(struct session *s);
static void session_close(struct session *s);

/* Replies. */

static struct sl_buf *reply_buf(struct session *s)
{
	return s->tls_on ? &s->tls_plain : &s->out[s->fill];
}

void smtp_reply(struct session *s, const char *text)
{
	struct sl_buf *b = reply_buf(s);

	sl_buf_append(b, text, strlen(text));
	sl_buf_append(b, "\r\n", 2);
}

void smtp_replyf(struct session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	smtp_reply(s, line);
}

void smtp_close_after_reply(struct session *s, const char *reply)
{
	smtp_reply(s, reply);
	s->closing = true;
}

/* Reply with an error, log it, and count it against smtp.max_errors. */
void smtp_reject(struct session *s, const char *verb, const char *reply)
{
	smtp_reply(s, reply);
	sl_info("reject client=%s helo=%s command=%s reply=\"%s\"", s->client,
		s->helo[0] ? s->helo : "-", verb, reply);
	if (++s->errors >= s->srv->cfg->max_errors && !s->closing) {
		sl_warn("client=%s too many errors (%u), disconnecting", s->client, s->errors);
		smtp_close_after_reply(s, "421 4.7.0 Too many errors, closing connection");
	}
}

void smtp_reset_transaction(struct session *s)
{
	memset(&s->mail, 0, sizeof(s->mail));
	s->nrcpt = 0;
	s->strings.len = 0;
	s->msg.len = 0;
	s->prefix_len = 0;
	s->chunk_left = 0;
	s->chunk_last = false;
	s->chunk_discard = false;
	s->chunk_reply = NULL;
	if (s->state != ST_NEW)
		s->state = ST_READY;
}

/* Output. */

static void send_done(struct sl_conn *conn, void *user, uint64_t tag, int result)
{
	struct session *s = user;

	(void)conn;
	s->out[tag].len = 0;
	s->send_busy = false;
	if (result < 0 || s->closed)
		return;
	flush_output(s);
	smtp_process(s);
}

static void flush_output(struct session *s)
{
	struct sl_buf *b;
	struct iovec iov;

	if (s->closed)
		return;
	if (s->tls_on && s->tls_plain.len) {
		if (sl_tls_write(s->tls, s->tls_plain.p, s->tls_plain.len) < 0) {
			sl_warn("client=%s TLS write failed, disconnecting", s->client);
			s->closing = true;
		}
		s->tls_plain.len = 0;
	}
	if (s->tls)
		sl_tls_output(s->tls, &s->out[s->fill]);
	b = &s->out[s->fill];
	if (s->send_busy)
		return;
	if (b->len == 0) {
		if (s->closing)
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
	if (s->closing)
		session_close(s);	/* the backend sends what is queued first */
}

/* Input processing. */

/* Consume one command line from s->in at *pos; returns false when incomplete. */
static bool take_line(struct session *s, size_t *pos)
{
	const uint8_t *start = s->in.p + *pos;
	size_t avail = s->in.len - *pos, max = s->srv->cfg->max_command_line;
	const uint8_t *lf = memchr(start, '\n', avail);
	size_t len;

	if (!lf) {
		if (avail > max) {
			/* Over-long line without end yet: reject once, skip the rest. */
			if (!s->skip_line)
				smtp_reject(s, "-", "500 5.5.2 Line too long");
			s->skip_line = true;
			*pos = s->in.len;
		}
		return false;
	}
	len = (size_t)(lf - start) + 1;
	*pos += len;
	if (s->skip_line) {
		s->skip_line = false;
		return true;
	}
	if (len > max) {
		smtp_reject(s, "-", "500 5.5.2 Line too long");
		return true;
	}
	if (len < 2 || start[len - 2] != '\r') {
		smtp_reject(s, "-", "500 5.5.2 Syntax error: command lines must end with CRLF");
		return true;
	}
	if (s->auth_step != AUTH_NONE)
		smtp_auth_continue(s, (const char *)start, len - 2);
	else
		smtp_dispatch(s, (const char *)start, len - 2);
	return true;
}

/* Consume DATA or BDAT content from s->in at *pos. */
static void take_content(struct session *s, size_t *pos)
{
	const uint8_t *p = s->in.p + *pos;
	size_t avail = s->in.len - *pos;
	bool done;

	if (s->state == ST_DATA) {
		*pos += sl_smtp_data_scan(&s->data, p, avail, &s->msg, &done);
		if (done)
			smtp_message_done(s);
		return;
	}
	/* ST_CHUNK */
	if (avail > s->chunk_left)
		avail = (size_t)s->chunk_left;
	if (!s->chunk_discard)
		sl_smtp_data_scan(&s->data, p, avail, &s->msg, &done);
	*pos += avail;
	s->chunk_left -= avail;
	if (s->chunk_left)
		return;
	if (s->chunk_discard) {
		s->chunk_discard = false;
		s->state = s->chunk_return;
		smtp_reject(s, "BDAT", s->chunk_reply);
		return;
	}
	if (!s->chunk_last) {
		s->state = ST_BDAT;
		smtp_replyf(s, "250 2.0.0 Ok: %llu octets received",
			    (unsigned long long)s->data.size);
		return;
	}
	sl_smtp_data_end(&s->data);
	smtp_message_done(s);
}

void smtp_process(struct session *s)
{
	size_t pos = 0;

	while (!s->closing && !s->closed && s->state != ST_COMMIT && !s->tls_handshake &&
	       s->out[s->fill].len < MAX_PENDING_OUTPUT &&
	       (pos < s->in.len || (s->state == ST_CHUNK && s->chunk_left == 0))) {
		if (s->state == ST_DATA || s->state == ST_CHUNK) {
			take_content(s, &pos);
			continue;
		}
		if (!take_line(s, &pos))
			break;
		if (s->tls_handshake)
			pos = s->in.len;	/* plaintext pipelined after STARTTLS is discarded */
	}
	sl_buf_consume(&s->in, pos);
	if (s->closing)
		s->in.len = 0;
	flush_output(s);
}

/* TLS. */

void smtp_start_tls(struct session *s)
{
	s->tls = sl_tls_new(s->srv->tls);
	if (!s->tls) {
		smtp_close_after_reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->tls_handshake = true;
}

/* Decrypt incoming TLS bytes into s->in; returns false when the session ends. */
static bool tls_input(struct session *s, const uint8_t *data, size_t len)
{
	char why[256];
	int n;

	sl_tls_feed(s->tls, data, len);
	if (s->tls_handshake) {
		n = sl_tls_handshake(s->tls);
		if (n == -EAGAIN)
			return true;
		if (n < 0) {
			sl_info("client=%s TLS handshake failed: %s", s->client,
				sl_tls_error(why, sizeof(why)));
			s->closing = true;
			return false;
		}
		/* RFC 3207 4.2: forget everything learned before TLS. */
		s->tls_handshake = false;
		s->tls_on = true;
		s->state = ST_NEW;
		s->esmtp = false;
		s->helo[0] = '\0';
		s->in.len = 0;
		smtp_reset_transaction(s);
		sl_info("client=%s TLS established version=%s cipher=%s", s->client,
			sl_tls_version(s->tls), sl_tls_cipher(s->tls));
	}
	for (;;) {
		sl_buf_reserve(&s->in, 16384);
		n = sl_tls_read(s->tls, s->in.p + s->in.len, s->in.cap - s->in.len);
		if (n > 0) {
			s->in.len += (size_t)n;
			continue;
		}
		if (n == 0 || n == -EPROTO) {
			s->closing = true;
			return false;
		}
		return true;
	}
}

/* Connection callbacks. */

static void session_recv(struct sl_conn *conn, void *user, const uint8_t *data, size_t len)
{
	struct session *s = user;

	(void)conn;
	if (s->closing)
		return;
	sl_timer_arm(s->srv->worker, &s->idle, s->srv->cfg->idle_timeout);
	if (s->tls) {
		if (!tls_input(s, data, len)) {
			flush_output(s);
			return;
		}
	} else {
		sl_buf_append(&s->in, data, len);
	}
	if (s->in.len > MAX_HELD_INPUT && (s->state == ST_COMMIT || s->send_busy)) {
		smtp_close_after_reply(s, "421 4.7.0 Too much pipelined input, closing connection");
		s->in.len = 0;
	}
	smtp_process(s);
}

static void session_closed(struct sl_conn *conn, void *user, int reason)
{
	struct session *s = user;

	(void)conn;
	(void)reason;
	s->closed = true;
	s->conn = NULL;
	sl_timer_cancel(s->srv->worker, &s->idle);
	/* A message waiting for its commit keeps the session until the store replies. */
	if (s->state != ST_COMMIT)
		session_free(s);
}

static const struct sl_conn_handler session_handler = {
	.recv = session_recv,
	.sent = send_done,
	.closed = session_closed,
};

static void idle_expired(struct sl_worker *w, struct sl_timer *t)
{
	struct session *s = (struct session *)((char *)t - offsetof(struct session, idle));

	(void)w;
	if (s->state == ST_COMMIT) {
		sl_timer_arm(w, &s->idle, s->srv->cfg->idle_timeout);
		return;
	}
	sl_info("client=%s idle timeout after %llu ms, disconnecting", s->client,
		(unsigned long long)s->srv->cfg->idle_timeout);
	smtp_close_after_reply(s, "421 4.4.2 Idle timeout, closing connection");
	flush_output(s);
}

/* Per-client session counts: a chained hash of client addresses. */

static unsigned addr_hash(const struct sockaddr_storage *a)
{
	const uint8_t *p;
	size_t n;
	unsigned h = 2166136261u;

	if (a->ss_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
		n = 4;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static struct client_count *client_get(struct smtp_server *srv, const struct sockaddr_storage *a)
{
	unsigned b = addr_hash(a) & (srv->nbuckets - 1);
	struct client_count *c;

	for (c = srv->clients[b]; c; c = c->next)
		if (addr_equal(&c->addr, a))
			return c;
	c = sl_pool_get(&srv->client_slots);
	if (!c)
		return NULL;
	c->addr = *a;
	c->next = srv->clients[b];
	srv->clients[b] = c;
	return c;
}

static void client_put(struct smtp_server *srv, struct client_count *c)
{
	unsigned b = addr_hash(&c->addr) & (srv->nbuckets - 1);
	struct client_count **pp;

	if (--c->count)
		return;
	for (pp = &srv->clients[b]; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	sl_pool_put(&srv->client_slots, c);
}

/* Sessions. */

static void session_free(struct session *s)
{
	struct smtp_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	if (s->client_slot)
		client_put(srv, s->client_slot);
	sl_tls_free(s->tls);
	sl_buf_free(&s->in);
	sl_buf_free(&s->out[0]);
	sl_buf_free(&s->out[1]);
	sl_buf_free(&s->tls_plain);
	sl_buf_free(&s->msg);
	sl_buf_free(&s->strings);
	free(s->rcpts);
	sl_pool_put(&srv->sessions, s);
}

/*
 * Close the session's connection and give its per-client slot back at once,
 * before the peer can see the close, so that a client reconnecting right
 * after our close is never refused for a session that is already over.
 */
static void session_close(struct session *s)
{
	if (s->client_slot) {
		client_put(s->srv, s->client_slot);
		s->client_slot = NULL;
	}
	sl_conn_close(s->conn);
}

/* Refuse a connection with a 421 that needs no session (sent from static text). */
static const struct sl_conn_handler refuse_handler = { 0 };

static int refuse(struct sl_conn *conn, const char *text, const char *client)
{
	struct iovec iov = { (void *)text, strlen(text) };

	sl_info("client=%s refused: %.*s", client, (int)strlen(text) - 2, text);
	conn->handler = &refuse_handler;
	conn->user = NULL;
	sl_conn_send(conn, &iov, 1, 0);
	sl_conn_close(conn);
	return 0;
}

static int session_accept(struct sl_conn *conn, void *arg)
{
	struct smtp_server *srv = arg;
	struct client_count *slot;
	struct session *s;
	char client[48];

	sl_addr_text(&conn->peer, client, sizeof(client));
	if (srv->draining)
		return refuse(conn, "421 4.3.2 Service shutting down\r\n", client);
	slot = client_get(srv, &conn->peer);
	if (!slot || slot->count >= srv->cfg->max_sessions_per_client) {
		return refuse(conn, "421 4.7.0 Too many connections from your address\r\n", client);
	}
	s = sl_pool_get(&srv->sessions);
	if (!s)
		return refuse(conn, "421 4.7.0 Too many connections, try again later\r\n", client);
	slot->count++;
	s->client_slot = slot;
	s->conn = conn;
	s->srv = srv;
	s->idle.fn = idle_expired;
	memcpy(s->client, client, sizeof(s->client));
	s->relay_allowed = sl_config_network_contains(&srv->cfg->relay_networks,
						      (const struct sockaddr *)&conn->peer);
	s->next = srv->list;
	if (srv->list)
		srv->list->prev = s;
	srv->list = s;
	srv->nsessions++;
	conn->handler = &session_handler;
	conn->user = s;

	sl_timer_arm(srv->worker, &s->idle, srv->cfg->idle_timeout);
	smtp_replyf(s, "220 %s ESMTP sluice", srv->hostname);
	flush_output(s);
	return 0;
}

/* Called by smtp_accept.c when the store has replied and the session's
 * connection is already gone. */
void smtp_session_release(struct session *s)
{
	session_free(s);
}

/* The worker module. */

static int server_init(struct sl_worker *w, void **state)
{
	const struct sl_config *cfg = sl_worker_config(w);
	const struct sl_config_smtp *c = sl_config_smtp(cfg);
	struct smtp_server *srv = calloc(1, sizeof(*srv));
	static char hostname[256];
	char err[512];
	int rc;

	if (!srv)
		return -ENOMEM;
	*state = srv;
	srv->worker = w;
	srv->cfg = c;
	if (c->hostname) {
		srv->hostname = c->hostname;
	} else {
		if (!hostname[0] && gethostname(hostname, sizeof(hostname) - 1) < 0)
			strcpy(hostname, "localhost");
		srv->hostname = hostname;
	}
	srv->body_hash_mask = sl_accept_body_mask(c);
	if (c->tls_certificate) {
		srv->tls = sl_tls_server_ctx(c->tls_certificate, c->tls_key, err, sizeof(err));
		if (!srv->tls) {
			sl_err("smtp: %s", err);
			return -EINVAL;
		}
	}
	if (c->auth_users_file) {
		rc = sl_auth_load(c->auth_users_file, &srv->auth, err, sizeof(err));
		if (rc < 0) {
			sl_err("smtp: %s", err);
			return rc;
		}
	}
	rc = sl_pool_init(&srv->sessions, sizeof(struct session), c->max_sessions);
	if (rc == 0)
		rc = sl_pool_init(&srv->client_slots, sizeof(struct client_count), c->max_sessions + 1);
	if (rc < 0)
		return rc;
	srv->nbuckets = 1024;
	while (srv->nbuckets < c->max_sessions)
		srv->nbuckets *= 2;
	srv->clients = calloc(srv->nbuckets, sizeof(*srv->clients));
	srv->store_rcpts = calloc(c->max_recipients, sizeof(*srv->store_rcpts));
	if (!srv->clients || !srv->store_rcpts)
		return -ENOMEM;

	for (size_t i = 0; i < c->listen.n; i++) {
		const struct sl_config_endpoint *ep = &c->listen.v[i];

		rc = sl_listen(w, (const struct sockaddr *)&ep->addr, ep->len, session_accept, srv);
		if (rc < 0) {
			sl_err("smtp: listen on %s failed: %s", ep->text, strerror(-rc));
			return rc;
		}
		if (sl_worker_index(w) == 0)
			sl_info("smtp: listening on %s", ep->text);
	}
	return 0;
}

/*
 * Shutdown: idle sessions and open transactions get 421 and are closed;
 * a message waiting for its commit gets its reply first. Returns true
 * while sessions remain.
 */
static bool server_drain(struct sl_worker *w, void *state)
{
	struct smtp_server *srv = state;

	(void)w;
	srv->draining = true;
	for (struct session *s = srv->list; s; s = s->next) {
		if (s->closing || s->closed || s->state == ST_COMMIT)
			continue;
		smtp_close_after_reply(s, "421 4.3.2 Service shutting down, closing connection");
		flush_output(s);
	}
	return srv->nsessions > 0;
}

static void server_fini(struct sl_worker *w, void *state)
{
	struct smtp_server *srv = state;

	(void)w;
	sl_tls_ctx_free(srv->tls);
	sl_auth_free(srv->auth);
	sl_pool_destroy(&srv->sessions);
	sl_pool_destroy(&srv->client_slots);
	free(srv->clients);
	free(srv->store_rcpts);
	sl_dkim_body_free(&srv->hasher);
	free(srv);
}

static const struct sl_worker_module smtp_module = {
	.name = "smtp-server",
	.init = server_init,
	.drain = server_drain,
	.fini = server_fini,
};

int sl_smtp_server_register(void)
{
	return sl_worker_module_register(&smtp_module);
}
