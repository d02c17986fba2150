/*
 * dataplane/throttle/enforce.c - throttle checks for the scheduler. See
 * enforce.h.
 */
#include "dataplane/throttle/enforce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define YEAR_NS (365ULL * 86400 * SL_NS_PER_SEC)

/* Admits one message under a fleet rate: backoff states first, then a
 * leased slot and the local pace of the full rate, or in fallback the
 * local share of the rate alone. */
static enum sl_admit admit_fleet(struct sl_throttle_slot *slot, struct sl_fleet *fleet,
				 const struct sl_resolved *res, uint64_t now_ns, uint64_t *wait_ns)
{
	struct sl_limits backoff_only = res->limits;
	struct sl_fleet_entry *entry = NULL;
	struct sl_gcra_params p;
	enum sl_admit verdict;
	uint64_t wait = 0;

	backoff_only.set &= ~SL_LIMIT_RATE;
	verdict = sl_throttle_admit(slot, &backoff_only, now_ns, wait_ns);
	if (verdict != SL_ADMIT_GO)
		return verdict;
	switch (sl_fleet_take(fleet, res->fleet_key, &res->limits.rate, now_ns, &wait, &entry)) {
	case SL_FLEET_GO:
		p = sl_gcra_params(res->limits.rate.count, res->limits.rate.period_s,
				   res->limits.rate.burst);
		break;
	case SL_FLEET_WAIT:
		*wait_ns = wait;
		atomic_fetch_add_explicit(&slot->throttled, 1, memory_order_relaxed);
		return SL_ADMIT_RATE;
	case SL_FLEET_LOCAL:
	default:
		p = sl_fleet_fallback_params(&res->limits.rate, fleet->cfg.fleet_size);
		break;
	}
	if (sl_gcra_take(&slot->rate, &p, now_ns, &wait) != 0) {
		/* The leased slot stays with this appliance for the next try. */
		if (entry)
			sl_fleet_give_back(entry);
		*wait_ns = wait;
		atomic_fetch_add_explicit(&slot->throttled, 1, memory_order_relaxed);
		return SL_ADMIT_RATE;
	}
	*wait_ns = 0;
	return SL_ADMIT_GO;
}

enum sl_admit sl_throttle_check(struct sl_throttle_table *table, const struct sl_policy *policy,
				const struct sl_throttle_dest *dest, uint64_t now_ns,
				uint64_t *wait_ns, struct sl_resolved *resolved)
{
	return sl_throttle_check_fleet(table, NULL, policy, dest, now_ns, wait_ns, resolved);
}

enum sl_admit sl_throttle_check_fleet(struct sl_throttle_table *table, struct sl_fleet *fleet,
				      const struct sl_policy *policy,
				      const struct sl_throttle_dest *dest, uint64_t now_ns,
				      uint64_t *wait_ns, struct sl_resolved *resolved)
{
	struct sl_resolved local;
	struct sl_resolved *res = resolved ? resolved : &local;
	struct sl_throttle_slot *slot, *own;
	char key[SL_THROTTLE_KEY_MAX];
	uint64_t wait = 0;
	enum sl_admit verdict;

	sl_policy_resolve(policy, dest->domain, dest->mx, dest->source, res);
	/* An operator suspension is keyed by the domain itself, whatever
	 * rule sets its rate. */
	snprintf(key, sizeof(key), "domain:%s", dest->domain);
	own = sl_throttle_slot_get(table, key);
	if (own && sl_throttle_state(own, now_ns, &wait) == SL_STATE_SUSPENDED) {
		*wait_ns = wait;
		atomic_fetch_add_explicit(&own->throttled, 1, memory_order_relaxed);
		return SL_ADMIT_SUSPENDED;
	}
	/* A backoff started by a rule's reply patterns lives on that rule's
	 * key, which may differ from the key that carries the rate. */
	for (size_t i = 0; i < res->nrules; i++) {
		struct sl_limits none = { 0 };

		if (res->rules[i]->nbackoff == 0)
			continue;
		sl_policy_rule_key(res->rules[i], dest->domain, dest->mx, key, sizeof(key));
		if (strcmp(key, res->rate_key) == 0 || !(slot = sl_throttle_slot_get(table, key)))
			continue;
		verdict = sl_throttle_admit(slot, &none, now_ns, wait_ns);
		if (verdict != SL_ADMIT_GO)
			return verdict;
	}
	slot = sl_throttle_slot_get(table, res->rate_key);
	if (!slot) {
		/* NOTE: a full table admits without limits rather than
		 * stopping delivery; size it for the destinations in use. */
		*wait_ns = 0;
		return SL_ADMIT_GO;
	}
	if (fleet && res->fleet_key[0] && (res->limits.set & SL_LIMIT_RATE))
		return admit_fleet(slot, fleet, res, now_ns, wait_ns);
	return sl_throttle_admit(slot, &res->limits, now_ns, wait_ns);
}

enum sl_reply_effect sl_throttle_reply(struct sl_throttle_table *table, const struct sl_policy *policy,
				       const struct sl_throttle_dest *dest, int code, const char *text,
				       uint64_t now_ns, uint64_t attempt_start_ns)
{
	const struct sl_policy_rule *owner = NULL;
	const struct sl_backoff_rule *rule;
	struct sl_throttle_slot *slot;
	struct sl_resolved res;
	char key[SL_THROTTLE_KEY_MAX];
	size_t i;
	int ended = 0;

	sl_policy_resolve(policy, dest->domain, dest->mx, dest->source, &res);
	if (code >= 200 && code < 300) {
		/* A success may end the backoff of any rule that covers it. */
		for (i = 0; i < res.nrules; i++) {
			sl_policy_rule_key(res.rules[i], dest->domain, dest->mx, key, sizeof(key));
			slot = sl_throttle_slot_get(table, key);
			if (slot)
				ended |= sl_throttle_on_success(slot, now_ns, attempt_start_ns);
		}
		return ended ? SL_REPLY_BACKOFF_ENDED : SL_REPLY_NONE;
	}
	rule = sl_policy_match_backoff(&res, code, text, &owner);
	if (!rule)
		return SL_REPLY_NONE;
	sl_policy_rule_key(owner, dest->domain, dest->mx, key, sizeof(key));
	slot = sl_throttle_slot_get(table, key);
	if (!slot)
		return SL_REPLY_NONE;
	if (sl_throttle_backoff_start(slot, rule, now_ns, attempt_start_ns) == SL_BACKOFF_STARTED)
		return SL_REPLY_BACKOFF_STARTED;
	return SL_REPLY_BACKOFF_IGNORED;
}

int sl_throttle_suspend_key(struct sl_throttle_table *table, const char *key, int64_t until_epoch,
			    int64_t wall_now, uint64_t now_ns, const char *reason)
{
	struct sl_throttle_slot *slot = sl_throttle_slot_get(table, key);
	uint64_t duration = YEAR_NS;

	if (!slot)
		return -ENOSPC;
	if (until_epoch != 0) {
		if (until_epoch <= wall_now)
			return 0;
		duration = (uint64_t)(until_epoch - wall_now) * SL_NS_PER_SEC;
	}
	sl_throttle_suspend(slot, now_ns, duration, reason);
	return 0;
}

void sl_throttle_resume_domain(struct sl_throttle_table *table, const struct sl_policy *policy,
			       const char *domain, uint64_t now_ns)
{
	struct sl_throttle_slot *slot;
	struct sl_resolved res;
	char key[SL_THROTTLE_KEY_MAX];
	size_t i;

	snprintf(key, sizeof(key), "domain:%s", domain);
	if ((slot = sl_throttle_slot_get(table, key)))
		sl_throttle_resume(slot, now_ns);
	sl_policy_resolve(policy, domain, NULL, NULL, &res);
	for (i = 0; i < res.nrules; i++) {
		sl_policy_rule_key(res.rules[i], domain, NULL, key, sizeof(key));
		if ((slot = sl_throttle_slot_get(table, key)))
			sl_throttle_resume(slot, now_ns);
	}
}
