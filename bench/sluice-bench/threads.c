/*
 * bench/sluice-bench/threads.c - timed loops on pinned threads; the
 * contract is in threads.h.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sluice-bench/bench.h"
#include "bench/sluice-bench/threads.h"

static void *thread_main(void *arg)
{
	struct sl_bench_loop *l = arg;
	cpu_set_t set;
	double start, now;

	CPU_ZERO(&set);
	CPU_SET(l->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);

	l->rc = l->setup ? l->setup(l) : 0;
	pthread_barrier_wait(l->barrier);
	if (l->rc < 0)
		goto out;

	start = sl_bench_now();
	now = start;
	while (now - start < l->seconds && !sl_bench_stop) {
		int64_t n = l->op(l);

		if (n < 0) {
			l->rc = (int)n;
			break;
		}
		l->items += (uint64_t)n;
		now = sl_bench_now();
	}
	l->elapsed = sl_bench_now() - start;
out:
	if (l->teardown)
		l->teardown(l);
	return NULL;
}

int sl_bench_run_pinned(const struct sl_bench_loop *proto, const int *cpus, unsigned n,
			double seconds, double *rate, char *err, size_t errlen)
{
	struct sl_bench_loop *loops = calloc(n, sizeof(*loops));
	pthread_t *threads = calloc(n, sizeof(*threads));
	pthread_barrier_t barrier;
	unsigned started = 0;
	int rc = 0;

	*rate = 0;
	if (!loops || !threads) {
		free(loops);
		free(threads);
		snprintf(err, errlen, "out of memory for %u threads", n);
		return -ENOMEM;
	}
	pthread_barrier_init(&barrier, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		loops[i] = *proto;
		loops[i].cpu = cpus[i];
		loops[i].seconds = seconds;
		loops[i].barrier = &barrier;
	}
	for (; started < n; started++) {
		if (pthread_create(&threads[started], NULL, thread_main, &loops[started]) != 0)
			break;
	}
	if (started < n) {
		/* The barrier waits for n threads: none of them can pass it, so abort. */
		fprintf(stderr, "sluice-bench: pthread_create() failed after %u of %u threads\n",
			started, n);
		abort();
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);

	for (unsigned i = 0; i < n; i++) {
		if (loops[i].rc < 0 && rc == 0) {
			rc = loops[i].rc;
			snprintf(err, errlen, "%s", loops[i].err[0] ? loops[i].err : strerror(-rc));
		}
		if (loops[i].elapsed > 0)
			*rate += (double)loops[i].items / loops[i].elapsed;
	}
	free(loops);
	free(threads);
	return rc;
}
