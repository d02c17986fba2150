/*
 * dataplane/throttle/enforce.h - the calls a delivery scheduler makes to
 * apply throttle rules, built from the policy (policy.h) and the live
 * state table (state.h).
 *
 *   before an attempt  sl_throttle_check(): resolve the destination's
 *                      rules, take a rate slot, report how long to wait
 *   on a reply         sl_throttle_reply(): match the backoff rules and
 *                      start a suspension or slowdown of the key of the
 *                      rule that matched; a 2xx may end one early
 *   on a snapshot      sl_throttle_apply_suspensions(): operator
 *                      suspensions; sl_throttle_resume_domain(): the
 *                      "resume" queue action
 *
 * All of them are safe to call from several workers at once; none
 * blocks or allocates after the table is made. Times are nanoseconds on
 * a monotonic clock, except snapshot "until" values, which are seconds
 * since the epoch and are converted with the caller's WALL_NOW.
 */
#ifndef SLUICE_DATAPLANE_THROTTLE_ENFORCE_H
#define SLUICE_DATAPLANE_THROTTLE_ENFORCE_H

#include <stdint.h>

#include "dataplane/throttle/fleet.h"
#include "dataplane/throttle/policy.h"
#include "dataplane/throttle/state.h"

struct sl_throttle_dest {
	const char *domain;
	const char *mx;		/* NULL when not known yet */
	const char *source;	/* egress address; NULL for any */
};

/* Returns SL_ADMIT_GO or why not, with *wait_ns to wait. RESOLVED, when
 * not NULL, receives the limits that apply (connections, messages per
 * connection, recipients per transaction, retry, maximum age). */
enum sl_admit sl_throttle_check(struct sl_throttle_table *table, const struct sl_policy *policy,
				const struct sl_throttle_dest *dest, uint64_t now_ns,
				uint64_t *wait_ns, struct sl_resolved *resolved);

/*
 * sl_throttle_check() with fleet-wide rates: when the rule that sets the
 * rate is marked fleet, a message also needs a slot leased from FLEET
 * (fleet.h), or, while FLEET is not leasing, it goes at the local share
 * of the rate. With FLEET NULL, fleet rules are enforced locally at
 * their full rate, as for an appliance that is its own fleet.
 */
enum sl_admit sl_throttle_check_fleet(struct sl_throttle_table *table, struct sl_fleet *fleet,
				      const struct sl_policy *policy,
				      const struct sl_throttle_dest *dest, uint64_t now_ns,
				      uint64_t *wait_ns, struct sl_resolved *resolved);

enum sl_reply_effect {
	SL_REPLY_NONE = 0,	/* no backoff rule matched, or a success */
	SL_REPLY_BACKOFF_STARTED,
	SL_REPLY_BACKOFF_IGNORED,	/* matched, but a backoff was already active */
	SL_REPLY_BACKOFF_ENDED,	/* a success ended a backoff early */
};

/* Applies one SMTP reply (CODE and its full TEXT) to an attempt that
 * started at ATTEMPT_START_NS. */
enum sl_reply_effect sl_throttle_reply(struct sl_throttle_table *table, const struct sl_policy *policy,
				       const struct sl_throttle_dest *dest, int code, const char *text,
				       uint64_t now_ns, uint64_t attempt_start_ns);

/* Suspends KEY ("domain:example.com") until UNTIL_EPOCH; 0 means until
 * resumed, kept as one year. WALL_NOW is seconds since the epoch at
 * NOW_NS. Returns -ENOSPC when the table is full. */
int sl_throttle_suspend_key(struct sl_throttle_table *table, const char *key, int64_t until_epoch,
			    int64_t wall_now, uint64_t now_ns, const char *reason);
/* Ends every suspension or slowdown of keys that limit DOMAIN. */
void sl_throttle_resume_domain(struct sl_throttle_table *table, const struct sl_policy *policy,
			       const char *domain, uint64_t now_ns);

#endif
