/*
 * dataplane/smtp_client.c - SMTP client protocol engine.
 *
 * The contract is in smtp_client.h. Internals: replies are assembled line
 * by line in c->line (any split across reads is fine); a complete reply
 * goes to the handler of the current state from state_table[]. A
 * transaction walks through expected replies in order: MAIL, one per
 * recipient, DATA. With PIPELINING all of them are written at once,
 * otherwise each command is written after the previous reply.
 *
 * With BDAT, ST_TXN covers MAIL and RCPT only, and ST_BDAT writes one
 * chunk at a time and counts the chunks written against their replies,
 * so the transaction ends when every written chunk has its reply.
 *
 * Callbacks may call sl_smtpc_submit() or sl_smtpc_quit() but must not
 * free the engine; the caller frees it after sl_smtpc_input() (or the
 * other entry points) return and sl_smtpc_is_closed() is true.
 */
#include "dataplane/smtp_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 2048          /* longer reply lines are cut */
#define CONTENT_CHUNK (64 * 1024)    /* content bytes prepared per refill, and per BDAT chunk */

enum state {
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS_HANDSHAKE,
	ST_READY,
	ST_TXN,        /* waiting for MAIL, RCPT and DATA replies */
	ST_CONTENT,    /* sending the message content */
	ST_DATA_END,   /* waiting for the reply to the final "." */
	ST_BDAT,       /* writing BDAT chunks and waiting for their replies */
	ST_RSET,
	ST_QUIT,
	ST_CLOSED,
	ST_COUNT
};

struct outbuf {
	char *data;
	size_t head, tail, cap;
};

struct sl_smtpc {
	struct sl_smtpc_config config;
	struct sl_smtpc_callbacks cb;
	void *ctx;
	enum state state;
	uint64_t deadline;
	unsigned caps;
	uint64_t size_limit;
	int tls_active;
	int ever_ready;          /* reached ST_READY once */
	int tls_failed;          /* the session ended in STARTTLS or TLS setup */

	/* Reply assembly. */
	char line[LINE_MAX_BYTES];
	size_t line_len;
	int line_overflow;
	struct sl_smtp_reply reply;
	int reply_lines;
	int ehlo_caps_pending;   /* capabilities seen in the current EHLO reply */

	/* Transaction progress. */
	struct sl_smtpc_txn *txn;
	size_t next_reply;        /* 0 MAIL, 1..n RCPT, n+1 DATA */
	size_t next_command;      /* same numbering, for writing */
	int mail_failed;
	int dot_only;             /* sending a lone "." after 354 */
	int txn_reported;

	/* Content streaming: position and line state of the dot-stuffer. */
	size_t body_iov;
	size_t body_off;
	int at_line_start;
	int prev_cr;
	int content_finished;

	/* BDAT transfer of the current transaction. */
	int chunking;             /* this transaction sends BDAT, not DATA */
	int add_crlf;             /* content lacks its final CRLF: send one */
	size_t content_total;     /* bytes to send, with the added CRLF */
	size_t content_written;   /* bytes written into chunks so far */
	size_t chunks_written;
	size_t chunk_replies;
	int last_written;         /* the BDAT ... LAST chunk is written */
	int chunks_stopped;       /* write no more chunks: one failed or no RCPT was accepted */

	struct outbuf out;
};

typedef void (*reply_handler)(struct sl_smtpc *c, uint64_t now);

static void on_greeting(struct sl_smtpc *c, uint64_t now);
static void on_ehlo(struct sl_smtpc *c, uint64_t now);
static void on_helo(struct sl_smtpc *c, uint64_t now);
static void on_starttls(struct sl_smtpc *c, uint64_t now);
static void on_unexpected(struct sl_smtpc *c, uint64_t now);
static void on_txn(struct sl_smtpc *c, uint64_t now);
static void on_data_end(struct sl_smtpc *c, uint64_t now);
static void on_bdat(struct sl_smtpc *c, uint64_t now);
static void on_rset(struct sl_smtpc *c, uint64_t now);
static void on_quit(struct sl_smtpc *c, uint64_t now);

static const reply_handler state_table[ST_COUNT] = {
	[ST_GREETING] = on_greeting,
	[ST_EHLO] = on_ehlo,
	[ST_HELO] = on_helo,
	[ST_STARTTLS] = on_starttls,
	[ST_TLS_HANDSHAKE] = NULL,   /* input is ignored during the handshake */
	[ST_READY] = on_unexpected,
	[ST_TXN] = on_txn,
	[ST_CONTENT] = on_unexpected,
	[ST_DATA_END] = on_data_end,
	[ST_BDAT] = on_bdat,
	[ST_RSET] = on_rset,
	[ST_QUIT] = on_quit,
	[ST_CLOSED] = NULL,
};

void sl_smtpc_default_timeouts(struct sl_smtpc_timeouts *t)
{
	t->greeting_ms = 5 * 60 * 1000;
	t->command_ms = 5 * 60 * 1000;
	t->data_init_ms = 2 * 60 * 1000;
	t->data_block_ms = 3 * 60 * 1000;
	t->data_end_ms = 10 * 60 * 1000;
}

/* Output buffer. Allocation failure aborts: the engine has no way to
 * continue a session with half a command written. */

static void out_reserve(struct outbuf *o, size_t n)
{
	if (o->head > 0 && o->head == o->tail)
		o->head = o->tail = 0;
	if (o->tail + n <= o->cap)
		return;
	if (o->head > 0) {
		memmove(o->data, o->data + o->head, o->tail - o->head);
		o->tail -= o->head;
		o->head = 0;
		if (o->tail + n <= o->cap)
			return;
	}
	size_t cap = o->cap ? o->cap : 4096;
	while (cap < o->tail + n)
		cap *= 2;
	o->data = realloc(o->data, cap);
	if (!o->data)
		abort();
	o->cap = cap;
}

static void out_write(struct outbuf *o, const char *s, size_t n)
{
	out_reserve(o, n);
	memcpy(o->data + o->tail, s, n);
	o->tail += n;
}

static void out_printf(struct outbuf *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	out_reserve(o, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(o->data + o->tail, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->tail += (size_t)n;
}

static size_t out_pending(const struct outbuf *o)
{
	return o->tail - o->head;
}

/* Replies made by the engine itself. */
static void local_reply(struct sl_smtp_reply *r, int code, const char *enhanced,
			const char *text)
{
	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced);
	snprintf(r->text, sizeof(r->text), "%s", text);
	r->local = 1;
}

static void set_wait(struct sl_smtpc *c, enum state s, uint32_t ms, uint64_t now)
{
	c->state = s;
	c->deadline = ms ? now + ms : 0;
}

struct sl_smtpc *sl_smtpc_new(const struct sl_smtpc_config *config,
			      const struct sl_smtpc_callbacks *cb, void *ctx,
			      uint64_t now_ms)
{
	struct sl_smtpc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->config = *config;
	c->cb = *cb;
	c->ctx = ctx;
	set_wait(c, ST_GREETING, c->config.timeouts.greeting_ms, now_ms);
	return c;
}

void sl_smtpc_free(struct sl_smtpc *c)
{
	if (!c)
		return;
	free(c->out.data);
	free(c);
}

/*
 * Session end. Every recipient of the running transaction without a final
 * reply gets reason (with a 4xx code, so it is deferred), the transaction
 * is reported, then the closed callback fires.
 */
static void finish_txn(struct sl_smtpc *c);

/* STARTTLS was sent and the session has not been ready since: a failure
 * made here by the engine (lost connection, timeout, failed handshake,
 * garbled reply) is a TLS failure. A reply such as 421 from the server is
 * not. */
static int in_tls_setup(const struct sl_smtpc *c)
{
	if (c->state == ST_STARTTLS || c->state == ST_TLS_HANDSHAKE)
		return 1;
	return c->tls_active && !c->ever_ready && c->state != ST_QUIT;
}

static void close_session(struct sl_smtpc *c, const struct sl_smtp_reply *reason)
{
	struct sl_smtpc_txn *t = c->txn;

	if (c->state == ST_CLOSED)
		return;
	c->tls_failed = reason->local && in_tls_setup(c);
	c->state = ST_CLOSED;
	c->deadline = 0;
	if (t && !c->txn_reported) {
		struct sl_smtp_reply defer = *reason;

		if (defer.code / 100 != 4) {
			defer.code = 421;
			defer.local = 1;
		}
		for (size_t i = 0; i < t->rcpt_count; i++) {
			if (t->rcpt_reply[i].code == 0 || t->rcpt_reply[i].code / 100 == 2)
				t->rcpt_reply[i] = defer;
		}
		t->data_reply = defer;
		t->accepted = 0;
		finish_txn(c);
	}
	c->txn = NULL;
	if (c->cb.closed)
		c->cb.closed(c->ctx, reason);
}

static void close_local(struct sl_smtpc *c, int code, const char *enhanced,
			const char *text)
{
	struct sl_smtp_reply r;

	local_reply(&r, code, enhanced, text);
	close_session(c, &r);
}

static void finish_txn(struct sl_smtpc *c)
{
	struct sl_smtpc_txn *t = c->txn;

	if (!t || c->txn_reported)
		return;
	c->txn_reported = 1;
	if (c->cb.txn_done)
		c->cb.txn_done(c->ctx, t);
}

static void become_ready(struct sl_smtpc *c, uint64_t now)
{
	c->txn = NULL;
	c->ever_ready = 1;
	set_wait(c, ST_READY, 0, now);
	if (c->cb.ready)
		c->cb.ready(c->ctx);
}

/* Session setup. */

static void send_ehlo(struct sl_smtpc *c, uint64_t now)
{
	c->caps = 0;
	c->size_limit = 0;
	out_printf(&c->out, "EHLO %s\r\n", c->config.helo_name);
	set_wait(c, ST_EHLO, c->config.timeouts.command_ms, now);
}

static void on_greeting(struct sl_smtpc *c, uint64_t now)
{
	if (c->reply.code == 220) {
		send_ehlo(c, now);
		return;
	}
	close_session(c, &c->reply);
}

/* Parse one EHLO line after the first ("250-PIPELINING", "250 SIZE 1000"). */
static void parse_capability(struct sl_smtpc *c, const char *kw)
{
	static const struct {
		const char *name;
		unsigned cap;
	} caps[] = {
		{ "PIPELINING", SL_SMTPC_CAP_PIPELINING },
		{ "SIZE", SL_SMTPC_CAP_SIZE },
		{ "8BITMIME", SL_SMTPC_CAP_8BITMIME },
		{ "SMTPUTF8", SL_SMTPC_CAP_SMTPUTF8 },
		{ "STARTTLS", SL_SMTPC_CAP_STARTTLS },
		{ "CHUNKING", SL_SMTPC_CAP_CHUNKING },
		{ "ENHANCEDSTATUSCODES", SL_SMTPC_CAP_ENHANCEDSTATUSCODES },
	};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t n = strlen(caps[i].name);

		if (strncasecmp(kw, caps[i].name, n) != 0 || (kw[n] && kw[n] != ' '))
			continue;
		c->ehlo_caps_pending |= caps[i].cap;
		if (caps[i].cap == SL_SMTPC_CAP_SIZE) {
			/* "SIZE" alone or "SIZE 0" means no fixed limit. */
			c->size_limit = kw[n] ? strtoull(kw + n + 1, NULL, 10) : 0;
		}
	}
}

static void on_ehlo(struct sl_smtpc *c, uint64_t now)
{
	int code = c->reply.code;

	if (code / 100 == 5) {
		out_printf(&c->out, "HELO %s\r\n", c->config.helo_name);
		set_wait(c, ST_HELO, c->config.timeouts.command_ms, now);
		return;
	}
	if (code / 100 != 2) {
		close_session(c, &c->reply);
		return;
	}
	c->caps = (unsigned)c->ehlo_caps_pending;
	if ((c->caps & SL_SMTPC_CAP_STARTTLS) && !c->tls_active &&
	    c->config.tls != SL_SMTPC_TLS_NONE) {
		out_write(&c->out, "STARTTLS\r\n", 10);
		set_wait(c, ST_STARTTLS, c->config.timeouts.command_ms, now);
		return;
	}
	if (c->config.tls == SL_SMTPC_TLS_REQUIRED && !c->tls_active) {
		close_local(c, 421, "4.7.10", "TLS is required but the server does not offer STARTTLS");
		return;
	}
	become_ready(c, now);
}

static void on_helo(struct sl_smtpc *c, uint64_t now)
{
	if (c->reply.code / 100 != 2) {
		close_session(c, &c->reply);
		return;
	}
	c->caps = 0;
	c->size_limit = 0;
	if (c->config.tls == SL_SMTPC_TLS_REQUIRED && !c->tls_active) {
		close_local(c, 421, "4.7.10",
			    "TLS is required but the server rejected EHLO, so STARTTLS is not possible");
		return;
	}
	become_ready(c, now);
}

static void on_starttls(struct sl_smtpc *c, uint64_t now)
{
	if (c->reply.code == 220) {
		set_wait(c, ST_TLS_HANDSHAKE, c->config.timeouts.command_ms, now);
		if (c->cb.start_tls)
			c->cb.start_tls(c->ctx);
		return;
	}
	if (c->config.tls == SL_SMTPC_TLS_REQUIRED) {
		char text[SL_SMTP_TEXT_MAX];

		snprintf(text, sizeof(text), "TLS is required but the server rejected STARTTLS: %d %.300s",
			 c->reply.code, c->reply.text);
		close_local(c, 421, "4.7.10", text);
		return;
	}
	/* Opportunistic: a refused STARTTLS leaves a usable plain session. */
	become_ready(c, now);
}

void sl_smtpc_tls_done(struct sl_smtpc *c, int ok, uint64_t now_ms)
{
	if (c->state != ST_TLS_HANDSHAKE)
		return;
	if (!ok) {
		/* The caller sees sl_smtpc_tls_failed() and may retry in
		 * plaintext on a new connection. */
		close_local(c, 421, "4.7.0", "TLS handshake failed");
		return;
	}
	c->tls_active = 1;
	c->line_len = 0;
	c->reply_lines = 0;
	send_ehlo(c, now_ms);
}

static void on_unexpected(struct sl_smtpc *c, uint64_t now)
{
	(void)now;
	close_local(c, 421, "4.5.0", "unexpected reply from server");
}

/* Transactions. */

static int needs_utf8(const struct sl_smtpc_txn *t)
{
	for (const char *p = t->sender; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	for (size_t i = 0; i < t->rcpt_count; i++)
		for (const char *p = t->rcpts[i]; *p; p++)
			if ((unsigned char)*p >= 0x80)
				return 1;
	return 0;
}

static void write_mail(struct sl_smtpc *c)
{
	struct sl_smtpc_txn *t = c->txn;

	out_printf(&c->out, "MAIL FROM:<%s>", t->sender);
	if (c->caps & SL_SMTPC_CAP_SIZE)
		out_printf(&c->out, " SIZE=%zu", t->size);
	if (t->eight_bit && (c->caps & SL_SMTPC_CAP_8BITMIME))
		out_write(&c->out, " BODY=8BITMIME", 14);
	if ((c->caps & SL_SMTPC_CAP_SMTPUTF8) && needs_utf8(t))
		out_write(&c->out, " SMTPUTF8", 9);
	out_write(&c->out, "\r\n", 2);
}

/* Write command number i of the transaction (0 MAIL, 1..n RCPT, n+1 DATA). */
static void write_command(struct sl_smtpc *c, size_t i)
{
	struct sl_smtpc_txn *t = c->txn;

	if (i == 0)
		write_mail(c);
	else if (i <= t->rcpt_count)
		out_printf(&c->out, "RCPT TO:<%s>\r\n", t->rcpts[i - 1]);
	else
		out_write(&c->out, "DATA\r\n", 6);
	c->next_command = i + 1;
}

/* Reject a transaction before sending anything; the session stays ready. */
static void fail_unsent(struct sl_smtpc *c, int code, const char *enhanced,
			const char *text)
{
	struct sl_smtpc_txn *t = c->txn;

	local_reply(&t->data_reply, code, enhanced, text);
	for (size_t i = 0; i < t->rcpt_count; i++)
		t->rcpt_reply[i] = t->data_reply;
	finish_txn(c);
	c->txn = NULL;
	if (c->cb.ready)
		c->cb.ready(c->ctx);
}

static void start_chunking(struct sl_smtpc *c);
static void write_chunk(struct sl_smtpc *c);
static void enter_bdat(struct sl_smtpc *c, uint64_t now);

int sl_smtpc_submit(struct sl_smtpc *c, struct sl_smtpc_txn *t, uint64_t now_ms)
{
	if (c->state != ST_READY || c->txn)
		return -EBUSY;
	c->txn = t;
	c->txn_reported = 0;
	c->next_reply = 0;
	c->next_command = 0;
	c->mail_failed = 0;
	c->dot_only = 0;
	t->accepted = 0;
	t->content_sent = 0;
	t->chunked = 0;
	memset(&t->data_reply, 0, sizeof(t->data_reply));
	for (size_t i = 0; i < t->rcpt_count; i++)
		memset(&t->rcpt_reply[i], 0, sizeof(t->rcpt_reply[i]));

	if (t->rcpt_count == 0) {
		fail_unsent(c, 554, "5.5.1", "no recipients");
		return 0;
	}
	if ((c->caps & SL_SMTPC_CAP_SIZE) && c->size_limit && t->size > c->size_limit) {
		fail_unsent(c, 552, "5.3.4", "message size exceeds the server's fixed limit");
		return 0;
	}
	if (needs_utf8(t) && !(c->caps & SL_SMTPC_CAP_SMTPUTF8)) {
		fail_unsent(c, 553, "5.6.7", "non-ASCII address and server lacks SMTPUTF8");
		return 0;
	}

	start_chunking(c);
	if (c->caps & SL_SMTPC_CAP_PIPELINING) {
		/* The first BDAT chunk waits for the RCPT replies, although
		 * RFC 3030 allows it in the pipeline: with it pipelined,
		 * Postfix 3.7's smtpd took about 45 ms per message on
		 * loopback, against 1-2 ms this way. NOTE: not traced; the
		 * delay looks like Nagle's algorithm waiting for a delayed
		 * ACK. */
		size_t last = c->chunking ? t->rcpt_count : t->rcpt_count + 1;

		for (size_t i = 0; i <= last; i++)
			write_command(c, i);
	} else {
		write_command(c, 0);
	}
	set_wait(c, ST_TXN, c->config.timeouts.command_ms, now_ms);
	return 0;
}

static void start_content(struct sl_smtpc *c, uint64_t now);
static void send_rset(struct sl_smtpc *c, uint64_t now);
static void fill_chunks(struct sl_smtpc *c, uint64_t now);

static void on_mail_reply(struct sl_smtpc *c)
{
	if (c->reply.code / 100 == 2)
		return;
	c->mail_failed = 1;
	c->txn->data_reply = c->reply;
	for (size_t i = 0; i < c->txn->rcpt_count; i++)
		c->txn->rcpt_reply[i] = c->reply;
}

static void on_rcpt_reply(struct sl_smtpc *c, size_t i)
{
	if (c->mail_failed)
		return;
	c->txn->rcpt_reply[i] = c->reply;
	if (c->reply.code / 100 == 2)
		c->txn->accepted++;
}

/* The reply to DATA arrived. */
static void on_data_reply(struct sl_smtpc *c, uint64_t now)
{
	struct sl_smtpc_txn *t = c->txn;

	if (c->reply.code == 354) {
		if (t->accepted == 0) {
			/* Pipelined DATA was accepted although no recipient
			 * was: end it with an empty message. */
			c->dot_only = 1;
			out_write(&c->out, ".\r\n", 3);
			set_wait(c, ST_DATA_END, c->config.timeouts.data_end_ms, now);
			return;
		}
		start_content(c, now);
		return;
	}
	if (!c->mail_failed && t->accepted > 0) {
		t->data_reply = c->reply;
		for (size_t i = 0; i < t->rcpt_count; i++)
			if (t->rcpt_reply[i].code / 100 == 2)
				t->rcpt_reply[i] = c->reply;
		t->accepted = 0;
	}
	finish_txn(c);
	send_rset(c, now);
}

/* Without pipelining: after the reply to command i, write the next one. */
static void advance_unpipelined(struct sl_smtpc *c, uint64_t now)
{
	struct sl_smtpc_txn *t = c->txn;
	size_t next = c->next_reply;

	if (c->mail_failed || (next == t->rcpt_count + 1 && t->accepted == 0)) {
		finish_txn(c);
		send_rset(c, now);
		return;
	}
	if (c->chunking && next == t->rcpt_count + 1) {
		enter_bdat(c, now);
		return;
	}
	write_command(c, next);
	set_wait(c, ST_TXN, next == t->rcpt_count + 1 ? c->config.timeouts.data_init_ms
						       : c->config.timeouts.command_ms, now);
}

static void on_txn(struct sl_smtpc *c, uint64_t now)
{
	struct sl_smtpc_txn *t = c->txn;
	size_t i = c->next_reply++;

	if (i == 0)
		on_mail_reply(c);
	else if (i <= t->rcpt_count)
		on_rcpt_reply(c, i - 1);
	else {
		on_data_reply(c, now);
		return;
	}

	if (!(c->caps & SL_SMTPC_CAP_PIPELINING)) {
		advance_unpipelined(c, now);
		return;
	}
	if (c->chunking && c->next_reply == t->rcpt_count + 1) {
		enter_bdat(c, now);
		return;
	}
	/* The DATA reply is next: its wait is the DATA initiation timeout. */
	set_wait(c, ST_TXN, c->next_reply == t->rcpt_count + 1
		 ? c->config.timeouts.data_init_ms : c->config.timeouts.command_ms, now);
}

/*
 * Content: copy up to CONTENT_CHUNK bytes of the message into the output
 * buffer, dot-stuffing lines that start with "." and turning every bare
 * CR or LF into CRLF. The line state survives across iovecs and refills.
 */
static void stuff_bytes(struct sl_smtpc *c, const unsigned char *p, size_t n)
{
	struct outbuf *o = &c->out;

	/* Worst case every byte doubles. */
	out_reserve(o, 2 * n + 2);
	char *w = o->data + o->tail;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];

		if (c->prev_cr) {
			c->prev_cr = 0;
			*w++ = '\n';
			c->at_line_start = 1;
			if (ch == '\n')
				continue;
		}
		if (ch == '\r') {
			*w++ = '\r';
			c->prev_cr = 1;
		} else if (ch == '\n') {
			*w++ = '\r';
			*w++ = '\n';
			c->at_line_start = 1;
		} else {
			if (ch == '.' && c->at_line_start)
				*w++ = '.';
			*w++ = (char)ch;
			c->at_line_start = 0;
		}
	}
	o->tail = (size_t)(w - o->data);
}

static void fill_content(struct sl_smtpc *c, uint64_t now)
{
	struct sl_smtpc_txn *t = c->txn;
	size_t budget = CONTENT_CHUNK;

	while (budget > 0 && c->body_iov < t->body_count) {
		const struct iovec *v = &t->body[c->body_iov];
		size_t left = v->iov_len - c->body_off;
		size_t n = left < budget ? left : budget;

		stuff_bytes(c, (const unsigned char *)v->iov_base + c->body_off, n);
		c->body_off += n;
		budget -= n;
		if (c->body_off == v->iov_len) {
			c->body_iov++;
			c->body_off = 0;
		}
	}
	if (c->body_iov < t->body_count)
		return;

	if (c->prev_cr) {
		out_write(&c->out, "\n", 1);
		c->prev_cr = 0;
		c->at_line_start = 1;
	}
	if (!c->at_line_start)
		out_write(&c->out, "\r\n", 2);
	out_write(&c->out, ".\r\n", 3);
	c->content_finished = 1;
	t->content_sent = 1;
	set_wait(c, ST_DATA_END, c->config.timeouts.data_end_ms, now);
}

static void start_content(struct sl_smtpc *c, uint64_t now)
{
	c->body_iov = 0;
	c->body_off = 0;
	c->at_line_start = 1;
	c->prev_cr = 0;
	c->content_finished = 0;
	set_wait(c, ST_CONTENT, c->config.timeouts.data_block_ms, now);
	fill_content(c, now);
}

/*
 * BDAT (RFC 3030): the content goes out as given, in chunks of at most
 * CONTENT_CHUNK bytes, with neither dot-stuffing nor a scan of the lines.
 * The caller's content must therefore already use CRLF line ends, as
 * every spooled message does (accept rejects bare CR and LF). Only a
 * missing CRLF at the very end is added, as the DATA path does.
 */
static void start_chunking(struct sl_smtpc *c)
{
	struct sl_smtpc_txn *t = c->txn;
	char tail[2] = { 0, 0 };
	size_t have = 0;

	c->chunking = c->config.chunking && (c->caps & SL_SMTPC_CAP_CHUNKING);
	c->content_total = 0;
	c->content_written = 0;
	c->chunks_written = 0;
	c->chunk_replies = 0;
	c->last_written = 0;
	c->chunks_stopped = 0;
	c->body_iov = 0;
	c->body_off = 0;
	c->add_crlf = 0;
	if (!c->chunking)
		return;
	t->chunked = 1;

	/* The last two content bytes, which may sit in different iovecs. */
	for (size_t i = t->body_count; i-- > 0 && have < 2;) {
		const char *b = t->body[i].iov_base;

		for (size_t j = t->body[i].iov_len; j-- > 0 && have < 2;)
			tail[1 - have++] = b[j];
	}
	for (size_t i = 0; i < t->body_count; i++)
		c->content_total += t->body[i].iov_len;
	if (c->content_total > 0 && !(have == 2 && tail[0] == '\r' && tail[1] == '\n')) {
		c->add_crlf = 1;
		c->content_total += 2;
	}
}

/* Copy the next n content bytes into the output. */
static void copy_content(struct sl_smtpc *c, size_t n)
{
	static const char crlf[2] = { '\r', '\n' };
	struct sl_smtpc_txn *t = c->txn;
	size_t pos = c->content_written;

	while (n > 0 && c->body_iov < t->body_count) {
		const struct iovec *v = &t->body[c->body_iov];
		size_t left = v->iov_len - c->body_off;
		size_t k = left < n ? left : n;

		out_write(&c->out, (const char *)v->iov_base + c->body_off, k);
		c->body_off += k;
		pos += k;
		n -= k;
		if (c->body_off == v->iov_len) {
			c->body_iov++;
			c->body_off = 0;
		}
	}
	/* The rest is the added CRLF, which two chunks may share. */
	if (n > 0)
		out_write(&c->out, crlf + (pos - (c->content_total - 2)), n);
}

static void write_chunk(struct sl_smtpc *c)
{
	size_t left = c->content_total - c->content_written;
	size_t n = left < CONTENT_CHUNK ? left : CONTENT_CHUNK;

	if (n == left)
		out_printf(&c->out, "BDAT %zu LAST\r\n", n);
	else
		out_printf(&c->out, "BDAT %zu\r\n", n);
	copy_content(c, n);
	c->content_written += n;
	c->chunks_written++;
	if (n == left) {
		c->last_written = 1;
		c->txn->content_sent = 1;
	}
}

/* Write the next chunk once the previous one has its reply, and none
 * after a failed chunk (RFC 3030). RFC 3030 allows chunks to be
 * pipelined, but Postfix 3.7's smtpd then took about 45 ms per message
 * on loopback (as with the first chunk pipelined after RCPT), against
 * 1-2 ms when each chunk waits. */
static void fill_chunks(struct sl_smtpc *c, uint64_t now)
{
	if (!c->last_written && !c->chunks_stopped && c->chunk_replies == c->chunks_written)
		write_chunk(c);
	c->deadline = now + (c->last_written ? c->config.timeouts.data_end_ms
					     : c->config.timeouts.data_block_ms);
}

/* End the transaction once every written chunk has its reply. */
static void end_bdat(struct sl_smtpc *c, uint64_t now)
{
	finish_txn(c);
	if (c->chunks_stopped) {
		send_rset(c, now);
		return;
	}
	become_ready(c, now);
}

/* Every RCPT reply is in: send the chunks, or RSET when no recipient was
 * accepted. */
static void enter_bdat(struct sl_smtpc *c, uint64_t now)
{
	if (c->mail_failed || c->txn->accepted == 0)
		c->chunks_stopped = 1;
	c->state = ST_BDAT;
	if (c->chunks_stopped && c->chunk_replies == c->chunks_written) {
		end_bdat(c, now);
		return;
	}
	fill_chunks(c, now);
}

/* Give the accepted recipients the reply that ends the content. */
static void reply_to_accepted(struct sl_smtpc *c)
{
	struct sl_smtpc_txn *t = c->txn;

	if (c->mail_failed || t->accepted == 0)
		return;
	t->data_reply = c->reply;
	for (size_t i = 0; i < t->rcpt_count; i++)
		if (t->rcpt_reply[i].code / 100 == 2)
			t->rcpt_reply[i] = c->reply;
	if (c->reply.code / 100 != 2)
		t->accepted = 0;
}

static void on_bdat(struct sl_smtpc *c, uint64_t now)
{
	if (c->chunk_replies == c->chunks_written) {
		on_unexpected(c, now);
		return;
	}
	c->chunk_replies++;
	if (c->reply.code / 100 != 2 && !c->chunks_stopped) {
		/* A failed chunk fails the transaction. The server discards
		 * the chunks already in the pipeline but still replies to each. */
		reply_to_accepted(c);
		c->chunks_stopped = 1;
	} else if (c->last_written && !c->chunks_stopped &&
		   c->chunk_replies == c->chunks_written) {
		reply_to_accepted(c);
	}
	if (c->chunk_replies == c->chunks_written && (c->chunks_stopped || c->last_written)) {
		end_bdat(c, now);
		return;
	}
	fill_chunks(c, now);
}

static void on_data_end(struct sl_smtpc *c, uint64_t now)
{
	struct sl_smtpc_txn *t = c->txn;

	if (c->dot_only) {
		/* All recipients already have their RCPT reply. */
		finish_txn(c);
		send_rset(c, now);
		return;
	}
	t->data_reply = c->reply;
	for (size_t i = 0; i < t->rcpt_count; i++)
		if (t->rcpt_reply[i].code / 100 == 2)
			t->rcpt_reply[i] = c->reply;
	if (c->reply.code / 100 != 2)
		t->accepted = 0;
	finish_txn(c);
	if (c->reply.code / 100 == 2) {
		become_ready(c, now);
		return;
	}
	send_rset(c, now);
}

static void send_rset(struct sl_smtpc *c, uint64_t now)
{
	c->txn = NULL;
	out_write(&c->out, "RSET\r\n", 6);
	set_wait(c, ST_RSET, c->config.timeouts.command_ms, now);
}

static void on_rset(struct sl_smtpc *c, uint64_t now)
{
	if (c->reply.code / 100 != 2) {
		close_session(c, &c->reply);
		return;
	}
	become_ready(c, now);
}

void sl_smtpc_quit(struct sl_smtpc *c, uint64_t now_ms)
{
	if (c->state == ST_CLOSED || c->state == ST_QUIT)
		return;
	if (c->state != ST_READY) {
		close_local(c, 421, "4.4.2", "session aborted by the client");
		return;
	}
	out_write(&c->out, "QUIT\r\n", 6);
	set_wait(c, ST_QUIT, c->config.timeouts.command_ms, now_ms);
}

static void on_quit(struct sl_smtpc *c, uint64_t now)
{
	(void)now;
	close_session(c, &c->reply);
}

/* Reply parsing. */

static int is_enhanced_code(const char *s, size_t *len)
{
	const char *p = s;

	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	p++;
	for (int part = 0; part < 2; part++) {
		if (*p++ != '.')
			return 0;
		int digits = 0;
		while (isdigit((unsigned char)*p) && digits < 3) {
			p++;
			digits++;
		}
		if (digits == 0)
			return 0;
	}
	if (*p && *p != ' ')
		return 0;
	*len = (size_t)(p - s);
	return 1;
}

static void reply_first_line(struct sl_smtpc *c, int code, const char *text)
{
	struct sl_smtp_reply *r = &c->reply;
	size_t elen;

	r->code = code;
	r->local = 0;
	r->enhanced[0] = '\0';
	if (is_enhanced_code(text, &elen) && elen < sizeof(r->enhanced)) {
		memcpy(r->enhanced, text, elen);
		r->enhanced[elen] = '\0';
		text += elen;
		while (*text == ' ')
			text++;
	}
	snprintf(r->text, sizeof(r->text), "%s", text);
}

/* Handle one complete line; returns 1 when it ended a reply, 0 when more
 * lines follow, -1 when it is malformed. */
static int parse_line(struct sl_smtpc *c)
{
	char *s = c->line;
	size_t n = c->line_len;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	if (n < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || (n > 3 && s[3] != ' ' && s[3] != '-'))
		return -1;

	int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	int last = n == 3 || s[3] == ' ';
	const char *text = n > 4 ? s + 4 : "";

	if (code < 200 || code > 599)
		return -1;
	if (c->reply_lines == 0) {
		reply_first_line(c, code, text);
		c->ehlo_caps_pending = 0;
		c->size_limit = c->state == ST_EHLO ? 0 : c->size_limit;
	} else if (code != c->reply.code) {
		return -1;
	} else if (c->state == ST_EHLO) {
		parse_capability(c, text);
	}
	c->reply_lines++;
	return last;
}

static void dispatch_reply(struct sl_smtpc *c, uint64_t now)
{
	reply_handler h = state_table[c->state];

	if (!h)
		return;
	if (c->reply.code == 421 && c->state != ST_QUIT) {
		close_session(c, &c->reply);
		return;
	}
	h(c, now);
}

void sl_smtpc_input(struct sl_smtpc *c, const char *data, size_t len, uint64_t now_ms)
{
	for (size_t i = 0; i < len; i++) {
		if (c->state == ST_CLOSED || c->state == ST_TLS_HANDSHAKE)
			return;   /* bytes after 220 to STARTTLS are dropped here */
		char ch = data[i];

		if (ch != '\n') {
			if (c->line_len < LINE_MAX_BYTES - 1)
				c->line[c->line_len++] = ch;
			continue;
		}
		int r = parse_line(c);

		c->line_len = 0;
		if (r < 0) {
			close_local(c, 421, "4.5.0", "malformed reply from server");
			return;
		}
		if (r == 0)
			continue;
		c->reply_lines = 0;
		dispatch_reply(c, now_ms);
	}
}

size_t sl_smtpc_output(struct sl_smtpc *c, const char **data)
{
	*data = c->out.data + c->out.head;
	return out_pending(&c->out);
}

void sl_smtpc_output_done(struct sl_smtpc *c, size_t n, uint64_t now_ms)
{
	if (n > out_pending(&c->out))
		n = out_pending(&c->out);
	c->out.head += n;
	if (c->state == ST_CONTENT) {
		c->deadline = now_ms + c->config.timeouts.data_block_ms;
		if (out_pending(&c->out) < CONTENT_CHUNK / 2)
			fill_content(c, now_ms);
	} else if (c->state == ST_DATA_END && n > 0) {
		c->deadline = now_ms + c->config.timeouts.data_end_ms;
	} else if (c->state == ST_BDAT) {
		fill_chunks(c, now_ms);
	}
}

void sl_smtpc_disconnected(struct sl_smtpc *c, const char *why)
{
	char text[SL_SMTP_TEXT_MAX];

	if (c->state == ST_QUIT) {
		struct sl_smtp_reply r;

		local_reply(&r, 221, "2.0.0", "closed after QUIT");
		close_session(c, &r);
		return;
	}
	snprintf(text, sizeof(text), "lost connection: %s", why ? why : "closed by peer");
	close_local(c, 421, "4.4.2", text);
}

uint64_t sl_smtpc_deadline(const struct sl_smtpc *c)
{
	return c->deadline;
}

void sl_smtpc_timeout(struct sl_smtpc *c, uint64_t now_ms)
{
	static const char *what[ST_COUNT] = {
		[ST_GREETING] = "greeting", [ST_EHLO] = "EHLO", [ST_HELO] = "HELO",
		[ST_STARTTLS] = "STARTTLS", [ST_TLS_HANDSHAKE] = "TLS handshake",
		[ST_READY] = "idle", [ST_TXN] = "MAIL/RCPT/DATA",
		[ST_CONTENT] = "message content", [ST_DATA_END] = "end of data",
		[ST_BDAT] = "BDAT",
		[ST_RSET] = "RSET", [ST_QUIT] = "QUIT",
	};
	char text[SL_SMTP_TEXT_MAX];

	if (!c->deadline || now_ms < c->deadline || c->state == ST_CLOSED)
		return;
	snprintf(text, sizeof(text), "timed out waiting for the server (%s)",
		 what[c->state] ? what[c->state] : "?");
	close_local(c, 421, "4.4.2", text);
}

unsigned sl_smtpc_caps(const struct sl_smtpc *c)
{
	return c->caps;
}

uint64_t sl_smtpc_size_limit(const struct sl_smtpc *c)
{
	return c->size_limit;
}

int sl_smtpc_is_closed(const struct sl_smtpc *c)
{
	return c->state == ST_CLOSED;
}

int sl_smtpc_is_ready(const struct sl_smtpc *c)
{
	return c->state == ST_READY && !c->txn;
}

int sl_smtpc_tls_active(const struct sl_smtpc *c)
{
	return c->tls_active;
}

int sl_smtpc_tls_failed(const struct sl_smtpc *c)
{
	return c->tls_failed;
}
