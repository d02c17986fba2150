/*
 * dataplane/smtp_session.h - internal to the SMTP server: the session and
 * per-worker server state shared by smtp_server.c (I/O, lifecycle,
 * limits), smtp_commands.c (the command table) and smtp_accept.c (the
 * accept path from end of data to the store's commit).
 *
 * Session states and the invariants that hold in them:
 *   NEW      connected, greeting sent; no HELO/EHLO yet
 *   READY    after HELO/EHLO; no transaction (no sender, no recipients)
 *   MAIL     sender accepted, no recipient yet
 *   RCPT     sender and at least one recipient accepted
 *   DATA     reading DATA content until CRLF.CRLF; no command is parsed
 *   BDAT     between BDAT chunks: only BDAT, RSET, NOOP, QUIT are allowed
 *   CHUNK    reading the bytes of one BDAT chunk
 *   COMMIT   message handed to the store; input is held until it replies
 */
#ifndef SLUICE_DATAPLANE_SMTP_SESSION_H
#define SLUICE_DATAPLANE_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/dkim.h"
#include "dataplane/accept.h"
#include "dataplane/auth.h"
#include "dataplane/buf.h"
#include "dataplane/conn.h"
#include "dataplane/pool.h"
#include "dataplane/store.h"
#include "dataplane/smtp_parse.h"
#include "dataplane/tls.h"
#include "dataplane/worker.h"

struct sl_config_smtp;

enum smtp_state {
	ST_NEW = 0,
	ST_READY,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_BDAT,
	ST_CHUNK,
	ST_COMMIT,
	ST_COUNT,
};

#define S(x) (1u << (x))

enum auth_step {
	AUTH_NONE = 0,
	AUTH_PLAIN_WAIT,	/* sent "334 ", waiting for the PLAIN response */
	AUTH_LOGIN_USER,	/* waiting for the base64 user name */
	AUTH_LOGIN_PASS,	/* waiting for the base64 password */
};

struct client_count;

/* A recipient: offsets into the session's string arena. */
struct rcpt_ref {
	uint32_t addr;
	uint32_t orcpt;		/* UINT32_MAX when not given */
	uint8_t notify;
};

struct session {
	struct sl_conn *conn;
	struct smtp_server *srv;
	struct session *prev, *next;
	struct client_count *client_slot;
	struct sl_timer idle;

	enum smtp_state state;
	unsigned errors;
	char client[48];
	char helo[256];
	bool esmtp;
	bool relay_allowed;	/* client address is in relay_networks */
	bool closing;		/* close once the output is sent */
	bool closed;		/* the connection is gone */
	bool skip_line;		/* discarding the rest of an over-long command line */

	/* TLS */
	struct sl_tls *tls;
	bool tls_handshake;
	bool tls_on;

	/* AUTH */
	enum auth_step auth_step;
	bool authenticated;
	char user[128];

	/* Transaction */
	struct sl_smtp_mail mail;
	struct rcpt_ref *rcpts;
	unsigned nrcpt, rcpt_cap;
	struct sl_buf strings;	/* NUL-terminated recipient strings */
	struct sl_smtp_data data;
	struct sl_buf msg;	/* message content as received (CRLF lines) */
	uint64_t chunk_left;	/* bytes of the current BDAT chunk still to read */
	bool chunk_last;
	bool chunk_discard;	/* BDAT after an error: read the chunk, keep nothing */
	const char *chunk_reply;/* reply to send after a discarded chunk */
	enum smtp_state chunk_return;	/* state after a discarded chunk */
	char prefix[SL_ACCEPT_PREFIX_MAX];	/* headers added in front of the message */
	size_t prefix_len;
	uint64_t queue_id;

	/* Input: plaintext not yet processed. */
	struct sl_buf in;
	/* Output: out[fill] collects replies while out[fill ^ 1] may be in flight. */
	struct sl_buf out[2];
	unsigned fill;
	bool send_busy;
	struct sl_buf tls_plain;	/* replies waiting to be encrypted */
};

struct client_count {
	struct sockaddr_storage addr;
	unsigned count;
	struct client_count *next;
};

/* One per worker. */
struct smtp_server {
	struct sl_worker *worker;
	const struct sl_config_smtp *cfg;
	const char *hostname;
	struct sl_tls_ctx *tls;
	struct sl_auth_db *auth;
	struct sl_pool sessions;
	struct session *list;
	unsigned nsessions;
	bool draining;
	struct client_count **clients;	/* hash buckets */
	unsigned nbuckets;
	struct sl_pool client_slots;
	struct sl_store_rcpt *store_rcpts;	/* max_recipients entries, for appends */
	struct sl_dkim_body hasher;		/* reused for every message */
	unsigned body_hash_mask;		/* SL_DKIM_BODY_* from dkim_body_hashes */
};

/* smtp_server.c */
void smtp_reply(struct session *s, const char *text);
void smtp_replyf(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtp_reject(struct session *s, const char *verb, const char *reply);
void smtp_close_after_reply(struct session *s, const char *reply);
void smtp_reset_transaction(struct session *s);
void smtp_process(struct session *s);
void smtp_start_tls(struct session *s);

/* smtp_commands.c */
void smtp_dispatch(struct session *s, const char *line, size_t len);
void smtp_auth_continue(struct session *s, const char *line, size_t len);

void smtp_session_release(struct session *s);

/* smtp_accept.c */
void smtp_message_done(struct session *s);

#endif
