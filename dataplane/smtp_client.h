/*
 * dataplane/smtp_client.h - SMTP client protocol engine (RFC 5321).
 *
 * A pure state machine: the caller feeds it the bytes received from the
 * server with sl_smtpc_input() and sends what sl_smtpc_output() returns.
 * The engine never touches a socket, a clock or TLS itself, so it sits on
 * any connection layer and is unit-testable with replies split at every
 * byte.
 *
 * Session: greeting, EHLO (HELO when EHLO is rejected with 5xx), optional
 * STARTTLS (the caller runs the handshake when the start_tls callback
 * fires and then calls sl_smtpc_tls_done(); bytes the server sent after
 * its 220 are discarded and a fresh EHLO follows), then transactions.
 * A refused STARTTLS (a reply other than 220 or 421) continues in
 * plaintext on the same connection, unless TLS is required. In required
 * mode, a server without STARTTLS or a refused STARTTLS ends the session
 * with a 421 4.7.10 result made by the engine, and so does a failed
 * handshake (with 4.7.0). A failed handshake ends the session,
 * and sl_smtpc_tls_failed() then returns 1.
 *
 * Transaction: MAIL, RCPT... and DATA, pipelined when the server offers
 * PIPELINING. Each recipient gets its own reply. When no recipient is
 * accepted no message content is sent: RSET, or a lone "." after a 354.
 * SIZE= is added only when the server advertised SIZE, and a message over
 * a non-zero advertised limit fails permanently (5.3.4) without being
 * sent. BODY=8BITMIME is added only when the message needs it and the
 * server offers it. The message is dot-stuffed on the fly and every bare
 * CR or LF goes out as CRLF.
 *
 * BDAT (RFC 3030) replaces DATA when config.chunking is set and the server
 * offers CHUNKING. The content goes out byte for byte in chunks of at most
 * 64 KiB, the last one as "BDAT n LAST". There is no dot-stuffing or line
 * conversion, so the content must already use CRLF line ends (a missing
 * final CRLF is added). The first chunk waits for the RCPT replies, and no chunk is
 * sent when no recipient is accepted. Each further chunk waits for the
 * reply to the previous one. After a failed chunk no further chunk is
 * sent, and RSET follows.
 *
 * A 421 reply, a malformed reply, a timeout or a lost connection end the
 * session: every recipient without a final result gets a 4xx result made
 * by the engine (so it is deferred) and the closed callback fires.
 *
 * Timeouts follow RFC 5321 section 4.5.3.2 and are configurable:
 * sl_smtpc_deadline() returns when the current wait expires and the caller
 * calls sl_smtpc_timeout() at that time.
 *
 * Ownership: the engine copies nothing from a transaction. The
 * struct sl_smtpc_txn passed to sl_smtpc_submit() and everything it points
 * to must stay valid until the txn_done callback for it returns. Results
 * are written into txn->rcpt_reply[] and txn->data_reply.
 *
 * Limits: no BINARYMIME; no AUTH.
 */
#ifndef SLUICE_DATAPLANE_SMTP_CLIENT_H
#define SLUICE_DATAPLANE_SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SL_SMTP_TEXT_MAX 400

/* One SMTP reply, reduced to what delivery decisions and logs need. */
struct sl_smtp_reply {
	int code;                      /* 3-digit code, e.g. 250 or 451 */
	char enhanced[16];             /* "4.2.1" when the server sent one */
	char text[SL_SMTP_TEXT_MAX];   /* first line's text, cut if longer */
	uint8_t local;                 /* 1 when made by the engine, not the server */
};

enum sl_smtpc_cap {
	SL_SMTPC_CAP_PIPELINING = 1u << 0,
	SL_SMTPC_CAP_SIZE = 1u << 1,
	SL_SMTPC_CAP_8BITMIME = 1u << 2,
	SL_SMTPC_CAP_SMTPUTF8 = 1u << 3,
	SL_SMTPC_CAP_STARTTLS = 1u << 4,
	SL_SMTPC_CAP_CHUNKING = 1u << 5,
	SL_SMTPC_CAP_ENHANCEDSTATUSCODES = 1u << 6,
};

/* Timeouts in milliseconds, RFC 5321 section 4.5.3.2 minimums by default. */
struct sl_smtpc_timeouts {
	uint32_t greeting_ms;   /* initial 220: 5 min */
	uint32_t command_ms;    /* EHLO, MAIL, RCPT, RSET, STARTTLS: 5 min */
	uint32_t data_init_ms;  /* reply to DATA: 2 min */
	uint32_t data_block_ms; /* progress while sending content, BDAT replies: 3 min */
	uint32_t data_end_ms;   /* reply to the final "." or BDAT LAST: 10 min */
};

/*
 * One message to one destination. body is the message as iovecs: the
 * added headers first (the DKIM-Signature fields made for this attempt),
 * then the stored message. size is the sum of the iovec lengths.
 */
struct sl_smtpc_txn {
	const char *sender;             /* reverse path without <>, "" for null */
	const char *const *rcpts;       /* forward paths without <> */
	size_t rcpt_count;
	const struct iovec *body;
	size_t body_count;
	size_t size;
	uint8_t eight_bit;              /* content has bytes >= 0x80 */

	/* Results, filled by the engine. */
	struct sl_smtp_reply *rcpt_reply;  /* rcpt_count entries, caller-owned */
	struct sl_smtp_reply data_reply;   /* MAIL failure, DATA or final "." reply */
	size_t accepted;                   /* recipients with a 2xx to RCPT */
	uint8_t content_sent;              /* the message content went out */
	uint8_t chunked;                   /* content sent (or to be sent) with BDAT, not DATA */
};

struct sl_smtpc_callbacks {
	/* The server answered 220 to STARTTLS: run the handshake, then call
	 * sl_smtpc_tls_done(). */
	void (*start_tls)(void *ctx);
	/* The session can take a transaction (after EHLO or a finished one). */
	void (*ready)(void *ctx);
	/* Every recipient of txn has its final reply for this attempt. */
	void (*txn_done)(void *ctx, struct sl_smtpc_txn *txn);
	/* The session ended; reason is the engine's or the server's reply. */
	void (*closed)(void *ctx, const struct sl_smtp_reply *reason);
};

enum sl_smtpc_tls_mode {
	SL_SMTPC_TLS_NONE,           /* never STARTTLS */
	SL_SMTPC_TLS_OPPORTUNISTIC,  /* STARTTLS when offered */
	SL_SMTPC_TLS_REQUIRED,       /* STARTTLS must succeed, else the session ends (4.7.10) */
};

struct sl_smtpc_config {
	const char *helo_name;
	enum sl_smtpc_tls_mode tls;
	uint8_t chunking;             /* send BDAT when the server offers CHUNKING */
	struct sl_smtpc_timeouts timeouts;
};

struct sl_smtpc;

void sl_smtpc_default_timeouts(struct sl_smtpc_timeouts *t);

/* Create a session for a freshly connected socket; now_ms is the clock
 * the caller uses for deadlines. Returns NULL when out of memory. */
struct sl_smtpc *sl_smtpc_new(const struct sl_smtpc_config *config,
			      const struct sl_smtpc_callbacks *cb, void *ctx,
			      uint64_t now_ms);
void sl_smtpc_free(struct sl_smtpc *c);

/* Feed received bytes. Callbacks run from inside this call. */
void sl_smtpc_input(struct sl_smtpc *c, const char *data, size_t len, uint64_t now_ms);

/* Bytes waiting to be sent; after sending n of them call
 * sl_smtpc_output_done(). Returns 0 when nothing waits. */
size_t sl_smtpc_output(struct sl_smtpc *c, const char **data);
void sl_smtpc_output_done(struct sl_smtpc *c, size_t n, uint64_t now_ms);

/* Start a transaction; only valid after the ready callback. Returns 0,
 * or -EBUSY when the session is not ready. */
int sl_smtpc_submit(struct sl_smtpc *c, struct sl_smtpc_txn *txn, uint64_t now_ms);

/* Send QUIT; the closed callback fires after the server's reply. */
void sl_smtpc_quit(struct sl_smtpc *c, uint64_t now_ms);

/* The TLS handshake finished (ok = 1) or failed (ok = 0). */
void sl_smtpc_tls_done(struct sl_smtpc *c, int ok, uint64_t now_ms);

/* The connection broke or the peer closed it. */
void sl_smtpc_disconnected(struct sl_smtpc *c, const char *why);

/* Deadline of the current wait in now_ms units, or 0 when none. */
uint64_t sl_smtpc_deadline(const struct sl_smtpc *c);
void sl_smtpc_timeout(struct sl_smtpc *c, uint64_t now_ms);

unsigned sl_smtpc_caps(const struct sl_smtpc *c);
uint64_t sl_smtpc_size_limit(const struct sl_smtpc *c);
int sl_smtpc_is_closed(const struct sl_smtpc *c);
int sl_smtpc_is_ready(const struct sl_smtpc *c);
int sl_smtpc_tls_active(const struct sl_smtpc *c);
/* 1 when the session closed because STARTTLS failed: the handshake
 * failed, or the connection was lost, timed out or sent a malformed reply
 * between STARTTLS and the first EHLO reply over TLS. A reply from the
 * server (421 or an EHLO rejection) is not a TLS failure. The caller may
 * then deliver in plaintext on a new connection. */
int sl_smtpc_tls_failed(const struct sl_smtpc *c);

/* Class of a reply for delivery: 2 delivered, 4 deferred, 5 bounced. */
static inline int sl_smtp_reply_class(const struct sl_smtp_reply *r)
{
	return r->code / 100;
}

#endif
