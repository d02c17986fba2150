/*
 * dataplane/worker.c - see worker.h for the contract.
 *
 * Loop of one worker, each iteration:
 *   1. poll every registered module (spool completions, schedulers, ...);
 *   2. submit SQEs and wait for at least one CQE, unless a module did
 *      work, for at most the time until the next timer;
 *   3. run the callback of each CQE;
 *   4. run expired timers.
 * On stop (an eventfd written by the main thread) each module's drain is
 * called every iteration until none has work left, or until the drain
 * deadline, then the loop exits and modules are finalised.
 */
#include "dataplane/worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_sluiced.h"
#include "dataplane/alloc.h"
#include "dataplane/bufring.h"

/* Time modules get to finish open work after a stop request. */
#define DRAIN_DEADLINE_MS 10000
#define RING_ENTRIES 1024

struct watch {
	struct sl_uring_op op;
	int fd;
	sl_watch_fn *fn;
	void *arg;
};

struct sl_worker {
	unsigned index;
	int cpu;
	pthread_t thread;
	const struct sl_config *cfg;
	struct io_uring ring;
	struct sl_bufring bufring;
	uint64_t now;
	int stop_fd;
	atomic_bool stop_requested;
	bool stopping;
	int error;

	struct sl_timer **heap;
	size_t heap_len, heap_cap;

	void *state[SL_WORKER_MAX_MODULES];
	struct watch watches[8];
	unsigned nwatches;
} __attribute__((aligned(64)));

static const struct sl_worker_module *modules[SL_WORKER_MAX_MODULES];
static unsigned nmodules;
static struct sl_worker *workers;
static unsigned nworkers;

/* Startup handshake: sl_workers_start() returns once every worker is set up. */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static unsigned started;

int sl_worker_module_register(const struct sl_worker_module *module)
{
	if (nmodules == SL_WORKER_MAX_MODULES)
		return -ENOSPC;
	modules[nmodules++] = module;
	return 0;
}

unsigned sl_worker_index(const struct sl_worker *w) { return w->index; }
const struct sl_config *sl_worker_config(const struct sl_worker *w) { return w->cfg; }
bool sl_worker_stopping(const struct sl_worker *w) { return w->stopping; }
struct io_uring *sl_worker_ring(struct sl_worker *w) { return &w->ring; }
uint64_t sl_worker_now(const struct sl_worker *w) { return w->now; }
struct sl_bufring *sl_worker_bufring(struct sl_worker *w) { return &w->bufring; }
unsigned sl_workers_count(void) { return nworkers; }

void *sl_worker_state(struct sl_worker *w, const struct sl_worker_module *module)
{
	for (unsigned i = 0; i < nmodules; i++)
		if (modules[i] == module)
			return w->state[i];
	return NULL;
}

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct io_uring_sqe *sl_worker_sqe(struct sl_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	while (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* Timers: a binary min-heap on deadline. */

static void heap_swap(struct sl_worker *w, size_t a, size_t b)
{
	struct sl_timer *t = w->heap[a];

	w->heap[a] = w->heap[b];
	w->heap[b] = t;
	w->heap[a]->heap_index = a;
	w->heap[b]->heap_index = b;
}

static void heap_up(struct sl_worker *w, size_t i)
{
	while (i > 0 && w->heap[(i - 1) / 2]->deadline > w->heap[i]->deadline) {
		heap_swap(w, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sl_worker *w, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < w->heap_len && w->heap[l]->deadline < w->heap[m]->deadline)
			m = l;
		if (r < w->heap_len && w->heap[r]->deadline < w->heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(w, i, m);
		i = m;
	}
}

void sl_timer_cancel(struct sl_worker *w, struct sl_timer *t)
{
	size_t i = t->heap_index;

	if (!t->deadline)
		return;
	t->deadline = 0;
	w->heap_len--;
	if (i == w->heap_len)
		return;
	w->heap[i] = w->heap[w->heap_len];
	w->heap[i]->heap_index = i;
	heap_up(w, i);
	heap_down(w, w->heap[i]->heap_index);
}

void sl_timer_arm(struct sl_worker *w, struct sl_timer *t, uint64_t delay_ms)
{
	sl_timer_cancel(w, t);
	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap ? w->heap_cap * 2 : 1024;
		struct sl_timer **heap = realloc(w->heap, cap * sizeof(*heap));

		if (!heap)
			abort();	/* allocation failure never returns */
		w->heap = heap;
		w->heap_cap = cap;
	}
	t->deadline = w->now + delay_ms + 1;	/* +1 so a 0 ms timer is still "armed" */
	t->heap_index = w->heap_len;
	w->heap[w->heap_len++] = t;
	heap_up(w, t->heap_index);
}

static void run_timers(struct sl_worker *w)
{
	while (w->heap_len && w->heap[0]->deadline <= w->now) {
		struct sl_timer *t = w->heap[0];

		sl_timer_cancel(w, t);
		t->fn(w, t);
	}
}

/* Watched file descriptors. */

static void arm_watch(struct sl_worker *w, struct watch *watch)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	io_uring_prep_poll_multishot(sqe, watch->fd, POLLIN);
	io_uring_sqe_set_data(sqe, &watch->op);
}

static void watch_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct watch *watch = (struct watch *)op;

	if (cqe->res >= 0 || cqe->res == -ECANCELED)
		watch->fn(w, watch->arg);
	else
		sl_warn("worker=%u poll on fd %d failed: %s", w->index, watch->fd, strerror(-cqe->res));
	if (!(cqe->flags & IORING_CQE_F_MORE))
		arm_watch(w, watch);
}

int sl_worker_watch(struct sl_worker *w, int fd, sl_watch_fn *fn, void *arg)
{
	struct watch *watch;

	if (w->nwatches == sizeof(w->watches) / sizeof(w->watches[0]))
		return -ENOSPC;
	watch = &w->watches[w->nwatches++];
	watch->op.fn = watch_done;
	watch->fd = fd;
	watch->fn = fn;
	watch->arg = arg;
	arm_watch(w, watch);
	return 0;
}

static void stop_event(struct sl_worker *w, void *arg)
{
	uint64_t v;

	(void)arg;
	if (read(w->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		sl_warn("worker=%u read of stop eventfd failed: %s", w->index, strerror(errno));
	if (atomic_load(&w->stop_requested))
		w->stopping = true;
}

/* The loop. */

static int poll_modules(struct sl_worker *w)
{
	int work = 0;

	for (unsigned i = 0; i < nmodules; i++)
		if (modules[i]->poll)
			work += modules[i]->poll(w, w->state[i]) > 0;
	return work;
}

static bool drain_modules(struct sl_worker *w)
{
	bool busy = false;

	for (unsigned i = 0; i < nmodules; i++)
		if (modules[i]->drain && modules[i]->drain(w, w->state[i]))
			busy = true;
	return busy;
}

static void reap(struct sl_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, count = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		struct sl_uring_op *op = io_uring_cqe_get_data(cqe);

		if (op)
			op->fn(w, op, cqe);
		count++;
	}
	io_uring_cq_advance(&w->ring, count);
}

static void wait_events(struct sl_worker *w, bool did_work)
{
	struct __kernel_timespec ts = { 0 };
	struct io_uring_cqe *cqe;
	uint64_t wait_ms = 1000;

	if (did_work) {
		io_uring_submit_and_get_events(&w->ring);
		return;
	}
	if (w->heap_len)
		wait_ms = w->heap[0]->deadline > w->now ? w->heap[0]->deadline - w->now : 0;
	if (wait_ms > 1000)
		wait_ms = 1000;
	ts.tv_sec = (long long)(wait_ms / 1000);
	ts.tv_nsec = (long long)(wait_ms % 1000) * 1000000;
	io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
}

static void run_loop(struct sl_worker *w)
{
	uint64_t drain_deadline = 0;

	for (;;) {
		int work = poll_modules(w);

		wait_events(w, work > 0);
		w->now = clock_ms();
		reap(w);
		w->now = clock_ms();
		run_timers(w);

		if (!w->stopping)
			continue;
		if (!drain_deadline) {
			drain_deadline = w->now + DRAIN_DEADLINE_MS;
			sl_info("worker=%u stopping", w->index);
		}
		if (!drain_modules(w))
			break;
		if (w->now >= drain_deadline) {
			sl_warn("worker=%u drain deadline of %d ms passed, stopping with work left",
				w->index, DRAIN_DEADLINE_MS);
			break;
		}
	}
}

static int worker_setup(struct sl_worker *w)
{
	const struct sl_config_sluiced *c = sl_config_sluiced(w->cfg);
	/* Only this thread submits, and the kernel posts completions only
	 * when this thread waits for them (DEFER_TASKRUN, Linux 6.1), which
	 * saves wakeups. */
	struct io_uring_params params = {
		.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
	};
	unsigned arena;
	int rc;

	rc = sl_alloc_thread_arena(&arena);
	if (rc < 0)
		sl_warn("worker=%u jemalloc arena creation failed: %s", w->index, strerror(-rc));
	rc = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &params);
	if (rc < 0) {
		sl_err("worker=%u io_uring_queue_init failed: %s", w->index, strerror(-rc));
		return rc;
	}
	rc = sl_bufring_init(&w->bufring, &w->ring, (unsigned)c->recv_buffers,
			     (unsigned)c->recv_buffer_size);
	if (rc < 0) {
		sl_err("worker=%u provided buffer ring setup failed: %s", w->index, strerror(-rc));
		return rc;
	}
	w->now = clock_ms();
	rc = sl_worker_watch(w, w->stop_fd, stop_event, NULL);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < nmodules; i++) {
		if (!modules[i]->init)
			continue;
		rc = modules[i]->init(w, &w->state[i]);
		if (rc < 0) {
			sl_err("worker=%u module %s failed to start: %s", w->index, modules[i]->name,
			       strerror(-rc));
			return rc;
		}
	}
	sl_info("worker=%u started cpu=%d arena=%u allocator=%s", w->index, w->cpu, arena,
		sl_alloc_name());
	return 0;
}

static void *worker_main(void *arg)
{
	struct sl_worker *w = arg;

	w->error = worker_setup(w);
	pthread_mutex_lock(&start_lock);
	started++;
	pthread_cond_broadcast(&start_cond);
	pthread_mutex_unlock(&start_lock);
	if (w->error == 0)
		run_loop(w);
	for (unsigned i = nmodules; i-- > 0;)
		if (modules[i]->fini && w->state[i])
			modules[i]->fini(w, w->state[i]);
	io_uring_submit(&w->ring);
	sl_bufring_destroy(&w->bufring, &w->ring);
	io_uring_queue_exit(&w->ring);
	free(w->heap);
	sl_info("worker=%u stopped", w->index);
	return NULL;
}

/* The CPUs to pin to: the configured list, or every online CPU but the first. */
static int pick_cpus(const struct sl_config_sluiced *c, int *cpus, unsigned max)
{
	cpu_set_t online;
	unsigned n = 0;

	if (c->cpus.n) {
		for (size_t i = 0; i < c->cpus.n && n < max; i++)
			cpus[n++] = c->cpus.v[i];
		return (int)n;
	}
	if (sched_getaffinity(0, sizeof(online), &online) < 0)
		return -errno;
	for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
		if (CPU_ISSET(cpu, &online))
			cpus[n++] = cpu;
	if (n > 1) {
		memmove(cpus, cpus + 1, (n - 1) * sizeof(int));
		n--;
	}
	return (int)n;
}

int sl_workers_start(const struct sl_config *cfg)
{
	const struct sl_config_sluiced *c = sl_config_sluiced(cfg);
	int cpus[256];
	int ncpus = pick_cpus(c, cpus, 256);

	if (ncpus <= 0) {
		sl_err("no CPU available for workers");
		return -EINVAL;
	}
	nworkers = c->workers ? (unsigned)c->workers : (unsigned)ncpus;
	workers = aligned_alloc(64, sizeof(*workers) * nworkers);
	if (!workers)
		return -ENOMEM;
	memset(workers, 0, sizeof(*workers) * nworkers);

	for (unsigned i = 0; i < nworkers; i++) {
		struct sl_worker *w = &workers[i];
		pthread_attr_t attr;
		cpu_set_t set;
		int rc;

		w->index = i;
		w->cpu = cpus[i % (unsigned)ncpus];
		w->cfg = cfg;
		w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->stop_fd < 0)
			return -errno;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		rc = pthread_create(&w->thread, &attr, worker_main, w);
		pthread_attr_destroy(&attr);
		if (rc) {
			sl_err("pthread_create for worker %u on cpu %d failed: %s", i, w->cpu,
			       strerror(rc));
			nworkers = i;
			return -rc;
		}
	}

	pthread_mutex_lock(&start_lock);
	while (started < nworkers)
		pthread_cond_wait(&start_cond, &start_lock);
	pthread_mutex_unlock(&start_lock);
	for (unsigned i = 0; i < nworkers; i++)
		if (workers[i].error)
			return workers[i].error;
	return 0;
}

void sl_workers_stop(void)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < nworkers; i++) {
		atomic_store(&workers[i].stop_requested, true);
		if (write(workers[i].stop_fd, &one, sizeof(one)) < 0)
			sl_warn("write to worker %u stop eventfd failed: %s", i, strerror(errno));
	}
}

int sl_workers_join(void)
{
	int error = 0;

	for (unsigned i = 0; i < nworkers; i++) {
		pthread_join(workers[i].thread, NULL);
		close(workers[i].stop_fd);
		if (workers[i].error && !error)
			error = workers[i].error;
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
	return error;
}
