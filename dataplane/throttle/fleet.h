/*
 * dataplane/throttle/fleet.h - fleet-wide rate limits spent from local
 * leases.
 *
 * A rule marked "fleet" limits the sum of all appliances that share one
 * Redis. Workers never call Redis: a service thread requests a lease of
 * up to N message slots from Redis at a time (one script call, GCRA over
 * Redis TIME) and adds it to the key's entry here; workers take slots
 * from the entry with a compare-and-swap, exactly like the local GCRA.
 * When a key's leased slots run low, the taking worker sets a wake flag
 * (and writes the service thread's eventfd once), so the next lease is
 * requested before the last slot is spent.
 *
 * Link states (one per process, a table in fleet.c):
 *
 *   connecting  no Redis answer yet since start
 *   leasing     the last Redis call succeeded; fleet rules spend leases
 *   fallback    the last call failed or timed out; fleet rules are
 *               enforced locally at the rule's rate divided by the
 *               configured fleet size, and the service thread reconnects
 *               with exponential backoff
 *
 * In "connecting" workers also use the fallback rate, so an appliance
 * never sends a fleet key faster than its local share before Redis has
 * answered. sl_fleet_link_event() returns true on a state change, which
 * is when the caller logs, so a long outage logs one line, not one per
 * message or per retry.
 *
 * Leases are bounded in size (lease_size, and never more than the rule
 * allows in lease_ns) and in time: slots not spent within lease_ns of
 * the grant lapse, so an appliance that stops or dies holds at most one
 * lease of the fleet budget, and only for lease_ns.
 *
 * Threads: sl_fleet_take() and sl_fleet_give_back() are called by any
 * worker; the sl_fleet_link_*(), sl_fleet_want(), sl_fleet_grant(),
 * sl_fleet_expire() and sl_fleet_drop_leases() calls belong to the one
 * service thread. Times are nanoseconds on the caller's monotonic clock.
 *
 * Ownership: sl_fleet_init() allocates the entry table, freed by
 * sl_fleet_free(). Entries are never removed, so an entry pointer stays
 * valid for the table's life.
 */
#ifndef SLUICE_DATAPLANE_THROTTLE_FLEET_H
#define SLUICE_DATAPLANE_THROTTLE_FLEET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/throttle/gcra.h"
#include "dataplane/throttle/policy.h"

#define SL_FLEET_KEY_MAX 160

enum sl_fleet_state {
	SL_FLEET_OFF = 0,	/* no fleet section: fleet rules are local */
	SL_FLEET_CONNECTING,
	SL_FLEET_LEASING,
	SL_FLEET_FALLBACK,
	SL_FLEET_STATES,
};

enum sl_fleet_event {
	SL_FLEET_EV_SUCCESS = 0,	/* a Redis call answered in time */
	SL_FLEET_EV_FAILURE,		/* connect, timeout, I/O or script error */
	SL_FLEET_EVENTS,
};

enum sl_fleet_take {
	SL_FLEET_GO = 0,	/* one leased slot taken */
	SL_FLEET_WAIT,		/* no leased slot left: try after *wait_ns */
	SL_FLEET_LOCAL,		/* not leasing: apply the fallback rate */
};

struct sl_fleet_config {
	uint32_t lease_size;		/* most slots one lease may hold */
	uint64_t lease_ns;		/* a lease's lifetime */
	uint32_t fleet_size;		/* appliances sharing the limits */
	uint64_t retry_min_ns;		/* first reconnect delay */
	uint64_t retry_max_ns;		/* longest reconnect delay */
};

struct sl_fleet_entry {
	_Atomic uint64_t hash;		/* 0: free */
	_Atomic uint32_t ready;		/* key text written */
	char key[SL_FLEET_KEY_MAX];
	/* The rule's rate as last seen by a worker. */
	_Atomic uint32_t count, period_s, burst;
	_Atomic int64_t slots;		/* leased slots left */
	_Atomic uint64_t expires_ns;	/* when the left slots lapse */
	_Atomic uint64_t requested_ns;	/* last time a worker requested a slot */
	uint64_t next_request_ns;	/* service thread: no request before */
	_Atomic uint64_t leases, granted, spent, expired;
} __attribute__((aligned(64)));

struct sl_fleet_link {
	enum sl_fleet_state state;
	uint32_t failures;		/* consecutive, since the last success */
	uint64_t retry_at_ns;		/* next connect attempt */
	uint64_t since_ns;		/* last state change */
};

struct sl_fleet {
	struct sl_fleet_config cfg;
	struct sl_fleet_entry *entries;
	size_t capacity;		/* a power of two */
	_Atomic uint32_t state;		/* enum sl_fleet_state, for workers */
	_Atomic uint32_t wake;		/* a worker wants a lease soon */
	int wake_fd;			/* eventfd of the service thread; -1: none */
	struct sl_fleet_link link;	/* service thread only */
	_Atomic uint64_t redis_errors;
};

int sl_fleet_init(struct sl_fleet *fleet, const struct sl_fleet_config *cfg, size_t capacity);
void sl_fleet_free(struct sl_fleet *fleet);

/* The process's fleet, or NULL when none is configured (set by the
 * service at start, before workers deliver). */
struct sl_fleet *sl_fleet_current(void);
void sl_fleet_set_current(struct sl_fleet *fleet);

/* Finds KEY or inserts it. Returns NULL when the table is full. */
struct sl_fleet_entry *sl_fleet_entry_get(struct sl_fleet *fleet, const char *key);

/*
 * Worker: take one leased slot of KEY, whose rule rate is RATE. *entry
 * receives the entry (for sl_fleet_give_back) when the result is
 * SL_FLEET_GO; *wait_ns is set on SL_FLEET_WAIT.
 */
enum sl_fleet_take sl_fleet_take(struct sl_fleet *fleet, const char *key,
				 const struct sl_rate *rate, uint64_t now_ns,
				 uint64_t *wait_ns, struct sl_fleet_entry **entry);
/* Returns a slot taken by sl_fleet_take() that was not used. */
void sl_fleet_give_back(struct sl_fleet_entry *entry);

/* GCRA parameters of the local share of RATE in fallback: the interval
 * times the fleet size, the burst divided by it (at least 1). */
struct sl_gcra_params sl_fleet_fallback_params(const struct sl_rate *rate, uint32_t fleet_size);

/* Slots in a full lease of RATE: lease_size, but no more than the rate
 * allows in lease_ns, and at least 1. */
uint32_t sl_fleet_lease_slots(const struct sl_fleet_config *cfg, const struct sl_rate *rate);

/*
 * Service thread: the number of slots to request for ENTRY now (0:
 * none), and in *min_grant the fewest worth a grant. A request is due
 * when a worker requested a slot within the last lease_ns and at most
 * half a lease is left.
 */
uint32_t sl_fleet_want(struct sl_fleet *fleet, struct sl_fleet_entry *entry,
		       uint64_t now_ns, uint32_t *min_grant);
/* Adds GRANTED slots; they lapse at NOW_NS + lease_ns. */
void sl_fleet_grant(struct sl_fleet *fleet, struct sl_fleet_entry *entry,
		    uint32_t granted, uint64_t now_ns);
/* After a refusal: ask Redis again for ENTRY no earlier than WAIT_NS. */
void sl_fleet_defer(struct sl_fleet_entry *entry, uint64_t now_ns, uint64_t wait_ns);
/* Drops lapsed slots; returns how many. */
int64_t sl_fleet_expire(struct sl_fleet_entry *entry, uint64_t now_ns);
/* Drops every entry's slots (the link was lost). */
void sl_fleet_drop_leases(struct sl_fleet *fleet);

/* Applies EVENT to the link state machine; returns true when the state
 * changed. A failure also sets the next reconnect time. */
bool sl_fleet_link_event(struct sl_fleet *fleet, enum sl_fleet_event event, uint64_t now_ns);
/* True when a reconnect attempt is due. */
bool sl_fleet_link_may_try(const struct sl_fleet *fleet, uint64_t now_ns);
/* The reconnect delay after FAILURES consecutive failures. */
uint64_t sl_fleet_retry_delay(const struct sl_fleet_config *cfg, uint32_t failures);

const char *sl_fleet_state_name(enum sl_fleet_state state);

#endif
