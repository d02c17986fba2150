/*
 * bench/sluice-bench/threads.h - run one timed loop on pinned threads.
 *
 * sl_bench_run_pinned() starts one thread per listed CPU, pins it there,
 * runs setup, waits until every thread is ready, then calls op until
 * "seconds" have passed or sl_bench_stop is set, and runs teardown. Each
 * op call returns the number of items it did (messages, signatures,
 * bytes) or a negative errno value, which ends that thread's loop and
 * the measurement. The rate is the sum of each thread's items divided by
 * its own elapsed time.
 */
#ifndef SLUICE_BENCH_THREADS_H
#define SLUICE_BENCH_THREADS_H

#include <stddef.h>
#include <stdint.h>

struct sl_bench_loop {
	/* Given by the caller. */
	const void *shared;                 /* read-only input for every thread */
	int (*setup)(struct sl_bench_loop *l);
	int64_t (*op)(struct sl_bench_loop *l);
	void (*teardown)(struct sl_bench_loop *l);
	/* Per thread. */
	void *state;                        /* owned by setup/teardown */
	int cpu;
	double seconds;
	void *barrier;
	uint64_t items;
	double elapsed;
	int rc;
	char err[512];
};

/*
 * Run the loop of proto on each of cpus[0..n). Returns 0 and the total
 * rate in items per second in *rate, or the first thread's negative
 * errno value with its message copied to err.
 */
int sl_bench_run_pinned(const struct sl_bench_loop *proto, const int *cpus, unsigned n,
			double seconds, double *rate, char *err, size_t errlen);

#endif
