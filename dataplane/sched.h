/*
 * dataplane/sched.h - delivery scheduler of one worker.
 *
 * Recipients waiting for delivery move between four places:
 *   - the timer wheel, while deferred until their next attempt time;
 *   - the wait list of their domain, while its MX lookup runs;
 *   - the ready queue of their destination (MX site or route, and
 *     egress address), until a connection takes them;
 *   - in flight, owned by a connection until the attempt ends.
 * Each destination has its own queue and connection count, so a dead or
 * slow destination only delays its own recipients.
 *
 * The scheduler does no I/O. It requests each domain lookup through
 * ops->resolve and takes the result from sl_sched_domain_resolved(); the caller opens connections for the
 * destinations that sl_sched_runnable() returns and takes recipients
 * with sl_sched_take(), which groups the recipients of one message (up
 * to recipients_per_transaction) into one transaction.
 *
 * Retries: the n-th deferral waits retry_initial_ms * 2^(n-1), capped
 * at retry_max_ms, plus up to jitter_percent of random jitter. Maximum
 * age is enforced wherever a recipient waits: a deferral never schedules
 * past arrival + max_age_ms, and a recipient found expired when it leaves
 * the wheel or a ready queue goes to ops->expired (to be bounced).
 * sl_sched_defer_with() replaces both for one recipient with a retry
 * schedule and maximum age of its own (a throttle rule's). The maximum
 * age stays with the recipient for its later checks.
 *
 * Ownership: struct sl_sched_rcpt is embedded in the caller's recipient
 * and stays owned by the caller; the scheduler only links it. Domains and
 * destinations are owned by the scheduler and freed by sl_sched_free().
 *
 * Limits: domain entries are kept until sl_sched_free() (one per
 * destination domain seen); the wheel's slot scan costs one pass over a
 * slot's entries per revolution for recipients due beyond its horizon.
 */
#ifndef SLUICE_DATAPLANE_SCHED_H
#define SLUICE_DATAPLANE_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SL_SCHED_MAX_TARGETS 16

struct sl_sched_config {
	uint32_t max_connections;       /* per destination */
	uint32_t messages_per_connection;
	uint32_t recipients_per_transaction;
	uint64_t idle_ms;               /* idle connection kept for reuse */
	uint64_t retry_initial_ms;
	uint64_t retry_max_ms;
	uint32_t jitter_percent;
	uint64_t max_age_ms;
	uint64_t dest_down_ms;          /* pause after every target failed */
	uint64_t tick_ms;               /* timer wheel resolution */
};

enum sl_sched_where {
	SL_SCHED_NOWHERE,
	SL_SCHED_WHEEL,
	SL_SCHED_RESOLVING,
	SL_SCHED_READY,
	SL_SCHED_IN_FLIGHT,
};

struct sl_sched_dest;

struct sl_sched_rcpt {
	struct sl_sched_rcpt *next, *prev;
	uint64_t due_ms;         /* next attempt */
	uint64_t arrival_ms;     /* when the message was accepted */
	uint32_t attempts;       /* finished attempts so far */
	uint64_t max_age_ms;     /* 0: the config's max_age_ms */
	enum sl_sched_where where;
	const char *domain;      /* lower case, owned by the caller */
	const void *group;       /* the message: equal groups share a transaction */
	struct sl_sched_dest *dest;
};

struct sl_sched_target {
	char host[256];
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

struct sl_sched_dest {
	struct sl_sched_dest *next_all;
	struct sl_sched_dest *next_runnable;
	int on_runnable;
	char key[300];
	struct sl_sched_rcpt ready;     /* list head */
	size_t ready_count;
	uint32_t active;                /* open connections */
	uint32_t idle;                  /* of which idle */
	uint64_t down_until_ms;
	uint64_t hold_until_ms;         /* held by a throttle until then */
	unsigned target_count;
	unsigned next_target;           /* rotates over targets */
	struct sl_sched_target target[SL_SCHED_MAX_TARGETS];
};

enum sl_sched_domain_status {
	SL_SCHED_DOMAIN_OK,
	SL_SCHED_DOMAIN_TEMPFAIL,       /* defer waiting recipients */
	SL_SCHED_DOMAIN_PERMFAIL,       /* bounce waiting recipients */
};

struct sl_sched_ops {
	/* Start a lookup; the answer comes back via sl_sched_domain_resolved(). */
	void (*resolve)(void *ctx, const char *domain);
	/* The recipient passed its maximum age: bounce it. */
	void (*expired)(void *ctx, struct sl_sched_rcpt *r);
	/* The recipient's domain or destination failed without an SMTP
	 * attempt: temporary (already deferred by the scheduler) or permanent
	 * (to be bounced). why names the domain or destination and the cause. */
	void (*failed)(void *ctx, struct sl_sched_rcpt *r, int permanent,
		       const char *enhanced, const char *why);
};

struct sl_sched;

void sl_sched_default_config(struct sl_sched_config *c);
struct sl_sched *sl_sched_new(const struct sl_sched_config *c, const struct sl_sched_ops *ops,
			      void *ctx, uint64_t now_ms, uint32_t seed);
void sl_sched_free(struct sl_sched *s);

/* Queue a recipient: to the wheel when due_ms is later than now, else
 * towards its destination. */
void sl_sched_add(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms);

/* Defer after a failed attempt: counts the attempt and schedules the
 * next one with backoff. Returns 0, or -ETIMEDOUT when the maximum age is
 * already reached (the caller bounces it; it is not queued). */
int sl_sched_defer(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms);

/* A retry schedule and maximum age that replace the config's. */
struct sl_sched_retry {
	const uint32_t *intervals_s;    /* n-th deferral waits intervals_s[n-1] seconds */
	uint32_t count;                 /* the last interval repeats; 0: the config's backoff */
	uint64_t max_age_ms;            /* 0: keep the recipient's maximum age */
};

/* sl_sched_defer() with RETRY's schedule and maximum age (plus the
 * config's jitter); RETRY NULL is sl_sched_defer(). */
int sl_sched_defer_with(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms,
			const struct sl_sched_retry *retry);

/* The recipient left the queue for good (delivered, bounced, dropped). */
void sl_sched_remove(struct sl_sched *s, struct sl_sched_rcpt *r);

/* Result of ops->resolve. For OK, dest_key names the MX site (or route)
 * and targets lists the addresses to try in order. */
void sl_sched_domain_resolved(struct sl_sched *s, const char *domain,
			      enum sl_sched_domain_status status, const char *enhanced,
			      const char *why, const char *dest_key,
			      const struct sl_sched_target *targets, unsigned target_count,
			      uint64_t ttl_ms, uint64_t now_ms);

/* Move due recipients off the wheel. Call once per loop iteration. */
void sl_sched_advance(struct sl_sched *s, uint64_t now_ms);

/* Milliseconds until the next wheel tick with work, for the loop's wait;
 * UINT64_MAX when the wheel is empty. */
uint64_t sl_sched_next_due(const struct sl_sched *s, uint64_t now_ms);

/* Pop the destinations that have ready recipients and may use a
 * connection (one pop per call; NULL when none). */
struct sl_sched_dest *sl_sched_runnable(struct sl_sched *s, uint64_t now_ms);

/* Take up to recipients_per_transaction recipients of the first ready
 * message of dest; expired ones go to ops->expired on the way. */
size_t sl_sched_take(struct sl_sched *s, struct sl_sched_dest *d, uint64_t now_ms,
		     struct sl_sched_rcpt **out, size_t max);

/* Connection bookkeeping by the caller. */
void sl_sched_conn_opened(struct sl_sched *s, struct sl_sched_dest *d);
void sl_sched_conn_idle(struct sl_sched *s, struct sl_sched_dest *d, int idle);
void sl_sched_conn_closed(struct sl_sched *s, struct sl_sched_dest *d);

/* Every target of dest failed: defer its ready recipients and pause it. */
void sl_sched_dest_down(struct sl_sched *s, struct sl_sched_dest *d, uint64_t now_ms,
			const char *why);
/* sl_sched_dest_down() that defers with enhanced status code enhanced
 * (sl_sched_dest_down() uses 4.4.1). */
void sl_sched_dest_down_with(struct sl_sched *s, struct sl_sched_dest *d, uint64_t now_ms,
			     const char *enhanced, const char *why);

/* A throttle holds dest until UNTIL_MS: it is not runnable before,
 * and sl_sched_advance() makes it runnable again after. */
void sl_sched_dest_hold(struct sl_sched *s, struct sl_sched_dest *d, uint64_t until_ms);

/* Make every recipient of DOMAIN waiting on the wheel due now (the
 * "retry" queue action). Returns how many were moved. */
size_t sl_sched_retry_domain(struct sl_sched *s, const char *domain, uint64_t now_ms);

/* Bounce every queued recipient of DOMAIN through ops->failed (the
 * "bounce" queue action); recipients in flight finish their attempt.
 * Returns how many were bounced. */
size_t sl_sched_bounce_domain(struct sl_sched *s, const char *domain, const char *enhanced,
			      const char *why);

/* May another connection to d be opened now? */
int sl_sched_dest_can_open(const struct sl_sched *s, const struct sl_sched_dest *d,
			   uint64_t now_ms);

const struct sl_sched_config *sl_sched_config(const struct sl_sched *s);

/* Counts for tests and status: recipients on the wheel, resolving, ready. */
void sl_sched_counts(const struct sl_sched *s, size_t *wheel, size_t *resolving,
		     size_t *ready);

#endif
