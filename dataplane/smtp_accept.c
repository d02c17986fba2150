/*
 * dataplane/smtp_accept.c - the accept path, from the end of DATA (or
 * BDAT LAST) to the reply:
 *   1. reject content the scanner flagged (bare CR/LF, long line, size);
 *   2. check the header block's syntax;
 *   3. put Received in front, and Message-ID and Date after it when the
 *      message has none (accept.c, shared with the HTTP API);
 *   4. hand envelope and message (as an iovec, not copied) to the store;
 *   5. reply "250 2.0.0 Ok: queued as ID" from the store's completion,
 *      which runs only after the group commit, or 451/452 when it failed.
 * Input stays paused (state COMMIT) between 4 and 5.
 *
 * The stored message is the added header fields followed by the client's
 * message exactly as received after dot-unstuffing.
 *
 * The DKIM body hashes (bodyhash.h) are computed here once (accept.c) and stored
 * with the message, so each delivery attempt hashes only the headers.
 * NOTE: the forms computed are the ones listed in smtp.dkim_body_hashes
 * for every message, because per-domain signing policies (which name the
 * form each domain needs) are not part of sluiced's configuration yet.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "ctl/config/config_smtp.h"
#include "dataplane/smtp_session.h"
#include "dataplane/accept.h"
#include "dataplane/ctl_link.h"
#include "dataplane/store.h"

static const char *content_error(unsigned flags)
{
	if (flags & SL_SMTP_DATA_TOO_BIG)
		return "552 5.3.4 Message size exceeds fixed maximum message size";
	if (flags & (SL_SMTP_DATA_BARE_LF | SL_SMTP_DATA_BARE_CR))
		return "550 5.6.0 Message rejected: bare CR or LF in message content, "
		       "lines must end with CRLF";
	return "550 5.6.0 Message rejected: line longer than 998 characters";
}

static const char *protocol_name(const struct session *s)
{
	static const char *const names[2][2][2] = {
		/* [esmtp][tls][auth] (RFC 3848) */
		{ { "SMTP", "SMTP" }, { "SMTP", "SMTP" } },
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
	};

	return names[s->esmtp][s->tls_on][s->authenticated];
}

static void build_prefix(struct session *s, const struct sl_smtp_headers *h)
{
	struct sl_accept_source src = {
		.host = s->srv->hostname,
		.helo = s->helo,
		.client = s->client,
		.protocol = protocol_name(s),
		.tls_version = s->tls_on ? sl_tls_version(s->tls) : NULL,
		.tls_cipher = s->tls_on ? sl_tls_cipher(s->tls) : NULL,
		.for_rcpt = s->nrcpt == 1 ? (const char *)s->strings.p + s->rcpts[0].addr : NULL,
	};

	s->prefix_len = sl_accept_prefix(s->prefix, &src, h);
}

static void log_accepted(struct session *s, uint64_t id)
{
	sl_info("queued id=%016" PRIx64 " client=%s helo=%s from=<%s> nrcpt=%u size=%zu tls=%s user=%s",
		id, s->client, s->helo, s->mail.addr, s->nrcpt, s->prefix_len + s->msg.len,
		s->tls_on ? sl_tls_version(s->tls) : "no", s->authenticated ? s->user : "-");
}

static void commit_done(void *arg, uint64_t id, int err)
{
	struct session *s = arg;
	struct sl_shm_worker *counters = sl_sluiced_counters(s->srv->worker);

	if (err == 0)
		log_accepted(s, id);
	if (err == 0 && counters)
		atomic_fetch_add_explicit(&counters->injected, 1, memory_order_relaxed);
	if (s->closed) {
		if (err == 0)
			sl_warn("id=%016" PRIx64 " client=%s disconnected before its 250 reply, "
				"the message is queued and may arrive twice", id, s->client);
		smtp_session_release(s);
		return;
	}
	s->state = ST_READY;
	if (err == 0) {
		smtp_replyf(s, "250 2.0.0 Ok: queued as %016" PRIx64, id);
	} else {
		sl_err("client=%s from=<%s> commit failed: %s", s->client, s->mail.addr,
		       strerror(-err));
		smtp_reject(s, s->data.dot_mode ? "DATA" : "BDAT", sl_store_smtp_reply(err));
	}
	smtp_reset_transaction(s);
	smtp_process(s);
}

static void body_hash(struct session *s, const struct sl_smtp_headers *h, uint8_t *out)
{
	struct sl_dkim_err err;

	if (sl_accept_body_hash(&s->srv->hasher, s->srv->body_hash_mask, s->msg.p + h->header_len,
				s->msg.len - h->header_len, out, &err) < 0)
		sl_err("client=%s DKIM body hash failed: %s", s->client, err.msg);
}

/* Build the store's envelope view of the transaction into rcpts. */
static void make_envelope(struct session *s, struct sl_store_envelope *env,
			  struct sl_store_rcpt *rcpts)
{
	const char *strings = (const char *)s->strings.p;

	memset(env, 0, sizeof(*env));
	for (unsigned i = 0; i < s->nrcpt; i++) {
		rcpts[i].addr = strings + s->rcpts[i].addr;
		rcpts[i].orcpt = s->rcpts[i].orcpt == UINT32_MAX ? NULL : strings + s->rcpts[i].orcpt;
		rcpts[i].notify = s->rcpts[i].notify;
	}
	env->sender = s->mail.addr;
	env->envid = s->mail.envid[0] ? s->mail.envid : NULL;
	env->flags = (s->mail.body == SL_SMTP_BODY_8BITMIME ? SL_STORE_F_8BITMIME : 0) |
		     (s->mail.smtputf8 ? SL_STORE_F_SMTPUTF8 : 0) |
		     (s->mail.ret == SL_SMTP_RET_FULL ? SL_STORE_F_RET_FULL : 0) |
		     (s->mail.ret == SL_SMTP_RET_HDRS ? SL_STORE_F_RET_HDRS : 0);
	env->arrival = (int64_t)time(NULL);
	env->rcpts = rcpts;
	env->rcpt_count = s->nrcpt;
}

void smtp_message_done(struct session *s)
{
	const char *verb = s->data.dot_mode ? "DATA" : "BDAT";
	struct sl_store_envelope env;
	struct sl_smtp_headers h;
	struct iovec iov[2];
	uint64_t id;
	int rc;

	if (s->data.flags) {
		smtp_reject(s, verb, content_error(s->data.flags));
		smtp_reset_transaction(s);
		return;
	}
	if (sl_smtp_headers_scan(s->msg.p, s->msg.len, &h) < 0) {
		char reply[128];

		snprintf(reply, sizeof(reply),
			 "550 5.6.0 Message rejected: malformed header field in line %u", h.bad_line);
		smtp_reject(s, verb, reply);
		smtp_reset_transaction(s);
		return;
	}
	build_prefix(s, &h);

	make_envelope(s, &env, s->srv->store_rcpts);
	body_hash(s, &h, env.bodyhash);
	iov[0].iov_base = s->prefix;
	iov[0].iov_len = s->prefix_len;
	iov[1].iov_base = s->msg.p;
	iov[1].iov_len = s->msg.len;
	s->state = ST_COMMIT;
	rc = sl_store_append(s->srv->worker, &env, iov, 2, commit_done, s, &id);
	if (rc < 0) {
		s->state = ST_READY;
		sl_err("client=%s from=<%s> store append failed: %s", s->client, s->mail.addr,
		       strerror(-rc));
		smtp_reject(s, verb, sl_store_smtp_reply(rc));
		smtp_reset_transaction(s);
	}
}
