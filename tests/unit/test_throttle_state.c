/*
 * Unit tests for dataplane/throttle/state: the key table, admission with
 * rate limits, and the backoff rules (no extension by the failures a
 * suspension causes, early end on success, operator suspend and resume).
 * Clock values are passed in, so nothing here depends on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/throttle/state.h"

#define SEC SL_NS_PER_SEC
#define T0 (1000 * SEC)

static struct sl_backoff_rule suspend_rule(uint32_t seconds, bool end_on_success)
{
	struct sl_backoff_rule b;

	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "test-suspend");
	b.action = SL_BACKOFF_SUSPEND;
	b.duration_s = seconds;
	b.end_on_success = end_on_success;
	return b;
}

static void table_finds_and_inserts(void **state)
{
	struct sl_throttle_table t;
	struct sl_throttle_slot *a, *b;
	char key[32];
	int i;

	(void)state;
	assert_int_equal(sl_throttle_table_init(&t, 20), 0);
	assert_int_equal(t.capacity, 32);
	a = sl_throttle_slot_get(&t, "domain:a.test");
	b = sl_throttle_slot_get(&t, "domain:b.test");
	assert_non_null(a);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(sl_throttle_slot_get(&t, "domain:a.test"), a);
	assert_string_equal(a->key, "domain:a.test");
	for (i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "domain:%d.test", i);
		assert_non_null(sl_throttle_slot_get(&t, key));
	}
	assert_null(sl_throttle_slot_get(&t, "domain:one-too-many.test"));
	sl_throttle_table_free(&t);
}

struct insert_job {
	struct sl_throttle_table *table;
	struct sl_throttle_slot *found[64];
};

static void *insert_worker(void *arg)
{
	struct insert_job *job = arg;
	char key[32];
	int i;

	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "domain:%d.test", i);
		job->found[i] = sl_throttle_slot_get(job->table, key);
	}
	return NULL;
}

static void table_threads_agree_on_slots(void **state)
{
	struct sl_throttle_table t;
	struct insert_job jobs[4];
	pthread_t tid[4];
	size_t i, used = 0;
	int k;

	(void)state;
	assert_int_equal(sl_throttle_table_init(&t, 128), 0);
	for (k = 0; k < 4; k++) {
		jobs[k].table = &t;
		assert_int_equal(pthread_create(&tid[k], NULL, insert_worker, &jobs[k]), 0);
	}
	for (k = 0; k < 4; k++)
		pthread_join(tid[k], NULL);
	for (i = 0; i < 64; i++) {
		assert_non_null(jobs[0].found[i]);
		for (k = 1; k < 4; k++)
			assert_ptr_equal(jobs[k].found[i], jobs[0].found[i]);
	}
	for (i = 0; i < t.capacity; i++)
		used += t.slots[i].hash != 0;
	assert_int_equal(used, 64);
	sl_throttle_table_free(&t);
}

static void admit_counts_rate_limited(void **state)
{
	struct sl_throttle_table t;
	struct sl_throttle_slot *s;
	struct sl_limits l = { .set = SL_LIMIT_RATE, .rate = { 10, 1, 1 } };
	uint64_t wait;
	int i, go = 0;

	(void)state;
	assert_int_equal(sl_throttle_table_init(&t, 16), 0);
	s = sl_throttle_slot_get(&t, "domain:rate.test");
	for (i = 0; i < 100; i++)
		go += sl_throttle_admit(s, &l, T0 + (uint64_t)i * (SEC / 100), &wait) == SL_ADMIT_GO;
	/* 100 tries over one second at 10/s. */
	assert_int_equal(go, 10);
	assert_int_equal(s->throttled, 90);
	sl_throttle_table_free(&t);
}

static void suspension_not_extended(void **state)
{
	struct sl_throttle_table t;
	struct sl_throttle_slot *s;
	struct sl_backoff_rule rule = suspend_rule(60, false);
	struct sl_limits none = { 0 };
	uint64_t wait = 0, left = 0;

	(void)state;
	assert_int_equal(sl_throttle_table_init(&t, 16), 0);
	s = sl_throttle_slot_get(&t, "provider:gmail");
	assert_int_equal(sl_throttle_backoff_start(s, &rule, T0, T0 - SEC), SL_BACKOFF_STARTED);
	assert_int_equal(sl_throttle_state(s, T0 + SEC, &left), SL_STATE_SUSPENDED);
	assert_int_equal(left, 59 * SEC);
	assert_int_equal(sl_throttle_admit(s, &none, T0 + SEC, &wait), SL_ADMIT_SUSPENDED);
	assert_int_equal(wait, 59 * SEC);

	/* An attempt in flight when the suspension began fails 30 s later:
	 * the end stays at T0 + 60 s. */
	assert_int_equal(sl_throttle_backoff_start(s, &rule, T0 + 30 * SEC, T0 - SEC), SL_BACKOFF_IGNORED);
	assert_int_equal(s->backoff_until, T0 + 60 * SEC);
	/* Even an attempt that started after it does not extend it. */
	assert_int_equal(sl_throttle_backoff_start(s, &rule, T0 + 40 * SEC, T0 + 39 * SEC), SL_BACKOFF_IGNORED);
	assert_int_equal(s->backoff_until, T0 + 60 * SEC);

	/* After the end: an old attempt's failure is still ignored, a new
	 * attempt's failure starts a new suspension. */
	assert_int_equal(sl_throttle_state(s, T0 + 60 * SEC, NULL), SL_STATE_OPEN);
	assert_int_equal(sl_throttle_admit(s, &none, T0 + 60 * SEC, &wait), SL_ADMIT_GO);
	assert_int_equal(sl_throttle_backoff_start(s, &rule, T0 + 61 * SEC, T0 - SEC), SL_BACKOFF_IGNORED);
	assert_int_equal(sl_throttle_backoff_start(s, &rule, T0 + 62 * SEC, T0 + 60 * SEC), SL_BACKOFF_STARTED);
	assert_int_equal(s->backoff_until, T0 + 122 * SEC);
	assert_string_equal(s->reason, "test-suspend");
	sl_throttle_table_free(&t);
}

static void success_ends_early_when_allowed(void **state)
{
	struct sl_throttle_table t;
	struct sl_throttle_slot *keep, *end;
	struct sl_backoff_rule no = suspend_rule(600, false), yes = suspend_rule(600, true);

	(void)state;
	assert_int_equal(sl_throttle_table_init(&t, 16), 0);
	keep = sl_throttle_slot_get(&t, "domain:keep.test");
	end = sl_throttle_slot_get(&t, "domain:end.test");
	sl_throttle_backoff_start(keep, &no, T0, T0);
	sl_throttle_backoff_start(end, &yes, T0, T0);

	assert_int_equal(sl_throttle_on_success(keep, T0 + 10 * SEC, T0 + 5 * SEC), 0);
	assert_int_equal(sl_throttle_state(keep, T0 + 10 * SEC, NULL), SL_STATE_SUSPENDED);
	/* A success of an attempt older than the suspension does not count. */
	assert_int_equal(sl_throttle_on_success(end, T0 + 10 * SEC, T0 - SEC), 0);
	assert_int_equal(sl_throttle_state(end, T0 + 10 * SEC, NULL), SL_STATE_SUSPENDED);
	assert_int_equal(sl_throttle_on_success(end, T0 + 10 * SEC, T0 + 5 * SEC), 1);
	assert_int_equal(sl_throttle_state(end, T0 + 10 * SEC, NULL), SL_STATE_OPEN);
	sl_throttle_table_free(&t);
}

static void slow_action_limits_rate(void **state)
{
	struct sl_throttle_table t;
	struct sl_throttle_slot *s;
	struct sl_backoff_rule slow = suspend_rule(60, false);
	struct sl_limits fast = { .set = SL_LIMIT_RATE, .rate = { 1000, 1, 1000 } };
	uint64_t wait;
	int i, go = 0;

	(void)state;
	slow.action = SL_BACKOFF_SLOW;
	slow.slow_rate = (struct sl_rate){ 2, 1, 1 };
	assert_int_equal(sl_throttle_table_init(&t, 16), 0);
	s = sl_throttle_slot_get(&t, "mx:mx.test");
	assert_int_equal(sl_throttle_backoff_start(s, &slow, T0, T0), SL_BACKOFF_STARTED);
	for (i = 0; i < 100; i++)
		go += sl_throttle_admit(s, &fast, T0 + (uint64_t)i * (SEC / 100), &wait) == SL_ADMIT_GO;
	assert_int_equal(go, 2);
	/* After the slowdown, the rule's own rate applies again. */
	go = 0;
	for (i = 0; i < 100; i++)
		go += sl_throttle_admit(s, &fast, T0 + 60 * SEC, &wait) == SL_ADMIT_GO;
	assert_int_equal(go, 100);
	sl_throttle_table_free(&t);
}

static void operator_suspend_and_resume(void **state)
{
	struct sl_throttle_table t;
	struct sl_throttle_slot *s;
	struct sl_limits none = { 0 };
	uint64_t wait;

	(void)state;
	assert_int_equal(sl_throttle_table_init(&t, 16), 0);
	s = sl_throttle_slot_get(&t, "domain:op.test");
	sl_throttle_suspend(s, T0, 3600 * SEC, "operator");
	assert_int_equal(sl_throttle_admit(s, &none, T0 + SEC, &wait), SL_ADMIT_SUSPENDED);
	assert_string_equal(s->reason, "operator");
	sl_throttle_resume(s, T0 + 2 * SEC);
	assert_int_equal(sl_throttle_admit(s, &none, T0 + 2 * SEC, &wait), SL_ADMIT_GO);
	sl_throttle_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_finds_and_inserts),
		cmocka_unit_test(table_threads_agree_on_slots),
		cmocka_unit_test(admit_counts_rate_limited),
		cmocka_unit_test(suspension_not_extended),
		cmocka_unit_test(success_ends_early_when_allowed),
		cmocka_unit_test(slow_action_limits_rate),
		cmocka_unit_test(operator_suspend_and_resume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
