/*
 * dataplane/throttle/state.h - live throttle state shared by the workers.
 *
 * A fixed-size table of keys ("domain:example.com", "provider:gmail",
 * "mx:mx1.example.net|192.0.2.1"), each with a GCRA rate limiter, a
 * connection counter and a backoff state (suspended or slowed until a
 * time). Keys are inserted lock-free by compare-and-swap on their 64-bit
 * hash and never removed, so a slot pointer stays valid for the table's
 * life and workers keep it in their destination records.
 *
 * Backoff follows three rules:
 *  - a matching reply while a suspension or slowdown is active never
 *    extends it, and neither does a reply to an attempt that started
 *    before the current or last backoff began (it was caused by the old
 *    state, not by new sending);
 *  - a success ends it early only when its rule says end_on_success and
 *    the attempt started after the backoff began;
 *  - the operator can suspend or resume a key at any time.
 *
 * Times are nanoseconds on the caller's monotonic clock.
 *
 * NOTE: keys are identified by their FNV-1a hash alone; two keys with
 * the same 64-bit hash would share one slot.
 */
#ifndef SLUICE_DATAPLANE_THROTTLE_STATE_H
#define SLUICE_DATAPLANE_THROTTLE_STATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/throttle/gcra.h"
#include "dataplane/throttle/policy.h"

#define SL_THROTTLE_KEY_MAX 128

enum sl_backoff_state {
	SL_STATE_OPEN = 0,
	SL_STATE_SUSPENDED,
	SL_STATE_SLOWED,
};

struct sl_throttle_slot {
	_Atomic uint64_t hash;		/* 0: free */
	_Atomic uint32_t ready;		/* key text written */
	char key[SL_THROTTLE_KEY_MAX];
	struct sl_gcra rate;
	struct sl_gcra slow;
	_Atomic uint32_t connections;
	_Atomic uint64_t throttled;	/* attempts held back */
	_Atomic uint64_t backoff_since;	/* start of the current or last backoff */
	_Atomic uint64_t backoff_until;	/* its end; open when <= now */
	_Atomic uint32_t backoff_state;
	_Atomic uint32_t end_on_success;
	_Atomic uint64_t slow_interval_ns;
	char reason[SL_POLICY_NAME_MAX];
} __attribute__((aligned(64)));

struct sl_throttle_table {
	size_t capacity;	/* a power of two */
	struct sl_throttle_slot *slots;
};

enum sl_admit {
	SL_ADMIT_GO = 0,
	SL_ADMIT_RATE,		/* rate limit: try again after *wait_ns */
	SL_ADMIT_SLOWED,	/* backoff slowdown: try after *wait_ns */
	SL_ADMIT_SUSPENDED,	/* suspended until now + *wait_ns */
};

enum sl_backoff_result {
	SL_BACKOFF_STARTED = 0,
	SL_BACKOFF_IGNORED,	/* already active, or caused by it */
};

int sl_throttle_table_init(struct sl_throttle_table *table, size_t capacity);
void sl_throttle_table_free(struct sl_throttle_table *table);

/* Finds KEY or inserts it. Returns NULL when the table is full. */
struct sl_throttle_slot *sl_throttle_slot_get(struct sl_throttle_table *table,
					      const char *key);

/* Decides whether one message to this key may be sent now, and takes
 * its rate slot when it may. */
enum sl_admit sl_throttle_admit(struct sl_throttle_slot *slot,
				const struct sl_limits *limits,
				uint64_t now_ns, uint64_t *wait_ns);

enum sl_backoff_result sl_throttle_backoff_start(struct sl_throttle_slot *slot,
						 const struct sl_backoff_rule *rule,
						 uint64_t now_ns,
						 uint64_t attempt_start_ns);

/* Returns 1 when the success ended a backoff early, else 0. */
int sl_throttle_on_success(struct sl_throttle_slot *slot, uint64_t now_ns,
			   uint64_t attempt_start_ns);

enum sl_backoff_state sl_throttle_state(struct sl_throttle_slot *slot,
					uint64_t now_ns, uint64_t *remaining_ns);

/* Operator actions: suspend for DURATION_NS, or end any backoff now. */
void sl_throttle_suspend(struct sl_throttle_slot *slot, uint64_t now_ns,
			 uint64_t duration_ns, const char *reason);
void sl_throttle_resume(struct sl_throttle_slot *slot, uint64_t now_ns);

uint64_t sl_throttle_hash(const char *key);

#endif
