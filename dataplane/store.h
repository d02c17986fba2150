/*
 * dataplane/store.h - where the SMTP server commits accepted messages.
 *
 * The SMTP server hands each accepted message to sl_store_append() and
 * answers the client from the completion: done(arg, id, 0) runs only
 * after the message is durable (group commit flushed), done(arg, id,
 * -errno) when it failed and nothing of it is kept. The message bytes
 * (iovec) are not copied: they stay unchanged until done has run.
 *
 * The store is a worker module with one shard per worker; all calls come
 * from the owning worker thread, and done runs on it too.
 */
#ifndef SLUICE_DATAPLANE_STORE_H
#define SLUICE_DATAPLANE_STORE_H

#include <stdint.h>
#include <sys/uio.h>

#include "dataplane/smtp_parse.h"

struct sl_worker;
struct sl_spool;

#define SL_STORE_BODYHASH_SIZE 64

/* Envelope flags. */
#define SL_STORE_F_8BITMIME 0x01u
#define SL_STORE_F_SMTPUTF8 0x02u
#define SL_STORE_F_RET_FULL 0x04u
#define SL_STORE_F_RET_HDRS 0x08u

struct sl_store_rcpt {
	const char *addr;
	const char *orcpt;	/* NULL when not given */
	uint8_t notify;		/* SL_SMTP_NOTIFY_* bits */
};

struct sl_store_envelope {
	const char *sender;	/* "" for the null sender */
	const char *envid;	/* NULL when not given */
	uint32_t flags;
	int64_t arrival;	/* unix seconds */
	uint8_t bodyhash[SL_STORE_BODYHASH_SIZE];
	const struct sl_store_rcpt *rcpts;
	unsigned rcpt_count;
};

typedef void sl_store_done_fn(void *arg, uint64_t id, int err);

int sl_store_register(void);
int sl_store_append(struct sl_worker *worker, const struct sl_store_envelope *env,
		    const struct iovec *iov, unsigned iovcnt, sl_store_done_fn *done, void *arg,
		    uint64_t *id);
/* The SMTP reply for a failed append, for example 452 4.3.1 for -ENOSPC. */
const char *sl_store_smtp_reply(int err);

/* The spool shard of worker, for delivery (NULL before the store's init). */
struct sl_spool *sl_store_spool(struct sl_worker *worker);

/* Called on the worker thread for each message made durable, before the
 * append's own done callback; delivery queues the message from here. */
typedef void sl_store_commit_fn(struct sl_worker *worker, uint64_t id);
void sl_store_set_commit_hook(sl_store_commit_fn *fn);

#endif
