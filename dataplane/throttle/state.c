/*
 * dataplane/throttle/state.c - live throttle state: key table, admission
 * and backoff. See state.h for the contract.
 *
 * Memory ordering: a backoff is published by writing backoff_since, the
 * state and the slow rate first and backoff_until last with release
 * ordering; readers load backoff_until with acquire ordering before the
 * other fields, so they never see a new end time with an old start time.
 */
#include "dataplane/throttle/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t sl_throttle_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;	/* 0 marks a free slot */
}

int sl_throttle_table_init(struct sl_throttle_table *table, size_t capacity)
{
	size_t n = 16;

	while (n < capacity)
		n <<= 1;
	table->slots = aligned_alloc(64, n * sizeof(*table->slots));
	if (!table->slots)
		return -ENOMEM;
	memset(table->slots, 0, n * sizeof(*table->slots));
	table->capacity = n;
	return 0;
}

void sl_throttle_table_free(struct sl_throttle_table *table)
{
	free(table->slots);
	table->slots = NULL;
	table->capacity = 0;
}

struct sl_throttle_slot *sl_throttle_slot_get(struct sl_throttle_table *table,
					      const char *key)
{
	uint64_t h = sl_throttle_hash(key);
	size_t mask = table->capacity - 1, i, probe;

	for (probe = 0; probe < table->capacity; probe++) {
		struct sl_throttle_slot *s;
		uint64_t cur, expected = 0;

		i = (h + probe) & mask;
		s = &table->slots[i];
		cur = atomic_load_explicit(&s->hash, memory_order_acquire);
		if (cur == h)
			return s;
		if (cur != 0)
			continue;
		if (atomic_compare_exchange_strong_explicit(
			    &s->hash, &expected, h, memory_order_acq_rel,
			    memory_order_acquire)) {
			snprintf(s->key, sizeof(s->key), "%s", key);
			atomic_store_explicit(&s->ready, 1, memory_order_release);
			return s;
		}
		if (expected == h)
			return s;
	}
	return NULL;
}

enum sl_backoff_state sl_throttle_state(struct sl_throttle_slot *slot,
					uint64_t now_ns, uint64_t *remaining_ns)
{
	uint64_t until = atomic_load_explicit(&slot->backoff_until, memory_order_acquire);

	if (until <= now_ns)
		return SL_STATE_OPEN;
	if (remaining_ns)
		*remaining_ns = until - now_ns;
	return (enum sl_backoff_state)atomic_load_explicit(&slot->backoff_state,
							   memory_order_relaxed);
}

enum sl_admit sl_throttle_admit(struct sl_throttle_slot *slot,
				const struct sl_limits *limits,
				uint64_t now_ns, uint64_t *wait_ns)
{
	uint64_t remaining = 0, wait = 0;
	enum sl_backoff_state st = sl_throttle_state(slot, now_ns, &remaining);

	if (st == SL_STATE_SUSPENDED) {
		*wait_ns = remaining;
		atomic_fetch_add_explicit(&slot->throttled, 1, memory_order_relaxed);
		return SL_ADMIT_SUSPENDED;
	}
	if (st == SL_STATE_SLOWED) {
		struct sl_gcra_params p = {
			.interval_ns = atomic_load_explicit(&slot->slow_interval_ns,
							    memory_order_relaxed),
			.tolerance_ns = 0,
		};

		if (sl_gcra_take(&slot->slow, &p, now_ns, &wait) != 0) {
			*wait_ns = wait;
			atomic_fetch_add_explicit(&slot->throttled, 1, memory_order_relaxed);
			return SL_ADMIT_SLOWED;
		}
	}
	if (limits->set & SL_LIMIT_RATE) {
		struct sl_gcra_params p = sl_gcra_params(limits->rate.count,
							 limits->rate.period_s,
							 limits->rate.burst);

		if (sl_gcra_take(&slot->rate, &p, now_ns, &wait) != 0) {
			*wait_ns = wait;
			atomic_fetch_add_explicit(&slot->throttled, 1, memory_order_relaxed);
			return SL_ADMIT_RATE;
		}
	}
	*wait_ns = 0;
	return SL_ADMIT_GO;
}

/* Publishes a backoff; the caller owns backoff_since (see claim). */
static void publish(struct sl_throttle_slot *slot, enum sl_backoff_state st,
		    uint64_t until, uint64_t slow_interval, bool end_on_success,
		    const char *reason)
{
	snprintf(slot->reason, sizeof(slot->reason), "%s", reason);
	atomic_store_explicit(&slot->slow_interval_ns, slow_interval, memory_order_relaxed);
	atomic_store_explicit(&slot->end_on_success, end_on_success, memory_order_relaxed);
	atomic_store_explicit(&slot->backoff_state, st, memory_order_relaxed);
	atomic_store_explicit(&slot->backoff_until, until, memory_order_release);
}

enum sl_backoff_result sl_throttle_backoff_start(struct sl_throttle_slot *slot,
						 const struct sl_backoff_rule *rule,
						 uint64_t now_ns,
						 uint64_t attempt_start_ns)
{
	uint64_t until = atomic_load_explicit(&slot->backoff_until, memory_order_acquire);
	uint64_t since = atomic_load_explicit(&slot->backoff_since, memory_order_relaxed);
	uint64_t slow = 0;

	if (until > now_ns || attempt_start_ns < since)
		return SL_BACKOFF_IGNORED;
	/* Claim the start: of several workers that see the same reply
	 * pattern at once, only the one whose CAS succeeds publishes. */
	if (!atomic_compare_exchange_strong_explicit(&slot->backoff_since, &since, now_ns,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return SL_BACKOFF_IGNORED;
	if (rule->action == SL_BACKOFF_SLOW)
		slow = sl_gcra_params(rule->slow_rate.count, rule->slow_rate.period_s, 1).interval_ns;
	publish(slot, rule->action == SL_BACKOFF_SLOW ? SL_STATE_SLOWED : SL_STATE_SUSPENDED,
		now_ns + (uint64_t)rule->duration_s * SL_NS_PER_SEC, slow,
		rule->end_on_success, rule->name);
	return SL_BACKOFF_STARTED;
}

int sl_throttle_on_success(struct sl_throttle_slot *slot, uint64_t now_ns,
			   uint64_t attempt_start_ns)
{
	uint64_t until = atomic_load_explicit(&slot->backoff_until, memory_order_acquire);
	uint64_t since = atomic_load_explicit(&slot->backoff_since, memory_order_relaxed);

	if (until <= now_ns || attempt_start_ns < since ||
	    !atomic_load_explicit(&slot->end_on_success, memory_order_relaxed))
		return 0;
	return atomic_compare_exchange_strong_explicit(&slot->backoff_until, &until, now_ns,
						       memory_order_acq_rel,
						       memory_order_relaxed)
		       ? 1 : 0;
}

void sl_throttle_suspend(struct sl_throttle_slot *slot, uint64_t now_ns,
			 uint64_t duration_ns, const char *reason)
{
	atomic_store_explicit(&slot->backoff_since, now_ns, memory_order_relaxed);
	publish(slot, SL_STATE_SUSPENDED, now_ns + duration_ns, 0, false, reason);
}

void sl_throttle_resume(struct sl_throttle_slot *slot, uint64_t now_ns)
{
	atomic_store_explicit(&slot->backoff_until, now_ns, memory_order_release);
}
