/*
 * dataplane/worker.h - sluiced's pinned worker threads and their loop.
 *
 * Each worker is one thread pinned to one CPU with its own io_uring ring,
 * jemalloc arena, timers and per-module state. Workers share nothing; the
 * main thread only starts them, signals them to stop and joins them.
 *
 * Extending the loop without editing it: a module registers a struct
 * sl_worker_module before sl_workers_start(). Each worker then calls the
 * module's init (which may create per-worker state, listeners, timers,
 * watched file descriptors), its poll once per loop iteration, its drain
 * at shutdown until it reports idle, and its fini.
 *
 * Timers: sl_timer_arm() (re)arms a timer relative to the loop's clock;
 * expired timers run on the worker thread after I/O completions.
 * Watched fds: sl_worker_watch() runs a callback whenever an fd becomes
 * readable (a multishot poll), for example the spool's eventfd.
 *
 * Completions: every SQE a module submits on the worker ring carries a
 * pointer to a struct sl_uring_op in user_data; the loop calls op->fn with
 * the CQE. A module gets an SQE with sl_worker_sqe(), which flushes the
 * submission queue when full and never returns NULL.
 */
#ifndef SLUICE_DATAPLANE_WORKER_H
#define SLUICE_DATAPLANE_WORKER_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct sl_worker;
struct sl_config;

struct sl_uring_op {
	void (*fn)(struct sl_worker *worker, struct sl_uring_op *op, struct io_uring_cqe *cqe);
};

struct sl_timer {
	uint64_t deadline;	/* loop clock, ms; 0 when not armed */
	size_t heap_index;
	void (*fn)(struct sl_worker *worker, struct sl_timer *timer);
};

struct sl_worker_module {
	const char *name;
	/* Make per-worker state; *state is then passed to the other calls. */
	int (*init)(struct sl_worker *worker, void **state);
	/* One loop iteration; returns > 0 when it did work (the loop then
	 * does not sleep). */
	int (*poll)(struct sl_worker *worker, void *state);
	/* Shutdown: stop taking new work; returns true while work remains. */
	bool (*drain)(struct sl_worker *worker, void *state);
	void (*fini)(struct sl_worker *worker, void *state);
};

#define SL_WORKER_MAX_MODULES 16

int sl_worker_module_register(const struct sl_worker_module *module);

int sl_workers_start(const struct sl_config *cfg);
void sl_workers_stop(void);		/* async-signal-unsafe; from the main thread */
int sl_workers_join(void);		/* returns the first worker error or 0 */
unsigned sl_workers_count(void);

/* Worker accessors. */
unsigned sl_worker_index(const struct sl_worker *worker);
const struct sl_config *sl_worker_config(const struct sl_worker *worker);
void *sl_worker_state(struct sl_worker *worker, const struct sl_worker_module *module);
bool sl_worker_stopping(const struct sl_worker *worker);
struct io_uring *sl_worker_ring(struct sl_worker *worker);
struct io_uring_sqe *sl_worker_sqe(struct sl_worker *worker);
uint64_t sl_worker_now(const struct sl_worker *worker);	/* ms, monotonic */

void sl_timer_arm(struct sl_worker *worker, struct sl_timer *timer, uint64_t delay_ms);
void sl_timer_cancel(struct sl_worker *worker, struct sl_timer *timer);

typedef void sl_watch_fn(struct sl_worker *worker, void *arg);
int sl_worker_watch(struct sl_worker *worker, int fd, sl_watch_fn *fn, void *arg);

/* Provided receive buffers of the worker (kernel backend). */
struct sl_bufring;
struct sl_bufring *sl_worker_bufring(struct sl_worker *worker);

#endif
