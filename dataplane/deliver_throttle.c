/*
 * dataplane/deliver_throttle.c - the delivery engine's use of the
 * throttle library (dataplane/throttle/enforce.h) with the rules,
 * suspensions and queue actions of the current sluice-ctld snapshot.
 *
 *   deliver_throttle_admit()     before each transaction: rate limits,
 *                                suspensions and backoffs; a refused
 *                                destination is held in the scheduler
 *   deliver_throttle_defer()     a deferred recipient: the rules' retry
 *                                schedule and maximum age
 *   deliver_throttle_conn_open() before each connection: the policy's
 *                                connection limit, shared by all workers
 *   deliver_throttle_reply()     every SMTP reply of a transaction or a
 *                                failed session goes to the backoff rules
 *   deliver_throttle_sync()      once per loop iteration: operator
 *                                suspensions (once per snapshot for the
 *                                process), queue actions (per worker) and
 *                                the per-domain queue depth counters
 *
 * The throttle table is process-wide and lock-free; no call here talks
 * to sluice-ctld or to Redis. Rules marked fleet spend slots leased by
 * the fleet service thread (dataplane/fleet_redis.h). Without a snapshot (sluice-ctld never reached) nothing
 * is limited beyond the delivery section's own limits.
 *
 * NOTE: a scheduler destination is an MX site that several recipient
 * domains may share. The domain of the first ready recipient decides for
 * the whole destination, so a suspended domain also blocks the other
 * domains queued behind it on the same MX site.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "ctl/config/config_delivery.h"
#include "dataplane/ctl_link.h"
#include "dataplane/deliver_int.h"
#include "dataplane/throttle/enforce.h"

#define TABLE_SLOTS 4096
/* A held destination is checked again at least this often, so that an
 * operator "resume" takes effect within it. */
#define HOLD_MAX_MS 1000
#define PUBLISH_EVERY_MS 250

struct depth_entry {
	_Atomic uint32_t used;
	char name[SL_SHM_DEST_NAME_MAX];
	_Atomic int64_t depth;
};

static struct sl_throttle_table table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int table_ok;

/* Operator suspensions: applied once per snapshot generation. */
static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t applied_generation;
static char (*applied_keys)[128];
static size_t applied_count;

/* Queue depth per recipient domain, published to the shared counters. */
static struct depth_entry depths[SL_SHM_DESTS_MAX];
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t published_ms;
static _Atomic bool depths_changed;   /* since the last publication */

static void table_init(void)
{
	table_ok = sl_throttle_table_init(&table, TABLE_SLOTS) == 0;
	if (!table_ok)
		sl_err("delivery: creating the throttle table failed; throttle rules are not applied");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The policy of the current snapshot, or NULL when there is none. */
static const struct sl_policy *current_policy(void)
{
	const struct sl_snapshot *snap = sl_sluiced_snapshot();

	pthread_once(&table_once, table_init);
	if (!table_ok || !snap || !snap->policy)
		return NULL;
	return snap->policy;
}

static void count_throttled(struct deliver *d)
{
	struct sl_shm_worker *shm = sl_sluiced_counters(d->w);

	if (shm)
		atomic_fetch_add_explicit(&shm->throttled, 1, memory_order_relaxed);
}

static void fill_dest(struct deliver *d, const char *domain, const char *mx,
		      struct sl_throttle_dest *out)
{
	out->domain = domain;
	out->mx = mx && mx[0] ? mx : NULL;
	out->source = d->source_text[0] ? d->source_text : NULL;
}

bool deliver_throttle_admit(struct deliver *d, struct sl_sched_dest *dest, size_t *max_rcpts)
{
	const struct sl_policy *policy = current_policy();
	struct sl_throttle_dest td;
	struct sl_resolved res;
	uint64_t wait_ns = 0, wait_ms;
	enum sl_admit verdict;

	if (!policy || dest->ready_count == 0)
		return true;
	fill_dest(d, dest->ready.next->domain, dest->target_count ? dest->target[0].host : NULL, &td);
	verdict = sl_throttle_check_fleet(&table, sl_fleet_current(), policy, &td, mono_ns(), &wait_ns,
					  &res);
	if (verdict == SL_ADMIT_GO) {
		if ((res.limits.set & SL_LIMIT_RCPTS_PER_TXN) && res.limits.rcpts_per_txn > 0 &&
		    res.limits.rcpts_per_txn < *max_rcpts)
			*max_rcpts = res.limits.rcpts_per_txn;
		return true;
	}
	count_throttled(d);
	wait_ms = wait_ns / 1000000 + 1;
	if (wait_ms > HOLD_MAX_MS)
		wait_ms = HOLD_MAX_MS;
	sl_sched_dest_hold(d->sched, dest, deliver_now_ms() + wait_ms);
	/* The loop's tick timer may be armed later than the hold's end. */
	if (d->tick.deadline == 0 || d->tick.deadline > sl_worker_now(d->w) + wait_ms)
		sl_timer_arm(d->w, &d->tick, wait_ms);
	return false;
}

int deliver_throttle_defer(struct deliver *d, struct sl_sched_rcpt *r, uint64_t now_ms)
{
	const struct sl_policy *policy = current_policy();
	const struct sl_sched_dest *dest = r->dest;
	struct sl_sched_retry retry = { 0 };
	struct sl_throttle_dest td;
	struct sl_resolved res;

	if (!policy)
		return sl_sched_defer(d->sched, r, now_ms);
	fill_dest(d, r->domain, dest && dest->target_count ? dest->target[0].host : NULL, &td);
	sl_policy_resolve(policy, td.domain, td.mx, td.source, &res);
	if ((res.limits.set & SL_LIMIT_RETRY) && res.limits.nretry > 0) {
		retry.intervals_s = res.limits.retry_s;
		retry.count = res.limits.nretry;
	}
	/* NOTE: the spool does not store the rule's maximum age, so after a
	 * restart a recipient has the config's again until its next deferral. */
	if ((res.limits.set & SL_LIMIT_MAX_AGE) && res.limits.max_age_s > 0)
		retry.max_age_ms = (uint64_t)res.limits.max_age_s * 1000;
	return sl_sched_defer_with(d->sched, r, now_ms, &retry);
}

bool deliver_throttle_conn_open(struct dconn *c)
{
	struct deliver *d = c->d;
	const struct sl_policy *policy = current_policy();
	struct sl_throttle_dest td;
	struct sl_resolved res;
	struct sl_throttle_slot *slot;

	c->msgs_max = (unsigned)d->cfg->messages_per_connection;
	if (!policy)
		return true;
	fill_dest(d, c->domain, c->host, &td);
	sl_policy_resolve(policy, td.domain, td.mx, td.source, &res);
	if ((res.limits.set & SL_LIMIT_MSGS_PER_CONN) && res.limits.msgs_per_conn > 0)
		c->msgs_max = res.limits.msgs_per_conn;
	if (!(res.limits.set & SL_LIMIT_CONNECTIONS) || res.limits.connections == 0)
		return true;
	slot = sl_throttle_slot_get(&table, res.rate_key);
	if (!slot)
		return true;
	if (sl_limit_acquire(&slot->connections, res.limits.connections) != 0) {
		count_throttled(d);
		/* Another worker's connection may close; look again soon. */
		sl_sched_dest_hold(d->sched, c->dest, deliver_now_ms() + 100);
		return false;
	}
	c->conn_slot = slot;
	return true;
}

void deliver_throttle_conn_closed(struct dconn *c)
{
	if (c->conn_slot)
		sl_limit_release(&c->conn_slot->connections);
	c->conn_slot = NULL;
}

void deliver_throttle_reply(struct dconn *c, const char *domain, const struct sl_smtp_reply *reply)
{
	const struct sl_policy *policy = current_policy();
	struct sl_throttle_dest td;
	enum sl_reply_effect effect;
	char text[sizeof(reply->text) + 32];
	uint64_t now = mono_ns();
	uint64_t elapsed_ms = deliver_now_ms() - c->attempt_started_ms;

	if (!policy || reply->local || !domain || !domain[0])
		return;
	/* The backoff rules match the whole reply, enhanced code included. */
	snprintf(text, sizeof(text), "%d %s%s%s", reply->code, reply->enhanced,
		 reply->enhanced[0] ? " " : "", reply->text);
	fill_dest(c->d, domain, c->host, &td);
	if (c->attempt_started_ms == 0 || elapsed_ms * 1000000 > now)
		elapsed_ms = 0;
	effect = sl_throttle_reply(&table, policy, &td, reply->code, text, now,
				   now - elapsed_ms * 1000000);
	if (effect == SL_REPLY_BACKOFF_STARTED)
		sl_warn("delivery: backoff started for domain=%s after reply from %s: %s", domain,
			c->host, text);
	else if (effect == SL_REPLY_BACKOFF_ENDED)
		sl_info("delivery: backoff ended early for domain=%s after a success", domain);
}

/* Queue depth. */

static struct depth_entry *depth_entry(const char *domain)
{
	size_t i;

	for (i = 0; i < SL_SHM_DESTS_MAX; i++) {
		struct depth_entry *e = &depths[i];
		uint32_t used = atomic_load_explicit(&e->used, memory_order_acquire);

		if (used == 2 && strcmp(e->name, domain) == 0)
			return e;
		if (used == 0) {
			uint32_t expected = 0;

			if (atomic_compare_exchange_strong(&e->used, &expected, 1)) {
				snprintf(e->name, sizeof(e->name), "%s", domain);
				atomic_store_explicit(&e->used, 2, memory_order_release);
				return e;
			}
		}
		/* Another worker is writing this entry's name: wait for it. */
		while (atomic_load_explicit(&e->used, memory_order_acquire) == 1)
			;
		if (strcmp(e->name, domain) == 0)
			return e;
	}
	return NULL;   /* NOTE: domains past SL_SHM_DESTS_MAX are not counted */
}

void deliver_throttle_queued(const char *domain, int delta)
{
	struct depth_entry *e = depth_entry(domain);

	if (e)
		atomic_fetch_add_explicit(&e->depth, delta, memory_order_relaxed);
	atomic_store_explicit(&depths_changed, true, memory_order_relaxed);
}

/* The end of the longest suspension or slowdown that applies to DOMAIN,
 * in seconds since the epoch, or 0. */
static int64_t suspended_until(const struct sl_policy *policy, const char *domain,
			       char *reason, size_t reason_len)
{
	struct sl_resolved res;
	char key[SL_THROTTLE_KEY_MAX];
	uint64_t longest = 0, now = mono_ns();

	reason[0] = '\0';
	sl_policy_resolve(policy, domain, NULL, NULL, &res);
	for (size_t i = 0; i <= res.nrules; i++) {
		struct sl_throttle_slot *slot;
		uint64_t remaining = 0;

		if (i == res.nrules)
			snprintf(key, sizeof(key), "domain:%s", domain);
		else
			sl_policy_rule_key(res.rules[i], domain, NULL, key, sizeof(key));
		slot = sl_throttle_slot_get(&table, key);
		if (!slot || sl_throttle_state(slot, now, &remaining) != SL_STATE_SUSPENDED)
			continue;
		if (remaining > longest) {
			longest = remaining;
			snprintf(reason, reason_len, "%s", slot->reason);
		}
	}
	if (longest == 0)
		return 0;
	return (int64_t)time(NULL) + (int64_t)((longest + SL_NS_PER_SEC - 1) / SL_NS_PER_SEC);
}

static void publish_depths(const struct sl_policy *policy)
{
	struct sl_shm *shm = sl_sluiced_shm();
	uint64_t now = deliver_now_ms();

	if (!shm) {
		atomic_store(&depths_changed, false);   /* no shared memory, so no reader */
		return;
	}
	if (now - published_ms < PUBLISH_EVERY_MS)
		return;
	if (pthread_mutex_trylock(&publish_lock) != 0)
		return;
	published_ms = now;
	atomic_store(&depths_changed, false);
	for (uint32_t i = 0; i < SL_SHM_DESTS_MAX; i++) {
		struct depth_entry *e = &depths[i];
		char reason[64] = "";
		int64_t until = 0;

		if (atomic_load_explicit(&e->used, memory_order_acquire) != 2)
			break;
		if (policy)
			until = suspended_until(policy, e->name, reason, sizeof(reason));
		sl_shm_dest_set(shm, i, e->name, atomic_load(&e->depth), until, reason);
	}
	pthread_mutex_unlock(&publish_lock);
}

/* Snapshot suspensions and actions. */

static void apply_suspensions(const struct sl_snapshot *snap)
{
	uint64_t now = mono_ns();
	int64_t wall = (int64_t)time(NULL);

	pthread_mutex_lock(&apply_lock);
	if (snap->generation == applied_generation) {
		pthread_mutex_unlock(&apply_lock);
		return;
	}
	/* Keys suspended by the last snapshot and absent now are resumed. */
	for (size_t i = 0; i < applied_count; i++) {
		bool kept = false;

		for (size_t j = 0; j < snap->nsuspensions && !kept; j++)
			kept = strcmp(applied_keys[i], snap->suspensions[j].key) == 0;
		if (!kept) {
			struct sl_throttle_slot *slot = sl_throttle_slot_get(&table, applied_keys[i]);

			if (slot)
				sl_throttle_resume(slot, now);
			sl_info("delivery: operator suspension of %s ended", applied_keys[i]);
		}
	}
	free(applied_keys);
	applied_keys = calloc(snap->nsuspensions + 1, sizeof(*applied_keys));
	applied_count = 0;
	for (size_t j = 0; j < snap->nsuspensions; j++) {
		const struct sl_snap_suspension *s = &snap->suspensions[j];

		if (sl_throttle_suspend_key(&table, s->key, s->until, wall, now, s->reason) < 0)
			sl_warn("delivery: throttle table full; suspension of %s not applied", s->key);
		if (applied_keys)
			snprintf(applied_keys[applied_count++], sizeof(applied_keys[0]), "%s", s->key);
	}
	applied_generation = snap->generation;
	pthread_mutex_unlock(&apply_lock);
}

static void apply_actions(struct deliver *d, const struct sl_snapshot *snap)
{
	uint64_t newest = d->action_seq;

	for (size_t i = 0; i < snap->nactions; i++) {
		const struct sl_snap_action *a = &snap->actions[i];

		if (a->seq > newest)
			newest = a->seq;
		/* NOTE: actions already listed in the first snapshot a worker
		 * receives are taken as done, so a restarted sluiced never repeats
		 * an old bounce. An action sent while sluiced was down is lost. */
		if (!d->actions_seen || a->seq <= d->action_seq)
			continue;
		switch (a->kind) {
		case SL_SNAP_RESUME:
			sl_throttle_resume_domain(&table, snap->policy, a->domain, mono_ns());
			sl_info("delivery: worker=%u resumed domain=%s", sl_worker_index(d->w), a->domain);
			/* Resumed recipients need not wait for their retry. */
			__attribute__((fallthrough));
		case SL_SNAP_RETRY: {
			size_t n = sl_sched_retry_domain(d->sched, a->domain, deliver_now_ms());

			sl_info("delivery: worker=%u retrying %zu recipients of domain=%s",
				sl_worker_index(d->w), n, a->domain);
			break;
		}
		case SL_SNAP_BOUNCE: {
			char why[400];
			size_t n;

			snprintf(why, sizeof(why), "bounced by the operator (queue bounce %s)", a->domain);
			n = sl_sched_bounce_domain(d->sched, a->domain, "5.0.0", why);
			sl_info("delivery: worker=%u bounced %zu recipients of domain=%s",
				sl_worker_index(d->w), n, a->domain);
			break;
		}
		}
	}
	d->action_seq = newest;
	d->actions_seen = true;
}

void deliver_throttle_sync(struct deliver *d)
{
	const struct sl_policy *policy = current_policy();
	const struct sl_snapshot *snap = sl_sluiced_snapshot();

	if (table_ok && snap && snap->policy) {
		apply_suspensions(snap);
		if (snap->generation != d->snapshot_generation) {
			apply_actions(d, snap);
			d->snapshot_generation = snap->generation;
		}
	}
	publish_depths(policy);
	/* A change made after the last publication needs one more loop
	 * iteration even when nothing else wakes this worker. */
	if (atomic_load_explicit(&depths_changed, memory_order_relaxed) &&
	    (d->tick.deadline == 0 || d->tick.deadline > sl_worker_now(d->w) + PUBLISH_EVERY_MS))
		sl_timer_arm(d->w, &d->tick, PUBLISH_EVERY_MS);
}
