/*
 * Unit tests for dataplane/throttle/enforce: the scheduler-facing calls,
 * driven by a simulated clock, so the checks are exact and do not depend
 * on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dataplane/throttle/enforce.h"

#define SEC SL_NS_PER_SEC
#define T0 (1000 * SEC)

static const char *const rules_json =
	"[{\"name\": \"default\", \"default\": true},"
	" {\"name\": \"ten\", \"domain\": \"ten.test\", \"rate\": \"10/s\"},"
	" {\"name\": \"gmail\", \"provider\": [\"google.com\"], \"domains\": [\"gmail.com\"],"
	"  \"backoff\": [{\"code\": 421, \"enhanced\": \"4.7.28\", \"pattern\": \"rate limited\","
	"   \"duration\": \"30m\", \"end_on_success\": true}]}]";

struct fixture {
	struct sl_policy *policy;
	struct sl_throttle_table table;
};

static int setup(void **state)
{
	static struct fixture f;
	char err[SL_POLICY_ERR_MAX];
	json_error_t jerr;
	json_t *root = json_loads(rules_json, 0, &jerr);

	f.policy = sl_policy_from_json(root, err, sizeof(err));
	json_decref(root);
	if (!f.policy || sl_throttle_table_init(&f.table, 64) != 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sl_policy_free(f->policy);
	sl_throttle_table_free(&f->table);
	return 0;
}

static void rate_rule_spaces_hundred(void **state)
{
	struct fixture *f = *state;
	struct sl_throttle_dest dest = { "ten.test", "mx.ten.test", NULL };
	uint64_t now = T0, wait;
	int sent = 0, held = 0;

	/* A scheduler that retries each held message after the wait. */
	while (sent < 100) {
		if (sl_throttle_check(&f->table, f->policy, &dest, now, &wait, NULL) == SL_ADMIT_GO) {
			sent++;
		} else {
			held++;
			now += wait;
		}
	}
	/* 100 messages at 10/s: the last goes 9.9 s after the first. */
	assert_true(now - T0 >= 9 * SEC);
	assert_int_equal(now - T0, 99 * (SEC / 10));
	assert_int_equal(held, 99);
}

static void backoff_suspends_then_resumes(void **state)
{
	struct fixture *f = *state;
	struct sl_throttle_dest dest = { "gmail.com", "gmail-smtp-in.l.google.com", NULL };
	struct sl_throttle_dest other = { "corp.test", "aspmx.l.google.com", NULL };
	const char *reply = "421 4.7.28 Our system has detected ... temporarily rate limited";
	uint64_t wait;

	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0, &wait, NULL), SL_ADMIT_GO);
	assert_int_equal(sl_throttle_reply(&f->table, f->policy, &dest, 421, reply, T0 + SEC, T0),
			 SL_REPLY_BACKOFF_STARTED);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 2 * SEC, &wait, NULL),
			 SL_ADMIT_SUSPENDED);
	assert_int_equal(wait, 1799 * SEC);
	/* Another domain of the same provider shares the suspension. */
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &other, T0 + 2 * SEC, &wait, NULL),
			 SL_ADMIT_SUSPENDED);
	/* An in-flight attempt's 421 does not extend it; an unrelated
	 * 421 text does not match at all. */
	assert_int_equal(sl_throttle_reply(&f->table, f->policy, &dest, 421, reply, T0 + 60 * SEC, T0),
			 SL_REPLY_BACKOFF_IGNORED);
	assert_int_equal(sl_throttle_reply(&f->table, f->policy, &dest, 421, "421 4.3.0 busy", T0 + 60 * SEC, T0),
			 SL_REPLY_NONE);
	/* After the configured duration delivery resumes. */
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + SEC + 1800 * SEC, &wait, NULL),
			 SL_ADMIT_GO);

	/* A new suspension, ended early by a success. */
	assert_int_equal(sl_throttle_reply(&f->table, f->policy, &dest, 421, reply, T0 + 2000 * SEC, T0 + 1999 * SEC),
			 SL_REPLY_BACKOFF_STARTED);
	assert_int_equal(sl_throttle_reply(&f->table, f->policy, &dest, 250, "250 ok", T0 + 2100 * SEC, T0 + 2050 * SEC),
			 SL_REPLY_BACKOFF_ENDED);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 2100 * SEC, &wait, NULL), SL_ADMIT_GO);
}

static void operator_suspend_and_resume(void **state)
{
	struct fixture *f = *state;
	struct sl_throttle_dest dest = { "paused.test", NULL, NULL };
	uint64_t wait;

	assert_int_equal(sl_throttle_suspend_key(&f->table, "domain:paused.test", 0, 5000, T0, "operator"), 0);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 86400 * SEC, &wait, NULL),
			 SL_ADMIT_SUSPENDED);
	sl_throttle_resume_domain(&f->table, f->policy, "paused.test", T0 + 86400 * SEC);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 86400 * SEC, &wait, NULL), SL_ADMIT_GO);

	/* A timed suspension from a snapshot, in wall-clock seconds. */
	assert_int_equal(sl_throttle_suspend_key(&f->table, "domain:paused.test", 5600, 5000, T0, "operator"), 0);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 599 * SEC, &wait, NULL),
			 SL_ADMIT_SUSPENDED);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 600 * SEC, &wait, NULL), SL_ADMIT_GO);
	/* One already over is ignored. */
	assert_int_equal(sl_throttle_suspend_key(&f->table, "domain:paused.test", 4000, 5000, T0 + 700 * SEC, "x"), 0);
	assert_int_equal(sl_throttle_check(&f->table, f->policy, &dest, T0 + 700 * SEC, &wait, NULL), SL_ADMIT_GO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rate_rule_spaces_hundred, setup, teardown),
		cmocka_unit_test_setup_teardown(backoff_suspends_then_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(operator_suspend_and_resume, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
