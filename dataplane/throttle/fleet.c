/*
 * dataplane/throttle/fleet.c - lease accounting and the Redis link state
 * machine for fleet-wide rate limits. See fleet.h for the contract.
 *
 * Memory ordering: slot counts and counters guard no other memory, so
 * they use relaxed atomics like gcra.c. The link state is published with
 * release ordering after the leases are dropped, so a worker that loads
 * "fallback" finds no lease from before the failure.
 */
#include "dataplane/throttle/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A worker whose lease is empty tries again after the rule's interval,
 * but at least this often, because a lease may arrive at any moment. */
#define WAIT_MAX_NS (20ULL * 1000 * 1000)
#define WAIT_MIN_NS (1ULL * 1000 * 1000)

static struct sl_fleet *_Atomic current;

static const char *const state_names[SL_FLEET_STATES] = {
	[SL_FLEET_OFF] = "off",
	[SL_FLEET_CONNECTING] = "connecting",
	[SL_FLEET_LEASING] = "leasing",
	[SL_FLEET_FALLBACK] = "fallback",
};

/* The link state machine. Every failure leads to fallback and every
 * success to leasing; "off" never changes. */
static const enum sl_fleet_state transitions[SL_FLEET_STATES][SL_FLEET_EVENTS] = {
	[SL_FLEET_OFF] = { SL_FLEET_OFF, SL_FLEET_OFF },
	[SL_FLEET_CONNECTING] = { SL_FLEET_LEASING, SL_FLEET_FALLBACK },
	[SL_FLEET_LEASING] = { SL_FLEET_LEASING, SL_FLEET_FALLBACK },
	[SL_FLEET_FALLBACK] = { SL_FLEET_LEASING, SL_FLEET_FALLBACK },
};

const char *sl_fleet_state_name(enum sl_fleet_state state)
{
	return state < SL_FLEET_STATES ? state_names[state] : "unknown";
}

struct sl_fleet *sl_fleet_current(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

void sl_fleet_set_current(struct sl_fleet *fleet)
{
	atomic_store_explicit(&current, fleet, memory_order_release);
}

int sl_fleet_init(struct sl_fleet *fleet, const struct sl_fleet_config *cfg, size_t capacity)
{
	size_t n = 16;

	memset(fleet, 0, sizeof(*fleet));
	while (n < capacity)
		n <<= 1;
	fleet->entries = aligned_alloc(64, n * sizeof(*fleet->entries));
	if (!fleet->entries)
		return -ENOMEM;
	memset(fleet->entries, 0, n * sizeof(*fleet->entries));
	fleet->capacity = n;
	fleet->cfg = *cfg;
	if (fleet->cfg.fleet_size == 0)
		fleet->cfg.fleet_size = 1;
	if (fleet->cfg.lease_size == 0)
		fleet->cfg.lease_size = 1;
	fleet->wake_fd = -1;
	fleet->link.state = SL_FLEET_CONNECTING;
	atomic_store(&fleet->state, SL_FLEET_CONNECTING);
	return 0;
}

void sl_fleet_free(struct sl_fleet *fleet)
{
	free(fleet->entries);
	fleet->entries = NULL;
	fleet->capacity = 0;
}

static uint64_t key_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;	/* 0 marks a free entry */
}

struct sl_fleet_entry *sl_fleet_entry_get(struct sl_fleet *fleet, const char *key)
{
	uint64_t h = key_hash(key);
	size_t mask = fleet->capacity - 1;

	for (size_t probe = 0; probe < fleet->capacity; probe++) {
		struct sl_fleet_entry *e = &fleet->entries[(h + probe) & mask];
		uint64_t expected = 0;
		uint64_t cur = atomic_load_explicit(&e->hash, memory_order_acquire);

		if (cur == h)
			return e;
		if (cur != 0)
			continue;
		if (atomic_compare_exchange_strong_explicit(&e->hash, &expected, h,
							    memory_order_acq_rel,
							    memory_order_acquire)) {
			snprintf(e->key, sizeof(e->key), "%s", key);
			atomic_store_explicit(&e->ready, 1, memory_order_release);
			return e;
		}
		if (expected == h)
			return e;
	}
	return NULL;
}

static void request_lease(struct sl_fleet *fleet)
{
	uint64_t one = 1;

	if (atomic_exchange_explicit(&fleet->wake, 1, memory_order_relaxed))
		return;
	/* The eventfd is non-blocking, so the write never waits. It fails
	 * only when the counter is full, and then the thread is awake. */
	if (fleet->wake_fd >= 0 && write(fleet->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static uint64_t rate_interval_ns(const struct sl_rate *rate)
{
	return sl_gcra_params(rate->count, rate->period_s, 1).interval_ns;
}

uint32_t sl_fleet_lease_slots(const struct sl_fleet_config *cfg, const struct sl_rate *rate)
{
	unsigned __int128 by_rate;

	if (rate->count == 0 || rate->period_s == 0)
		return cfg->lease_size;
	by_rate = (unsigned __int128)rate->count * cfg->lease_ns /
		  ((unsigned __int128)rate->period_s * SL_NS_PER_SEC);
	if (by_rate < 1)
		by_rate = 1;
	return by_rate < cfg->lease_size ? (uint32_t)by_rate : cfg->lease_size;
}

struct sl_gcra_params sl_fleet_fallback_params(const struct sl_rate *rate, uint32_t fleet_size)
{
	struct sl_gcra_params p = sl_gcra_params(rate->count, rate->period_s, 1);
	uint32_t burst;

	if (fleet_size == 0)
		fleet_size = 1;
	burst = rate->burst / fleet_size;
	if (burst == 0)
		burst = 1;
	p.interval_ns *= fleet_size;
	p.tolerance_ns = p.interval_ns * (burst - 1);
	return p;
}

static void note_rate(struct sl_fleet_entry *e, const struct sl_rate *rate)
{
	if (atomic_load_explicit(&e->count, memory_order_relaxed) != rate->count)
		atomic_store_explicit(&e->count, rate->count, memory_order_relaxed);
	if (atomic_load_explicit(&e->period_s, memory_order_relaxed) != rate->period_s)
		atomic_store_explicit(&e->period_s, rate->period_s, memory_order_relaxed);
	if (atomic_load_explicit(&e->burst, memory_order_relaxed) != rate->burst)
		atomic_store_explicit(&e->burst, rate->burst, memory_order_relaxed);
}

enum sl_fleet_take sl_fleet_take(struct sl_fleet *fleet, const char *key,
				 const struct sl_rate *rate, uint64_t now_ns,
				 uint64_t *wait_ns, struct sl_fleet_entry **entry)
{
	struct sl_fleet_entry *e = sl_fleet_entry_get(fleet, key);
	uint64_t wait;
	int64_t left;

	/* NOTE: a full entry table enforces the remaining keys at the
	 * fallback rate; size it for the fleet keys in use. */
	if (!e)
		return SL_FLEET_LOCAL;
	note_rate(e, rate);
	/* The time matters to a lease time's precision, so the shared line
	 * is written at most once a millisecond, not once per message. */
	if (now_ns - atomic_load_explicit(&e->requested_ns, memory_order_relaxed) >= WAIT_MIN_NS)
		atomic_store_explicit(&e->requested_ns, now_ns, memory_order_relaxed);
	if (atomic_load_explicit(&fleet->state, memory_order_acquire) != SL_FLEET_LEASING)
		return SL_FLEET_LOCAL;

	left = atomic_load_explicit(&e->slots, memory_order_relaxed);
	for (;;) {
		if (left <= 0 || now_ns >= atomic_load_explicit(&e->expires_ns, memory_order_relaxed)) {
			request_lease(fleet);
			wait = rate_interval_ns(rate);
			if (wait > WAIT_MAX_NS)
				wait = WAIT_MAX_NS;
			*wait_ns = wait < WAIT_MIN_NS ? WAIT_MIN_NS : wait;
			return SL_FLEET_WAIT;
		}
		if (atomic_compare_exchange_weak_explicit(&e->slots, &left, left - 1,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	atomic_fetch_add_explicit(&e->spent, 1, memory_order_relaxed);
	if (left - 1 <= (int64_t)(sl_fleet_lease_slots(&fleet->cfg, rate) / 2))
		request_lease(fleet);
	*entry = e;
	return SL_FLEET_GO;
}

void sl_fleet_give_back(struct sl_fleet_entry *entry)
{
	atomic_fetch_add_explicit(&entry->slots, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&entry->spent, 1, memory_order_relaxed);
}

uint32_t sl_fleet_want(struct sl_fleet *fleet, struct sl_fleet_entry *e,
		       uint64_t now_ns, uint32_t *min_grant)
{
	struct sl_rate rate = {
		.count = atomic_load_explicit(&e->count, memory_order_relaxed),
		.period_s = atomic_load_explicit(&e->period_s, memory_order_relaxed),
		.burst = atomic_load_explicit(&e->burst, memory_order_relaxed),
	};
	uint64_t wanted = atomic_load_explicit(&e->requested_ns, memory_order_relaxed);
	int64_t left = atomic_load_explicit(&e->slots, memory_order_relaxed);
	uint32_t full, want;

	if (rate.count == 0 || !atomic_load_explicit(&e->ready, memory_order_acquire))
		return 0;
	/* An idle key gets no lease: no worker requested a slot within the
	 * last lease time. */
	if (wanted + fleet->cfg.lease_ns < now_ns)
		return 0;
	if (now_ns < e->next_request_ns)
		return 0;
	if (now_ns >= atomic_load_explicit(&e->expires_ns, memory_order_relaxed) || left < 0)
		left = 0;
	full = sl_fleet_lease_slots(&fleet->cfg, &rate);
	if (left > (int64_t)(full / 2))
		return 0;
	want = full - (uint32_t)left;
	*min_grant = want / 2 ? want / 2 : 1;
	return want;
}

void sl_fleet_grant(struct sl_fleet *fleet, struct sl_fleet_entry *e, uint32_t granted,
		    uint64_t now_ns)
{
	e->next_request_ns = 0;
	if (granted == 0)
		return;
	atomic_store_explicit(&e->expires_ns, now_ns + fleet->cfg.lease_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->slots, granted, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->leases, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->granted, granted, memory_order_relaxed);
}

void sl_fleet_defer(struct sl_fleet_entry *e, uint64_t now_ns, uint64_t wait_ns)
{
	e->next_request_ns = now_ns + wait_ns;
}

int64_t sl_fleet_expire(struct sl_fleet_entry *e, uint64_t now_ns)
{
	int64_t n;

	if (atomic_load_explicit(&e->slots, memory_order_relaxed) <= 0 ||
	    now_ns < atomic_load_explicit(&e->expires_ns, memory_order_relaxed))
		return 0;
	n = atomic_exchange_explicit(&e->slots, 0, memory_order_relaxed);
	if (n > 0)
		atomic_fetch_add_explicit(&e->expired, (uint64_t)n, memory_order_relaxed);
	return n > 0 ? n : 0;
}

void sl_fleet_drop_leases(struct sl_fleet *fleet)
{
	for (size_t i = 0; i < fleet->capacity; i++) {
		struct sl_fleet_entry *e = &fleet->entries[i];
		int64_t n;

		if (!atomic_load_explicit(&e->ready, memory_order_acquire))
			continue;
		n = atomic_exchange_explicit(&e->slots, 0, memory_order_relaxed);
		if (n > 0)
			atomic_fetch_add_explicit(&e->expired, (uint64_t)n, memory_order_relaxed);
		e->next_request_ns = 0;
	}
}

uint64_t sl_fleet_retry_delay(const struct sl_fleet_config *cfg, uint32_t failures)
{
	uint64_t delay = cfg->retry_min_ns;

	for (uint32_t i = 1; i < failures && delay < cfg->retry_max_ns; i++)
		delay *= 2;
	return delay < cfg->retry_max_ns ? delay : cfg->retry_max_ns;
}

bool sl_fleet_link_event(struct sl_fleet *fleet, enum sl_fleet_event event, uint64_t now_ns)
{
	struct sl_fleet_link *l = &fleet->link;
	enum sl_fleet_state next = transitions[l->state][event];

	if (event == SL_FLEET_EV_SUCCESS) {
		l->failures = 0;
		l->retry_at_ns = 0;
	} else {
		l->failures++;
		l->retry_at_ns = now_ns + sl_fleet_retry_delay(&fleet->cfg, l->failures);
		atomic_fetch_add_explicit(&fleet->redis_errors, 1, memory_order_relaxed);
	}
	if (next == l->state)
		return false;
	/* Leases from before a failure are dropped before workers learn of
	 * it; in fallback they spend the local share instead. */
	if (next == SL_FLEET_FALLBACK)
		sl_fleet_drop_leases(fleet);
	l->state = next;
	l->since_ns = now_ns;
	atomic_store_explicit(&fleet->state, next, memory_order_release);
	return true;
}

bool sl_fleet_link_may_try(const struct sl_fleet *fleet, uint64_t now_ns)
{
	return now_ns >= fleet->link.retry_at_ns;
}
