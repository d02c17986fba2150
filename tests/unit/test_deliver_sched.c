/*
 * Unit tests for dataplane/sched: routing through lookups, grouping per
 * message, backoff, maximum age and isolation between destinations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "dataplane/sched.h"

struct world {
	char resolving[8][64];
	int resolve_calls;
	int expired_calls;
	int perm_calls;
	int temp_calls;
	char last_why[400];
};

static void on_resolve(void *ctx, const char *domain)
{
	struct world *w = ctx;

	snprintf(w->resolving[w->resolve_calls++ % 8], 64, "%s", domain);
}

static void on_expired(void *ctx, struct sl_sched_rcpt *r)
{
	(void)r;
	((struct world *)ctx)->expired_calls++;
}

static void on_failed(void *ctx, struct sl_sched_rcpt *r, int permanent, const char *enhanced,
		      const char *why)
{
	struct world *w = ctx;

	(void)r;
	(void)enhanced;
	if (permanent)
		w->perm_calls++;
	else
		w->temp_calls++;
	snprintf(w->last_why, sizeof(w->last_why), "%s", why);
}

static const struct sl_sched_ops ops = { on_resolve, on_expired, on_failed };

static struct sl_sched *make(struct world *w, uint32_t jitter)
{
	struct sl_sched_config c;

	memset(w, 0, sizeof(*w));
	sl_sched_default_config(&c);
	c.retry_initial_ms = 1000;
	c.retry_max_ms = 8000;
	c.jitter_percent = jitter;
	c.max_age_ms = 60000;
	c.recipients_per_transaction = 2;
	c.max_connections = 1;
	c.tick_ms = 100;
	return sl_sched_new(&c, &ops, w, 0, 1);
}

static void rcpt_init(struct sl_sched_rcpt *r, const char *domain, const void *group)
{
	memset(r, 0, sizeof(*r));
	r->domain = domain;
	r->group = group;
}

static const struct sl_sched_target target = { .host = "mx.a.test" };

static void groups_per_message(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 0);
	struct sl_sched_rcpt r[5], *out[8];
	int m1, m2;
	size_t wheel, resolving, ready;

	(void)s;
	for (int i = 0; i < 5; i++) {
		rcpt_init(&r[i], "a.test", i < 3 ? (void *)&m1 : (void *)&m2);
		sl_sched_add(sc, &r[i], 0);
	}
	/* One lookup for the domain, however many recipients wait for it. */
	assert_int_equal(w.resolve_calls, 1);
	assert_string_equal(w.resolving[0], "a.test");
	sl_sched_counts(sc, &wheel, &resolving, &ready);
	assert_int_equal(resolving, 5);

	sl_sched_domain_resolved(sc, "a.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx:mx.a.test",
				 &target, 1, 60000, 0);
	struct sl_sched_dest *d = sl_sched_runnable(sc, 0);

	assert_non_null(d);
	assert_string_equal(d->key, "mx:mx.a.test");
	assert_int_equal(d->ready_count, 5);
	/* At most 2 per transaction, never two messages in one. */
	assert_int_equal(sl_sched_take(sc, d, 0, out, 8), 2);
	assert_ptr_equal(out[0], &r[0]);
	assert_ptr_equal(out[1], &r[1]);
	assert_int_equal(sl_sched_take(sc, d, 0, out, 8), 1);
	assert_ptr_equal(out[0], &r[2]);
	assert_int_equal(sl_sched_take(sc, d, 0, out, 8), 2);
	assert_ptr_equal(out[0]->group, &m2);
	assert_int_equal(sl_sched_take(sc, d, 0, out, 8), 0);

	/* The cached domain sends the next recipient straight to ready. */
	struct sl_sched_rcpt extra;

	rcpt_init(&extra, "a.test", &m1);
	sl_sched_add(sc, &extra, 100);
	assert_int_equal(w.resolve_calls, 1);
	assert_int_equal(extra.where, SL_SCHED_READY);
	sl_sched_free(sc);
}

static void backoff_doubles_to_cap(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 0);
	struct sl_sched_rcpt r;
	uint64_t now = 0;
	const uint64_t expected[] = { 1000, 2000, 4000, 8000, 8000 };

	(void)s;
	rcpt_init(&r, "a.test", &r);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sl_sched_defer(sc, &r, now), 0);
		assert_int_equal(r.due_ms - now, expected[i]);
		assert_int_equal(r.where, SL_SCHED_WHEEL);
		/* Not yet due one tick early, routed when due. */
		sl_sched_advance(sc, r.due_ms - 100);
		assert_int_equal(r.where, SL_SCHED_WHEEL);
		now = r.due_ms;
		sl_sched_advance(sc, now);
		assert_int_equal(r.where, SL_SCHED_RESOLVING);
		sl_sched_remove(sc, &r);
	}
	assert_int_equal(r.attempts, 5);
	sl_sched_free(sc);
}

static void jitter_stays_in_range(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 50);
	struct sl_sched_rcpt r;

	(void)s;
	for (int i = 0; i < 100; i++) {
		rcpt_init(&r, "a.test", &r);
		sl_sched_defer(sc, &r, 0);
		assert_true(r.due_ms >= 1000 && r.due_ms <= 1500);
		sl_sched_remove(sc, &r);
	}
	sl_sched_free(sc);
}

static void max_age_everywhere(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 0);
	struct sl_sched_rcpt r, q;
	struct sl_sched_rcpt *out[2];

	(void)s;
	/* A deferral never schedules past the maximum age... */
	rcpt_init(&r, "a.test", &r);
	r.arrival_ms = 0;
	assert_int_equal(sl_sched_defer(sc, &r, 59500), 0);
	assert_int_equal(r.due_ms, 60000);
	/* ...and the recipient expires when it leaves the wheel. */
	sl_sched_advance(sc, 60000);
	assert_int_equal(w.expired_calls, 1);
	assert_int_equal(sl_sched_defer(sc, &r, 60000), -ETIMEDOUT);

	/* A recipient waiting in a ready queue expires there too. */
	rcpt_init(&q, "b.test", &q);
	sl_sched_add(sc, &q, 1000);
	sl_sched_domain_resolved(sc, "b.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx:b", &target, 1,
				 600000, 1000);
	struct sl_sched_dest *d = sl_sched_runnable(sc, 1000);

	assert_int_equal(sl_sched_take(sc, d, 61000, out, 2), 0);
	assert_int_equal(w.expired_calls, 2);
	sl_sched_free(sc);
}

static void rule_retry_and_max_age(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 0);
	struct sl_sched_rcpt r, plain;
	const uint32_t intervals[] = { 2, 5 };
	const struct sl_sched_retry retry = { intervals, 2, 12000 };

	(void)s;
	rcpt_init(&r, "a.test", &r);
	/* The rule's intervals, the last one repeating, in place of 1s, 2s, 4s. */
	assert_int_equal(sl_sched_defer_with(sc, &r, 0, &retry), 0);
	assert_int_equal(r.due_ms, 2000);
	assert_int_equal(sl_sched_defer_with(sc, &r, 2000, &retry), 0);
	assert_int_equal(r.due_ms, 7000);
	/* The rule's maximum age of 12s caps the next retry... */
	assert_int_equal(sl_sched_defer_with(sc, &r, 9000, &retry), 0);
	assert_int_equal(r.due_ms, 12000);
	/* ...expires the recipient when it leaves the wheel... */
	sl_sched_advance(sc, 12000);
	assert_int_equal(w.expired_calls, 1);
	/* ...and bounces it when deferred, where the config's 60s keep it. */
	assert_int_equal(sl_sched_defer_with(sc, &r, 12000, &retry), -ETIMEDOUT);
	rcpt_init(&plain, "a.test", &plain);
	assert_int_equal(sl_sched_defer(sc, &plain, 12000), 0);
	assert_int_equal(plain.due_ms, 13000);
	sl_sched_remove(sc, &plain);

	/* Without a schedule or age of its own, the config's apply. */
	const struct sl_sched_retry none = { NULL, 0, 0 };

	rcpt_init(&plain, "a.test", &plain);
	assert_int_equal(sl_sched_defer_with(sc, &plain, 0, &none), 0);
	assert_int_equal(plain.due_ms, 1000);
	assert_int_equal(sl_sched_defer_with(sc, &plain, 60000, &none), -ETIMEDOUT);
	sl_sched_free(sc);
}

static void failures_stay_isolated(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 0);
	struct sl_sched_rcpt bad, nx, good, dead;

	(void)s;
	rcpt_init(&bad, "tempfail.test", &bad);
	rcpt_init(&nx, "nx.test", &nx);
	rcpt_init(&good, "good.test", &good);
	rcpt_init(&dead, "dead.test", &dead);
	sl_sched_add(sc, &bad, 0);
	sl_sched_add(sc, &nx, 0);
	sl_sched_add(sc, &good, 0);
	sl_sched_add(sc, &dead, 0);
	assert_int_equal(w.resolve_calls, 4);

	sl_sched_domain_resolved(sc, "tempfail.test", SL_SCHED_DOMAIN_TEMPFAIL, "4.4.3",
				 "MX lookup for tempfail.test failed", NULL, NULL, 0, 0, 0);
	assert_int_equal(bad.where, SL_SCHED_WHEEL);
	assert_int_equal(w.temp_calls, 1);
	sl_sched_domain_resolved(sc, "nx.test", SL_SCHED_DOMAIN_PERMFAIL, "5.1.2",
				 "domain nx.test not found", NULL, NULL, 0, 0, 0);
	assert_int_equal(w.perm_calls, 1);
	sl_sched_domain_resolved(sc, "dead.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx:dead",
				 &target, 1, 60000, 0);
	sl_sched_domain_resolved(sc, "good.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx:good",
				 &target, 1, 60000, 0);

	/* Both destinations are runnable; the dead one goes down. */
	struct sl_sched_dest *d1 = sl_sched_runnable(sc, 0);
	struct sl_sched_dest *d2 = sl_sched_runnable(sc, 0);
	struct sl_sched_dest *dd = strcmp(d1->key, "mx:dead") == 0 ? d1 : d2;
	struct sl_sched_dest *dg = dd == d1 ? d2 : d1;

	sl_sched_dest_down(sc, dd, 0, "connect() to 127.0.0.1:1 failed: connection refused");
	assert_int_equal(dead.where, SL_SCHED_WHEEL);
	assert_int_equal(good.where, SL_SCHED_READY);
	assert_int_equal(dg->ready_count, 1);
	/* A recipient arriving for the paused destination is deferred at once. */
	struct sl_sched_rcpt late;

	rcpt_init(&late, "dead.test", &late);
	sl_sched_add(sc, &late, 10);
	assert_int_equal(late.where, SL_SCHED_WHEEL);
	assert_non_null(strstr(w.last_why, "mx:dead"));
	sl_sched_free(sc);
}

static void connection_limit(void **s)
{
	struct world w;
	struct sl_sched *sc = make(&w, 0);
	struct sl_sched_rcpt a, b;
	struct sl_sched_dest *d;

	(void)s;
	rcpt_init(&a, "a.test", &a);
	rcpt_init(&b, "a.test", &b);
	sl_sched_add(sc, &a, 0);
	sl_sched_add(sc, &b, 0);
	sl_sched_domain_resolved(sc, "a.test", SL_SCHED_DOMAIN_OK, NULL, NULL, "mx:a", &target, 1,
				 60000, 0);
	d = sl_sched_runnable(sc, 0);
	assert_non_null(d);
	sl_sched_conn_opened(sc, d);
	/* max_connections is 1: no second connection while it is busy. */
	assert_false(sl_sched_dest_can_open(sc, d, 0));
	assert_null(sl_sched_runnable(sc, 0));
	sl_sched_conn_idle(sc, d, 1);
	assert_ptr_equal(sl_sched_runnable(sc, 0), d);
	sl_sched_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(groups_per_message),
		cmocka_unit_test(backoff_doubles_to_cap),
		cmocka_unit_test(jitter_stays_in_range),
		cmocka_unit_test(max_age_everywhere),
		cmocka_unit_test(rule_retry_and_max_age),
		cmocka_unit_test(failures_stay_isolated),
		cmocka_unit_test(connection_limit),
	};

	sl_log_init("test", SL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
