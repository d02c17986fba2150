/*
 * Unit tests for dataplane/throttle/fleet: lease accounting (take, give
 * back, want, grant, expiry), the fallback rate, the Redis link state
 * machine with its reconnect backoff, and fleet rules through
 * sl_throttle_check_fleet(), all on a simulated clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dataplane/throttle/enforce.h"
#include "dataplane/throttle/fleet.h"

#define MS (SL_NS_PER_SEC / 1000)
#define SEC SL_NS_PER_SEC
#define T0 (1000 * SEC)

static const struct sl_fleet_config config = {
	.lease_size = 10,
	.lease_ns = 1 * SEC,
	.fleet_size = 2,
	.retry_min_ns = 100 * MS,
	.retry_max_ns = 1 * SEC,
};

static const struct sl_rate ten_per_second = { 10, 1, 1 };

static int setup(void **state)
{
	static struct sl_fleet fleet;

	if (sl_fleet_init(&fleet, &config, 16) != 0)
		return -1;
	*state = &fleet;
	return 0;
}

static int teardown(void **state)
{
	sl_fleet_free(*state);
	return 0;
}

static void make_leasing(struct sl_fleet *f)
{
	assert_true(sl_fleet_link_event(f, SL_FLEET_EV_SUCCESS, T0));
	assert_int_equal(atomic_load(&f->state), SL_FLEET_LEASING);
}

static void connecting_uses_local_share(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_fleet_entry *e = NULL;
	uint64_t wait = 0;

	assert_int_equal(atomic_load(&f->state), SL_FLEET_CONNECTING);
	assert_int_equal(sl_fleet_take(f, "domain:a.test", &ten_per_second, T0, &wait, &e),
			 SL_FLEET_LOCAL);
	/* The key is known now, so the service thread can lease for it. */
	assert_non_null(sl_fleet_entry_get(f, "domain:a.test"));
}

static void lease_slots_bounded_by_rate(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_rate slow = { 3, 1, 1 }, fast = { 1000, 1, 1 }, hourly = { 10, 3600, 1 };

	assert_int_equal(sl_fleet_lease_slots(&f->cfg, &ten_per_second), 10);
	assert_int_equal(sl_fleet_lease_slots(&f->cfg, &slow), 3);
	assert_int_equal(sl_fleet_lease_slots(&f->cfg, &fast), 10);
	assert_int_equal(sl_fleet_lease_slots(&f->cfg, &hourly), 1);
}

static void take_spends_granted_slots(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_fleet_entry *e = sl_fleet_entry_get(f, "domain:b.test"), *taken = NULL;
	uint32_t least = 0;
	uint64_t wait = 0;
	int i;

	make_leasing(f);
	/* No slots yet: the worker waits and requests a lease. */
	assert_int_equal(sl_fleet_take(f, "domain:b.test", &ten_per_second, T0, &wait, &taken),
			 SL_FLEET_WAIT);
	assert_int_equal(wait, 20 * MS);
	assert_int_equal(atomic_load(&f->wake), 1);
	assert_int_equal(sl_fleet_want(f, e, T0, &least), 10);
	assert_int_equal(least, 5);

	sl_fleet_grant(f, e, 10, T0);
	for (i = 0; i < 10; i++)
		assert_int_equal(sl_fleet_take(f, "domain:b.test", &ten_per_second, T0 + MS, &wait,
					       &taken), SL_FLEET_GO);
	assert_ptr_equal(taken, e);
	assert_int_equal(sl_fleet_take(f, "domain:b.test", &ten_per_second, T0 + MS, &wait, &taken),
			 SL_FLEET_WAIT);
	assert_int_equal(atomic_load(&e->spent), 10);
	assert_int_equal(atomic_load(&e->granted), 10);
	assert_int_equal(atomic_load(&e->leases), 1);

	/* A slot given back is taken again. */
	sl_fleet_give_back(e);
	assert_int_equal(atomic_load(&e->slots), 1);
	assert_int_equal(atomic_load(&e->spent), 9);
	assert_int_equal(sl_fleet_take(f, "domain:b.test", &ten_per_second, T0 + MS, &wait, &taken),
			 SL_FLEET_GO);
}

static void want_waits_for_half_lease(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_fleet_entry *e = sl_fleet_entry_get(f, "domain:c.test"), *taken;
	uint32_t least = 0;
	uint64_t wait;

	make_leasing(f);
	sl_fleet_take(f, "domain:c.test", &ten_per_second, T0, &wait, &taken);
	sl_fleet_grant(f, e, 10, T0);
	atomic_store(&f->wake, 0);
	/* 6 left of 10: more than half, nothing to ask for, no wake. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(sl_fleet_take(f, "domain:c.test", &ten_per_second, T0, &wait, &taken),
				 SL_FLEET_GO);
	assert_int_equal(sl_fleet_want(f, e, T0, &least), 0);
	assert_int_equal(atomic_load(&f->wake), 0);
	/* 5 left: the worker wakes the service, which tops up to 10. */
	assert_int_equal(sl_fleet_take(f, "domain:c.test", &ten_per_second, T0, &wait, &taken),
			 SL_FLEET_GO);
	assert_int_equal(atomic_load(&f->wake), 1);
	assert_int_equal(sl_fleet_want(f, e, T0, &least), 5);
	assert_int_equal(least, 2);
	/* A refusal from Redis defers the next request. */
	sl_fleet_defer(e, T0, 50 * MS);
	assert_int_equal(sl_fleet_want(f, e, T0 + 49 * MS, &least), 0);
	assert_int_equal(sl_fleet_want(f, e, T0 + 50 * MS, &least), 5);
}

static void idle_key_gets_no_lease(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_fleet_entry *e, *taken;
	uint32_t least;
	uint64_t wait;

	make_leasing(f);
	sl_fleet_take(f, "domain:d.test", &ten_per_second, T0, &wait, &taken);
	e = sl_fleet_entry_get(f, "domain:d.test");
	assert_int_equal(sl_fleet_want(f, e, T0 + SEC, &least), 10);
	assert_int_equal(sl_fleet_want(f, e, T0 + SEC + 1, &least), 0);
}

static void unspent_slots_lapse(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_fleet_entry *e, *taken;
	uint32_t least;
	uint64_t wait;

	make_leasing(f);
	sl_fleet_take(f, "domain:e.test", &ten_per_second, T0, &wait, &taken);
	e = sl_fleet_entry_get(f, "domain:e.test");
	sl_fleet_grant(f, e, 8, T0);
	assert_int_equal(sl_fleet_expire(e, T0 + SEC - 1), 0);
	/* After the lease time the slots are not spent, even before the
	 * service thread drops them. */
	assert_int_equal(sl_fleet_take(f, "domain:e.test", &ten_per_second, T0 + SEC, &wait, &taken),
			 SL_FLEET_WAIT);
	assert_int_equal(sl_fleet_expire(e, T0 + SEC), 8);
	assert_int_equal(atomic_load(&e->slots), 0);
	assert_int_equal(atomic_load(&e->expired), 8);
	assert_int_equal(sl_fleet_want(f, e, T0 + SEC, &least), 10);
}

static void failure_drops_leases(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_fleet_entry *e, *taken;
	uint64_t wait;

	make_leasing(f);
	sl_fleet_take(f, "domain:f.test", &ten_per_second, T0, &wait, &taken);
	e = sl_fleet_entry_get(f, "domain:f.test");
	sl_fleet_grant(f, e, 10, T0);
	assert_true(sl_fleet_link_event(f, SL_FLEET_EV_FAILURE, T0 + MS));
	assert_int_equal(atomic_load(&f->state), SL_FLEET_FALLBACK);
	assert_int_equal(atomic_load(&e->slots), 0);
	assert_int_equal(atomic_load(&e->expired), 10);
	assert_int_equal(sl_fleet_take(f, "domain:f.test", &ten_per_second, T0 + MS, &wait, &taken),
			 SL_FLEET_LOCAL);
}

/* Every state and event, with whether the state changes (the caller
 * logs exactly then). */
static void link_state_table(void **state)
{
	static const struct {
		enum sl_fleet_state from;
		enum sl_fleet_event event;
		enum sl_fleet_state to;
		bool changed;
	} cases[] = {
		{ SL_FLEET_CONNECTING, SL_FLEET_EV_SUCCESS, SL_FLEET_LEASING, true },
		{ SL_FLEET_CONNECTING, SL_FLEET_EV_FAILURE, SL_FLEET_FALLBACK, true },
		{ SL_FLEET_LEASING, SL_FLEET_EV_SUCCESS, SL_FLEET_LEASING, false },
		{ SL_FLEET_LEASING, SL_FLEET_EV_FAILURE, SL_FLEET_FALLBACK, true },
		{ SL_FLEET_FALLBACK, SL_FLEET_EV_FAILURE, SL_FLEET_FALLBACK, false },
		{ SL_FLEET_FALLBACK, SL_FLEET_EV_SUCCESS, SL_FLEET_LEASING, true },
		{ SL_FLEET_OFF, SL_FLEET_EV_SUCCESS, SL_FLEET_OFF, false },
		{ SL_FLEET_OFF, SL_FLEET_EV_FAILURE, SL_FLEET_OFF, false },
	};
	struct sl_fleet *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->link.state = cases[i].from;
		atomic_store(&f->state, cases[i].from);
		assert_int_equal(sl_fleet_link_event(f, cases[i].event, T0), cases[i].changed);
		assert_int_equal(f->link.state, cases[i].to);
		assert_int_equal(atomic_load(&f->state), cases[i].to);
	}
}

static void reconnect_backoff_doubles(void **state)
{
	struct sl_fleet *f = *state;

	assert_int_equal(sl_fleet_retry_delay(&f->cfg, 1), 100 * MS);
	assert_int_equal(sl_fleet_retry_delay(&f->cfg, 2), 200 * MS);
	assert_int_equal(sl_fleet_retry_delay(&f->cfg, 4), 800 * MS);
	assert_int_equal(sl_fleet_retry_delay(&f->cfg, 5), 1 * SEC);
	assert_int_equal(sl_fleet_retry_delay(&f->cfg, 60), 1 * SEC);

	/* A long outage logs once: only the first failure changes state. */
	assert_true(sl_fleet_link_event(f, SL_FLEET_EV_FAILURE, T0));
	assert_false(sl_fleet_link_may_try(f, T0 + 99 * MS));
	assert_true(sl_fleet_link_may_try(f, T0 + 100 * MS));
	assert_false(sl_fleet_link_event(f, SL_FLEET_EV_FAILURE, T0 + 100 * MS));
	assert_false(sl_fleet_link_may_try(f, T0 + 299 * MS));
	assert_true(sl_fleet_link_may_try(f, T0 + 300 * MS));
	assert_int_equal(f->link.failures, 2);
	assert_int_equal(atomic_load(&f->redis_errors), 2);
	/* Success resets the backoff. */
	assert_true(sl_fleet_link_event(f, SL_FLEET_EV_SUCCESS, T0 + 300 * MS));
	assert_int_equal(f->link.failures, 0);
	assert_true(sl_fleet_link_may_try(f, T0 + 300 * MS));
}

static void fallback_params_divide_rate(void **state)
{
	struct sl_rate bursty = { 10, 1, 6 }, hourly = { 500, 60, 1 };
	struct sl_gcra_params p;

	(void)state;
	p = sl_fleet_fallback_params(&ten_per_second, 2);
	assert_int_equal(p.interval_ns, 200 * MS);
	assert_int_equal(p.tolerance_ns, 0);
	p = sl_fleet_fallback_params(&bursty, 2);
	assert_int_equal(p.interval_ns, 200 * MS);
	assert_int_equal(p.tolerance_ns, 2 * 200 * MS);
	p = sl_fleet_fallback_params(&hourly, 4);
	assert_int_equal(p.interval_ns, 4 * (60 * SEC / 500));
	p = sl_fleet_fallback_params(&ten_per_second, 0);
	assert_int_equal(p.interval_ns, 100 * MS);
}

/* Rules through the enforce layer. */

static const char *const rules_json =
	"[{\"name\": \"fleet-ten\", \"domain\": \"ten.test\", \"rate\": \"10/s\", \"fleet\": true},"
	" {\"name\": \"local-ten\", \"domain\": \"local.test\", \"rate\": \"10/s\"}]";

static struct sl_policy *load_policy(const char *json)
{
	char err[SL_POLICY_ERR_MAX];
	json_error_t jerr;
	json_t *root = json_loads(json, 0, &jerr);
	struct sl_policy *p = sl_policy_from_json(root, err, sizeof(err));

	json_decref(root);
	return p;
}

/* Sends COUNT messages with a scheduler that waits the returned time. The
 * service thread is simulated by granting GRANT slots whenever a lease is due.
 * Returns the simulated time from the first message to the last. */
static uint64_t run_campaign(struct sl_throttle_table *table, struct sl_fleet *f,
			     const struct sl_policy *policy, const char *domain, int count,
			     uint32_t grant)
{
	struct sl_throttle_dest dest = { domain, NULL, NULL };
	uint64_t now = T0, wait = 0, first = 0, last = 0;
	int sent = 0;

	while (sent < count) {
		struct sl_fleet_entry *e = sl_fleet_entry_get(f, "domain:ten.test");
		uint32_t least;

		if (grant && sl_fleet_want(f, e, now, &least) > 0)
			sl_fleet_grant(f, e, grant, now);
		if (sl_throttle_check_fleet(table, f, policy, &dest, now, &wait, NULL) == SL_ADMIT_GO) {
			if (sent++ == 0)
				first = now;
			last = now;
		} else {
			now += wait;
		}
	}
	return last - first;
}

static void policy_rejects_fleet_without_rate(void **state)
{
	char err[SL_POLICY_ERR_MAX] = "";
	json_error_t jerr;
	json_t *root = json_loads("[{\"name\": \"x\", \"domain\": \"x.test\", \"fleet\": true}]", 0, &jerr);

	(void)state;
	assert_null(sl_policy_from_json(root, err, sizeof(err)));
	assert_string_equal(err, "rules[0].fleet: only allowed together with rate");
	json_decref(root);
	root = json_loads("[{\"name\": \"x\", \"domain\": \"x.test\", \"rate\": \"1/s\", \"fleet\": 1}]", 0, &jerr);
	assert_null(sl_policy_from_json(root, err, sizeof(err)));
	assert_string_equal(err, "rules[0].fleet: invalid value: allowed values are true, false");
	json_decref(root);
}

static void resolve_names_fleet_key(void **state)
{
	struct sl_policy *policy = load_policy(rules_json);
	struct sl_resolved res;

	(void)state;
	assert_non_null(policy);
	sl_policy_resolve(policy, "ten.test", NULL, NULL, &res);
	assert_string_equal(res.fleet_key, "domain:ten.test");
	sl_policy_resolve(policy, "local.test", NULL, NULL, &res);
	assert_string_equal(res.fleet_key, "");
	sl_policy_free(policy);
}

static void fallback_rule_halves_rate(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_policy *policy = load_policy(rules_json);
	struct sl_throttle_table table;

	assert_non_null(policy);
	assert_int_equal(sl_throttle_table_init(&table, 64), 0);
	assert_true(sl_fleet_link_event(f, SL_FLEET_EV_FAILURE, T0));
	/* 11 messages at 5/s: the last goes 2 s after the first. */
	assert_int_equal(run_campaign(&table, f, policy, "ten.test", 11, 0), 2 * SEC);
	sl_throttle_table_free(&table);
	sl_policy_free(policy);
}

static void leased_rule_keeps_full_rate(void **state)
{
	struct sl_fleet *f = *state;
	struct sl_policy *policy = load_policy(rules_json);
	struct sl_throttle_table table;

	assert_non_null(policy);
	assert_int_equal(sl_throttle_table_init(&table, 64), 0);
	make_leasing(f);
	/* With leases always at hand, the local pace is the full 10/s. */
	assert_int_equal(run_campaign(&table, f, policy, "ten.test", 11, 10), 1 * SEC);
	sl_throttle_table_free(&table);
	sl_policy_free(policy);
}

static void no_fleet_enforces_locally(void **state)
{
	struct sl_policy *policy = load_policy(rules_json);
	struct sl_throttle_table table;
	struct sl_throttle_dest dest = { "ten.test", NULL, NULL };
	uint64_t now = T0, wait = 0;
	int sent = 0;

	(void)state;
	assert_non_null(policy);
	assert_int_equal(sl_throttle_table_init(&table, 64), 0);
	while (sent < 11) {
		if (sl_throttle_check_fleet(&table, NULL, policy, &dest, now, &wait, NULL) == SL_ADMIT_GO)
			sent++;
		else
			now += wait;
	}
	assert_int_equal(now - T0, 1 * SEC);
	sl_throttle_table_free(&table);
	sl_policy_free(policy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(connecting_uses_local_share, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_slots_bounded_by_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(take_spends_granted_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(want_waits_for_half_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(idle_key_gets_no_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(unspent_slots_lapse, setup, teardown),
		cmocka_unit_test_setup_teardown(failure_drops_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(link_state_table, setup, teardown),
		cmocka_unit_test_setup_teardown(reconnect_backoff_doubles, setup, teardown),
		cmocka_unit_test(fallback_params_divide_rate),
		cmocka_unit_test(policy_rejects_fleet_without_rate),
		cmocka_unit_test(resolve_names_fleet_key),
		cmocka_unit_test_setup_teardown(fallback_rule_halves_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(leased_rule_keeps_full_rate, setup, teardown),
		cmocka_unit_test(no_fleet_enforces_locally),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
