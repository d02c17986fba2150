/*
 * Unit tests for dataplane/smtp_client: dialogues against a scripted
 * server, each run twice: replies fed whole and fed one byte at a time
 * (which covers a split at every byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/smtp_client.h"

struct harness {
	struct sl_smtpc *c;
	int bytewise;
	int tls_calls;
	int ready_calls;
	int done_calls;
	int closed_calls;
	struct sl_smtp_reply closed_reason;
	uint64_t now;
};

static void cb_start_tls(void *ctx) { ((struct harness *)ctx)->tls_calls++; }
static void cb_ready(void *ctx) { ((struct harness *)ctx)->ready_calls++; }

static void cb_txn_done(void *ctx, struct sl_smtpc_txn *t)
{
	(void)t;
	((struct harness *)ctx)->done_calls++;
}

static void cb_closed(void *ctx, const struct sl_smtp_reply *r)
{
	struct harness *h = ctx;

	h->closed_calls++;
	h->closed_reason = *r;
}

static const struct sl_smtpc_callbacks callbacks = {
	.start_tls = cb_start_tls,
	.ready = cb_ready,
	.txn_done = cb_txn_done,
	.closed = cb_closed,
};

static void harness_init(struct harness *h, int bytewise, enum sl_smtpc_tls_mode tls)
{
	struct sl_smtpc_config cfg = { .helo_name = "mta.example", .tls = tls };

	memset(h, 0, sizeof(*h));
	sl_smtpc_default_timeouts(&cfg.timeouts);
	h->bytewise = bytewise;
	h->now = 1000;
	h->c = sl_smtpc_new(&cfg, &callbacks, h, h->now);
	assert_non_null(h->c);
}

static void feed(struct harness *h, const char *s)
{
	size_t n = strlen(s);

	if (!h->bytewise) {
		sl_smtpc_input(h->c, s, n, h->now);
		return;
	}
	for (size_t i = 0; i < n; i++)
		sl_smtpc_input(h->c, s + i, 1, h->now);
}

/* Take everything the engine wants to send and compare it. */
static void expect_out(struct harness *h, const char *expected)
{
	const char *data;
	char got[8192];
	size_t total = 0, n;

	while ((n = sl_smtpc_output(h->c, &data)) > 0) {
		assert_true(total + n < sizeof(got));
		memcpy(got + total, data, n);
		total += n;
		sl_smtpc_output_done(h->c, n, h->now);
	}
	got[total] = '\0';
	assert_string_equal(got, expected);
}

static void start_session(struct harness *h, const char *ehlo_reply)
{
	expect_out(h, "");
	feed(h, "220 mx.test ESMTP\r\n");
	expect_out(h, "EHLO mta.example\r\n");
	feed(h, ehlo_reply);
}

static const char *two_rcpts[] = { "a@dest.test", "b@dest.test" };

struct txn_fixture {
	struct sl_smtpc_txn t;
	struct sl_smtp_reply replies[4];
	struct iovec iov[2];
};

static void txn_init(struct txn_fixture *f, const char *headers, const char *msg)
{
	memset(f, 0, sizeof(*f));
	f->iov[0].iov_base = (void *)headers;
	f->iov[0].iov_len = strlen(headers);
	f->iov[1].iov_base = (void *)msg;
	f->iov[1].iov_len = strlen(msg);
	f->t.sender = "bounce@sender.test";
	f->t.rcpts = two_rcpts;
	f->t.rcpt_count = 2;
	f->t.body = f->iov;
	f->t.body_count = 2;
	f->t.size = f->iov[0].iov_len + f->iov[1].iov_len;
	f->t.rcpt_reply = f->replies;
}

#define EHLO_FULL "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n" \
		  "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"

static void run_pipelined_partial(int bytewise)
{
	struct harness h;
	struct txn_fixture f;

	harness_init(&h, bytewise, SL_SMTPC_TLS_NONE);
	start_session(&h, EHLO_FULL);
	assert_int_equal(h.ready_calls, 1);
	assert_true(sl_smtpc_caps(h.c) & SL_SMTPC_CAP_PIPELINING);
	assert_int_equal(sl_smtpc_size_limit(h.c), 100000);

	txn_init(&f, "DKIM-Signature: v=1\r\n", "Subject: x\r\n\r\nhello\r\n");
	assert_int_equal(sl_smtpc_submit(h.c, &f.t, h.now), 0);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=42\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	feed(&h, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n"
		 "354 go ahead\r\n");
	expect_out(&h, "DKIM-Signature: v=1\r\nSubject: x\r\n\r\nhello\r\n.\r\n");
	assert_int_equal(h.done_calls, 0);
	feed(&h, "250 2.0.0 queued as X\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 250);
	assert_string_equal(f.replies[0].text, "queued as X");
	assert_int_equal(f.replies[1].code, 550);
	assert_string_equal(f.replies[1].enhanced, "5.1.1");
	assert_string_equal(f.replies[1].text, "no such");
	assert_int_equal(f.t.accepted, 1);
	assert_int_equal(h.ready_calls, 2);

	sl_smtpc_quit(h.c, h.now);
	expect_out(&h, "QUIT\r\n");
	feed(&h, "221 bye\r\n");
	assert_int_equal(h.closed_calls, 1);
	assert_true(sl_smtpc_is_closed(h.c));
	sl_smtpc_free(h.c);
}

static void pipelined_partial_whole(void **s) { (void)s; run_pipelined_partial(0); }
static void pipelined_partial_bytewise(void **s) { (void)s; run_pipelined_partial(1); }

static void run_helo_fallback(int bytewise)
{
	struct harness h;
	struct txn_fixture f;

	harness_init(&h, bytewise, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "502 5.5.2 command not recognized\r\n");
	expect_out(&h, "HELO mta.example\r\n");
	feed(&h, "250 mx.test\r\n");
	assert_int_equal(h.ready_calls, 1);
	assert_int_equal(sl_smtpc_caps(h.c), 0);

	txn_init(&f, "", "a\r\n");
	assert_int_equal(sl_smtpc_submit(h.c, &f.t, h.now), 0);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<a@dest.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "DATA\r\n");
	feed(&h, "354 go\r\n");
	expect_out(&h, "a\r\n.\r\n");
	feed(&h, "250 ok\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 2);
	sl_smtpc_free(h.c);
}

static void helo_fallback_whole(void **s) { (void)s; run_helo_fallback(0); }
static void helo_fallback_bytewise(void **s) { (void)s; run_helo_fallback(1); }

static void run_starttls_extra_lines(int bytewise)
{
	struct harness h;

	harness_init(&h, bytewise, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
	expect_out(&h, "STARTTLS\r\n");
	assert_int_equal(h.ready_calls, 0);
	/* A server (or an attacker in the path) appends lines after 220. */
	feed(&h, "220 2.0.0 ready\r\n250-injected\r\n250 PIPELINING\r\n");
	assert_int_equal(h.tls_calls, 1);
	assert_int_equal(h.ready_calls, 0);
	expect_out(&h, "");
	sl_smtpc_tls_done(h.c, 1, h.now);
	assert_true(sl_smtpc_tls_active(h.c));
	expect_out(&h, "EHLO mta.example\r\n");
	feed(&h, "250-mx.test\r\n250 SIZE\r\n");
	assert_int_equal(h.ready_calls, 1);
	/* Only the capabilities of the EHLO after the handshake count. */
	assert_int_equal(sl_smtpc_caps(h.c), SL_SMTPC_CAP_SIZE);
	assert_int_equal(sl_smtpc_size_limit(h.c), 0);
	sl_smtpc_free(h.c);
}

static void starttls_extra_whole(void **s) { (void)s; run_starttls_extra_lines(0); }
static void starttls_extra_bytewise(void **s) { (void)s; run_starttls_extra_lines(1); }

static void starttls_refused_stays_plain(void **s)
{
	struct harness h;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "454 4.7.0 TLS not available\r\n");
	assert_int_equal(h.tls_calls, 0);
	assert_int_equal(h.ready_calls, 1);
	assert_false(sl_smtpc_tls_active(h.c));
	sl_smtpc_free(h.c);
}

/* Which session ends count as a STARTTLS failure (plaintext retry) and
 * which do not. */
static void starttls_failures_marked(void **s)
{
	struct harness h;

	(void)s;
	/* The handshake fails. */
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "220 go ahead\r\n");
	sl_smtpc_tls_done(h.c, 0, h.now);
	assert_int_equal(h.closed_calls, 1);
	assert_int_equal(h.closed_reason.code / 100, 4);
	assert_true(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* The connection drops while waiting for the reply to STARTTLS. */
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	sl_smtpc_disconnected(h.c, "connection reset");
	assert_true(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* The handshake times out. */
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "220 go ahead\r\n");
	assert_true(sl_smtpc_deadline(h.c) > h.now);
	sl_smtpc_timeout(h.c, sl_smtpc_deadline(h.c));
	assert_int_equal(h.closed_calls, 1);
	assert_true(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* The connection drops after the handshake, before EHLO's reply. */
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "220 go ahead\r\n");
	sl_smtpc_tls_done(h.c, 1, h.now);
	expect_out(&h, "EHLO mta.example\r\n");
	sl_smtpc_disconnected(h.c, "TLS session closed by peer");
	assert_true(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* A 421 reply from the server to STARTTLS is no TLS failure. */
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "421 4.3.2 shutting down\r\n");
	assert_int_equal(h.closed_calls, 1);
	assert_false(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* A drop after the session was ready over TLS is an ordinary fault. */
	harness_init(&h, 0, SL_SMTPC_TLS_OPPORTUNISTIC);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "220 go ahead\r\n");
	sl_smtpc_tls_done(h.c, 1, h.now);
	expect_out(&h, "EHLO mta.example\r\n");
	feed(&h, "250 mx.test\r\n");
	assert_int_equal(h.ready_calls, 1);
	sl_smtpc_disconnected(h.c, "connection reset");
	assert_false(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* A plain session that drops is not a TLS failure. */
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	assert_int_equal(h.ready_calls, 1);
	sl_smtpc_disconnected(h.c, "connection reset");
	assert_false(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);
}

/* With TLS required, a session without TLS never becomes ready. */
static void starttls_required(void **s)
{
	struct harness h;

	(void)s;
	/* The server does not offer STARTTLS. */
	harness_init(&h, 0, SL_SMTPC_TLS_REQUIRED);
	start_session(&h, "250-mx.test\r\n250 PIPELINING\r\n");
	assert_int_equal(h.ready_calls, 0);
	assert_int_equal(h.closed_calls, 1);
	assert_int_equal(h.closed_reason.code, 421);
	assert_string_equal(h.closed_reason.enhanced, "4.7.10");
	assert_false(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* The server rejects STARTTLS. */
	harness_init(&h, 0, SL_SMTPC_TLS_REQUIRED);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "454 4.7.0 TLS not available\r\n");
	assert_int_equal(h.ready_calls, 0);
	assert_int_equal(h.closed_calls, 1);
	assert_string_equal(h.closed_reason.enhanced, "4.7.10");
	assert_non_null(strstr(h.closed_reason.text, "454 TLS not available"));
	sl_smtpc_free(h.c);

	/* EHLO rejected: HELO cannot lead to STARTTLS. */
	harness_init(&h, 0, SL_SMTPC_TLS_REQUIRED);
	start_session(&h, "502 5.5.2 no EHLO\r\n");
	expect_out(&h, "HELO mta.example\r\n");
	feed(&h, "250 mx.test\r\n");
	assert_int_equal(h.ready_calls, 0);
	assert_string_equal(h.closed_reason.enhanced, "4.7.10");
	sl_smtpc_free(h.c);

	/* The handshake fails: a TLS failure the caller must not retry in
	 * plaintext. */
	harness_init(&h, 0, SL_SMTPC_TLS_REQUIRED);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "220 go ahead\r\n");
	sl_smtpc_tls_done(h.c, 0, h.now);
	assert_true(sl_smtpc_tls_failed(h.c));
	sl_smtpc_free(h.c);

	/* The handshake succeeds: the session is ready over TLS. */
	harness_init(&h, 0, SL_SMTPC_TLS_REQUIRED);
	start_session(&h, "250-mx.test\r\n250 STARTTLS\r\n");
	expect_out(&h, "STARTTLS\r\n");
	feed(&h, "220 go ahead\r\n");
	sl_smtpc_tls_done(h.c, 1, h.now);
	expect_out(&h, "EHLO mta.example\r\n");
	feed(&h, "250 mx.test\r\n");
	assert_int_equal(h.ready_calls, 1);
	assert_true(sl_smtpc_tls_active(h.c));
	sl_smtpc_free(h.c);
}

static void no_rcpt_accepted_pipelined(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 1, SL_SMTPC_TLS_NONE);
	start_session(&h, EHLO_FULL);
	txn_init(&f, "", "secret body\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=13\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	feed(&h, "250 ok\r\n550 5.1.1 no\r\n450 4.2.1 later\r\n354 go\r\n");
	/* No content: only the lone dot. */
	expect_out(&h, ".\r\n");
	feed(&h, "554 5.5.1 no valid recipients\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 550);
	assert_int_equal(f.replies[1].code, 450);
	assert_false(f.t.content_sent);
	expect_out(&h, "RSET\r\n");
	feed(&h, "250 ok\r\n");
	assert_int_equal(h.ready_calls, 2);
	sl_smtpc_free(h.c);
}

static void no_rcpt_accepted_unpipelined(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, "250 mx.test\r\n");
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<a@dest.test>\r\n");
	feed(&h, "471 4.7.1 greylisted, try later\r\n");
	expect_out(&h, "RCPT TO:<b@dest.test>\r\n");
	feed(&h, "550 no\r\n");
	expect_out(&h, "RSET\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 471);
	assert_int_equal(sl_smtp_reply_class(&f.replies[0]), 4);
	assert_int_equal(f.replies[1].code, 550);
	sl_smtpc_free(h.c);
}

static void size_over_limit_unsent(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, "250-mx.test\r\n250 SIZE 10\r\n");
	txn_init(&f, "", "this message is longer than ten bytes\r\n");
	assert_int_equal(sl_smtpc_submit(h.c, &f.t, h.now), 0);
	expect_out(&h, "");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 552);
	assert_string_equal(f.replies[0].enhanced, "5.3.4");
	assert_true(f.replies[0].local);
	assert_true(sl_smtpc_is_ready(h.c));
	sl_smtpc_free(h.c);
}

static void body_8bit_only_when_needed(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, "250-mx.test\r\n250 8BITMIME\r\n");
	txn_init(&f, "", "caf\xc3\xa9\r\n");
	f.t.eight_bit = 1;
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> BODY=8BITMIME\r\n");
	sl_smtpc_free(h.c);

	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, "250-mx.test\r\n250 8BITMIME\r\n");
	txn_init(&f, "", "plain\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\n");
	sl_smtpc_free(h.c);
}

static void dot_stuffing_and_line_ends(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, "250-mx.test\r\n250 PIPELINING\r\n");
	/* The header iovec ends in the middle of a CRLF pair. */
	txn_init(&f, ".h: 1\r", "\n.a\nb\r.c\r\n..d\r\nlast");
	f.t.rcpt_count = 1;
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\nRCPT TO:<a@dest.test>\r\nDATA\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n354 go\r\n");
	expect_out(&h, "..h: 1\r\n..a\r\nb\r\n..c\r\n...d\r\nlast\r\n.\r\n");
	sl_smtpc_free(h.c);
}

static void reply_421_defers_all(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 1, SL_SMTPC_TLS_NONE);
	start_session(&h, EHLO_FULL);
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=3\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n421 4.3.2 shutting down\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(h.closed_calls, 1);
	assert_int_equal(f.replies[0].code, 421);
	assert_int_equal(f.replies[1].code, 421);
	assert_string_equal(f.replies[1].text, "shutting down");
	assert_int_equal(h.closed_reason.code, 421);
	assert_true(sl_smtpc_is_closed(h.c));
	sl_smtpc_free(h.c);
}

static void disconnect_during_data(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, EHLO_FULL);
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=3\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
	expect_out(&h, "x\r\n.\r\n");
	sl_smtpc_disconnected(h.c, "connection reset by peer");
	assert_int_equal(h.done_calls, 1);
	/* The accepted recipient is deferred, the rejected one keeps its 550. */
	assert_int_equal(f.replies[0].code, 421);
	assert_true(f.replies[0].local);
	assert_int_equal(f.replies[1].code, 550);
	assert_int_equal(f.t.accepted, 0);
	sl_smtpc_free(h.c);
}

static void timeout_defers(void **s)
{
	struct harness h;
	struct txn_fixture f;
	uint64_t deadline;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	start_session(&h, EHLO_FULL);
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=3\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	deadline = sl_smtpc_deadline(h.c);
	assert_int_equal(deadline, h.now + 5 * 60 * 1000);
	sl_smtpc_timeout(h.c, deadline - 1);
	assert_int_equal(h.closed_calls, 0);
	sl_smtpc_timeout(h.c, deadline);
	assert_int_equal(h.closed_calls, 1);
	assert_int_equal(f.replies[0].code, 421);
	assert_string_equal(f.replies[0].enhanced, "4.4.2");
	sl_smtpc_free(h.c);
}

static void greeting_timeout(void **s)
{
	struct harness h;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	assert_int_equal(sl_smtpc_deadline(h.c), h.now + 5 * 60 * 1000);
	sl_smtpc_timeout(h.c, h.now + 5 * 60 * 1000);
	assert_int_equal(h.closed_calls, 1);
	assert_int_equal(h.closed_reason.code, 421);
	sl_smtpc_free(h.c);
}

static void malformed_reply_closes(void **s)
{
	struct harness h;

	(void)s;
	harness_init(&h, 0, SL_SMTPC_TLS_NONE);
	feed(&h, "hello there\r\n");
	assert_int_equal(h.closed_calls, 1);
	assert_int_equal(h.closed_reason.code, 421);
	assert_true(h.closed_reason.local);
	sl_smtpc_free(h.c);
}

static void data_reply_4xx_defers(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init(&h, 1, SL_SMTPC_TLS_NONE);
	start_session(&h, EHLO_FULL);
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=3\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 451);
	assert_int_equal(f.replies[1].code, 451);
	expect_out(&h, "RSET\r\n");
	sl_smtpc_free(h.c);
}

/* BDAT (RFC 3030). */

#define EHLO_CHUNKING "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n" \
		      "250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n"
#define EHLO_CHUNKING_UNPIPELINED "250-mx.test\r\n250-CHUNKING\r\n250 8BITMIME\r\n"

static void harness_init_chunking(struct harness *h, int bytewise, int chunking)
{
	struct sl_smtpc_config cfg = {
		.helo_name = "mta.example", .tls = SL_SMTPC_TLS_NONE, .chunking = (uint8_t)chunking,
	};

	memset(h, 0, sizeof(*h));
	sl_smtpc_default_timeouts(&cfg.timeouts);
	h->bytewise = bytewise;
	h->now = 1000;
	h->c = sl_smtpc_new(&cfg, &callbacks, h, h->now);
	assert_non_null(h->c);
}

/* Output of any size: take at most max bytes (all when max is 0). */
struct output_copy {
	char *data;
	size_t len;
};

static struct output_copy take_out(struct harness *h, size_t max)
{
	struct output_copy t = { NULL, 0 };
	const char *data;
	size_t n;

	while ((n = sl_smtpc_output(h->c, &data)) > 0 && (max == 0 || t.len < max)) {
		if (max && n > max - t.len)
			n = max - t.len;
		t.data = realloc(t.data, t.len + n + 1);
		assert_non_null(t.data);
		memcpy(t.data + t.len, data, n);
		t.len += n;
		t.data[t.len] = '\0';
		sl_smtpc_output_done(h->c, n, h->now);
	}
	if (!t.data)
		t.data = calloc(1, 1);
	return t;
}

/* Take the output of a BDAT transfer whose RCPT replies are in: each
 * chunk is taken, and every chunk but the LAST one gets a 250 reply. */
static struct output_copy take_chunks(struct harness *h)
{
	struct output_copy all = { calloc(1, 1), 0 };

	for (;;) {
		struct output_copy one = take_out(h, 0);

		if (one.len == 0) {
			free(one.data);
			return all;
		}
		all.data = realloc(all.data, all.len + one.len + 1);
		assert_non_null(all.data);
		memcpy(all.data + all.len, one.data, one.len + 1);
		all.len += one.len;
		if (!memmem(one.data, one.len < 40 ? one.len : 40, " LAST\r\n", 7))
			feed(h, "250 2.0.0 chunk ok\r\n");
		free(one.data);
	}
}

/* Split BDAT commands from their chunks: the payloads are appended to
 * content, and the chunk count is returned. *last is 1 when the final
 * chunk carried LAST. Bytes before the first BDAT are skipped in skip. */
static size_t parse_bdat(const char *out, size_t len, size_t skip, char *content,
			 size_t *content_len, int *last)
{
	size_t pos = skip, chunks = 0;

	*content_len = 0;
	*last = 0;
	while (pos < len) {
		unsigned long n;
		int used = 0;
		char word[8] = "";

		assert_false(*last);
		assert_true(sscanf(out + pos, "BDAT %lu%n", &n, &used) == 1);
		pos += (size_t)used;
		if (strncmp(out + pos, " LAST", 5) == 0) {
			*last = 1;
			pos += 5;
		}
		(void)word;
		assert_memory_equal(out + pos, "\r\n", 2);
		pos += 2;
		assert_true(pos + n <= len);
		memcpy(content + *content_len, out + pos, n);
		*content_len += n;
		pos += n;
		chunks++;
	}
	return chunks;
}

static const char dotted_body[] =
	"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n"
	"\r\n.\r\nlast line\r\n";

static void run_bdat_pipelined(int bytewise)
{
	struct harness h;
	struct txn_fixture f;
	const char *headers = "DKIM-Signature: v=1; d=a.test\r\n";
	char expected[512];

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING);
	assert_true(sl_smtpc_caps(h.c) & SL_SMTPC_CAP_CHUNKING);
	txn_init(&f, headers, dotted_body);
	assert_int_equal(sl_smtpc_submit(h.c, &f.t, h.now), 0);
	snprintf(expected, sizeof(expected), "MAIL FROM:<bounce@sender.test> SIZE=%zu\r\n"
		 "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\n", f.t.size);
	expect_out(&h, expected);
	feed(&h, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n");
	assert_int_equal(h.done_calls, 0);
	snprintf(expected, sizeof(expected), "BDAT %zu LAST\r\n%s%s", f.t.size, headers,
		 dotted_body);
	expect_out(&h, expected);
	feed(&h, "250 2.0.0 queued as B\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 2);
	assert_int_equal(f.t.chunked, 1);
	assert_int_equal(f.t.content_sent, 1);
	assert_int_equal(f.replies[0].code, 250);
	assert_string_equal(f.replies[0].text, "queued as B");
	assert_int_equal(f.replies[1].code, 250);
	assert_int_equal(f.t.data_reply.code, 250);
	assert_int_equal(h.ready_calls, 2);
	assert_true(sl_smtpc_is_ready(h.c));

	/* A second transaction on the same session starts afresh. */
	txn_init(&f, "", "x\r\n");
	assert_int_equal(sl_smtpc_submit(h.c, &f.t, h.now), 0);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=3\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n");
	expect_out(&h, "BDAT 3 LAST\r\nx\r\n");
	feed(&h, "250 ok\r\n");
	assert_int_equal(h.done_calls, 2);
	assert_int_equal(h.ready_calls, 3);
	sl_smtpc_free(h.c);
}

static void bdat_pipelined_whole(void **s) { (void)s; run_bdat_pipelined(0); }
static void bdat_pipelined_bytewise(void **s) { (void)s; run_bdat_pipelined(1); }

static void run_bdat_unpipelined(int bytewise)
{
	struct harness h;
	struct txn_fixture f;

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING_UNPIPELINED);
	txn_init(&f, "", dotted_body);
	assert_int_equal(sl_smtpc_submit(h.c, &f.t, h.now), 0);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<a@dest.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<b@dest.test>\r\n");
	feed(&h, "550 5.1.1 no such user\r\n");

	char expected[256];

	snprintf(expected, sizeof(expected), "BDAT %zu LAST\r\n%s", strlen(dotted_body),
		 dotted_body);
	expect_out(&h, expected);
	feed(&h, "250 2.0.0 ok\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 1);
	assert_int_equal(f.replies[0].code, 250);
	assert_int_equal(f.replies[1].code, 550);
	assert_string_equal(f.replies[1].enhanced, "5.1.1");
	assert_true(sl_smtpc_is_ready(h.c));
	sl_smtpc_free(h.c);
}

static void bdat_unpipelined_whole(void **s) { (void)s; run_bdat_unpipelined(0); }
static void bdat_unpipelined_bytewise(void **s) { (void)s; run_bdat_unpipelined(1); }

static void run_bdat_partial_rcpt(int bytewise)
{
	struct harness h;
	struct txn_fixture f;

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", "y\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=3\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n452 4.2.2 mailbox full\r\n250 ok\r\n");
	expect_out(&h, "BDAT 3 LAST\r\ny\r\n");
	feed(&h, "250 2.0.0 done\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 1);
	assert_int_equal(f.replies[0].code, 452);
	assert_string_equal(f.replies[0].enhanced, "4.2.2");
	assert_int_equal(f.replies[1].code, 250);
	assert_string_equal(f.replies[1].text, "done");
	expect_out(&h, "");
	assert_true(sl_smtpc_is_ready(h.c));
	sl_smtpc_free(h.c);
}

static void bdat_partial_rcpt_whole(void **s) { (void)s; run_bdat_partial_rcpt(0); }
static void bdat_partial_rcpt_bytewise(void **s) { (void)s; run_bdat_partial_rcpt(1); }

/* A message of size bytes (at least 2) with CRLF lines, some of them
 * starting with ".". */
static char *make_body(size_t size)
{
	char *b = malloc(size + 1);
	size_t i = 0;

	assert_non_null(b);
	while (i < size) {
		const char *line = (i / 80) % 3 == 0 ? ".dot line\r\n" : "plain line of text\r\n";
		size_t n = strlen(line);

		if (n > size - i)
			n = size - i;
		memcpy(b + i, line, n);
		i += n;
	}
	b[size - 2] = '\r';
	b[size - 1] = '\n';
	b[size] = '\0';
	return b;
}

static void run_bdat_all_rcpts_fail(int bytewise)
{
	struct harness h;
	struct txn_fixture f;
	char *body = make_body(200000);

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", body);
	sl_smtpc_submit(h.c, &f.t, h.now);

	/* No chunk goes out before the RCPT replies. */
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=200000\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n550 5.1.1 no a\r\n550 5.1.1 no b\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 0);
	assert_int_equal(f.t.content_sent, 0);
	assert_int_equal(f.replies[0].code, 550);
	assert_string_equal(f.replies[0].text, "no a");
	assert_int_equal(f.replies[1].code, 550);
	assert_string_equal(f.replies[1].text, "no b");
	expect_out(&h, "RSET\r\n");
	feed(&h, "250 ok\r\n");
	assert_true(sl_smtpc_is_ready(h.c));
	sl_smtpc_free(h.c);
	free(body);
}

static void bdat_all_rcpts_fail_whole(void **s) { (void)s; run_bdat_all_rcpts_fail(0); }
static void bdat_all_rcpts_fail_bytewise(void **s) { (void)s; run_bdat_all_rcpts_fail(1); }

static void bdat_all_rcpts_fail_unpipelined(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init_chunking(&h, 0, 1);
	start_session(&h, EHLO_CHUNKING_UNPIPELINED);
	txn_init(&f, "", "z\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<a@dest.test>\r\n");
	feed(&h, "550 no\r\n");
	expect_out(&h, "RCPT TO:<b@dest.test>\r\n");
	feed(&h, "550 no\r\n");
	assert_int_equal(h.done_calls, 1);
	expect_out(&h, "RSET\r\n");
	assert_int_equal(f.t.content_sent, 0);
	sl_smtpc_free(h.c);
}

/* A large message arrives byte-identical, dot-leading lines included,
 * one chunk at a time. */
static void run_bdat_large(int bytewise)
{
	struct harness h;
	struct txn_fixture f;
	const char *headers = "DKIM-Signature: v=1; b=x\r\n";
	size_t body_len = 1000000;
	char *body = make_body(body_len);
	char *content = malloc(body_len + 64);
	size_t content_len;
	int last;

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, headers, body);
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=1000026\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n");

	struct output_copy out = take_chunks(&h);
	size_t chunks = parse_bdat(out.data, out.len, 0, content, &content_len, &last);

	assert_int_equal(chunks, (f.t.size + 65535) / 65536);
	assert_true(last);
	assert_int_equal(content_len, f.t.size);
	assert_memory_equal(content, headers, strlen(headers));
	assert_memory_equal(content + strlen(headers), body, body_len);
	free(out.data);

	assert_int_equal(h.done_calls, 0);
	feed(&h, "250 2.0.0 message ok\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 2);
	assert_string_equal(f.replies[0].text, "message ok");
	assert_true(sl_smtpc_is_ready(h.c));
	sl_smtpc_free(h.c);
	free(body);
	free(content);
}

static void bdat_large_whole(void **s) { (void)s; run_bdat_large(0); }
static void bdat_large_bytewise(void **s) { (void)s; run_bdat_large(1); }

/* A failed middle chunk: no further chunk is written, then RSET. */
static void run_bdat_middle_chunk_fails(int bytewise)
{
	struct harness h;
	struct txn_fixture f;
	char *body = make_body(300000);

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", body);
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=300000\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n");

	struct output_copy chunk = take_out(&h, 0);

	assert_int_equal(chunk.len, 12 + 65536);
	assert_int_equal(strncmp(chunk.data, "BDAT 65536\r\n", 12), 0);
	free(chunk.data);
	feed(&h, "250 chunk 1 ok\r\n");
	chunk = take_out(&h, 0);
	assert_int_equal(chunk.len, 12 + 65536);
	free(chunk.data);
	assert_int_equal(h.done_calls, 0);
	feed(&h, "554 5.6.0 content rejected\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 554);
	assert_string_equal(f.replies[0].enhanced, "5.6.0");
	assert_int_equal(f.replies[1].code, 554);
	assert_int_equal(f.t.data_reply.code, 554);
	assert_int_equal(f.t.accepted, 0);
	assert_int_equal(f.t.content_sent, 0);
	expect_out(&h, "RSET\r\n");
	feed(&h, "250 ok\r\n");
	assert_true(sl_smtpc_is_ready(h.c));
	sl_smtpc_free(h.c);
	free(body);
}

static void bdat_middle_fails_whole(void **s) { (void)s; run_bdat_middle_chunk_fails(0); }
static void bdat_middle_fails_bytewise(void **s) { (void)s; run_bdat_middle_chunk_fails(1); }

/* With PIPELINING too, a chunk waits for the reply to the previous one. */
static void bdat_chunk_waits_for_reply(void **s)
{
	struct harness h;
	struct txn_fixture f;
	char *body = make_body(150000);   /* chunks of 65536, 65536, 18928 */

	(void)s;
	harness_init_chunking(&h, 0, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", body);
	sl_smtpc_submit(h.c, &f.t, h.now);
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n");

	struct output_copy out = take_out(&h, 0);
	const char *first = strstr(out.data, "BDAT ");

	assert_non_null(first);
	assert_int_equal(out.len - (size_t)(first - out.data), 12 + 65536);
	free(out.data);
	expect_out(&h, "");
	assert_int_equal(sl_smtpc_deadline(h.c), h.now + 3 * 60 * 1000);
	feed(&h, "250 ok\r\n");
	out = take_out(&h, 0);
	assert_int_equal(out.len, 12 + 65536);
	free(out.data);
	feed(&h, "250 ok\r\n");
	out = take_out(&h, 0);
	assert_int_equal(out.len, 17 + 18928);
	assert_int_equal(strncmp(out.data, "BDAT 18928 LAST\r\n", 17), 0);
	free(out.data);
	assert_int_equal(sl_smtpc_deadline(h.c), h.now + 10 * 60 * 1000);
	feed(&h, "250 ok\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.accepted, 2);
	sl_smtpc_free(h.c);
	free(body);
}

/* A failed BDAT LAST defers (4xx) or bounces (5xx) the accepted recipients. */
static void run_bdat_last_fails(int bytewise)
{
	struct harness h;
	struct txn_fixture f;

	harness_init_chunking(&h, bytewise, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	free(take_out(&h, 0).data);
	feed(&h, "250 ok\r\n250 ok\r\n550 5.1.1 no b\r\n451 4.3.0 try later\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 451);
	assert_string_equal(f.replies[0].enhanced, "4.3.0");
	assert_int_equal(f.replies[1].code, 550);
	assert_int_equal(f.t.accepted, 0);
	expect_out(&h, "BDAT 3 LAST\r\nx\r\nRSET\r\n");
	feed(&h, "250 ok\r\n");

	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	free(take_out(&h, 0).data);
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n554 5.7.1 rejected as spam\r\n");
	assert_int_equal(h.done_calls, 2);
	assert_int_equal(f.replies[0].code, 554);
	assert_int_equal(f.replies[1].code, 554);
	expect_out(&h, "BDAT 3 LAST\r\nx\r\nRSET\r\n");
	sl_smtpc_free(h.c);
}

static void bdat_last_fails_whole(void **s) { (void)s; run_bdat_last_fails(0); }
static void bdat_last_fails_bytewise(void **s) { (void)s; run_bdat_last_fails(1); }

/* Without PIPELINING each chunk waits for the previous reply, and a
 * failed chunk stops the rest. */
static void bdat_unpipelined_chunk_fails(void **s)
{
	struct harness h;
	struct txn_fixture f;
	char *body = make_body(200000);

	(void)s;
	harness_init_chunking(&h, 1, 1);
	start_session(&h, EHLO_CHUNKING_UNPIPELINED);
	txn_init(&f, "", body);
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<a@dest.test>\r\n");
	feed(&h, "250 ok\r\n");
	expect_out(&h, "RCPT TO:<b@dest.test>\r\n");
	feed(&h, "250 ok\r\n");

	struct output_copy out = take_out(&h, 0);

	assert_int_equal(out.len, 12 + 65536);
	free(out.data);
	feed(&h, "250 ok\r\n");
	out = take_out(&h, 0);
	assert_int_equal(out.len, 12 + 65536);
	free(out.data);
	feed(&h, "552 5.3.4 message too big\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 552);
	expect_out(&h, "RSET\r\n");
	sl_smtpc_free(h.c);
	free(body);
}

/* A missing final CRLF is added, also when it spans two chunks. */
static void bdat_adds_final_crlf(void **s)
{
	struct harness h;
	struct txn_fixture f;
	char *body = make_body(65535);
	char *content = malloc(70000);
	size_t content_len;
	int last;

	(void)s;
	body[65534] = 'x';      /* no CRLF at the end */
	body[65533] = 'x';
	harness_init_chunking(&h, 0, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", body);
	sl_smtpc_submit(h.c, &f.t, h.now);
	free(take_out(&h, 0).data);
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n");

	struct output_copy out = take_chunks(&h);
	const char *first = out.data;

	assert_int_equal(parse_bdat(out.data, out.len, (size_t)(first - out.data), content,
				    &content_len, &last), 2);
	assert_true(last);
	assert_int_equal(content_len, 65537);
	assert_memory_equal(content, body, 65535);
	assert_memory_equal(content + 65535, "\r\n", 2);
	assert_non_null(strstr(out.data, "BDAT 1 LAST\r\n\n"));
	free(out.data);
	free(body);
	free(content);
	sl_smtpc_free(h.c);
}

/* With chunking off in the configuration, DATA is used. */
static void run_bdat_switched_off(int bytewise)
{
	struct harness h;
	struct txn_fixture f;

	harness_init_chunking(&h, bytewise, 0);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", ".dot\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	expect_out(&h, "MAIL FROM:<bounce@sender.test> SIZE=6\r\n"
		       "RCPT TO:<a@dest.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\n");
	feed(&h, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	expect_out(&h, "..dot\r\n.\r\n");
	feed(&h, "250 ok\r\n");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.t.chunked, 0);
	assert_int_equal(f.t.content_sent, 1);
	sl_smtpc_free(h.c);
}

static void bdat_off_whole(void **s) { (void)s; run_bdat_switched_off(0); }
static void bdat_off_bytewise(void **s) { (void)s; run_bdat_switched_off(1); }

/* A lost connection in the middle of BDAT defers the accepted recipients. */
static void bdat_disconnect_defers(void **s)
{
	struct harness h;
	struct txn_fixture f;

	(void)s;
	harness_init_chunking(&h, 0, 1);
	start_session(&h, EHLO_CHUNKING);
	txn_init(&f, "", "x\r\n");
	sl_smtpc_submit(h.c, &f.t, h.now);
	free(take_out(&h, 0).data);
	feed(&h, "250 ok\r\n250 ok\r\n550 no\r\n");
	assert_int_equal(sl_smtpc_deadline(h.c), h.now + 10 * 60 * 1000);
	sl_smtpc_disconnected(h.c, "reset");
	assert_int_equal(h.done_calls, 1);
	assert_int_equal(f.replies[0].code, 421);
	assert_int_equal(f.replies[1].code, 550);
	assert_int_equal(h.closed_calls, 1);
	sl_smtpc_free(h.c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pipelined_partial_whole),
		cmocka_unit_test(pipelined_partial_bytewise),
		cmocka_unit_test(helo_fallback_whole),
		cmocka_unit_test(helo_fallback_bytewise),
		cmocka_unit_test(starttls_extra_whole),
		cmocka_unit_test(starttls_extra_bytewise),
		cmocka_unit_test(starttls_refused_stays_plain),
		cmocka_unit_test(starttls_failures_marked),
		cmocka_unit_test(starttls_required),
		cmocka_unit_test(no_rcpt_accepted_pipelined),
		cmocka_unit_test(no_rcpt_accepted_unpipelined),
		cmocka_unit_test(size_over_limit_unsent),
		cmocka_unit_test(body_8bit_only_when_needed),
		cmocka_unit_test(dot_stuffing_and_line_ends),
		cmocka_unit_test(reply_421_defers_all),
		cmocka_unit_test(disconnect_during_data),
		cmocka_unit_test(timeout_defers),
		cmocka_unit_test(greeting_timeout),
		cmocka_unit_test(malformed_reply_closes),
		cmocka_unit_test(data_reply_4xx_defers),
		cmocka_unit_test(bdat_pipelined_whole),
		cmocka_unit_test(bdat_pipelined_bytewise),
		cmocka_unit_test(bdat_unpipelined_whole),
		cmocka_unit_test(bdat_unpipelined_bytewise),
		cmocka_unit_test(bdat_partial_rcpt_whole),
		cmocka_unit_test(bdat_partial_rcpt_bytewise),
		cmocka_unit_test(bdat_all_rcpts_fail_whole),
		cmocka_unit_test(bdat_all_rcpts_fail_bytewise),
		cmocka_unit_test(bdat_all_rcpts_fail_unpipelined),
		cmocka_unit_test(bdat_large_whole),
		cmocka_unit_test(bdat_large_bytewise),
		cmocka_unit_test(bdat_middle_fails_whole),
		cmocka_unit_test(bdat_middle_fails_bytewise),
		cmocka_unit_test(bdat_chunk_waits_for_reply),
		cmocka_unit_test(bdat_last_fails_whole),
		cmocka_unit_test(bdat_last_fails_bytewise),
		cmocka_unit_test(bdat_unpipelined_chunk_fails),
		cmocka_unit_test(bdat_adds_final_crlf),
		cmocka_unit_test(bdat_off_whole),
		cmocka_unit_test(bdat_off_bytewise),
		cmocka_unit_test(bdat_disconnect_defers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
