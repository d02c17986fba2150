/*
 * dataplane/deliver_int.h - state shared by the files of the delivery
 * engine (deliver.c: module, lookups, connections; deliver_outcome.c:
 * spool states, accounting, notices). Not for other modules.
 *
 * Lifetimes: a struct dmsg lives while any of its recipients is not final
 * or anything still uses its bytes (a read in flight, a transaction, a
 * notice being written); dmsg_release() frees it when both counts reach
 * zero. A struct dconn lives until the connection layer's closed
 * callback.
 */
#ifndef SLUICE_DATAPLANE_DELIVER_INT_H
#define SLUICE_DATAPLANE_DELIVER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/dkim.h"
#include "dataplane/buf.h"
#include "dataplane/deliver_sign.h"
#include "dataplane/mta_sts.h"
#include "dataplane/route.h"
#include "dataplane/sched.h"
#include "dataplane/smtp_client.h"
#include "dataplane/worker.h"

struct sl_conn;
struct sl_tls;
struct sl_tls_ctx;
struct sl_tls_failures;
struct sl_spool;
struct sl_dns;
struct sl_dns_inbox;
struct sl_config_delivery;
struct sl_dns_answer;
struct sl_sts_fetcher;

#define DELIVER_MAX_TXN_RCPTS 1000
#define MSG_BUCKETS 16384

enum body_state {
	BODY_NONE,
	BODY_LOADING,
	BODY_LOADED,
	BODY_FAILED,
};

struct deliver;
struct dconn;
struct dmsg;

struct drcpt {
	struct sl_sched_rcpt s;        /* first: the scheduler links it */
	struct dmsg *msg;
	unsigned index;                /* in the spool message */
	char *address;
	const char *domain;            /* points into address */
	bool final;
};

struct bounce {
	unsigned rcpt;
	char status[16];
	char remote[256];
	char diagnostic[480];
};

struct dmsg {
	struct dmsg *hash_next;
	struct deliver *d;
	uint64_t id;
	char queue_id[20];
	char *sender;
	char message_id[200];
	int64_t arrival_s;
	uint64_t size;
	uint32_t flags;
	struct sl_dkim_bodyhash bh;
	bool have_bh;
	unsigned rcpt_count;
	unsigned live;                 /* recipients not final */
	struct drcpt *rcpt;
	unsigned users;                /* reads, transactions, notices in progress */

	enum body_state body_state;
	uint8_t *body_buf;             /* spool read buffer */
	const uint8_t *body;
	size_t body_len;
	size_t header_len;             /* header block without the empty line */
	bool eight_bit;
	struct dconn *waiting;         /* connections waiting for the body */

	struct bounce *bounces;        /* waiting to be reported */
	size_t bounce_count;
};

/* Reason a connection goes without STARTTLS although STARTTLS is on. */
enum tls_fallback {
	TLS_FALLBACK_NONE,
	TLS_FALLBACK_RETRY,        /* opened at once after STARTTLS failed on the previous one */
	TLS_FALLBACK_REMEMBERED,   /* STARTTLS with this host failed within starttls_failure_ttl */
};

enum dconn_state {
	DC_CONNECTING,
	DC_SESSION,        /* greeting, EHLO, STARTTLS */
	DC_IDLE,
	DC_BUSY,           /* a transaction waits for the body, the signer or the server */
	DC_CLOSING,
};

struct dconn {
	struct dconn *next;            /* in deliver.conns */
	struct dconn *wait_next;       /* in dmsg.waiting or deliver.to_sign */
	struct deliver *d;
	struct sl_conn *conn;
	struct sl_smtpc *smtp;
	struct sl_sched_dest *dest;
	enum dconn_state state;
	bool ever_ready;               /* reached the ready state once */
	bool closing;
	struct sl_timer timer;
	char host[256];
	char address[64];              /* "IP:PORT" */
	struct sockaddr_storage addr;  /* the same, for a plaintext retry */
	socklen_t addr_len;
	uint64_t started_ms;
	uint64_t connect_ms;

	struct sl_tls *tls;
	bool tls_handshaking;
	char tls_version[32];
	char tls_cipher[64];
	bool tls_required;             /* its domain is in delivery.tls_required */
	enum tls_fallback tls_fallback;
	char tls_failure[160];         /* why STARTTLS failed, for the accounting log */
	bool retry_plain;              /* STARTTLS failed: reopen in plaintext once closed */
	enum sl_sts_mode sts_mode;     /* MTA-STS policy applied (SL_STS_NONE: no policy) */
	char sts_failure[240];         /* how this session failed the policy, or "" */
	struct sl_buf out;             /* bytes of the send in flight */
	bool send_busy;

	unsigned messages;             /* transactions on this connection */
	struct dmsg *msg;
	size_t rcpt_count;
	struct drcpt *rcpts[DELIVER_MAX_TXN_RCPTS];
	const char *rcpt_addr[DELIVER_MAX_TXN_RCPTS];
	struct sl_smtp_reply reply[DELIVER_MAX_TXN_RCPTS];
	struct sl_smtpc_txn txn;
	struct iovec iov[2];
	struct sl_dkim_out sig;
	struct sl_sign_item sign;
	uint64_t attempt_started_ms;
	bool txn_submitted;            /* the SMTP engine owns the transaction */

	char domain[256];              /* recipient domain it was opened for */
	unsigned msgs_max;             /* transactions allowed on it */
	struct sl_throttle_slot *conn_slot;  /* holds one connection of its limit */
};

struct deliver {
	struct sl_worker *w;
	const struct sl_config_delivery *cfg;
	const char *helo_name;
	struct sl_spool *spool;
	struct sl_sched *sched;
	struct sl_dns_inbox *inbox;
	struct sl_sign_batch *batch;
	struct sl_route_table routes;
	struct sockaddr_storage source;
	socklen_t source_len;
	char source_text[64];
	struct sl_smtpc_config smtp_cfg;
	struct sl_timer tick;
	struct dmsg *msgs[MSG_BUCKETS];
	struct dconn *conns;
	struct dconn *to_sign;         /* signed at the end of this iteration */
	bool stopping;
	uint64_t counters[4];          /* delivered, deferred, bounced, notices */
	uint64_t snapshot_generation;  /* last snapshot seen by this worker */
	uint64_t action_seq;           /* last queue action applied */
	bool actions_seen;
};

enum { CNT_DELIVERED, CNT_DEFERRED, CNT_BOUNCED, CNT_NOTICES };

/* Shared process-wide state (deliver.c). */
extern struct sl_sign_table *sl_deliver_sign_table;
extern struct sl_dns *sl_deliver_dns;
extern struct sl_tls_ctx *sl_deliver_tls_ctx;
extern struct sl_tls_failures *sl_deliver_tls_failures;
extern struct sl_sts_cache *sl_deliver_sts_cache;
extern struct sl_sts_fetcher *sl_deliver_sts_fetcher;
extern struct sl_tls_ctx *sl_deliver_sts_tls_ctx;

/* Realtime milliseconds: the scheduler's clock, comparable with the
 * spool's arrival times after restarts. */
uint64_t deliver_now_ms(void);

/* deliver_outcome.c */
void dmsg_release(struct dmsg *m);
void outcome_delivered(struct dconn *c, struct drcpt *r, const struct sl_smtp_reply *reply);
void outcome_deferred(struct deliver *d, struct dconn *c, struct drcpt *r,
		      const struct sl_smtp_reply *reply);
void outcome_bounced(struct deliver *d, struct dconn *c, struct drcpt *r,
		     const struct sl_smtp_reply *reply);
void outcome_flush_notices(struct dmsg *m);
/* Scheduler callbacks. */
void outcome_expired(void *ctx, struct sl_sched_rcpt *r);
void outcome_failed(void *ctx, struct sl_sched_rcpt *r, int permanent, const char *enhanced,
		    const char *why);
void deliver_load_body(struct dmsg *m);
struct dmsg *dmsg_find(struct deliver *d, uint64_t id);
void dmsg_queue_message(struct deliver *d, uint64_t id, bool at_start);

/* deliver_throttle.c */
struct sl_throttle_slot;
bool deliver_throttle_admit(struct deliver *d, struct sl_sched_dest *dest, size_t *max_rcpts);
bool deliver_throttle_conn_open(struct dconn *c);
/* sl_sched_defer() with the retry schedule and maximum age of the
 * throttle rules for the recipient's destination, where they set them. */
int deliver_throttle_defer(struct deliver *d, struct sl_sched_rcpt *r, uint64_t now_ms);
void deliver_throttle_conn_closed(struct dconn *c);
void deliver_throttle_reply(struct dconn *c, const char *domain, const struct sl_smtp_reply *reply);
void deliver_throttle_queued(const char *domain, int delta);
void deliver_throttle_sync(struct deliver *d);

/* deliver_sts.c: MTA-STS. Setup and teardown of the shared parts. */
int deliver_sts_start(const struct sl_config_delivery *cfg);
void deliver_sts_stop(void);
/* Hands an MX answer whose policy must be fetched first to the fetcher
 * and returns true; the answer comes back through the inbox. */
bool deliver_sts_hold(struct deliver *d, struct sl_dns_answer *a);
/* The policy to apply to an MX answer of domain a->name: the mode, and
 * the policy in p when the mode is not SL_STS_NONE. */
enum sl_sts_mode deliver_sts_policy(struct deliver *d, const struct sl_dns_answer *a,
				    struct sl_sts_policy *p);
/* Suffix of the destination key for a mode, so that domains with
 * different policies never share a connection. */
const char *deliver_sts_key_suffix(enum sl_sts_mode mode);
/* Sets c's policy mode from its destination, before it connects. */
void deliver_sts_conn_setup(struct dconn *c);
/* Records that c failed its policy (first reason kept) and counts it. */
void deliver_sts_conn_failed(struct dconn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The TLS context and host check for c's STARTTLS. */
struct sl_tls *deliver_sts_tls_new(struct dconn *c);
/* After c's handshake: returns false when enforce mode must end the
 * session because the certificate did not verify. */
bool deliver_sts_check_peer(struct dconn *c);
/* The accounting fields of an attempt on c (c may be NULL, and then
 * the reply text shows whether the policy deferred the recipient). */
void deliver_sts_acct(const struct dconn *c, const char *reply_text, const char **mode,
		      const char **failure);
void deliver_sts_count_failure(struct deliver *d);

/* deliver_ctlsign.c: signs ITEM with the snapshot's keys for its From:
 * domain; false when the snapshot has none for it. */
bool deliver_sign_from_snapshot(struct sl_sign_item *item, int64_t now);

#endif
