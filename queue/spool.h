/*
 * queue/spool.h - the durable message spool: append-only segment files
 * written through io_uring with group commit, and crash recovery.
 *
 * Durability promise
 *   A completion callback that reports success (err == 0) runs only after
 *   the flush (fdatasync, RWF_DSYNC or O_DSYNC writes, per configuration)
 *   covering that record has completed. A message whose append callback
 *   reported success survives kill -9 and power loss on a disk that honours
 *   flushes, and is found by sl_spool_open() afterwards until state records
 *   make every one of its recipients final (delivered or bounced).
 *   Records written but never acknowledged may also survive a crash, so
 *   delivery is at-least-once.
 *
 * Shards, ownership and threading
 *   A shard is one worker's part of the spool: its own folder
 *   (PATH/shard-NNN, where PATH is cfg->paths[shard_index % path_count]),
 *   its own segment files and its own io_uring ring. All functions taking
 *   a shard must be called from the one thread that owns it. Shards share
 *   nothing, so different threads may own different shards without locks.
 *   Callbacks run inside sl_spool_poll() on the owner thread. A callback
 *   may call any function of this file except sl_spool_close().
 *
 * Poll-mode use
 *   sl_spool_append(), sl_spool_set_state() and sl_spool_read() only queue
 *   work and return at once. The owner calls sl_spool_poll() in every loop
 *   iteration: it submits the queued batch with one io_uring_submit(),
 *   reaps completions and runs callbacks, and never waits. When
 *   sl_spool_busy() is true and the owner has nothing else to do, it waits
 *   for sl_spool_event_fd() to become readable (epoll or a ring poll) or
 *   calls sl_spool_wait(). Writes never block the calling thread; the
 *   known exceptions are marked NOTE: in spool.c (opening a new segment
 *   file and truncating after a failed write are synchronous system calls).
 *   sl_spool_open() is synchronous: it scans the whole shard.
 *
 * Buffers
 *   Strings in struct sl_spool_envelope are copied by sl_spool_append().
 *   The message bytes passed as an iovec are NOT copied: the caller keeps
 *   them unchanged until the append callback has run.
 *   The buffer given to sl_spool_read() belongs to the caller and must stay
 *   valid until the read callback has run.
 *
 * Errors
 *   Functions return 0 or a negative errno value. All spool failures are
 *   temporary from the mail client's point of view:
 *     -ENOSPC   disk full while writing      -> SMTP 452 4.3.1
 *     -EDQUOT   free space below the floor   -> SMTP 452 4.3.1
 *     -EIO      write, flush or read failed  -> SMTP 451 4.3.0
 *     -EBADMSG  checksum mismatch on read    -> SMTP 451 4.3.0 / defer
 *   sl_spool_smtp_reply() returns the reply text for an error.
 *
 * Memory
 *   The index holds envelope and scheduling data only, never message
 *   bytes; sl_spool_stats() reports its size.
 */
#ifndef SLUICE_QUEUE_SPOOL_H
#define SLUICE_QUEUE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Size of the opaque blob stored with each message for the DKIM body
 * hashes computed at accept time; the caller defines its layout. */
#define SL_SPOOL_BODYHASH_SIZE 64

/* Maximum number of recipients of one message. */
#define SL_SPOOL_MAX_RCPTS 65535

/* Maximum length of a sender, recipient, ORCPT or ENVID string, in bytes. */
#define SL_SPOOL_MAX_ADDRESS 1024

enum sl_spool_flush_mode {
	SL_SPOOL_FLUSH_FDATASYNC = 0,	/* writes, then one fdatasync per batch */
	SL_SPOOL_FLUSH_RWF_DSYNC,	/* each write carries RWF_DSYNC */
	SL_SPOOL_FLUSH_O_DSYNC,		/* segment files opened with O_DSYNC */
};

struct sl_spool_config {
	const char *const *paths;	/* spool folders, may sit on different disks */
	unsigned path_count;
	uint64_t segment_size;		/* bytes per segment file; default 64 MiB */
	enum sl_spool_flush_mode flush_mode;
	unsigned free_floor_percent;	/* refuse new mail below this free space; default 10 */
	bool read_direct;		/* read message bytes with O_DIRECT */
	unsigned ring_entries;		/* io_uring submission queue size; default 256 */
	unsigned rewrite_live_percent;	/* rewrite live messages out of segments
					 * with less live data than this; default 25 */
	unsigned max_batch_records;	/* records per group commit; default 1024 */
};

/* Message flags (struct sl_spool_envelope.flags). */
#define SL_SPOOL_F_8BITMIME  0x01u	/* BODY=8BITMIME */
#define SL_SPOOL_F_SMTPUTF8  0x02u	/* SMTPUTF8 */
#define SL_SPOOL_F_RET_FULL  0x04u	/* DSN RET=FULL */
#define SL_SPOOL_F_RET_HDRS  0x08u	/* DSN RET=HDRS */
#define SL_SPOOL_F_BINARYMIME 0x10u	/* BODY=BINARYMIME */

/* DSN NOTIFY bits (struct sl_spool_rcpt.notify); 0 means not given. */
#define SL_SPOOL_NOTIFY_NEVER   0x01u
#define SL_SPOOL_NOTIFY_SUCCESS 0x02u
#define SL_SPOOL_NOTIFY_FAILURE 0x04u
#define SL_SPOOL_NOTIFY_DELAY   0x08u

/* Recipient state. DELIVERED and BOUNCED are final. */
enum sl_spool_rcpt_state {
	SL_SPOOL_RCPT_PENDING = 0,	/* not tried yet */
	SL_SPOOL_RCPT_DEFERRED,		/* tried, try again at next_attempt */
	SL_SPOOL_RCPT_DELIVERED,
	SL_SPOOL_RCPT_BOUNCED,
};

struct sl_spool_rcpt {
	const char *address;		/* RCPT TO address without angle brackets */
	const char *orcpt;		/* DSN ORCPT value or NULL */
	uint8_t notify;			/* SL_SPOOL_NOTIFY_* bits */
	uint8_t state;			/* enum sl_spool_rcpt_state */
	uint16_t attempts;		/* delivery attempts made so far */
	int64_t next_attempt;		/* unix seconds; 0 means as soon as possible */
};

/* Envelope given to sl_spool_append(); strings are copied. */
struct sl_spool_envelope {
	const char *sender;		/* MAIL FROM address, "" for the null sender */
	const char *envid;		/* DSN ENVID or NULL */
	uint32_t flags;			/* SL_SPOOL_F_* */
	int64_t arrival;		/* unix seconds */
	uint8_t bodyhash[SL_SPOOL_BODYHASH_SIZE];
	const struct sl_spool_rcpt *rcpts;
	unsigned rcpt_count;		/* 1 .. SL_SPOOL_MAX_RCPTS */
};

/*
 * A queued message as stored in the index. Callers only read it. It stays
 * valid until the message becomes final (the callback of the state record
 * that makes its last recipient final has returned) or the shard closes.
 */
struct sl_spool_message {
	uint64_t id;			/* unique in the whole spool; shard in the top 16 bits */
	int64_t arrival;
	uint64_t body_size;		/* message bytes */
	uint32_t flags;
	uint16_t rcpt_count;
	uint16_t pending_count;		/* recipients not final yet */
	const char *sender;
	const char *envid;		/* NULL when not given */
	struct sl_spool_rcpt *rcpts;	/* rcpt_count entries */
	uint8_t bodyhash[SL_SPOOL_BODYHASH_SIZE];
};

#define SL_SPOOL_FLUSH_BUCKETS 96

struct sl_spool_stats {
	uint64_t messages;		/* messages in the index (not final) */
	uint64_t recipients;		/* their recipients, final or not */
	uint64_t index_bytes;		/* memory of the index, hash table included */
	uint64_t segments;		/* segment files of the shard */
	uint64_t disk_bytes;		/* bytes in those files */
	uint64_t batches;		/* group commits completed since open */
	uint64_t records;		/* records in those batches */
	uint64_t segments_deleted;	/* since open */
	uint64_t messages_rewritten;	/* since open */
	uint64_t recovered_messages;	/* found by sl_spool_open() */
	uint64_t truncated_bytes;	/* torn or corrupt tail cut by sl_spool_open() */
	uint64_t summaries_used;	/* segments sl_spool_open() read from summaries */
	/* Group commit latency (first write submitted to flush completed):
	 * bucket i counts batches of up to 2^(i/4) microseconds. */
	uint32_t flush_us_hist[SL_SPOOL_FLUSH_BUCKETS];
};

struct sl_spool;

/* Completion of an append or a state record: id of the message, err 0
 * when the record is durable, or a negative errno value. */
typedef void sl_spool_done_fn(void *arg, uint64_t id, int err);

/* Completion of a read: body points into the caller's buffer (it may not
 * be the buffer start with read_direct), len is the message size. */
typedef void sl_spool_read_fn(void *arg, uint64_t id, int err,
			      const void *body, size_t len);

/* Return non-zero from an iterator to stop early. */
typedef int sl_spool_visit_fn(void *arg, const struct sl_spool_message *msg);

/* Fill cfg with the defaults listed in struct sl_spool_config; paths stay
 * unset. */
void sl_spool_config_default(struct sl_spool_config *cfg);

/*
 * Open shard shard_index: create its folder when missing, scan every
 * segment, rebuild the index, cut a torn or corrupt tail (logged with file
 * and offset) and start a new segment. Returns 0 and *shard, or -errno:
 * -EPROTO for a segment written in another format version (logged with
 * the file and both versions), -EINVAL for a bad configuration.
 */
int sl_spool_open(const struct sl_spool_config *cfg, unsigned shard_index,
		  struct sl_spool **shard);

/* Wait for the I/O in flight, then free everything. Callbacks of work
 * still queued run with -ECANCELED. */
void sl_spool_close(struct sl_spool *shard);

/*
 * Queue a message: envelope plus message bytes (iovec, not copied). On
 * success *id receives the new id and done(arg, id, err) runs once from
 * sl_spool_poll(); the message enters the index only after its flush.
 * Returns -EDQUOT when free space is below the floor, -EINVAL for an
 * invalid envelope and -E2BIG when the record exceeds the segment size.
 * The done callback is not called after such an error.
 */
int sl_spool_append(struct sl_spool *shard, const struct sl_spool_envelope *env,
		    const struct iovec *body, unsigned body_iovcnt,
		    sl_spool_done_fn *done, void *arg, uint64_t *id);

/*
 * Queue a state record for recipient rcpt of message id: state is
 * SL_SPOOL_RCPT_DELIVERED, _DEFERRED (with next_attempt in unix seconds)
 * or _BOUNCED; attempts is the new attempt count. The index shows the new
 * state at once; done runs after the flush. Not subject to the free-space
 * floor. Returns -ENOENT for an unknown id or a message already final,
 * -EINVAL for a bad recipient index or state.
 */
int sl_spool_set_state(struct sl_spool *shard, uint64_t id, unsigned rcpt,
		       enum sl_spool_rcpt_state state, uint16_t attempts,
		       int64_t next_attempt, sl_spool_done_fn *done, void *arg);

/* Buffer size sl_spool_read() needs for message msg (larger than the
 * message with read_direct, which reads whole aligned blocks). */
size_t sl_spool_read_size(const struct sl_spool *shard,
			  const struct sl_spool_message *msg);

/*
 * Queue a read of the message bytes of id into buf (cap bytes, at least
 * sl_spool_read_size(); aligned to 4096 bytes with read_direct). The
 * bytes are checked against their CRC32C: -EBADMSG on mismatch.
 * Returns -ENOENT for an unknown id, -ENOBUFS when cap is too small,
 * -EINVAL for a misaligned buffer with read_direct.
 */
int sl_spool_read(struct sl_spool *shard, uint64_t id, void *buf, size_t cap,
		  sl_spool_read_fn *done, void *arg);

/*
 * Submit queued work, reap completions and run callbacks, without
 * waiting. When messages became final, and at least once a second, it
 * also runs the reclaim pass of sl_spool_reclaim(). Returns the number of
 * completions handled, or a negative errno value when the ring failed.
 */
int sl_spool_poll(struct sl_spool *shard);

/* True while work is queued or in flight. */
bool sl_spool_busy(const struct sl_spool *shard);

/* An eventfd that becomes readable when a completion arrives; the owner
 * reads it (8 bytes) to reset it before calling sl_spool_poll(). */
int sl_spool_event_fd(const struct sl_spool *shard);

/* Wait up to timeout_ms for a completion (for owners without an event
 * loop: tests, tools). Returns 0, or -ETIME on timeout. */
int sl_spool_wait(struct sl_spool *shard, int timeout_ms);

/* Look up a message in the index; NULL when unknown or final. */
const struct sl_spool_message *sl_spool_find(const struct sl_spool *shard,
					     uint64_t id);

/* Call visit for every message in the index (order unspecified). The
 * index must not change during the walk, so visit must not call
 * sl_spool_set_state() or sl_spool_poll(). Returns the value that
 * stopped the walk, or 0. */
int sl_spool_foreach(const struct sl_spool *shard, sl_spool_visit_fn *visit,
		     void *arg);

/*
 * Reclaim disk space now: delete segments whose messages are all final
 * and, for segments holding less live data than rewrite_live_percent,
 * queue rewrites of their live messages into the current segment (at most
 * max_rewrites messages). sl_spool_poll() calls this itself; tests and
 * tools call it to force a pass. Returns the number of rewrites queued.
 */
int sl_spool_reclaim(struct sl_spool *shard, unsigned max_rewrites);

void sl_spool_stats(const struct sl_spool *shard, struct sl_spool_stats *st);

/* Estimate the p-th percentile (0 < p < 100) of the flush latency in
 * microseconds from st->flush_us_hist; 0 when no batch completed. The
 * result is a bucket bound, so it is accurate to within 19%. */
double sl_spool_flush_percentile(const struct sl_spool_stats *st, double p);

/* SMTP reply for a spool error, for example "452 4.3.1 Insufficient
 * system storage" for -ENOSPC and -EDQUOT. */
const char *sl_spool_smtp_reply(int err);

/* Name of the CRC32C implementation ISA-L dispatches to on this CPU. */
const char *sl_spool_crc_impl(void);

#endif
