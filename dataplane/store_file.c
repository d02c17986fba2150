/*
 * dataplane/store_file.c - a minimal durable store behind store.h: one
 * append-only file per worker, group-committed with one fdatasync per
 * loop iteration through the worker's io_uring ring.
 *
 * NOTE: a stand-in until sluiced uses the queue/ spool; it has no index,
 * no recovery scan and no deletion. Record format, one after another:
 *   "SLREC <id hex> <message bytes> <sender> <rcpt count>\n"
 *   one line per recipient "<address>\n", then the message bytes.
 * The path is "<spool.paths[0]>/store-<worker>.log".
 */
#include "dataplane/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_spool.h"
#include "dataplane/buf.h"
#include "dataplane/worker.h"

#define STORE_MAX_IOV 8

struct waiter {
	sl_store_done_fn *done;
	void *arg;
	uint64_t id;
};

struct store {
	int fd;
	unsigned worker;
	uint64_t next_id;
	struct waiter *waiting;		/* written, waiting for the next flush */
	size_t nwaiting, cap;
	struct waiter *flushing;	/* covered by the flush in flight */
	size_t nflushing, flushing_cap;
	bool flush_busy;
	struct sl_uring_op flush_op;
	struct sl_buf head;
};

static const struct sl_worker_module store_module;

const char *sl_store_smtp_reply(int err)
{
	if (err == -ENOSPC || err == -EDQUOT)
		return "452 4.3.1 Insufficient system storage";
	return "451 4.3.0 Local error in processing, message not queued";
}

static int write_all(int fd, const struct iovec *iov, unsigned iovcnt)
{
	struct iovec v[STORE_MAX_IOV];
	unsigned n = iovcnt, first = 0;

	memcpy(v, iov, iovcnt * sizeof(*iov));
	while (first < n) {
		ssize_t w = writev(fd, v + first, (int)(n - first));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (first < n && (size_t)w >= v[first].iov_len) {
			w -= (ssize_t)v[first].iov_len;
			first++;
		}
		if (first < n) {
			v[first].iov_base = (char *)v[first].iov_base + w;
			v[first].iov_len -= (size_t)w;
		}
	}
	return 0;
}

int sl_store_append(struct sl_worker *w, const struct sl_store_envelope *env,
		    const struct iovec *iov, unsigned iovcnt, sl_store_done_fn *done, void *arg,
		    uint64_t *id)
{
	struct store *st = sl_worker_state(w, &store_module);
	struct iovec all[STORE_MAX_IOV];
	size_t total = 0;
	off_t start;
	int rc;

	if (iovcnt + 1 > STORE_MAX_IOV)
		return -EINVAL;
	for (unsigned i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	*id = ((uint64_t)st->worker << 48) | st->next_id++;

	st->head.len = 0;
	sl_buf_reserve(&st->head, 128);
	st->head.len = (size_t)snprintf((char *)st->head.p, st->head.cap,
					"SLREC %016" PRIx64 " %zu %s %u\n", *id, total,
					env->sender[0] ? env->sender : "<>", env->rcpt_count);
	for (unsigned i = 0; i < env->rcpt_count; i++) {
		sl_buf_append(&st->head, env->rcpts[i].addr, strlen(env->rcpts[i].addr));
		sl_buf_append(&st->head, "\n", 1);
	}
	all[0].iov_base = st->head.p;
	all[0].iov_len = st->head.len;
	memcpy(all + 1, iov, iovcnt * sizeof(*iov));

	start = lseek(st->fd, 0, SEEK_END);
	rc = write_all(st->fd, all, iovcnt + 1);
	if (rc < 0) {
		/* Keep nothing half-written. */
		if (start >= 0 && ftruncate(st->fd, start) < 0)
			sl_err("store: ftruncate after failed write failed: %s", strerror(errno));
		return rc;
	}
	if (st->nwaiting == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 256;
		st->waiting = realloc(st->waiting, st->cap * sizeof(*st->waiting));
		if (!st->waiting)
			abort();
	}
	st->waiting[st->nwaiting++] = (struct waiter){ done, arg, *id };
	return 0;
}

static void flush_done(struct sl_worker *w, struct sl_uring_op *op, struct io_uring_cqe *cqe)
{
	struct store *st = (struct store *)((char *)op - offsetof(struct store, flush_op));

	(void)w;
	st->flush_busy = false;
	if (cqe->res < 0)
		sl_err("store: fdatasync failed: %s", strerror(-cqe->res));
	for (size_t i = 0; i < st->nflushing; i++)
		st->flushing[i].done(st->flushing[i].arg, st->flushing[i].id,
				     cqe->res < 0 ? -EIO : 0);
	st->nflushing = 0;
}

/* Start one flush covering everything written so far (group commit). */
static int store_poll(struct sl_worker *w, void *state)
{
	struct store *st = state;
	struct io_uring_sqe *sqe;
	struct waiter *tmp;
	size_t tcap;

	if (st->flush_busy || st->nwaiting == 0)
		return 0;
	tmp = st->flushing;
	tcap = st->flushing_cap;
	st->flushing = st->waiting;
	st->flushing_cap = st->cap;
	st->nflushing = st->nwaiting;
	st->waiting = tmp;
	st->cap = tcap;
	st->nwaiting = 0;

	sqe = sl_worker_sqe(w);
	io_uring_prep_fsync(sqe, st->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &st->flush_op);
	st->flush_busy = true;
	return 0;
}

static bool store_drain(struct sl_worker *w, void *state)
{
	struct store *st = state;

	(void)w;
	return st->flush_busy || st->nwaiting;
}

static int store_init(struct sl_worker *w, void **state)
{
	const struct sl_config_spool *c = sl_config_spool(sl_worker_config(w));
	struct store *st = calloc(1, sizeof(*st));
	char path[4096];

	if (!st)
		return -ENOMEM;
	st->worker = sl_worker_index(w);
	st->next_id = ((uint64_t)time(NULL) & 0xffffff) << 24;
	st->flush_op.fn = flush_done;
	snprintf(path, sizeof(path), "%s/store-%u.log", c->paths.v[0], st->worker);
	mkdir(c->paths.v[0], 0750);
	st->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (st->fd < 0) {
		int err = -errno;

		sl_err("store: open %s failed: %s", path, strerror(errno));
		free(st);
		return err;
	}
	*state = st;
	return 0;
}

static void store_fini(struct sl_worker *w, void *state)
{
	struct store *st = state;

	(void)w;
	if (fdatasync(st->fd) < 0)
		sl_err("store: fdatasync at stop failed: %s", strerror(errno));
	for (size_t i = 0; i < st->nwaiting; i++)
		st->waiting[i].done(st->waiting[i].arg, st->waiting[i].id, -ECANCELED);
	close(st->fd);
	free(st->waiting);
	free(st->flushing);
	sl_buf_free(&st->head);
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
