/*
 * dataplane/sched.c - delivery scheduler. Contract in sched.h.
 *
 * Timer wheel: WHEEL_SLOTS lists, slot = (due / tick) % WHEEL_SLOTS. A
 * recipient due beyond one revolution stays in its slot and is skipped
 * until its time comes. Domains live in a chained hash table.
 */
#include "dataplane/sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define WHEEL_SLOTS 4096
#define DOMAIN_BUCKETS 4096

enum domain_state {
	DOMAIN_NEW,
	DOMAIN_RESOLVING,
	DOMAIN_RESOLVED,
};

struct domain {
	struct domain *next;
	char name[256];
	enum domain_state state;
	uint64_t expires_ms;
	struct sl_sched_dest *dest;
	struct sl_sched_rcpt waiting;   /* list head */
	size_t waiting_count;
};

struct sl_sched {
	struct sl_sched_config cfg;
	struct sl_sched_ops ops;
	void *ctx;
	uint32_t rng;
	uint64_t tick;                  /* last processed tick */
	struct sl_sched_rcpt wheel[WHEEL_SLOTS];
	size_t wheel_count;
	size_t resolving_count;
	size_t ready_count;
	struct domain *domains[DOMAIN_BUCKETS];
	struct sl_sched_dest *dests;
	struct sl_sched_dest *runnable;
	size_t held;                    /* destinations with hold_until_ms set */
};

/* Intrusive list with a sentinel head. */

static void list_init(struct sl_sched_rcpt *h)
{
	h->next = h->prev = h;
}

static int list_empty(const struct sl_sched_rcpt *h)
{
	return h->next == h;
}

static void list_append(struct sl_sched_rcpt *h, struct sl_sched_rcpt *r)
{
	r->prev = h->prev;
	r->next = h;
	h->prev->next = r;
	h->prev = r;
}

static void list_unlink(struct sl_sched_rcpt *r)
{
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

void sl_sched_default_config(struct sl_sched_config *c)
{
	c->max_connections = 20;
	c->messages_per_connection = 100;
	c->recipients_per_transaction = 100;
	c->idle_ms = 10 * 1000;
	c->retry_initial_ms = 5 * 60 * 1000;
	c->retry_max_ms = 4 * 3600 * 1000;
	c->jitter_percent = 20;
	c->max_age_ms = 4ull * 24 * 3600 * 1000;
	c->dest_down_ms = 60 * 1000;
	c->tick_ms = 1000;
}

struct sl_sched *sl_sched_new(const struct sl_sched_config *c, const struct sl_sched_ops *ops,
			      void *ctx, uint64_t now_ms, uint32_t seed)
{
	struct sl_sched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *c;
	if (s->cfg.tick_ms == 0)
		s->cfg.tick_ms = 1000;
	s->ops = *ops;
	s->ctx = ctx;
	s->rng = seed ? seed : 0x9e3779b9u;
	s->tick = now_ms / s->cfg.tick_ms;
	for (size_t i = 0; i < WHEEL_SLOTS; i++)
		list_init(&s->wheel[i]);
	return s;
}

void sl_sched_free(struct sl_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < DOMAIN_BUCKETS; i++) {
		struct domain *d = s->domains[i];

		while (d) {
			struct domain *next = d->next;

			free(d);
			d = next;
		}
	}
	while (s->dests) {
		struct sl_sched_dest *next = s->dests->next_all;

		free(s->dests);
		s->dests = next;
	}
	free(s);
}

const struct sl_sched_config *sl_sched_config(const struct sl_sched *s)
{
	return &s->cfg;
}

void sl_sched_counts(const struct sl_sched *s, size_t *wheel, size_t *resolving, size_t *ready)
{
	*wheel = s->wheel_count;
	*resolving = s->resolving_count;
	*ready = s->ready_count;
}

static uint32_t next_random(struct sl_sched *s)
{
	/* xorshift32: jitter only needs to spread retries, not to be secret. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 17;
	s->rng ^= s->rng << 5;
	return s->rng;
}

/* Domains. */

static struct domain *domain_get(struct sl_sched *s, const char *name)
{
	unsigned h = 2166136261u;
	struct domain *d;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= DOMAIN_BUCKETS;
	for (d = s->domains[h]; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	snprintf(d->name, sizeof(d->name), "%s", name);
	list_init(&d->waiting);
	d->next = s->domains[h];
	s->domains[h] = d;
	return d;
}

static struct sl_sched_dest *dest_get(struct sl_sched *s, const char *key)
{
	struct sl_sched_dest *d;

	for (d = s->dests; d; d = d->next_all)
		if (strcmp(d->key, key) == 0)
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	snprintf(d->key, sizeof(d->key), "%s", key);
	list_init(&d->ready);
	d->next_all = s->dests;
	s->dests = d;
	return d;
}

/* Runnable list: destinations that may start work now. */

int sl_sched_dest_can_open(const struct sl_sched *s, const struct sl_sched_dest *d,
			   uint64_t now_ms)
{
	return d->active < s->cfg.max_connections && now_ms >= d->down_until_ms &&
	       now_ms >= d->hold_until_ms;
}

static void mark_runnable(struct sl_sched *s, struct sl_sched_dest *d)
{
	if (d->on_runnable || d->ready_count == 0)
		return;
	d->on_runnable = 1;
	d->next_runnable = s->runnable;
	s->runnable = d;
}

struct sl_sched_dest *sl_sched_runnable(struct sl_sched *s, uint64_t now_ms)
{
	while (s->runnable) {
		struct sl_sched_dest *d = s->runnable;

		s->runnable = d->next_runnable;
		d->on_runnable = 0;
		if (now_ms < d->hold_until_ms)
			continue;   /* made runnable again when the hold ends */
		if (d->ready_count > 0 && (d->idle > 0 || sl_sched_dest_can_open(s, d, now_ms)))
			return d;
	}
	return NULL;
}

/* Wheel. */

static void wheel_insert(struct sl_sched *s, struct sl_sched_rcpt *r)
{
	uint64_t tick = r->due_ms / s->cfg.tick_ms;

	/* Never file into a slot already passed in this revolution. */
	if (tick <= s->tick)
		tick = s->tick + 1;
	list_append(&s->wheel[tick % WHEEL_SLOTS], r);
	r->where = SL_SCHED_WHEEL;
	s->wheel_count++;
}

static uint64_t max_age_ms(const struct sl_sched *s, const struct sl_sched_rcpt *r)
{
	return r->max_age_ms ? r->max_age_ms : s->cfg.max_age_ms;
}

static int expired(const struct sl_sched *s, const struct sl_sched_rcpt *r, uint64_t now_ms)
{
	return now_ms >= r->arrival_ms + max_age_ms(s, r);
}

/* NOTE: deferrals without an SMTP attempt (lookup failure, destination
 * down) use the config's retry schedule, not a throttle rule's. */
static void defer_or_expire(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms,
			    const char *enhanced, const char *why)
{
	if (sl_sched_defer(s, r, now_ms) < 0)
		s->ops.expired(s->ctx, r);
	else
		s->ops.failed(s->ctx, r, 0, enhanced, why);
}

static void to_ready(struct sl_sched *s, struct sl_sched_dest *d, struct sl_sched_rcpt *r,
		     uint64_t now_ms)
{
	if (now_ms < d->down_until_ms) {
		char why[400];

		snprintf(why, sizeof(why), "delivery to %s temporarily suspended after failures",
			 d->key);
		r->where = SL_SCHED_NOWHERE;
		defer_or_expire(s, r, now_ms, "4.4.1", why);
		return;
	}
	r->dest = d;
	r->where = SL_SCHED_READY;
	list_append(&d->ready, r);
	d->ready_count++;
	s->ready_count++;
	mark_runnable(s, d);
}

/* Send a due recipient towards its destination. */
static void route(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms)
{
	struct domain *d = domain_get(s, r->domain);

	if (expired(s, r, now_ms)) {
		r->where = SL_SCHED_NOWHERE;
		s->ops.expired(s->ctx, r);
		return;
	}
	if (d->state == DOMAIN_RESOLVED && now_ms < d->expires_ms) {
		to_ready(s, d->dest, r, now_ms);
		return;
	}
	r->where = SL_SCHED_RESOLVING;
	list_append(&d->waiting, r);
	d->waiting_count++;
	s->resolving_count++;
	if (d->state != DOMAIN_RESOLVING) {
		d->state = DOMAIN_RESOLVING;
		s->ops.resolve(s->ctx, d->name);
	}
}

void sl_sched_add(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms)
{
	if (r->due_ms > now_ms) {
		wheel_insert(s, r);
		return;
	}
	route(s, r, now_ms);
}

void sl_sched_remove(struct sl_sched *s, struct sl_sched_rcpt *r)
{
	switch (r->where) {
	case SL_SCHED_WHEEL:
		list_unlink(r);
		s->wheel_count--;
		break;
	case SL_SCHED_RESOLVING:
		list_unlink(r);
		s->resolving_count--;
		domain_get(s, r->domain)->waiting_count--;
		break;
	case SL_SCHED_READY:
		list_unlink(r);
		s->ready_count--;
		r->dest->ready_count--;
		break;
	default:
		break;
	}
	r->where = SL_SCHED_NOWHERE;
}

static uint64_t backoff_ms(struct sl_sched *s, uint32_t attempts,
			   const struct sl_sched_retry *retry)
{
	uint64_t delay = s->cfg.retry_initial_ms;

	if (retry && retry->count > 0) {
		uint32_t i = attempts - 1 < retry->count ? attempts - 1 : retry->count - 1;

		delay = (uint64_t)retry->intervals_s[i] * 1000;
	} else {
		for (uint32_t i = 1; i < attempts && delay < s->cfg.retry_max_ms; i++)
			delay *= 2;
		if (delay > s->cfg.retry_max_ms)
			delay = s->cfg.retry_max_ms;
	}
	if (s->cfg.jitter_percent)
		delay += (delay * s->cfg.jitter_percent / 100) * (next_random(s) % 1000) / 1000;
	return delay;
}

int sl_sched_defer(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms)
{
	return sl_sched_defer_with(s, r, now_ms, NULL);
}

int sl_sched_defer_with(struct sl_sched *s, struct sl_sched_rcpt *r, uint64_t now_ms,
			const struct sl_sched_retry *retry)
{
	uint64_t limit;

	if (retry && retry->max_age_ms)
		r->max_age_ms = retry->max_age_ms;
	limit = r->arrival_ms + max_age_ms(s, r);
	sl_sched_remove(s, r);
	r->attempts++;
	if (now_ms >= limit)
		return -ETIMEDOUT;
	r->due_ms = now_ms + backoff_ms(s, r->attempts, retry);
	/* The last retry happens at the maximum age, where it expires. */
	if (r->due_ms > limit)
		r->due_ms = limit;
	wheel_insert(s, r);
	return 0;
}

void sl_sched_dest_hold(struct sl_sched *s, struct sl_sched_dest *d, uint64_t until_ms)
{
	if (d->hold_until_ms == 0)
		s->held++;
	if (until_ms > d->hold_until_ms)
		d->hold_until_ms = until_ms;
}

static void release_holds(struct sl_sched *s, uint64_t now_ms)
{
	for (struct sl_sched_dest *d = s->dests; d && s->held > 0; d = d->next_all) {
		if (d->hold_until_ms == 0 || now_ms < d->hold_until_ms)
			continue;
		d->hold_until_ms = 0;
		s->held--;
		mark_runnable(s, d);
	}
}

static uint64_t first_hold_end(const struct sl_sched *s)
{
	uint64_t first = UINT64_MAX;

	if (s->held == 0)
		return first;
	for (const struct sl_sched_dest *d = s->dests; d; d = d->next_all)
		if (d->hold_until_ms != 0 && d->hold_until_ms < first)
			first = d->hold_until_ms;
	return first;
}

size_t sl_sched_retry_domain(struct sl_sched *s, const char *domain, uint64_t now_ms)
{
	struct sl_sched_rcpt due;
	size_t moved = 0;

	list_init(&due);
	for (size_t i = 0; i < WHEEL_SLOTS; i++) {
		struct sl_sched_rcpt *head = &s->wheel[i], *r = head->next;

		while (r != head) {
			struct sl_sched_rcpt *next = r->next;

			if (strcmp(r->domain, domain) == 0) {
				list_unlink(r);
				s->wheel_count--;
				list_append(&due, r);
			}
			r = next;
		}
	}
	while (!list_empty(&due)) {
		struct sl_sched_rcpt *r = due.next;

		list_unlink(r);
		r->where = SL_SCHED_NOWHERE;
		r->due_ms = now_ms;
		route(s, r, now_ms);
		moved++;
	}
	return moved;
}

size_t sl_sched_bounce_domain(struct sl_sched *s, const char *domain, const char *enhanced,
			      const char *why)
{
	struct sl_sched_rcpt doomed;
	struct domain *dom = domain_get(s, domain);
	size_t bounced = 0;

	list_init(&doomed);
	for (size_t i = 0; i < WHEEL_SLOTS; i++) {
		struct sl_sched_rcpt *head = &s->wheel[i], *r = head->next;

		while (r != head) {
			struct sl_sched_rcpt *next = r->next;

			if (strcmp(r->domain, domain) == 0) {
				list_unlink(r);
				s->wheel_count--;
				list_append(&doomed, r);
			}
			r = next;
		}
	}
	while (!list_empty(&dom->waiting)) {
		struct sl_sched_rcpt *r = dom->waiting.next;

		list_unlink(r);
		dom->waiting_count--;
		s->resolving_count--;
		list_append(&doomed, r);
	}
	for (struct sl_sched_dest *d = s->dests; d; d = d->next_all) {
		struct sl_sched_rcpt *r = d->ready.next;

		while (r != &d->ready) {
			struct sl_sched_rcpt *next = r->next;

			if (strcmp(r->domain, domain) == 0) {
				list_unlink(r);
				d->ready_count--;
				s->ready_count--;
				list_append(&doomed, r);
			}
			r = next;
		}
	}
	while (!list_empty(&doomed)) {
		struct sl_sched_rcpt *r = doomed.next;

		list_unlink(r);
		r->where = SL_SCHED_NOWHERE;
		s->ops.failed(s->ctx, r, 1, enhanced, why);
		bounced++;
	}
	return bounced;
}

void sl_sched_advance(struct sl_sched *s, uint64_t now_ms)
{
	uint64_t now_tick = now_ms / s->cfg.tick_ms;
	struct sl_sched_rcpt due;
	uint64_t steps;

	release_holds(s, now_ms);
	if (now_tick <= s->tick)
		return;
	list_init(&due);
	steps = now_tick - s->tick;
	if (steps > WHEEL_SLOTS)
		steps = WHEEL_SLOTS;
	for (uint64_t i = 1; i <= steps; i++) {
		struct sl_sched_rcpt *head = &s->wheel[(s->tick + i) % WHEEL_SLOTS];
		struct sl_sched_rcpt *r = head->next;

		while (r != head) {
			struct sl_sched_rcpt *next = r->next;

			if (r->due_ms / s->cfg.tick_ms <= now_tick) {
				list_unlink(r);
				s->wheel_count--;
				list_append(&due, r);
			}
			r = next;
		}
	}
	s->tick = now_tick;
	while (!list_empty(&due)) {
		struct sl_sched_rcpt *r = due.next;

		list_unlink(r);
		r->where = SL_SCHED_NOWHERE;
		route(s, r, now_ms);
	}
}

uint64_t sl_sched_next_due(const struct sl_sched *s, uint64_t now_ms)
{
	uint64_t next = (s->tick + 1) * s->cfg.tick_ms;
	uint64_t hold = first_hold_end(s);

	if (s->wheel_count == 0)
		next = UINT64_MAX;
	if (hold < next)
		next = hold;
	if (next == UINT64_MAX)
		return next;
	return next > now_ms ? next - now_ms : 0;
}

static void fail_waiting(struct sl_sched *s, struct domain *d, int permanent,
			 const char *enhanced, const char *why, uint64_t now_ms)
{
	while (!list_empty(&d->waiting)) {
		struct sl_sched_rcpt *r = d->waiting.next;

		list_unlink(r);
		d->waiting_count--;
		s->resolving_count--;
		r->where = SL_SCHED_NOWHERE;
		if (permanent)
			s->ops.failed(s->ctx, r, 1, enhanced, why);
		else
			defer_or_expire(s, r, now_ms, enhanced, why);
	}
}

void sl_sched_domain_resolved(struct sl_sched *s, const char *domain,
			      enum sl_sched_domain_status status, const char *enhanced,
			      const char *why, const char *dest_key,
			      const struct sl_sched_target *targets, unsigned target_count,
			      uint64_t ttl_ms, uint64_t now_ms)
{
	struct domain *d = domain_get(s, domain);

	if (status != SL_SCHED_DOMAIN_OK) {
		d->state = DOMAIN_NEW;
		fail_waiting(s, d, status == SL_SCHED_DOMAIN_PERMFAIL, enhanced, why, now_ms);
		return;
	}

	struct sl_sched_dest *dest = dest_get(s, dest_key);

	if (target_count > SL_SCHED_MAX_TARGETS)
		target_count = SL_SCHED_MAX_TARGETS;
	memcpy(dest->target, targets, target_count * sizeof(*targets));
	dest->target_count = target_count;
	d->dest = dest;
	d->state = DOMAIN_RESOLVED;
	d->expires_ms = now_ms + ttl_ms;
	while (!list_empty(&d->waiting)) {
		struct sl_sched_rcpt *r = d->waiting.next;

		list_unlink(r);
		d->waiting_count--;
		s->resolving_count--;
		to_ready(s, dest, r, now_ms);
	}
}

size_t sl_sched_take(struct sl_sched *s, struct sl_sched_dest *d, uint64_t now_ms,
		     struct sl_sched_rcpt **out, size_t max)
{
	const void *group = NULL;
	size_t n = 0;

	if (max > s->cfg.recipients_per_transaction)
		max = s->cfg.recipients_per_transaction;
	struct sl_sched_rcpt *r = d->ready.next;

	while (r != &d->ready && n < max) {
		struct sl_sched_rcpt *next = r->next;

		if (expired(s, r, now_ms)) {
			sl_sched_remove(s, r);
			s->ops.expired(s->ctx, r);
		} else if (!group || r->group == group) {
			group = r->group;
			sl_sched_remove(s, r);
			r->where = SL_SCHED_IN_FLIGHT;
			r->dest = d;
			out[n++] = r;
		} else {
			/* Recipients of one message are queued next to each
			 * other; stopping here keeps a take O(batch). */
			break;
		}
		r = next;
	}
	return n;
}

void sl_sched_conn_opened(struct sl_sched *s, struct sl_sched_dest *d)
{
	(void)s;
	d->active++;
}

void sl_sched_conn_idle(struct sl_sched *s, struct sl_sched_dest *d, int idle)
{
	if (idle) {
		d->idle++;
		mark_runnable(s, d);
	} else if (d->idle > 0) {
		d->idle--;
	}
}

void sl_sched_conn_closed(struct sl_sched *s, struct sl_sched_dest *d)
{
	if (d->active > 0)
		d->active--;
	mark_runnable(s, d);
}

void sl_sched_dest_down_with(struct sl_sched *s, struct sl_sched_dest *d, uint64_t now_ms,
			     const char *enhanced, const char *why)
{
	d->down_until_ms = now_ms + s->cfg.dest_down_ms;
	sl_warn("delivery: destination %s down for %llu ms: %s", d->key,
		(unsigned long long)s->cfg.dest_down_ms, why);
	while (!list_empty(&d->ready))
		defer_or_expire(s, d->ready.next, now_ms, enhanced, why);
}

void sl_sched_dest_down(struct sl_sched *s, struct sl_sched_dest *d, uint64_t now_ms,
			const char *why)
{
	sl_sched_dest_down_with(s, d, now_ms, "4.4.1", why);
}
