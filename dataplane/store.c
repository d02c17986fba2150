/*
 * dataplane/store.c - store.h on top of the queue/ spool: each worker
 * opens spool shard N (N = worker index) at start and closes it at stop.
 *
 * Appends only queue work; the worker module's poll calls sl_spool_poll()
 * every loop iteration, which submits the batch (group commit) and runs
 * the callbacks of flushed batches. The shard's eventfd is watched on the
 * worker ring, so a flush completion wakes an idle worker.
 *
 * After each poll, the group commits completed since the last poll are
 * copied from the spool's latency histogram into the worker's shared
 * counters (spool flush latency), so queue/ needs no sluiced counters.
 * NOTE: the spool's buckets are 2^(1/4) wide, so each latency published
 * is the upper bound of its bucket, up to 19% above the measured value.
 */
#include "dataplane/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_http.h"
#include "ctl/config/config_smtp.h"
#include "ctl/config/config_spool.h"
#include "dataplane/ctl_link.h"
#include "dataplane/worker.h"
#include "queue/spool.h"

_Static_assert(SL_STORE_BODYHASH_SIZE == SL_SPOOL_BODYHASH_SIZE, "body hash sizes differ");
_Static_assert(SL_STORE_F_8BITMIME == SL_SPOOL_F_8BITMIME && SL_STORE_F_SMTPUTF8 == SL_SPOOL_F_SMTPUTF8 &&
	       SL_STORE_F_RET_FULL == SL_SPOOL_F_RET_FULL && SL_STORE_F_RET_HDRS == SL_SPOOL_F_RET_HDRS,
	       "envelope flags differ");
_Static_assert(SL_SMTP_NOTIFY_NEVER == SL_SPOOL_NOTIFY_NEVER &&
	       SL_SMTP_NOTIFY_SUCCESS == SL_SPOOL_NOTIFY_SUCCESS &&
	       SL_SMTP_NOTIFY_FAILURE == SL_SPOOL_NOTIFY_FAILURE &&
	       SL_SMTP_NOTIFY_DELAY == SL_SPOOL_NOTIFY_DELAY, "NOTIFY bits differ");

struct store {
	struct sl_spool *shard;
	struct sl_spool_rcpt *rcpts;	/* scratch for one append */
	unsigned rcpt_cap;
	uint64_t batches_published;	/* group commits already counted */
	uint32_t flush_hist_published[SL_SPOOL_FLUSH_BUCKETS];
};

/* An append in flight: the caller's completion plus the worker for the
 * commit hook. */
struct pending {
	struct sl_worker *w;
	sl_store_done_fn *done;
	void *arg;
};

static const struct sl_worker_module store_module;
static sl_store_commit_fn *commit_hook;

void sl_store_set_commit_hook(sl_store_commit_fn *fn)
{
	commit_hook = fn;
}

struct sl_spool *sl_store_spool(struct sl_worker *w)
{
	struct store *st = sl_worker_state(w, &store_module);

	return st ? st->shard : NULL;
}

static void append_done(void *arg, uint64_t id, int err)
{
	struct pending *p = arg;

	if (err == 0 && commit_hook)
		commit_hook(p->w, id);
	p->done(p->arg, id, err);
	free(p);
}

const char *sl_store_smtp_reply(int err)
{
	return sl_spool_smtp_reply(err);
}

int sl_store_append(struct sl_worker *w, const struct sl_store_envelope *env,
		    const struct iovec *iov, unsigned iovcnt, sl_store_done_fn *done, void *arg,
		    uint64_t *id)
{
	struct store *st = sl_worker_state(w, &store_module);
	struct sl_spool_envelope senv;

	if (env->rcpt_count > st->rcpt_cap)
		return -EINVAL;
	for (unsigned i = 0; i < env->rcpt_count; i++) {
		st->rcpts[i] = (struct sl_spool_rcpt){
			.address = env->rcpts[i].addr,
			.orcpt = env->rcpts[i].orcpt,
			.notify = env->rcpts[i].notify,
		};
	}
	senv = (struct sl_spool_envelope){
		.sender = env->sender,
		.envid = env->envid,
		.flags = env->flags,
		.arrival = env->arrival,
		.rcpts = st->rcpts,
		.rcpt_count = env->rcpt_count,
	};
	memcpy(senv.bodyhash, env->bodyhash, sizeof(senv.bodyhash));
	if (!commit_hook)
		return sl_spool_append(st->shard, &senv, iov, iovcnt, done, arg, id);

	struct pending *p = malloc(sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	*p = (struct pending){ w, done, arg };
	rc = sl_spool_append(st->shard, &senv, iov, iovcnt, append_done, p, id);
	if (rc < 0)
		free(p);
	return rc;
}

/* Counts the group commits completed since the last call in the shared
 * flush latency counters, one per batch. */
static void publish_flushes(struct sl_worker *w, struct store *st)
{
	struct sl_shm_worker *shm = sl_sluiced_counters(w);
	struct sl_spool_stats stats;

	if (!shm)
		return;
	sl_spool_stats(st->shard, &stats);
	if (stats.batches == st->batches_published)
		return;
	st->batches_published = stats.batches;
	for (unsigned i = 0; i < SL_SPOOL_FLUSH_BUCKETS; i++) {
		uint32_t added = stats.flush_us_hist[i] - st->flush_hist_published[i];
		/* Upper bound of bucket i: 2^(i/4) microseconds. */
		static const double quarter_powers[4] = { 1.0, 1.189207115, 1.414213562, 1.681792831 };
		uint64_t latency_us = (uint64_t)((double)(1ULL << (i / 4)) * quarter_powers[i % 4] + 0.999);

		for (uint32_t k = 0; k < added; k++)
			sl_shm_count_flush(shm, latency_us);
		st->flush_hist_published[i] = stats.flush_us_hist[i];
	}
}

static void spool_event(struct sl_worker *w, void *arg)
{
	struct store *st = arg;
	uint64_t v;

	if (read(sl_spool_event_fd(st->shard), &v, sizeof(v)) < 0 && errno != EAGAIN)
		sl_warn("store: read of spool eventfd failed: %s", strerror(errno));
	sl_spool_poll(st->shard);
	publish_flushes(w, st);
}

static int store_poll(struct sl_worker *w, void *state)
{
	struct store *st = state;
	int rc = sl_spool_poll(st->shard);

	publish_flushes(w, st);

	if (rc < 0)
		sl_err("worker=%u spool poll failed: %s", sl_worker_index(w), strerror(-rc));
	return rc > 0 ? rc : 0;
}

static bool store_drain(struct sl_worker *w, void *state)
{
	struct store *st = state;

	(void)w;
	return sl_spool_busy(st->shard);
}

static enum sl_spool_flush_mode flush_mode(const char *name)
{
	if (!strcmp(name, "rwf_dsync"))
		return SL_SPOOL_FLUSH_RWF_DSYNC;
	if (!strcmp(name, "o_dsync"))
		return SL_SPOOL_FLUSH_O_DSYNC;
	return SL_SPOOL_FLUSH_FDATASYNC;
}

static int store_init(struct sl_worker *w, void **state)
{
	const struct sl_config *cfg = sl_worker_config(w);
	const struct sl_config_spool *c = sl_config_spool(cfg);
	struct sl_spool_config scfg;
	struct store *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	*state = st;
	sl_spool_config_default(&scfg);
	scfg.paths = (const char *const *)c->paths.v;
	scfg.path_count = (unsigned)c->paths.n;
	scfg.segment_size = c->segment_size;
	scfg.flush_mode = flush_mode(c->flush_mode);
	scfg.free_floor_percent = (unsigned)c->free_floor_percent;
	scfg.max_batch_records = (unsigned)c->max_batch_records;
	scfg.ring_entries = (unsigned)c->ring_entries;

	rc = sl_spool_open(&scfg, sl_worker_index(w), &st->shard);
	if (rc < 0) {
		sl_err("worker=%u spool shard %u open failed: %s", sl_worker_index(w),
		       sl_worker_index(w), strerror(-rc));
		return rc;
	}
	/* Room for the largest envelope the SMTP server or the HTTP API accepts. */
	st->rcpt_cap = (unsigned)sl_config_smtp(cfg)->max_recipients;
	if (sl_config_http(cfg)->max_recipients > st->rcpt_cap)
		st->rcpt_cap = (unsigned)sl_config_http(cfg)->max_recipients;
	st->rcpts = calloc(st->rcpt_cap, sizeof(*st->rcpts));
	if (!st->rcpts)
		return -ENOMEM;
	return sl_worker_watch(w, sl_spool_event_fd(st->shard), spool_event, st);
}

static void store_fini(struct sl_worker *w, void *state)
{
	struct store *st = state;
	struct sl_spool_stats stats;

	if (st->shard) {
		sl_spool_stats(st->shard, &stats);
		sl_info("worker=%u spool closed messages=%llu batches=%llu records=%llu",
			sl_worker_index(w), (unsigned long long)stats.messages,
			(unsigned long long)stats.batches, (unsigned long long)stats.records);
		sl_spool_close(st->shard);
	}
	free(st->rcpts);
	free(st);
}

static const struct sl_worker_module store_module = {
	.name = "store",
	.init = store_init,
	.poll = store_poll,
	.drain = store_drain,
	.fini = store_fini,
};

int sl_store_register(void)
{
	return sl_worker_module_register(&store_module);
}
