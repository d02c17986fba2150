/*
 * dataplane/deliver.c - the delivery worker module: lookups, the
 * connection pool and SMTP sessions. The contract is in deliver.h; the
 * shared state in deliver_int.h; outcomes in deliver_outcome.c.
 *
 * One loop iteration (deliver_poll):
 *   1. take DNS answers from the inbox and hand them to the scheduler;
 *   2. move due recipients off the timer wheel;
 *   3. for each runnable destination, give its ready recipients to idle
 *      connections and open new ones up to the destination's limit;
 *   4. sign every transaction that became ready, as one batch, and
 *      submit them to their SMTP sessions;
 *   5. write the accounting records of this iteration.
 */
#include "dataplane/deliver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "ctl/config/config_delivery.h"
#include "ctl/config/config_signing.h"
#include "ctl/config/config_smtp.h"
#include "dataplane/acct.h"
#include "dataplane/ctl_link.h"
#include "dataplane/conn.h"
#include "dataplane/deliver_int.h"
#include "dataplane/dns.h"
#include "dataplane/mta_sts.h"
#include "dataplane/store.h"
#include "dataplane/tls.h"
#include "dataplane/tls_failures.h"
#include "queue/spool.h"

struct sl_sign_table *sl_deliver_sign_table;
struct sl_dns *sl_deliver_dns;
struct sl_tls_ctx *sl_deliver_tls_ctx;
struct sl_tls_failures *sl_deliver_tls_failures;

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned shared_users;
/* Inboxes outlive the resolver, which posts to them until it stops. */
static struct sl_dns_inbox *inboxes[1024];
static unsigned inbox_count;
static const struct sl_worker_module deliver_module;

uint64_t deliver_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sl_deliver_reopen_logs(void)
{
	sl_acct_reopen();
}

static void conn_pump(struct dconn *c);
static void conn_arm_timer(struct dconn *c);
static void conn_start_txn(struct dconn *c);
static int conn_open_to(struct deliver *d, struct sl_sched_dest *dest,
			const struct sl_sched_target *t, enum tls_fallback fallback,
			const char *tls_failure);

/* Returns true when domain matches a pattern of delivery.tls_required. */
static bool requires_tls(const struct deliver *d, const char *domain)
{
	for (size_t i = 0; i < d->cfg->tls_required.n; i++)
		if (sl_route_pattern_match(d->cfg->tls_required.v[i], domain))
			return true;
	return false;
}

/* Suffix of a destination key: domains that require TLS never share a
 * destination, and so never a connection, with domains that do not. */
static const char *tls_key_suffix(const struct deliver *d, const char *domain)
{
	return requires_tls(d, domain) ? "|tls-required" : "";
}

/* Lookups: static routes first, then DNS. */

static void target_from_route(struct sl_sched_target *t, const struct sl_route_host *h)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", h->name);
	t->addr = h->addr;
	t->addr_len = h->addr_len;
}

static void resolve(void *ctx, const char *domain)
{
	struct deliver *d = ctx;
	const struct sl_route *route = sl_route_find(&d->routes, domain);

	if (route && route->host[0].is_address) {
		struct sl_sched_target t[SL_SCHED_MAX_TARGETS];
		char key[600];
		unsigned n = 0;

		for (size_t i = 0; i < route->host_count && n < SL_SCHED_MAX_TARGETS; i++)
			if (route->host[i].is_address)
				target_from_route(&t[n++], &route->host[i]);
		snprintf(key, sizeof(key), "route:%s|%s%s", route->pattern, d->source_text,
			 tls_key_suffix(d, domain));
		/* Routes never expire; one hour keeps the domain table fresh
		 * after a configuration reload. */
		sl_sched_domain_resolved(d->sched, domain, SL_SCHED_DOMAIN_OK, NULL, NULL, key, t, n,
					 3600 * 1000, deliver_now_ms());
		return;
	}
	if (route) {
		/* NOTE: a route by host name uses its first host only. The
		 * cookie carries the recipient domain back with the answer. */
		char *wanted = strdup(domain);

		if (!wanted)
			abort();
		sl_dns_submit(sl_deliver_dns, SL_DNS_HOST, route->host[0].name, route->host[0].port,
			      (uint64_t)(uintptr_t)wanted, d->inbox);
		return;
	}
	sl_dns_submit(sl_deliver_dns, SL_DNS_MX, domain, 0, 0, d->inbox);
}

/* A host lookup made for a route by name: the cookie is the domain. */
static void answer_route(struct deliver *d, const struct sl_dns_answer *a,
			 const struct sl_sched_target *t, unsigned n, uint64_t now)
{
	char *domain = (char *)(uintptr_t)a->cookie;
	const struct sl_route *r = sl_route_find(&d->routes, domain);
	char key[600];

	snprintf(key, sizeof(key), "route:%s|%s%s", r ? r->pattern : a->name, d->source_text,
		 tls_key_suffix(d, domain));
	sl_sched_domain_resolved(d->sched, domain, a->status == SL_DNS_OK ? SL_SCHED_DOMAIN_OK
				 : SL_SCHED_DOMAIN_TEMPFAIL, "4.4.3", a->error, key, t, n,
				 (uint64_t)(a->ttl_s ? a->ttl_s : 1) * 1000, now);
	free(domain);
}

/* Under an enforced MTA-STS policy only the MX hosts that match its mx
 * patterns are targets. Returns the number kept; 0 defers the domain. */
static unsigned sts_filter(struct deliver *d, const struct sl_dns_answer *a,
			   const struct sl_sts_policy *p, struct sl_sched_target *t, unsigned n,
			   uint64_t now)
{
	char why[1024], hosts[600] = "";
	unsigned kept = 0;
	size_t used = 0;

	for (unsigned i = 0; i < n; i++) {
		if (sl_sts_policy_mx_match(p, t[i].host)) {
			t[kept++] = t[i];
			continue;
		}
		if (!strstr(hosts, t[i].host) && used < sizeof(hosts))
			used += (size_t)snprintf(hosts + used, sizeof(hosts) - used, "%s%s",
						 used ? ", " : "", t[i].host);
	}
	if (kept)
		return kept;
	snprintf(why, sizeof(why), "MTA-STS policy of %s (enforce): no MX host matches the "
		 "policy's mx patterns (MX: %s)", a->name, hosts);
	sl_warn("delivery: %s", why);
	deliver_sts_count_failure(d);
	sl_sched_domain_resolved(d->sched, a->name, SL_SCHED_DOMAIN_TEMPFAIL, "4.7.5", why, NULL,
				 NULL, 0, 0, now);
	return 0;
}

static void handle_answer(struct deliver *d, const struct sl_dns_answer *a)
{
	struct sl_sched_target t[SL_SCHED_MAX_TARGETS];
	uint64_t now = deliver_now_ms();
	struct sl_sts_policy policy;
	enum sl_sts_mode sts;
	char key[600];
	unsigned n = 0;

	for (unsigned i = 0; i < a->count && n < SL_SCHED_MAX_TARGETS; i++) {
		memset(&t[n], 0, sizeof(t[n]));
		snprintf(t[n].host, sizeof(t[n].host), "%s", a->target[i].host);
		t[n].addr = a->target[i].addr;
		t[n].addr_len = a->target[i].addr_len;
		n++;
	}
	if (a->kind == SL_DNS_HOST) {
		answer_route(d, a, t, n, now);
		return;
	}
	switch (a->status) {
	case SL_DNS_OK:
		sts = deliver_sts_policy(d, a, &policy);
		if (sts == SL_STS_ENFORCE && (n = sts_filter(d, a, &policy, t, n, now)) == 0)
			break;
		/* The MX site is named by its most preferred exchanger. */
		snprintf(key, sizeof(key), "mx:%s|%s%s%s", t[0].host, d->source_text,
			 tls_key_suffix(d, a->name), deliver_sts_key_suffix(sts));
		sl_sched_domain_resolved(d->sched, a->name, SL_SCHED_DOMAIN_OK, NULL, NULL, key, t,
					 n, (uint64_t)(a->ttl_s ? a->ttl_s : 1) * 1000, now);
		break;
	case SL_DNS_NULL_MX:
		sl_sched_domain_resolved(d->sched, a->name, SL_SCHED_DOMAIN_PERMFAIL, "5.1.10",
					 a->error, NULL, NULL, 0, 0, now);
		break;
	case SL_DNS_NOT_FOUND:
		sl_sched_domain_resolved(d->sched, a->name, SL_SCHED_DOMAIN_PERMFAIL, "5.1.2",
					 a->error, NULL, NULL, 0, 0, now);
		break;
	default:
		sl_sched_domain_resolved(d->sched, a->name, SL_SCHED_DOMAIN_TEMPFAIL, "4.4.3",
					 a->error, NULL, NULL, 0, 0, now);
		break;
	}
}

static void take_answers(struct sl_worker *w, void *arg)
{
	struct deliver *d = arg;
	struct sl_dns_answer *list = sl_dns_inbox_take(d->inbox);

	(void)w;
	while (list) {
		struct sl_dns_answer *a = list;

		list = a->next;
		a->next = NULL;
		/* An answer whose MTA-STS policy is being fetched comes back. */
		if (deliver_sts_hold(d, a))
			continue;
		handle_answer(d, a);
		sl_dns_answer_free(a);
	}
}

/* Connections. */

static void dconn_unlink(struct dconn *c)
{
	struct dconn **p = &c->d->conns;

	while (*p && *p != c)
		p = &(*p)->next;
	if (*p) {
		struct sl_shm_worker *shm = sl_sluiced_counters(c->d->w);

		*p = c->next;
		if (shm)
			atomic_fetch_sub_explicit(&shm->connections, 1, memory_order_relaxed);
	}
}

static void conn_close(struct dconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->state == DC_IDLE)
		sl_sched_conn_idle(c->d->sched, c->dest, 0);
	c->state = DC_CLOSING;
	sl_timer_cancel(c->d->w, &c->timer);
	sl_conn_close(c->conn);
}

/* A connection that never reached the ready state counts against its
 * target. When every target of the destination failed in a row, the
 * destination pauses and its queue is deferred. */
static void note_session_failure_with(struct dconn *c, const char *enhanced, const char *why)
{
	struct sl_sched_dest *dest = c->dest;

	dest->next_target++;
	if (dest->next_target % (dest->target_count ? dest->target_count : 1) == 0)
		sl_sched_dest_down_with(c->d->sched, dest, deliver_now_ms(), enhanced, why);
}

static void note_session_failure(struct dconn *c, const char *why)
{
	note_session_failure_with(c, "4.4.1", why);
}

static void unlink_waiter(struct dconn **head, struct dconn *c)
{
	while (*head && *head != c)
		head = &(*head)->wait_next;
	if (*head)
		*head = c->wait_next;
}

static void txn_abort(struct dconn *c, const char *enhanced, const char *why);

/* The connection closed while its transaction waited for the body or the
 * signer: the recipients were taken from the queue, so defer them. */
static void txn_drop(struct dconn *c, int reason)
{
	char why[700];

	unlink_waiter(&c->msg->waiting, c);
	unlink_waiter(&c->d->to_sign, c);
	snprintf(why, sizeof(why), "connection to %s (%s) closed before the transaction: %s",
		 c->host, c->address, reason ? strerror(-reason) : "closed by peer");
	txn_abort(c, "4.4.2", why);
}

/* STARTTLS failed on c: open a new connection to the same host without
 * STARTTLS now, unless the destination cannot take one (then dispatch
 * opens it later, in plaintext because the host is remembered). */
static void retry_plain(struct dconn *c)
{
	struct sl_sched_target t;
	struct deliver *d = c->d;

	if (d->stopping || !sl_sched_dest_can_open(d->sched, c->dest, deliver_now_ms()))
		return;
	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%s", c->host);
	t.addr = c->addr;
	t.addr_len = c->addr_len;
	conn_open_to(d, c->dest, &t, TLS_FALLBACK_RETRY, c->tls_failure);
}

static void on_closed(struct sl_conn *conn, void *user, int reason)
{
	struct dconn *c = user;
	struct deliver *d = c->d;

	(void)conn;
	if (c->msg && !c->txn_submitted)
		txn_drop(c, reason);
	if (c->smtp && !sl_smtpc_is_closed(c->smtp))
		sl_smtpc_disconnected(c->smtp, reason ? strerror(-reason) : "closed by peer");
	sl_timer_cancel(d->w, &c->timer);
	if (c->state == DC_IDLE)
		sl_sched_conn_idle(d->sched, c->dest, 0);
	sl_sched_conn_closed(d->sched, c->dest);
	dconn_unlink(c);
	deliver_throttle_conn_closed(c);
	if (c->retry_plain)
		retry_plain(c);
	sl_smtpc_free(c->smtp);
	if (c->tls)
		sl_tls_free(c->tls);
	sl_buf_free(&c->out);
	sl_dkim_out_free(&c->sig);
	free(c);
}

static void on_sent(struct sl_conn *conn, void *user, uint64_t tag, int result)
{
	struct dconn *c = user;

	(void)conn;
	(void)tag;
	c->send_busy = false;
	c->out.len = 0;
	if (result < 0 || c->closing)
		return;
	conn_pump(c);
}

static void tls_step(struct dconn *c);

static void on_recv(struct sl_conn *conn, void *user, const uint8_t *data, size_t len)
{
	struct dconn *c = user;

	(void)conn;
	if (c->closing || !c->smtp)
		return;
	if (c->tls) {
		sl_tls_feed(c->tls, data, len);
		tls_step(c);
		return;
	}
	sl_smtpc_input(c->smtp, (const char *)data, len, sl_worker_now(c->d->w));
	if (c->tls && c->tls_handshaking) {
		tls_step(c);   /* sends the ClientHello */
		return;
	}
	conn_pump(c);
}

static void on_timer(struct sl_worker *w, struct sl_timer *t)
{
	struct dconn *c = (struct dconn *)((char *)t - offsetof(struct dconn, timer));

	(void)w;
	if (c->closing)
		return;
	if (c->state == DC_CONNECTING) {
		char why[700];

		snprintf(why, sizeof(why), "connect() to %s timed out", c->address);
		sl_warn("delivery: %s", why);
		note_session_failure(c, why);
		conn_close(c);
		return;
	}
	if (c->state == DC_IDLE) {
		sl_smtpc_quit(c->smtp, sl_worker_now(w));
		c->state = DC_SESSION;
		sl_sched_conn_idle(c->d->sched, c->dest, 0);
		conn_pump(c);
		return;
	}
	sl_smtpc_timeout(c->smtp, sl_worker_now(w));
	conn_pump(c);
}

static void conn_arm_timer(struct dconn *c)
{
	uint64_t deadline, now = sl_worker_now(c->d->w);

	if (c->closing)
		return;
	if (c->state == DC_IDLE) {
		sl_timer_arm(c->d->w, &c->timer, c->d->cfg->idle_timeout);
		return;
	}
	deadline = sl_smtpc_deadline(c->smtp);
	if (deadline == 0) {
		sl_timer_cancel(c->d->w, &c->timer);
		return;
	}
	sl_timer_arm(c->d->w, &c->timer, deadline > now ? deadline - now : 0);
}

/* Move what the SMTP engine (and TLS) wants to send into one send. Only
 * one send is in flight; its bytes live in c->out until on_sent. */
static void conn_pump(struct dconn *c)
{
	const char *data;
	size_t n;

	if (sl_smtpc_is_closed(c->smtp)) {
		conn_close(c);
		return;
	}
	conn_arm_timer(c);
	if (c->send_busy || c->closing)
		return;
	if (c->tls) {
		if (!c->tls_handshaking) {
			while ((n = sl_smtpc_output(c->smtp, &data)) > 0) {
				sl_tls_write(c->tls, (const uint8_t *)data, n);
				sl_smtpc_output_done(c->smtp, n, sl_worker_now(c->d->w));
				if (c->tls_handshaking || c->out.len > 256 * 1024)
					break;
			}
		}
		sl_tls_output(c->tls, &c->out);
	} else if ((n = sl_smtpc_output(c->smtp, &data)) > 0) {
		sl_buf_append(&c->out, data, n);
		sl_smtpc_output_done(c->smtp, n, sl_worker_now(c->d->w));
	}
	if (c->out.len == 0)
		return;

	struct iovec iov = { c->out.p, c->out.len };
	int rc = sl_conn_send(c->conn, &iov, 1, 0);

	if (rc < 0) {
		c->out.len = 0;
		sl_smtpc_disconnected(c->smtp, strerror(-rc));
		conn_close(c);
		return;
	}
	c->send_busy = true;
}

static void tls_step(struct dconn *c)
{
	uint8_t buf[16384];
	int rc;

	if (c->tls_handshaking) {
		rc = sl_tls_handshake(c->tls);
		if (rc == -EAGAIN) {
			conn_pump(c);
			return;
		}
		c->tls_handshaking = false;
		if (rc < 0) {
			char err[200];

			snprintf(c->tls_failure, sizeof(c->tls_failure), "TLS handshake failed: %.130s",
				 sl_tls_error(err, sizeof(err)));
			sl_smtpc_tls_done(c->smtp, 0, sl_worker_now(c->d->w));
			conn_pump(c);
			return;
		}
		if (!deliver_sts_check_peer(c)) {
			sl_smtpc_tls_done(c->smtp, 0, sl_worker_now(c->d->w));
			conn_pump(c);
			return;
		}
		snprintf(c->tls_version, sizeof(c->tls_version), "%s", sl_tls_version(c->tls));
		snprintf(c->tls_cipher, sizeof(c->tls_cipher), "%s", sl_tls_cipher(c->tls));
		sl_smtpc_tls_done(c->smtp, 1, sl_worker_now(c->d->w));
	}
	while ((rc = sl_tls_read(c->tls, buf, sizeof(buf))) > 0)
		sl_smtpc_input(c->smtp, (const char *)buf, (size_t)rc, sl_worker_now(c->d->w));
	if (rc == 0 && !sl_smtpc_is_closed(c->smtp))
		sl_smtpc_disconnected(c->smtp, "TLS session closed by peer");
	conn_pump(c);
}

/* SMTP engine callbacks. */

static void smtp_start_tls(void *ctx)
{
	struct dconn *c = ctx;

	c->tls = deliver_sts_tls_new(c);
	if (!c->tls) {
		sl_smtpc_tls_done(c->smtp, 0, sl_worker_now(c->d->w));
		return;
	}
	c->tls_handshaking = true;
	/* The ClientHello goes out from tls_step's pump. */
}

static void smtp_ready(void *ctx)
{
	struct dconn *c = ctx;

	c->ever_ready = true;
	c->dest->next_target = 0;
	if (c->sts_mode != SL_STS_NONE && !c->tls_version[0])
		deliver_sts_conn_failed(c, "session without TLS: %s",
					c->tls_failure[0] ? c->tls_failure : "no STARTTLS");
	c->state = DC_IDLE;
	if (c->d->stopping || c->messages >= c->msgs_max) {
		c->state = DC_SESSION;
		sl_smtpc_quit(c->smtp, sl_worker_now(c->d->w));
		return;
	}
	conn_start_txn(c);
}

static void smtp_txn_done(void *ctx, struct sl_smtpc_txn *txn)
{
	struct dconn *c = ctx;
	struct deliver *d = c->d;
	struct dmsg *m = c->msg;
	const struct sl_smtp_reply *worst = NULL;

	for (size_t i = 0; i < c->rcpt_count; i++) {
		struct drcpt *r = c->rcpts[i];
		const struct sl_smtp_reply *reply = &txn->rcpt_reply[i];

		/* One reply per transaction feeds the backoff rules: the first
		 * failure, else the first success. */
		if (!worst || (sl_smtp_reply_class(worst) == 2 && sl_smtp_reply_class(reply) != 2))
			worst = reply;

		switch (sl_smtp_reply_class(reply)) {
		case 2:
			outcome_delivered(c, r, reply);
			break;
		case 5:
			outcome_bounced(d, c, r, reply);
			break;
		default:
			outcome_deferred(d, c, r, reply);
			break;
		}
	}
	if (worst && c->rcpt_count > 0)
		deliver_throttle_reply(c, c->rcpts[0]->domain, worst);
	c->messages++;
	c->rcpt_count = 0;
	c->msg = NULL;
	c->txn_submitted = false;
	m->users--;
	outcome_flush_notices(m);
	dmsg_release(m);
}

/* STARTTLS failed on c (opportunistic): not a failure of the recipients,
 * which wait in the queue. Remember the host, count the fallback and
 * reopen in plaintext once this connection is closed. */
static void tls_failed(struct dconn *c, const struct sl_smtp_reply *reason)
{
	struct sl_shm_worker *shm = sl_sluiced_counters(c->d->w);

	if (!c->tls_failure[0])
		snprintf(c->tls_failure, sizeof(c->tls_failure), "STARTTLS failed: %.140s", reason->text);
	sl_warn("delivery: %s with %s (%s); delivering in plaintext on a new connection",
		c->tls_failure, c->host, c->address);
	if (sl_deliver_tls_failures)
		sl_tls_failures_note(sl_deliver_tls_failures, (const struct sockaddr *)&c->addr,
				     c->addr_len, c->tls_failure, deliver_now_ms());
	if (shm)
		atomic_fetch_add_explicit(&shm->tls_fallbacks, 1, memory_order_relaxed);
	c->retry_plain = true;
}

static void smtp_closed(void *ctx, const struct sl_smtp_reply *reason)
{
	struct dconn *c = ctx;

	if (sl_smtpc_tls_failed(c->smtp) && !c->tls_required) {
		tls_failed(c, reason);
		return;
	}
	if (!c->ever_ready && reason->code / 100 != 2) {
		char why[1200];

		if (c->sts_mode == SL_STS_ENFORCE &&
		    (sl_smtpc_tls_failed(c->smtp) || strcmp(reason->enhanced, "4.7.10") == 0)) {
			const char *cause = c->tls_failure[0] ? c->tls_failure : reason->text;

			deliver_sts_conn_failed(c, "%s", cause);
			snprintf(why, sizeof(why), "MTA-STS policy of %s (enforce): no verified TLS "
				 "session with %s (%s): %s", c->domain, c->host, c->address, cause);
			sl_warn("delivery: %s", why);
			note_session_failure_with(c, "4.7.5", why);
			return;
		}
		if (c->tls_required && sl_smtpc_tls_failed(c->smtp))
			snprintf(why, sizeof(why), "TLS is required for %s but STARTTLS with %s (%s) "
				 "failed: %s", c->domain, c->host, c->address,
				 c->tls_failure[0] ? c->tls_failure : reason->text);
		else
			snprintf(why, sizeof(why), "%s (%s): %d %s", c->host, c->address,
				 reason->code, reason->text);
		sl_warn("delivery: session with %s failed", why);
		deliver_throttle_reply(c, c->domain, reason);
		note_session_failure(c, why);
	}
}

static const struct sl_smtpc_callbacks smtp_callbacks = {
	.start_tls = smtp_start_tls,
	.ready = smtp_ready,
	.txn_done = smtp_txn_done,
	.closed = smtp_closed,
};

static void on_connected(struct sl_conn *conn, void *user, int result)
{
	struct dconn *c = user;
	uint64_t now = sl_worker_now(c->d->w);

	(void)conn;
	if (c->closing)
		return;   /* timed out already; closed follows */
	c->connect_ms = now - c->started_ms;
	if (result < 0) {
		char why[700];

		snprintf(why, sizeof(why), "connect() to %s (%s) failed: %s", c->host, c->address,
			 strerror(-result));
		sl_warn("delivery: %s", why);
		c->state = DC_CLOSING;
		note_session_failure(c, why);
		return;   /* closed follows */
	}
	c->state = DC_SESSION;
	struct sl_smtpc_config cfg = c->d->smtp_cfg;

	if (c->tls_required)
		cfg.tls = SL_SMTPC_TLS_REQUIRED;
	else if (c->tls_fallback != TLS_FALLBACK_NONE)
		cfg.tls = SL_SMTPC_TLS_NONE;
	c->smtp = sl_smtpc_new(&cfg, &smtp_callbacks, c, now);
	if (!c->smtp)
		abort();
	conn_arm_timer(c);
}

static const struct sl_conn_handler conn_handler = {
	.recv = on_recv,
	.sent = on_sent,
	.closed = on_closed,
	.connected = on_connected,
};

static void address_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		snprintf(buf, len, "%s:%u", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		snprintf(buf, len, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, len, "?");
	}
}

/* Decides whether a new connection to t skips STARTTLS because the
 * host's STARTTLS failed recently. */
static void check_tls_memory(struct dconn *c)
{
	char reason[SL_TLS_FAILURE_REASON_MAX];

	if (c->tls_required || c->tls_fallback != TLS_FALLBACK_NONE ||
	    c->d->smtp_cfg.tls == SL_SMTPC_TLS_NONE || !sl_deliver_tls_failures)
		return;
	if (sl_tls_failures_find(sl_deliver_tls_failures, (const struct sockaddr *)&c->addr,
				 c->addr_len, deliver_now_ms(), reason, sizeof(reason))) {
		c->tls_fallback = TLS_FALLBACK_REMEMBERED;
		snprintf(c->tls_failure, sizeof(c->tls_failure), "%s", reason);
	}
}

/* Returns 0 when a connection is opening, -1 when none may open now. */
static int conn_open(struct deliver *d, struct sl_sched_dest *dest)
{
	if (dest->target_count == 0 || dest->ready_count == 0)
		return -1;
	return conn_open_to(d, dest, &dest->target[dest->next_target % dest->target_count],
			    TLS_FALLBACK_NONE, NULL);
}

/* Opens a connection to target t of dest. fallback and tls_failure give
 * the reason it goes without STARTTLS. With TLS_FALLBACK_NONE it uses
 * STARTTLS as configured, unless the host is remembered. */
static int conn_open_to(struct deliver *d, struct sl_sched_dest *dest,
			const struct sl_sched_target *t, enum tls_fallback fallback,
			const char *tls_failure)
{
	struct sl_shm_worker *shm;
	struct dconn *c;
	int rc;

	if (dest->ready_count == 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->d = d;
	c->dest = dest;
	c->state = DC_CONNECTING;
	c->timer.fn = on_timer;
	c->started_ms = sl_worker_now(d->w);
	snprintf(c->host, sizeof(c->host), "%s", t->host);
	snprintf(c->domain, sizeof(c->domain), "%s", dest->ready.next->domain);
	if (!deliver_throttle_conn_open(c)) {
		free(c);
		return -1;
	}
	address_text(&t->addr, c->address, sizeof(c->address));
	c->addr = t->addr;
	c->addr_len = t->addr_len;
	c->tls_required = requires_tls(d, c->domain);
	deliver_sts_conn_setup(c);
	c->tls_fallback = fallback;
	if (tls_failure)
		snprintf(c->tls_failure, sizeof(c->tls_failure), "%s", tls_failure);
	check_tls_memory(c);
	rc = sl_conn_connect(d->w, (const struct sockaddr *)&t->addr, t->addr_len,
			     d->source_len ? (const struct sockaddr *)&d->source : NULL,
			     d->source_len, &conn_handler, c, &c->conn);
	if (rc < 0) {
		char why[700];

		snprintf(why, sizeof(why), "connect() to %s (%s) failed: %s", c->host, c->address,
			 strerror(-rc));
		sl_warn("delivery: %s", why);
		deliver_throttle_conn_closed(c);
		free(c);
		sl_sched_dest_down(d->sched, dest, deliver_now_ms(), why);
		return -1;
	}
	sl_sched_conn_opened(d->sched, dest);
	c->next = d->conns;
	d->conns = c;
	if ((shm = sl_sluiced_counters(d->w)))
		atomic_fetch_add_explicit(&shm->connections, 1, memory_order_relaxed);
	sl_timer_arm(d->w, &c->timer, d->cfg->connect_timeout);
	return 0;
}

/* Transactions. */

static void queue_for_signing(struct dconn *c)
{
	struct dmsg *m = c->msg;

	c->sign = (struct sl_sign_item){
		.headers = (const char *)m->body,
		.hlen = m->header_len,
		.bh = &m->bh,
		.out = &c->sig,
	};
	c->wait_next = c->d->to_sign;
	c->d->to_sign = c;
}

/* A connection has a message's recipients: load the body or sign. */
static void conn_start_txn(struct dconn *c)
{
	struct deliver *d = c->d;
	struct sl_sched_rcpt *taken[DELIVER_MAX_TXN_RCPTS];
	size_t max = DELIVER_MAX_TXN_RCPTS;
	size_t n = 0;

	if (deliver_throttle_admit(d, c->dest, &max))
		n = sl_sched_take(d->sched, c->dest, deliver_now_ms(), taken, max);
	if (n == 0) {
		c->state = DC_IDLE;
		sl_sched_conn_idle(d->sched, c->dest, 1);
		conn_arm_timer(c);
		return;
	}
	c->state = DC_BUSY;
	c->attempt_started_ms = deliver_now_ms();
	c->rcpt_count = n;
	for (size_t i = 0; i < n; i++) {
		c->rcpts[i] = (struct drcpt *)taken[i];
		c->rcpt_addr[i] = c->rcpts[i]->address;
	}
	c->msg = c->rcpts[0]->msg;
	c->msg->users++;
	sl_timer_cancel(d->w, &c->timer);
	if (c->msg->body_state == BODY_LOADED) {
		queue_for_signing(c);
		return;
	}
	c->wait_next = c->msg->waiting;
	c->msg->waiting = c;
	deliver_load_body(c->msg);
}

/* A connection's transaction cannot start: defer its recipients and let
 * it take other work. */
static void txn_abort(struct dconn *c, const char *enhanced, const char *why)
{
	struct sl_smtp_reply reply;
	struct dmsg *m = c->msg;

	memset(&reply, 0, sizeof(reply));
	reply.code = 451;
	reply.local = 1;
	snprintf(reply.enhanced, sizeof(reply.enhanced), "%s", enhanced);
	snprintf(reply.text, sizeof(reply.text), "%s", why);
	for (size_t i = 0; i < c->rcpt_count; i++)
		outcome_deferred(c->d, NULL, c->rcpts[i], &reply);
	c->rcpt_count = 0;
	c->msg = NULL;
	m->users--;
	dmsg_release(m);
	if (c->closing)
		return;
	c->state = DC_IDLE;
	sl_sched_conn_idle(c->d->sched, c->dest, 1);
	conn_arm_timer(c);
}

void deliver_body_ready(struct dmsg *m)
{
	struct dconn *c = m->waiting;

	m->waiting = NULL;
	while (c) {
		struct dconn *next = c->wait_next;

		if (c->closing) {
			/* on_closed already deferred through the engine. */
		} else if (m->body_state == BODY_LOADED) {
			queue_for_signing(c);
		} else {
			txn_abort(c, "4.3.0", "message could not be read from the spool");
		}
		c = next;
	}
}

/* Counts a transaction's signatures by algorithm in the shared counters. */
static void count_signatures(struct dconn *c)
{
	struct sl_shm_worker *shm = sl_sluiced_counters(c->d->w);

	if (!shm)
		return;
	atomic_fetch_add_explicit(&shm->signatures[SL_SHM_ALG_RSA], c->sign.rsa_signatures,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->signatures[SL_SHM_ALG_ED25519],
				  c->sign.ed25519_signatures, memory_order_relaxed);
}

static void submit_signed(struct dconn *c)
{
	struct dmsg *m = c->msg;

	if (c->sign.rc < 0) {
		sl_warn("delivery: queue_id=%s deferred: %s", m->queue_id, c->sign.error);
		txn_abort(c, "4.7.5", c->sign.error);
		return;
	}
	count_signatures(c);
	c->iov[0] = (struct iovec){ c->sig.data, c->sig.len };
	c->iov[1] = (struct iovec){ (void *)m->body, m->body_len };
	c->txn = (struct sl_smtpc_txn){
		.sender = m->sender,
		.rcpts = c->rcpt_addr,
		.rcpt_count = c->rcpt_count,
		.body = c->iov,
		.body_count = 2,
		.size = c->sig.len + m->body_len,
		.eight_bit = m->eight_bit,
		.rcpt_reply = c->reply,
	};
	c->txn_submitted = true;
	sl_smtpc_submit(c->smtp, &c->txn, sl_worker_now(c->d->w));
	conn_pump(c);
}

static void sign_and_submit(struct deliver *d)
{
	struct dconn *list = d->to_sign, *c;
	int64_t now = (int64_t)time(NULL);

	d->to_sign = NULL;
	/* The snapshot's keys come first; other domains use the keys of
	 * the "signing" section. */
	for (c = list; c; c = c->wait_next)
		if (!c->closing && !deliver_sign_from_snapshot(&c->sign, now))
			sl_sign_batch_add(d->batch, &c->sign);
	sl_sign_batch_run(d->batch, now);
	for (c = list; c; c = c->wait_next)
		if (!c->closing)
			submit_signed(c);
}

/* Dispatch: idle connections first, then new ones. */
static int dispatch(struct deliver *d)
{
	struct sl_sched_dest *dest;
	uint64_t now = deliver_now_ms();
	int work = 0;

	while ((dest = sl_sched_runnable(d->sched, now))) {
		for (struct dconn *c = d->conns; c && dest->ready_count; c = c->next) {
			if (now < dest->hold_until_ms)
				break;   /* a throttle refused the last transaction */
			if (c->dest != dest || c->state != DC_IDLE || c->closing)
				continue;
			sl_sched_conn_idle(d->sched, dest, 0);
			conn_start_txn(c);
			work++;
		}
		/* A new connection takes at least one message; open as many
		 * as the queue can feed, within the destination's limit. */
		size_t starting = 0;

		for (struct dconn *c = d->conns; c; c = c->next)
			if (c->dest == dest && (c->state == DC_CONNECTING || c->state == DC_SESSION))
				starting++;
		while (dest->ready_count > starting && sl_sched_dest_can_open(d->sched, dest, now)) {
			if (conn_open(d, dest) < 0)
				break;
			starting++;
			work++;
		}
	}
	return work;
}

static void tick(struct sl_worker *w, struct sl_timer *t)
{
	(void)w;
	(void)t;
	/* Wakes the loop; deliver_poll does the work. */
}

static int deliver_poll(struct sl_worker *w, void *state)
{
	struct deliver *d = state;
	uint64_t now = deliver_now_ms(), next;
	int work = 0;

	(void)w;
	if (!d->cfg->enabled)
		return 0;
	deliver_throttle_sync(d);
	sl_sched_advance(d->sched, now);
	work += dispatch(d);
	if (d->to_sign) {
		sign_and_submit(d);
		work++;
	}
	sl_acct_flush();
	next = sl_sched_next_due(d->sched, now);
	if (next != UINT64_MAX && (d->tick.deadline == 0 || work))
		sl_timer_arm(d->w, &d->tick, next ? next : 1);
	return work;
}

/* Queue the recipients that the shard's index lists as not final. */
static int visit_message(void *arg, const struct sl_spool_message *msg)
{
	uint64_t **ids = arg;

	*(*ids)++ = msg->id;
	return 0;
}

static void recover_queue(struct deliver *d)
{
	struct sl_spool_stats st;
	uint64_t *ids, *end;

	sl_spool_stats(d->spool, &st);
	ids = calloc(st.messages + 1, sizeof(*ids));
	if (!ids)
		abort();
	end = ids;
	sl_spool_foreach(d->spool, visit_message, &end);
	for (uint64_t *p = ids; p < end; p++)
		dmsg_queue_message(d, *p, true);
	if (end > ids)
		sl_info("delivery: worker=%u queued %zu messages found in the spool",
			sl_worker_index(d->w), (size_t)(end - ids));
	free(ids);
}

void sl_deliver_enqueue(struct sl_worker *w, uint64_t id)
{
	struct deliver *d = sl_worker_state(w, &deliver_module);

	if (d && d->cfg->enabled)
		dmsg_queue_message(d, id, false);
}

/* Process-wide setup, done by the first worker: resolver, keys, TLS. */
static int shared_start(const struct sl_config *cfg)
{
	const struct sl_config_delivery *dc = sl_config_delivery(cfg);
	const struct sl_config_signing *sc = sl_config_signing(cfg);
	struct sl_dns_config dns;
	char err[512];
	int rc = 0;

	pthread_mutex_lock(&shared_lock);
	if (shared_users++ > 0)
		goto out;
	sl_dns_default_config(&dns);
	if (dc->resolver)
		snprintf(dns.server, sizeof(dns.server), "%s", dc->resolver);
	dns.timeout_ms = (uint32_t)dc->resolver_timeout;
	dns.tries = (uint32_t)dc->resolver_tries;
	dns.negative_ttl_s = (uint32_t)(dc->negative_cache_ttl / 1000);
	dns.mx_port = (uint16_t)dc->mx_port;
	dns.mta_sts = !dc->mta_sts || strcmp(dc->mta_sts, "off") != 0;
	sl_deliver_dns = sl_dns_start(&dns);
	if (deliver_sts_start(dc) < 0)
		rc = -1;
	sl_deliver_sign_table = sl_sign_table_load((const char *const *)sc->keys.v, sc->keys.n,
						   (uint32_t)(sc->expiry / 1000), err, sizeof(err));
	if (!sl_deliver_sign_table)
		sl_err("delivery: signing keys: %s", err);
	sl_deliver_tls_ctx = sl_tls_client_ctx(err, sizeof(err));
	if (!sl_deliver_tls_ctx)
		sl_warn("delivery: TLS client setup failed, STARTTLS disabled: %s", err);
	sl_deliver_tls_failures = sl_tls_failures_new((size_t)dc->starttls_failure_hosts,
						      dc->starttls_failure_ttl);
	if (!sl_deliver_tls_failures)
		abort();
	if (dc->accounting_log && sl_acct_open(dc->accounting_log) < 0)
		rc = -1;
	if (!sl_deliver_dns || !sl_deliver_sign_table)
		rc = -1;
out:
	pthread_mutex_unlock(&shared_lock);
	return rc;
}

static void shared_stop(void)
{
	pthread_mutex_lock(&shared_lock);
	if (--shared_users == 0) {
		deliver_sts_stop();
		sl_dns_stop(sl_deliver_dns);
		sl_deliver_dns = NULL;
		for (unsigned i = 0; i < inbox_count; i++)
			sl_dns_inbox_free(inboxes[i]);
		inbox_count = 0;
		sl_sign_table_free(sl_deliver_sign_table);
		sl_deliver_sign_table = NULL;
		if (sl_deliver_tls_ctx)
			sl_tls_ctx_free(sl_deliver_tls_ctx);
		sl_deliver_tls_ctx = NULL;
		sl_tls_failures_free(sl_deliver_tls_failures);
		sl_deliver_tls_failures = NULL;
		sl_acct_close();
	}
	pthread_mutex_unlock(&shared_lock);
}

static int load_routes(struct deliver *d)
{
	char err[512];

	for (size_t i = 0; i < d->cfg->tls_required.n; i++) {
		if (!sl_route_pattern_valid(d->cfg->tls_required.v[i])) {
			sl_err("delivery: delivery.tls_required: invalid pattern '%s': expected "
			       "DOMAIN, *.DOMAIN or *", d->cfg->tls_required.v[i]);
			return -1;
		}
	}

	for (size_t i = 0; i < d->cfg->routes.n; i++) {
		if (sl_route_add(&d->routes, d->cfg->routes.v[i], err, sizeof(err)) < 0) {
			sl_err("delivery: delivery.routes: %s", err);
			return -1;
		}
	}
	return 0;
}

static void pick_source(struct deliver *d)
{
	const struct sl_config_strings *src = &d->cfg->source_addresses;
	struct sl_route_host h;
	char text[300];

	if (src->n == 0)
		return;
	snprintf(text, sizeof(text), "%s:0", src->v[sl_worker_index(d->w) % src->n]);
	if (sl_route_parse_host(text, &h) == 0 && h.is_address) {
		d->source = h.addr;
		d->source_len = h.addr_len;
		snprintf(d->source_text, sizeof(d->source_text), "%.63s", h.name);
	} else {
		sl_err("delivery: delivery.source_addresses: invalid address '%s'",
		       src->v[sl_worker_index(d->w) % src->n]);
	}
}

static const struct sl_sched_ops sched_ops = {
	.resolve = resolve,
	.expired = outcome_expired,
	.failed = outcome_failed,
};

static int deliver_init(struct sl_worker *w, void **state)
{
	const struct sl_config *cfg = sl_worker_config(w);
	struct deliver *d = calloc(1, sizeof(*d));
	struct sl_sched_config sc;

	if (!d)
		return -ENOMEM;
	d->w = w;
	d->cfg = sl_config_delivery(cfg);
	*state = d;
	if (!d->cfg->enabled)
		return 0;
	if (shared_start(cfg) < 0 || load_routes(d) < 0)
		return -EINVAL;
	d->helo_name = d->cfg->helo_name ? d->cfg->helo_name
		     : sl_config_smtp(cfg)->hostname ? sl_config_smtp(cfg)->hostname : "localhost";
	d->spool = sl_store_spool(w);
	if (!d->spool) {
		sl_err("delivery: worker=%u has no spool shard", sl_worker_index(w));
		return -EINVAL;
	}
	pick_source(d);
	d->smtp_cfg = (struct sl_smtpc_config){
		.helo_name = d->helo_name,
		.tls = d->cfg->starttls && sl_deliver_tls_ctx ? SL_SMTPC_TLS_OPPORTUNISTIC
							      : SL_SMTPC_TLS_NONE,
		.chunking = d->cfg->chunking,
		.timeouts = {
			.greeting_ms = (uint32_t)d->cfg->greeting_timeout,
			.command_ms = (uint32_t)d->cfg->command_timeout,
			.data_init_ms = (uint32_t)d->cfg->data_init_timeout,
			.data_block_ms = (uint32_t)d->cfg->data_block_timeout,
			.data_end_ms = (uint32_t)d->cfg->data_end_timeout,
		},
	};
	sl_sched_default_config(&sc);
	sc.max_connections = (uint32_t)d->cfg->max_connections;
	sc.messages_per_connection = (uint32_t)d->cfg->messages_per_connection;
	sc.recipients_per_transaction = (uint32_t)d->cfg->recipients_per_transaction;
	sc.idle_ms = d->cfg->idle_timeout;
	sc.retry_initial_ms = d->cfg->retry_initial;
	sc.retry_max_ms = d->cfg->retry_max;
	sc.jitter_percent = (uint32_t)d->cfg->retry_jitter_percent;
	sc.max_age_ms = d->cfg->max_age;
	sc.dest_down_ms = d->cfg->destination_pause;
	sc.tick_ms = d->cfg->retry_initial < 10000 ? 100 : 1000;
	d->sched = sl_sched_new(&sc, &sched_ops, d, deliver_now_ms(),
				(uint32_t)(deliver_now_ms() ^ (sl_worker_index(w) * 2654435761u)));
	d->inbox = sl_dns_inbox_new();
	pthread_mutex_lock(&shared_lock);
	if (d->inbox && inbox_count < sizeof(inboxes) / sizeof(inboxes[0]))
		inboxes[inbox_count++] = d->inbox;
	pthread_mutex_unlock(&shared_lock);
	d->batch = sl_sign_batch_new(sl_deliver_sign_table);
	if (!d->sched || !d->inbox || !d->batch)
		return -ENOMEM;
	d->tick.fn = tick;
	if (sl_worker_watch(w, sl_dns_inbox_fd(d->inbox), take_answers, d) < 0)
		return -EINVAL;
	recover_queue(d);
	sl_info("delivery: worker=%u started routes=%zu source=%s", sl_worker_index(w),
		d->routes.n, d->source_text[0] ? d->source_text : "any");
	return 0;
}

static bool deliver_drain(struct sl_worker *w, void *state)
{
	struct deliver *d = state;

	(void)w;
	if (!d->cfg->enabled)
		return false;
	d->stopping = true;
	/* Idle connections send QUIT; busy ones finish their transaction. */
	for (struct dconn *c = d->conns; c; c = c->next) {
		if (c->state == DC_IDLE && !c->closing) {
			c->state = DC_SESSION;
			sl_sched_conn_idle(d->sched, c->dest, 0);
			sl_smtpc_quit(c->smtp, sl_worker_now(w));
			conn_pump(c);
		}
	}
	sl_acct_flush();
	return d->conns != NULL;
}

static void deliver_fini(struct sl_worker *w, void *state)
{
	struct deliver *d = state;

	(void)w;
	if (!d)
		return;
	sl_acct_flush();
	if (d->cfg->enabled) {
		sl_info("delivery: worker=%u stopped delivered=%" PRIu64 " deferred=%" PRIu64
			" bounced=%" PRIu64 " notices=%" PRIu64, sl_worker_index(w),
			d->counters[CNT_DELIVERED], d->counters[CNT_DEFERRED],
			d->counters[CNT_BOUNCED], d->counters[CNT_NOTICES]);
		shared_stop();
	}
	sl_sign_batch_free(d->batch);
	sl_sched_free(d->sched);
	/* NOTE: messages still in memory are freed with the process; their
	 * state is in the spool. */
	sl_route_table_free(&d->routes);
	sl_dkim_thread_cleanup();
	free(d);
}

static void on_commit(struct sl_worker *w, uint64_t id)
{
	sl_deliver_enqueue(w, id);
}

static const struct sl_worker_module deliver_module = {
	.name = "delivery",
	.init = deliver_init,
	.poll = deliver_poll,
	.drain = deliver_drain,
	.fini = deliver_fini,
};

int sl_deliver_register(void)
{
	sl_store_set_commit_hook(on_commit);
	return sl_worker_module_register(&deliver_module);
}
