/*
 * dataplane/http_inject.c - the endpoints of the HTTP injection API, from
 * a complete request body to the response:
 *
 *   POST /v1/messages  multipart body: a JSON envelope part and a message
 *                      part, stored as one message for all recipients
 *   POST /v1/send      JSON form: one message built per recipient
 *
 * Each message goes through the SMTP accept steps: the content scanner of
 * smtp_parse.h (bare CR or LF, lines over 998 characters, size), the
 * header block check, the added Received, Message-ID and Date fields and
 * the DKIM body hashes (accept.c). A message part whose lines all end in
 * a bare LF (no CR anywhere) is first converted to CRLF. A message
 * without a line end at its end gets CRLF appended. Any other message is
 * stored exactly as sent, after the added fields.
 *
 * Every check runs before the first append, so a rejected request leaves
 * nothing in the spool. The response is sent only after every append has
 * completed: 202 when all were committed, otherwise 507 (spool out of
 * space) or 503 with Retry-After. A failure response lists the messages
 * that were committed anyway, because /v1/send appends one message per
 * recipient and one append may fail while others are committed.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "ctl/config/config_http.h"
#include "dataplane/ctl_link.h"
#include "dataplane/http_session.h"

struct http_msg {
	struct http_job *job;
	struct sl_buf data;	/* the message as stored after the prefix */
	char prefix[SL_ACCEPT_PREFIX_MAX];
	size_t prefix_len;
	struct sl_store_envelope env;
	struct sl_store_rcpt rcpt;	/* /v1/send: the one recipient */
	uint64_t id;
	int err;
	bool committed;
};

struct http_job {
	struct http_session *s;
	enum http_endpoint endpoint;
	struct sl_http_envelope envelope;	/* /v1/messages */
	struct sl_http_send form;		/* /v1/send */
	struct http_msg *msgs;
	unsigned count;
	unsigned pending;	/* appends not completed yet */
	int err;		/* first failed append or commit */
};

static struct http_job *job_new(struct http_session *s, unsigned count)
{
	struct http_job *job = calloc(1, sizeof(*job));

	if (!job)
		abort();
	job->msgs = calloc(count, sizeof(*job->msgs));
	if (!job->msgs)
		abort();
	job->s = s;
	job->endpoint = s->endpoint;
	job->count = count;
	for (unsigned i = 0; i < count; i++)
		job->msgs[i].job = job;
	return job;
}

void http_job_free(struct http_job *job)
{
	if (!job)
		return;
	for (unsigned i = 0; i < job->count; i++)
		sl_buf_free(&job->msgs[i].data);
	free(job->msgs);
	sl_http_envelope_free(&job->envelope);
	sl_http_send_free(&job->form);
	free(job);
}

static int fail(struct sl_http_error *err, int status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct sl_http_error *err, int status, const char *field, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Accept steps shared with SMTP. */

/* Scan DATA into m->data like SMTP BDAT content; returns 0 or -1 with err set. */
static int scan_content(struct http_session *s, const uint8_t *data, size_t len,
			const char *field, struct http_msg *m, struct sl_http_error *err)
{
	const struct sl_config_http *c = s->srv->cfg;
	struct sl_smtp_data d;
	bool done;

	sl_smtp_data_begin(&d, c->max_message_size, false);
	sl_smtp_data_scan(&d, data, len, &m->data, &done);
	sl_smtp_data_end(&d);
	if (d.flags & SL_SMTP_DATA_TOO_BIG)
		return fail(err, 413, field, "%s is %llu bytes, more than http.max_message_size "
			    "(%llu)", field, (unsigned long long)d.size,
			    (unsigned long long)c->max_message_size);
	if (d.flags & (SL_SMTP_DATA_BARE_LF | SL_SMTP_DATA_BARE_CR))
		return fail(err, 400, field, "%s mixes bare CR or LF with CRLF line ends: end "
			    "every line with CRLF (or every line with LF)", field);
	if (d.flags & SL_SMTP_DATA_LONG_LINE)
		return fail(err, 400, field, "%s has a line longer than 998 characters: wrap it "
			    "or use a content transfer encoding", field);
	return 0;
}

static bool has_8bit(const struct sl_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->p[i] & 0x80)
			return true;
	return false;
}

/* Check the header block, add the prefix and the body hashes. */
static int accept_message(struct http_session *s, struct http_msg *m, const char *for_rcpt,
			  const char *field, struct sl_http_error *err)
{
	struct sl_smtp_headers h;
	struct sl_dkim_err herr;
	struct sl_accept_source src = {
		.host = s->srv->hostname,
		.client = s->client,
		.protocol = "HTTP",
		.for_rcpt = for_rcpt,
	};

	if (m->data.len == 0)
		return fail(err, 400, field, "%s is empty", field);
	if (m->data.len < 2 || m->data.p[m->data.len - 2] != '\r' ||
	    m->data.p[m->data.len - 1] != '\n')
		sl_buf_append(&m->data, "\r\n", 2);
	if (sl_smtp_headers_scan(m->data.p, m->data.len, &h) < 0)
		return fail(err, 400, field, "malformed header field in line %u of %s: expected "
			    "NAME: VALUE, and an empty line before the body", h.bad_line, field);
	m->prefix_len = sl_accept_prefix(m->prefix, &src, &h);
	if (sl_accept_body_hash(&s->srv->hasher, s->srv->body_hash_mask, m->data.p + h.header_len,
				m->data.len - h.header_len, m->env.bodyhash, &herr) < 0)
		sl_err("http client=%s DKIM body hash failed: %s", s->client, herr.msg);
	if (has_8bit(&m->data))
		m->env.flags |= SL_STORE_F_8BITMIME;
	m->env.arrival = (int64_t)time(NULL);
	return 0;
}

/* Responses. */

static json_t *committed_list(const struct http_job *job)
{
	json_t *list = json_array();

	for (unsigned i = 0; i < job->count; i++) {
		const struct http_msg *m = &job->msgs[i];
		char id[24];

		if (!m->committed)
			continue;
		snprintf(id, sizeof(id), "%016" PRIx64, m->id);
		if (job->endpoint == EP_SEND)
			json_array_append_new(list, json_pack("{s:s,s:s}", "to", m->rcpt.addr,
							      "id", id));
		else
			json_array_append_new(list, json_pack("{s:s}", "id", id));
	}
	return list;
}

static void respond_committed(struct http_session *s, struct http_job *job)
{
	char id[24], *text;
	json_t *body;

	if (job->endpoint == EP_MESSAGES) {
		snprintf(id, sizeof(id), "%016" PRIx64, job->msgs[0].id);
		body = json_pack("{s:s,s:i}", "id", id, "recipients",
				 (json_int_t)job->envelope.rcpt_count);
	} else {
		body = json_pack("{s:o,s:i}", "messages", committed_list(job), "recipients",
				 (json_int_t)job->count);
	}
	text = json_dumps(body, JSON_COMPACT);
	http_respond(s, 202, NULL, text);
	free(text);
	json_decref(body);
}

static void respond_failed(struct http_session *s, struct http_job *job)
{
	bool full = job->err == -ENOSPC || job->err == -EDQUOT;
	int status = full ? 507 : 503;
	char message[256], *text;
	json_t *body;

	snprintf(message, sizeof(message), "spool commit failed (%s): nothing of the messages "
		 "not listed in \"committed\" was kept, retry them later", strerror(-job->err));
	body = json_pack("{s:{s:i,s:s,s:s},s:o}", "error", "status", status, "field", "",
			 "message", message, "committed", committed_list(job));
	text = json_dumps(body, JSON_COMPACT);
	sl_err("http client=%s key=%s commit failed: %s", s->client, s->key_name,
	       strerror(-job->err));
	http_respond(s, status, full ? "Retry-After: 60\r\n" : "Retry-After: 5\r\n", text);
	free(text);
	json_decref(body);
}

/* Send the response once every append of the job has completed, or
 * release the session when its connection is gone. */
static void job_finish(struct http_job *job, bool resume)
{
	struct http_session *s = job->s;

	if (s->closed) {
		for (unsigned i = 0; i < job->count; i++)
			if (job->msgs[i].committed)
				sl_warn("id=%016" PRIx64 " client=%s disconnected before its 202 "
					"response, the message is queued and may arrive twice",
					job->msgs[i].id, s->client);
		http_job_free(job);
		http_session_release(s);
		return;
	}
	if (job->err)
		respond_failed(s, job);
	else
		respond_committed(s, job);
	s->job = NULL;
	http_job_free(job);
	http_request_done(s);
	if (resume)
		http_resume(s);
}

static void append_done(void *arg, uint64_t id, int err)
{
	struct http_msg *m = arg;
	struct http_job *job = m->job;
	struct http_session *s = job->s;
	struct sl_shm_worker *counters = sl_sluiced_counters(s->srv->worker);

	m->id = id;
	m->err = err;
	if (err == 0) {
		m->committed = true;
		s->srv->injected++;
		if (counters) {
			atomic_fetch_add_explicit(&counters->injected, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&counters->http_injected, 1, memory_order_relaxed);
		}
		sl_info("queued id=%016" PRIx64 " client=%s via=http key=%s from=<%s> nrcpt=%u "
			"size=%zu", id, s->client, s->key_name, m->env.sender, m->env.rcpt_count,
			m->prefix_len + m->data.len);
	} else if (!job->err) {
		job->err = err;
	}
	if (--job->pending == 0)
		job_finish(job, true);
}

/* Hand every message to the store; the response follows their completion. */
static void commit_job(struct http_session *s, struct http_job *job)
{
	s->job = job;
	s->state = HS_COMMIT;
	for (unsigned i = 0; i < job->count; i++) {
		struct http_msg *m = &job->msgs[i];
		struct iovec iov[2] = {
			{ m->prefix, m->prefix_len },
			{ m->data.p, m->data.len },
		};
		uint64_t id;
		int rc = sl_store_append(s->srv->worker, &m->env, iov, 2, append_done, m, &id);

		if (rc < 0) {
			sl_err("http client=%s key=%s store append failed: %s", s->client,
			       s->key_name, strerror(-rc));
			job->err = rc;
			break;	/* the rest are not appended: the client retries them */
		}
		job->pending++;
	}
	if (job->pending == 0)
		job_finish(job, false);
}

/* POST /v1/messages */

/* Find the envelope and message parts, by name or else by media type. */
static int pick_parts(struct sl_http_part *parts, int n, struct sl_http_part **envelope,
		      struct sl_http_part **message, struct sl_http_error *err)
{
	*envelope = *message = NULL;
	for (int i = 0; i < n; i++) {
		struct sl_http_part *p = &parts[i];
		struct sl_http_part **slot = NULL;

		if (strcmp(p->name, "envelope") == 0 ||
		    (!p->name[0] && strcmp(p->type, "application/json") == 0))
			slot = envelope;
		else if (strcmp(p->name, "message") == 0 ||
			 (!p->name[0] && strcmp(p->type, "message/rfc822") == 0))
			slot = message;
		else
			return fail(err, 400, p->name, "unknown part '%s' (%s): send a part "
				    "\"envelope\" (application/json) and a part \"message\" "
				    "(message/rfc822)", p->name, p->type);
		if (*slot)
			return fail(err, 400, p->name[0] ? p->name : p->type, "more than one %s part",
				    slot == envelope ? "envelope" : "message");
		*slot = p;
	}
	if (!*envelope)
		return fail(err, 400, "envelope", "missing the \"envelope\" part "
			    "(application/json with from and to)");
	if (!*message)
		return fail(err, 400, "message", "missing the \"message\" part (message/rfc822)");
	if ((*message)->encoding[0] && strcmp((*message)->encoding, "7bit") != 0 &&
	    strcmp((*message)->encoding, "8bit") != 0 && strcmp((*message)->encoding, "binary") != 0)
		return fail(err, 400, "message", "Content-Transfer-Encoding %s of the message part "
			    "is not supported: send the message as it is (binary)",
			    (*message)->encoding);
	return 0;
}

static int prepare_messages(struct http_session *s, struct http_job **out,
			    struct sl_http_error *err)
{
	struct sl_http_part parts[SL_HTTP_MAX_PARTS], *envelope, *message;
	struct http_job *job;
	struct http_msg *m;
	char boundary[128];
	int n;

	if (sl_http_media_param(s->req.content_type, "boundary", boundary, sizeof(boundary)) < 0)
		return fail(err, 400, "Content-Type", "missing or invalid boundary parameter in "
			    "Content-Type");
	n = sl_http_multipart_split(s->body.p, s->body.len, boundary, parts, err);
	if (n < 0 || pick_parts(parts, n, &envelope, &message, err) < 0)
		return -1;
	job = job_new(s, 1);
	m = &job->msgs[0];
	if (sl_http_envelope_parse(envelope->data, envelope->len,
				   (unsigned)s->srv->cfg->max_recipients, &job->envelope, err) < 0)
		goto fail;
	if (sl_http_lf_only(message->data, message->len)) {
		struct sl_buf crlf = { 0 };
		int rc;

		sl_http_crlf(message->data, message->len, &crlf);
		rc = scan_content(s, crlf.p, crlf.len, "message", m, err);
		sl_buf_free(&crlf);
		if (rc < 0)
			goto fail;
	} else if (scan_content(s, message->data, message->len, "message", m, err) < 0) {
		goto fail;
	}
	m->env.sender = job->envelope.from;
	m->env.envid = job->envelope.envid;
	m->env.flags = job->envelope.flags;
	m->env.rcpts = job->envelope.rcpts;
	m->env.rcpt_count = job->envelope.rcpt_count;
	if (accept_message(s, m, m->env.rcpt_count == 1 ? m->env.rcpts[0].addr : NULL, "message",
			   err) < 0)
		goto fail;
	*out = job;
	return 0;
fail:
	http_job_free(job);
	return -1;
}

/* POST /v1/send */

static bool has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((uint8_t)*s >= 0x80)
			return true;
	return false;
}

static int build_one(struct http_session *s, struct http_job *job, unsigned i,
		     struct sl_http_error *err)
{
	const struct sl_http_send *form = &job->form;
	struct http_msg *m = &job->msgs[i];
	struct sl_buf built = { 0 };
	char field[48];
	int rc;

	snprintf(field, sizeof(field), "recipients[%u]", i);
	rc = sl_http_send_build(form, i, sl_accept_random(), &built, err);
	if (rc == 0)
		rc = scan_content(s, built.p, built.len, field, m, err);
	sl_buf_free(&built);
	if (rc < 0)
		return -1;
	m->rcpt.addr = form->rcpts[i].to;
	m->env.sender = form->from;
	m->env.envid = form->envid;
	m->env.rcpts = &m->rcpt;
	m->env.rcpt_count = 1;
	if (has_non_ascii(form->from) || has_non_ascii(m->rcpt.addr))
		m->env.flags |= SL_STORE_F_SMTPUTF8;
	return accept_message(s, m, m->rcpt.addr, field, err);
}

static int prepare_send(struct http_session *s, struct http_job **out, struct sl_http_error *err)
{
	const struct sl_config_http *c = s->srv->cfg;
	struct sl_http_send form;
	struct http_job *job;
	uint64_t total = 0;

	if (sl_http_send_parse(s->body.p, s->body.len, (unsigned)c->max_send_recipients, &form,
			       err) < 0)
		return -1;
	job = job_new(s, form.rcpt_count);
	job->form = form;
	for (unsigned i = 0; i < job->count; i++) {
		if (build_one(s, job, i, err) < 0)
			goto fail;
		total += job->msgs[i].data.len;
		if (total > c->max_send_size) {
			fail(err, 413, "recipients", "the messages built for this request exceed "
			     "http.max_send_size (%llu bytes) at recipients[%u]: send fewer "
			     "recipients per request", (unsigned long long)c->max_send_size, i);
			goto fail;
		}
	}
	*out = job;
	return 0;
fail:
	http_job_free(job);
	return -1;
}

void http_handle(struct http_session *s)
{
	struct sl_http_error err;
	struct http_job *job = NULL;
	int rc;

	rc = s->endpoint == EP_MESSAGES ? prepare_messages(s, &job, &err)
					: prepare_send(s, &job, &err);
	if (rc < 0) {
		http_respond_error(s, &err);
		http_request_done(s);
		return;
	}
	commit_job(s, job);
}
