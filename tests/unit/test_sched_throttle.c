/*
 * Unit tests for the scheduler calls that the throttle wiring uses:
 * holding a destination, and the retry and bounce queue actions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dataplane/sched.h"

struct world {
	int perm_calls;
	int temp_calls;
};

static void on_resolve(void *ctx, const char *domain)
{
	(void)ctx;
	(void)domain;
}

static void on_expired(void *ctx, struct sl_sched_rcpt *r)
{
	(void)ctx;
	(void)r;
}

static void on_failed(void *ctx, struct sl_sched_rcpt *r, int permanent, const char *enhanced,
		      const char *why)
{
	struct world *w = ctx;

	(void)r;
	(void)enhanced;
	(void)why;
	if (permanent)
		w->perm_calls++;
	else
		w->temp_calls++;
}

static const struct sl_sched_ops ops = { on_resolve, on_expired, on_failed };
static const struct sl_sched_target target = { .host = "mx.a.test" };

static struct sl_sched *make(struct world *w)
{
	struct sl_sched_config c;

	memset(w, 0, sizeof(*w));
	sl_sched_default_config(&c);
	c.retry_initial_ms = 1000;
	c.retry_max_ms = 1000;
	c.jitter_percent = 0;
	c.max_age_ms = 60000;
	c.tick_ms = 100;
	return sl_sched_new(&c, &ops, w, 0, 1);
}

static void add(struct sl_sched *s, struct sl_sched_rcpt *r, const char *domain, uint64_t now)
{
	memset(r, 0, sizeof(*r));
	r->domain = domain;
	r->group = r;
	sl_sched_add(s, r, now);
}

static void test_hold_blocks_until_end(void **state)
{
	struct world w;
	struct sl_sched *s = make(&w);
	struct sl_sched_rcpt r;
	struct sl_sched_dest *d;

	(void)state;
	add(s, &r, "a.test", 0);
	sl_sched_domain_resolved(s, "a.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx.a.test", &target, 1,
				 60000, 0);
	d = sl_sched_runnable(s, 0);
	assert_non_null(d);
	sl_sched_dest_hold(s, d, 500);
	sl_sched_conn_closed(s, d);   /* marks it runnable again */
	assert_null(sl_sched_runnable(s, 100));
	assert_false(sl_sched_dest_can_open(s, d, 100));
	assert_int_equal(400, sl_sched_next_due(s, 100));
	sl_sched_advance(s, 500);
	assert_ptr_equal(d, sl_sched_runnable(s, 500));
	assert_int_equal(0, d->hold_until_ms);
	sl_sched_free(s);
}

static void test_retry_domain_moves_wheel(void **state)
{
	struct world w;
	struct sl_sched *s = make(&w);
	struct sl_sched_rcpt a, b;
	size_t wheel, resolving, ready;

	(void)state;
	add(s, &a, "a.test", 0);
	add(s, &b, "b.test", 0);
	assert_int_equal(0, sl_sched_defer(s, &a, 0));
	assert_int_equal(0, sl_sched_defer(s, &b, 0));
	sl_sched_counts(s, &wheel, &resolving, &ready);
	assert_int_equal(2, wheel);
	assert_int_equal(1, sl_sched_retry_domain(s, "a.test", 10));
	sl_sched_counts(s, &wheel, &resolving, &ready);
	assert_int_equal(1, wheel);
	assert_int_equal(1, resolving);
	assert_int_equal(SL_SCHED_RESOLVING, a.where);
	assert_int_equal(SL_SCHED_WHEEL, b.where);
	sl_sched_free(s);
}

static void test_bounce_domain_everywhere(void **state)
{
	struct world w;
	struct sl_sched *s = make(&w);
	struct sl_sched_rcpt wheel_r, ready_r, waiting_r, other;
	size_t wheel, resolving, ready;

	(void)state;
	add(s, &wheel_r, "a.test", 0);
	add(s, &ready_r, "a.test", 0);
	sl_sched_domain_resolved(s, "a.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx.a.test", &target, 1,
				 100, 0);
	assert_int_equal(0, sl_sched_defer(s, &wheel_r, 0));
	add(s, &waiting_r, "a.test", 200);   /* the lookup expired: waits again */
	add(s, &other, "b.test", 200);
	assert_int_equal(SL_SCHED_READY, ready_r.where);
	assert_int_equal(SL_SCHED_RESOLVING, waiting_r.where);
	assert_int_equal(3, sl_sched_bounce_domain(s, "a.test", "5.0.0", "bounced by the operator"));
	assert_int_equal(3, w.perm_calls);
	sl_sched_counts(s, &wheel, &resolving, &ready);
	assert_int_equal(0, wheel);
	assert_int_equal(1, resolving);
	assert_int_equal(0, ready);
	assert_int_equal(SL_SCHED_RESOLVING, other.where);
	sl_sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_blocks_until_end),
		cmocka_unit_test(test_retry_domain_moves_wheel),
		cmocka_unit_test(test_bounce_domain_everywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
