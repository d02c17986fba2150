/*
 * dataplane/deliver_outcome.c - messages of the delivery engine and what
 * happens to their recipients: loading from the spool, state records,
 * accounting records and RFC 3464 notices. See deliver_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "ctl/config/config_delivery.h"
#include "dataplane/acct.h"
#include "dataplane/bodyhash.h"
#include "dataplane/ctl_link.h"
#include "dataplane/deliver.h"
#include "dataplane/deliver_int.h"
#include "dataplane/dsn.h"
#include "queue/spool.h"

/* Counts an outcome in the worker's own counters and in the shared
 * counters that sluice-ctld serves as metrics. */
static void count_outcome(struct deliver *d, int which)
{
	struct sl_shm_worker *shm = sl_sluiced_counters(d->w);

	d->counters[which]++;
	if (!shm)
		return;
	if (which == CNT_DELIVERED)
		atomic_fetch_add_explicit(&shm->delivered, 1, memory_order_relaxed);
	else if (which == CNT_DEFERRED)
		atomic_fetch_add_explicit(&shm->deferred, 1, memory_order_relaxed);
	else if (which == CNT_BOUNCED)
		atomic_fetch_add_explicit(&shm->bounced, 1, memory_order_relaxed);
}

static const char *const status_name[] = { "delivered", "deferred", "bounced" };
static const char *const fallback_name[] = {
	[TLS_FALLBACK_NONE] = NULL,
	[TLS_FALLBACK_RETRY] = "retry",
	[TLS_FALLBACK_REMEMBERED] = "remembered",
};

/* Messages. */

static unsigned msg_bucket(uint64_t id)
{
	return (unsigned)((id * 0x9e3779b97f4a7c15ull) >> 50) % MSG_BUCKETS;
}

struct dmsg *dmsg_find(struct deliver *d, uint64_t id)
{
	for (struct dmsg *m = d->msgs[msg_bucket(id)]; m; m = m->hash_next)
		if (m->id == id)
			return m;
	return NULL;
}

static void dmsg_free(struct dmsg *m)
{
	struct dmsg **p = &m->d->msgs[msg_bucket(m->id)];

	while (*p && *p != m)
		p = &(*p)->hash_next;
	if (*p)
		*p = m->hash_next;
	for (unsigned i = 0; i < m->rcpt_count; i++)
		free(m->rcpt[i].address);
	free(m->rcpt);
	free(m->sender);
	free(m->body_buf);
	free(m->bounces);
	free(m);
}

void dmsg_release(struct dmsg *m)
{
	if (m->live == 0 && m->users == 0 && m->bounce_count == 0)
		dmsg_free(m);
}

static void decode_bodyhash(struct dmsg *m, const uint8_t *blob)
{
	sl_bodyhash_unpack(blob, &m->bh);
	m->have_bh = (m->bh.mask & SL_DKIM_BODY_RELAXED) != 0;
}

static uint64_t due_from_spool(int64_t next_attempt_s, uint64_t now_ms)
{
	uint64_t t = next_attempt_s > 0 ? (uint64_t)next_attempt_s * 1000 : 0;

	return t > now_ms ? t : now_ms;
}

/* Create the delivery state of a spooled message and queue its recipients
 * that are not final. */
void dmsg_queue_message(struct deliver *d, uint64_t id, bool at_start)
{
	const struct sl_spool_message *sm = sl_spool_find(d->spool, id);
	uint64_t now = deliver_now_ms();
	struct dmsg *m;

	if (!sm || dmsg_find(d, id))
		return;
	m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->d = d;
	m->id = id;
	snprintf(m->queue_id, sizeof(m->queue_id), "%016" PRIx64, id);
	m->sender = strdup(sm->sender ? sm->sender : "");
	m->arrival_s = sm->arrival;
	m->size = sm->body_size;
	m->flags = sm->flags;
	decode_bodyhash(m, sm->bodyhash);
	m->rcpt_count = sm->rcpt_count;
	m->rcpt = calloc(sm->rcpt_count, sizeof(*m->rcpt));
	if (!m->sender || !m->rcpt)
		abort();
	m->hash_next = d->msgs[msg_bucket(id)];
	d->msgs[msg_bucket(id)] = m;

	for (unsigned i = 0; i < sm->rcpt_count; i++) {
		struct drcpt *r = &m->rcpt[i];
		const struct sl_spool_rcpt *sr = &sm->rcpts[i];

		r->msg = m;
		r->index = i;
		r->address = strdup(sr->address);
		if (!r->address)
			abort();
		for (char *p = strrchr(r->address, '@') ? strrchr(r->address, '@') + 1 : r->address;
		     *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		r->domain = strrchr(r->address, '@') ? strrchr(r->address, '@') + 1 : "";
		if (sr->state == SL_SPOOL_RCPT_DELIVERED || sr->state == SL_SPOOL_RCPT_BOUNCED) {
			r->final = true;
			continue;
		}
		m->live++;
		deliver_throttle_queued(r->domain, 1);
		r->s.domain = r->domain;
		r->s.group = m;
		r->s.arrival_ms = (uint64_t)m->arrival_s * 1000;
		r->s.attempts = sr->attempts;
		r->s.due_ms = due_from_spool(sr->next_attempt, now);
	}
	if (at_start)
		sl_debug("delivery: queue_id=%s recovered with %u pending recipients",
			 m->queue_id, m->live);
	for (unsigned i = 0; i < m->rcpt_count; i++)
		if (!m->rcpt[i].final)
			sl_sched_add(d->sched, &m->rcpt[i].s, now);
	dmsg_release(m);
}

/* Body loading. */

static void parse_message_id(struct dmsg *m)
{
	const char *h = (const char *)m->body;
	size_t i = 0, len = m->header_len;

	while (i < len) {
		size_t eol = i;

		while (eol < len && h[eol] != '\n')
			eol++;
		if (eol - i > 11 && strncasecmp(h + i, "message-id:", 11) == 0) {
			size_t s = i + 11, e = eol;

			while (s < e && (h[s] == ' ' || h[s] == '\t'))
				s++;
			while (e > s && (h[e - 1] == '\r' || h[e - 1] == ' '))
				e--;
			snprintf(m->message_id, sizeof(m->message_id), "%.*s", (int)(e - s), h + s);
			return;
		}
		i = eol + 1;
	}
}

static void scan_body(struct dmsg *m)
{
	size_t body_off;

	m->header_len = sl_dkim_header_end(m->body, m->body_len, &body_off);
	m->eight_bit = false;
	for (size_t i = 0; i < m->body_len; i++)
		if (m->body[i] & 0x80) {
			m->eight_bit = true;
			break;
		}
	parse_message_id(m);
	if (!m->have_bh) {
		struct sl_dkim_err err;

		if (sl_dkim_body_hash(m->body + body_off, m->body_len - body_off,
				      SL_DKIM_BODY_RELAXED | SL_DKIM_BODY_SIMPLE, &m->bh, &err) == 0)
			m->have_bh = true;
		else
			sl_warn("delivery: queue_id=%s body hash failed: %s", m->queue_id, err.msg);
	}
}

void deliver_body_ready(struct dmsg *m);   /* deliver.c */

static void read_done(void *arg, uint64_t id, int err, const void *body, size_t len)
{
	struct dmsg *m = arg;

	(void)id;
	m->users--;
	if (err < 0) {
		sl_err("delivery: queue_id=%s spool read failed: %s", m->queue_id, strerror(-err));
		m->body_state = BODY_FAILED;
	} else {
		m->body = body;
		m->body_len = len;
		m->body_state = BODY_LOADED;
		scan_body(m);
	}
	deliver_body_ready(m);
	outcome_flush_notices(m);
	dmsg_release(m);
}

void deliver_load_body(struct dmsg *m)
{
	const struct sl_spool_message *sm;
	size_t cap;
	int rc;

	if (m->body_state == BODY_LOADING || m->body_state == BODY_LOADED)
		return;
	sm = sl_spool_find(m->d->spool, m->id);
	if (!sm) {
		m->body_state = BODY_FAILED;
		deliver_body_ready(m);
		return;
	}
	cap = sl_spool_read_size(m->d->spool, sm);
	free(m->body_buf);
	if (posix_memalign((void **)&m->body_buf, 4096, cap) != 0)
		abort();
	m->body_state = BODY_LOADING;
	m->users++;
	rc = sl_spool_read(m->d->spool, m->id, m->body_buf, cap, read_done, m);
	if (rc < 0) {
		m->users--;
		sl_err("delivery: queue_id=%s spool read failed: %s", m->queue_id, strerror(-rc));
		m->body_state = BODY_FAILED;
		deliver_body_ready(m);
	}
}

/* State records and accounting. */

static void state_done(void *arg, uint64_t id, int err)
{
	(void)arg;
	if (err < 0)
		sl_err("delivery: queue_id=%016" PRIx64 " state record failed: %s", id,
		       strerror(-err));
}

static void set_state(struct drcpt *r, enum sl_spool_rcpt_state state, int64_t next_s)
{
	struct dmsg *m = r->msg;
	uint16_t attempts = r->s.attempts > 65535 ? 65535 : (uint16_t)r->s.attempts;
	int rc = sl_spool_set_state(m->d->spool, m->id, r->index, state, attempts, next_s,
				    state_done, NULL);

	if (rc < 0)
		sl_err("delivery: queue_id=%s to=%s state record failed: %s", m->queue_id,
		       r->address, strerror(-rc));
}

static void account(struct dconn *c, struct drcpt *r, int status,
		    const struct sl_smtp_reply *reply, int dsn)
{
	struct dmsg *m = r->msg;
	const char *dkim[2] = { NULL, NULL };
	struct sl_acct_record rec = {
		.queue_id = m->queue_id,
		.message_id = m->message_id[0] ? m->message_id : NULL,
		.sender = m->sender,
		.recipient = r->address,
		.status = status_name[status],
		.attempt = r->s.attempts + (status == 1 ? 0 : 1),
		.egress = m->d->source_text[0] ? m->d->source_text : NULL,
		.code = reply ? reply->code : 0,
		.enhanced = reply ? reply->enhanced : NULL,
		.reply = reply ? reply->text : NULL,
		.dsn = dsn,
	};
	uint64_t now = deliver_now_ms();

	rec.delay_ms = now > (uint64_t)m->arrival_s * 1000 ? now - (uint64_t)m->arrival_s * 1000 : 0;
	if (c) {
		rec.mx = c->host;
		rec.address = c->address;
		rec.tls_version = c->tls_version[0] ? c->tls_version : NULL;
		rec.tls_cipher = c->tls_cipher[0] ? c->tls_cipher : NULL;
		rec.tls_fallback = fallback_name[c->tls_fallback];
		rec.tls_failure = c->tls_fallback != TLS_FALLBACK_NONE ? c->tls_failure : NULL;
		rec.connect_ms = c->connect_ms;
		rec.attempt_ms = now - c->attempt_started_ms;
		for (unsigned i = 0; i < c->sign.signatures && i < 2; i++)
			dkim[i] = c->sign.selectors[i];
		rec.dkim = dkim;
		rec.dkim_count = c->sign.signatures < 2 ? c->sign.signatures : 2;
		if (c->txn_submitted && c->txn.content_sent)
			rec.transfer = c->txn.chunked ? "bdat" : "data";
	}
	deliver_sts_acct(c, reply ? reply->text : NULL, &rec.mta_sts, &rec.mta_sts_failure);
	sl_acct_record(&rec);
	sl_info("queue_id=%s to=<%s> relay=%s status=%s attempt=%u dsn=%s reply=\"%.0d%s%s\"",
		m->queue_id, r->address, c ? c->host : "none", status_name[status], rec.attempt,
		reply && reply->enhanced[0] ? reply->enhanced : "-", reply ? reply->code : 0,
		reply && reply->code ? " " : "", reply ? reply->text : "");
}

static void finalize(struct drcpt *r)
{
	r->final = true;
	r->msg->live--;
	deliver_throttle_queued(r->domain, -1);
}

void outcome_delivered(struct dconn *c, struct drcpt *r, const struct sl_smtp_reply *reply)
{
	account(c, r, 0, reply, 0);
	r->s.attempts++;
	set_state(r, SL_SPOOL_RCPT_DELIVERED, 0);
	finalize(r);
	count_outcome(r->msg->d, CNT_DELIVERED);
}

static void add_bounce(struct drcpt *r, const char *status, const char *remote,
		       const struct sl_smtp_reply *reply)
{
	struct dmsg *m = r->msg;
	struct bounce *b;

	b = realloc(m->bounces, (m->bounce_count + 1) * sizeof(*b));
	if (!b)
		abort();
	m->bounces = b;
	b = &m->bounces[m->bounce_count++];
	memset(b, 0, sizeof(*b));
	b->rcpt = r->index;
	snprintf(b->status, sizeof(b->status), "%s", status);
	snprintf(b->remote, sizeof(b->remote), "%s", remote ? remote : "");
	if (reply && reply->code)
		snprintf(b->diagnostic, sizeof(b->diagnostic), "%d %s%s%s", reply->code,
			 reply->enhanced, reply->enhanced[0] ? " " : "", reply->text);
	else if (reply)
		snprintf(b->diagnostic, sizeof(b->diagnostic), "%s", reply->text);
}

static void bounce(struct deliver *d, struct dconn *c, struct drcpt *r, const char *status,
		   const struct sl_smtp_reply *reply)
{
	account(c, r, 2, reply, r->msg->sender[0] != '\0');
	r->s.attempts++;
	/* With a notice due, the state record waits until the notice is
	 * stored: the message stays readable for its header, and a crash in
	 * between bounces it again rather than losing the notice. */
	if (r->msg->sender[0])
		add_bounce(r, status, c ? c->host : NULL, reply);
	else {
		sl_info("delivery: queue_id=%s to=<%s> bounced; no notice for the null sender",
			r->msg->queue_id, r->address);
		set_state(r, SL_SPOOL_RCPT_BOUNCED, 0);
	}
	finalize(r);
	count_outcome(d, CNT_BOUNCED);
}

void outcome_bounced(struct deliver *d, struct dconn *c, struct drcpt *r,
		     const struct sl_smtp_reply *reply)
{
	char status[16];

	if (reply->enhanced[0] == '5')
		snprintf(status, sizeof(status), "%s", reply->enhanced);
	else
		snprintf(status, sizeof(status), "5.0.0");
	bounce(d, c, r, status, reply);
}

static void expire(struct deliver *d, struct dconn *c, struct drcpt *r,
		   const struct sl_smtp_reply *last)
{
	struct sl_smtp_reply reply;

	memset(&reply, 0, sizeof(reply));
	reply.local = 1;
	snprintf(reply.enhanced, sizeof(reply.enhanced), "5.4.7");
	snprintf(reply.text, sizeof(reply.text), "message expired in the queue%s%.300s",
		 last ? "; last error: " : "", last ? last->text : "");
	bounce(d, c, r, "5.4.7", &reply);
}

void outcome_deferred(struct deliver *d, struct dconn *c, struct drcpt *r,
		      const struct sl_smtp_reply *reply)
{
	if (deliver_throttle_defer(d, &r->s, deliver_now_ms()) < 0) {
		expire(d, c, r, reply);
		return;
	}
	account(c, r, 1, reply, 0);
	set_state(r, SL_SPOOL_RCPT_DEFERRED, (int64_t)(r->s.due_ms / 1000));
	count_outcome(d, CNT_DEFERRED);
}

void outcome_expired(void *ctx, struct sl_sched_rcpt *s)
{
	struct drcpt *r = (struct drcpt *)s;

	expire(ctx, NULL, r, NULL);
	outcome_flush_notices(r->msg);
	dmsg_release(r->msg);
}

void outcome_failed(void *ctx, struct sl_sched_rcpt *s, int permanent, const char *enhanced,
		    const char *why)
{
	struct deliver *d = ctx;
	struct drcpt *r = (struct drcpt *)s;
	struct sl_smtp_reply reply;

	memset(&reply, 0, sizeof(reply));
	reply.local = 1;
	snprintf(reply.enhanced, sizeof(reply.enhanced), "%s", enhanced ? enhanced : "");
	snprintf(reply.text, sizeof(reply.text), "%s", why);
	sl_warn("delivery: queue_id=%s to=<%s> %s: %s", r->msg->queue_id, r->address,
		permanent ? "bounced" : "deferred", why);
	if (permanent) {
		bounce(d, NULL, r, enhanced && enhanced[0] == '5' ? enhanced : "5.0.0", &reply);
		outcome_flush_notices(r->msg);
		dmsg_release(r->msg);
		return;
	}
	/* The scheduler has queued the retry already. */
	account(NULL, r, 1, &reply, 0);
	set_state(r, SL_SPOOL_RCPT_DEFERRED, (int64_t)(r->s.due_ms / 1000));
	count_outcome(d, CNT_DEFERRED);
}

/* Notices (RFC 3464). */

struct notice {
	char *text;
	uint64_t id;
	struct deliver *d;
};

static void notice_done(void *arg, uint64_t id, int err)
{
	struct notice *n = arg;

	if (err < 0)
		sl_err("delivery: notice queue_id=%016" PRIx64 " not stored: %s", id,
		       strerror(-err));
	else
		sl_deliver_enqueue(n->d->w, id);
	free(n->text);
	free(n);
}

static int append_notice(struct dmsg *m, char *text, size_t len)
{
	struct deliver *d = m->d;
	struct sl_spool_rcpt rcpt = { .address = m->sender };
	struct sl_spool_envelope env = {
		.sender = "",
		.arrival = (int64_t)time(NULL),
		.rcpts = &rcpt,
		.rcpt_count = 1,
	};
	struct sl_dkim_bodyhash bh;
	size_t body_off;
	struct notice *n = calloc(1, sizeof(*n));
	struct iovec iov = { text, len };
	uint64_t id;
	int rc;

	if (!n)
		return -ENOMEM;
	sl_dkim_header_end((const uint8_t *)text, len, &body_off);
	if (sl_dkim_body_hash(text + body_off, len - body_off,
			      SL_DKIM_BODY_RELAXED | SL_DKIM_BODY_SIMPLE, &bh, NULL) == 0) {
		sl_bodyhash_pack(&bh, env.bodyhash);
	}
	n->text = text;
	n->d = d;
	rc = sl_spool_append(d->spool, &env, &iov, 1, notice_done, n, &id);
	if (rc < 0) {
		free(n);
		return rc;
	}
	n->id = id;
	return 0;
}

void outcome_flush_notices(struct dmsg *m)
{
	struct sl_dsn_recipient rcpt[64];
	struct sl_dsn dsn;
	char *text;
	size_t len, n;
	int rc;

	if (m->bounce_count == 0)
		return;
	if (m->body_state != BODY_LOADED && m->body_state != BODY_FAILED) {
		/* The notice quotes the original header: read it first. */
		deliver_load_body(m);
		if (m->body_state == BODY_LOADING)
			return;
	}
	n = m->bounce_count < 64 ? m->bounce_count : 64;
	for (size_t i = 0; i < n; i++) {
		struct bounce *b = &m->bounces[i];

		rcpt[i] = (struct sl_dsn_recipient){
			.address = m->rcpt[b->rcpt].address,
			.status = b->status,
			.remote_mta = b->remote[0] ? b->remote : NULL,
			.diagnostic = b->diagnostic[0] ? b->diagnostic : NULL,
		};
	}
	dsn = (struct sl_dsn){
		.reporting_mta = m->d->helo_name,
		.queue_id = m->queue_id,
		.sender = m->sender,
		.arrival = (time_t)m->arrival_s,
		.original_header = m->body_state == BODY_LOADED ? (const char *)m->body : "",
		.original_header_len = m->body_state == BODY_LOADED ? m->header_len : 0,
		.rcpt = rcpt,
		.rcpt_count = n,
	};
	rc = sl_dsn_build(&dsn, &text, &len);
	if (rc == 0) {
		rc = append_notice(m, text, len);
		if (rc < 0)
			free(text);
	}
	if (rc < 0)
		sl_err("delivery: queue_id=%s notice to <%s> failed: %s", m->queue_id, m->sender,
		       strerror(-rc));
	else
		m->d->counters[CNT_NOTICES]++;
	for (size_t i = 0; i < m->bounce_count; i++)
		set_state(&m->rcpt[m->bounces[i].rcpt], SL_SPOOL_RCPT_BOUNCED, 0);
	free(m->bounces);
	m->bounces = NULL;
	m->bounce_count = 0;
}
