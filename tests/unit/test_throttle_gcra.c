/*
 * Unit tests for dataplane/throttle/gcra: rate arithmetic, bursts, the
 * wait time, and the compare-and-swap path under several threads. The
 * threaded tests pass a fixed clock value, so they assert exact counts
 * and never depend on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>

#include "dataplane/throttle/gcra.h"

#define THREADS 4

static void params_from_rate(void **state)
{
	struct sl_gcra_params p = sl_gcra_params(10, 1, 1);

	(void)state;
	assert_int_equal(p.interval_ns, 100000000ULL);
	assert_int_equal(p.tolerance_ns, 0);
	p = sl_gcra_params(60, 60, 5);
	assert_int_equal(p.interval_ns, SL_NS_PER_SEC);
	assert_int_equal(p.tolerance_ns, 4 * SL_NS_PER_SEC);
	p = sl_gcra_params(0, 1, 1);
	assert_int_equal(p.interval_ns, 0);
}

static void unlimited_always_allows(void **state)
{
	struct sl_gcra g = { 0 };
	struct sl_gcra_params p = sl_gcra_params(0, 0, 0);
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(sl_gcra_take(&g, &p, 5, NULL), 0);
}

static void rate_spaces_messages(void **state)
{
	struct sl_gcra g = { 0 };
	struct sl_gcra_params p = sl_gcra_params(10, 1, 1);
	uint64_t now = 1000 * SL_NS_PER_SEC, wait = 0;

	(void)state;
	assert_int_equal(sl_gcra_take(&g, &p, now, &wait), 0);
	assert_int_equal(sl_gcra_take(&g, &p, now, &wait), -EAGAIN);
	assert_int_equal(wait, 100000000ULL);
	assert_int_equal(sl_gcra_take(&g, &p, now + 50000000ULL, &wait), -EAGAIN);
	assert_int_equal(wait, 50000000ULL);
	assert_int_equal(sl_gcra_take(&g, &p, now + 100000000ULL, &wait), 0);
}

static void burst_then_steady(void **state)
{
	struct sl_gcra g = { 0 };
	struct sl_gcra_params p = sl_gcra_params(10, 1, 5);
	uint64_t now = 1000 * SL_NS_PER_SEC, wait;
	int i, allowed = 0;

	(void)state;
	for (i = 0; i < 20; i++)
		allowed += sl_gcra_take(&g, &p, now, &wait) == 0;
	assert_int_equal(allowed, 5);

	/* 0.3 s later, three 0.1 s slots have opened. */
	allowed = 0;
	for (i = 0; i < 20; i++)
		allowed += sl_gcra_take(&g, &p, now + 300000000ULL, &wait) == 0;
	assert_int_equal(allowed, 3);
}

static void idle_does_not_bank_credit(void **state)
{
	struct sl_gcra g = { 0 };
	struct sl_gcra_params p = sl_gcra_params(10, 1, 3);
	uint64_t now = 1000 * SL_NS_PER_SEC, wait;
	int i, allowed = 0;

	(void)state;
	assert_int_equal(sl_gcra_take(&g, &p, now, &wait), 0);
	/* After an hour idle, only the burst is available at once. */
	for (i = 0; i < 100; i++)
		allowed += sl_gcra_take(&g, &p, now + 3600 * SL_NS_PER_SEC, &wait) == 0;
	assert_int_equal(allowed, 3);
}

struct gcra_job {
	struct sl_gcra *gcra;
	struct sl_gcra_params params;
	uint64_t now;
	int tries;
	int allowed;
};

static void *gcra_worker(void *arg)
{
	struct gcra_job *job = arg;
	int i;

	for (i = 0; i < job->tries; i++)
		job->allowed += sl_gcra_take(job->gcra, &job->params, job->now, NULL) == 0;
	return NULL;
}

static int run_gcra_threads(struct sl_gcra *g, struct sl_gcra_params p,
			    uint64_t now, int tries)
{
	pthread_t tid[THREADS];
	struct gcra_job jobs[THREADS];
	int i, total = 0;

	for (i = 0; i < THREADS; i++) {
		jobs[i] = (struct gcra_job){ g, p, now, tries, 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, gcra_worker, &jobs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		total += jobs[i].allowed;
	}
	return total;
}

static void threads_share_one_key(void **state)
{
	struct sl_gcra g = { 0 };
	/* 1000 per second with a burst of 1000: at one instant exactly 1000
	 * takes succeed, however the threads interleave. */
	struct sl_gcra_params p = sl_gcra_params(1000, 1, 1000);
	uint64_t now = 1000 * SL_NS_PER_SEC;

	(void)state;
	assert_int_equal(run_gcra_threads(&g, p, now, 100000), 1000);
	/* Half a second later, exactly 500 more. */
	assert_int_equal(run_gcra_threads(&g, p, now + SL_NS_PER_SEC / 2, 100000), 500);
}

struct limit_job {
	_Atomic uint32_t *count;
	uint32_t max;
	int acquired;
};

static void *limit_worker(void *arg)
{
	struct limit_job *job = arg;
	int i;

	for (i = 0; i < 100000; i++)
		job->acquired += sl_limit_acquire(job->count, job->max) == 0;
	return NULL;
}

static void limit_counter_under_threads(void **state)
{
	_Atomic uint32_t count = 0;
	pthread_t tid[THREADS];
	struct limit_job jobs[THREADS];
	int i, total = 0;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		jobs[i] = (struct limit_job){ &count, 777, 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, limit_worker, &jobs[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		total += jobs[i].acquired;
	}
	assert_int_equal(total, 777);
	assert_int_equal(count, 777);
	sl_limit_release(&count);
	assert_int_equal(sl_limit_acquire(&count, 777), 0);
	assert_int_equal(sl_limit_acquire(&count, 777), -EAGAIN);
}

static void limit_zero_is_unlimited(void **state)
{
	_Atomic uint32_t count = 0;
	int i;

	(void)state;
	for (i = 0; i < 5000; i++)
		assert_int_equal(sl_limit_acquire(&count, 0), 0);
	assert_int_equal(count, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(params_from_rate),
		cmocka_unit_test(unlimited_always_allows),
		cmocka_unit_test(rate_spaces_messages),
		cmocka_unit_test(burst_then_steady),
		cmocka_unit_test(idle_does_not_bank_credit),
		cmocka_unit_test(threads_share_one_key),
		cmocka_unit_test(limit_counter_under_threads),
		cmocka_unit_test(limit_zero_is_unlimited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
