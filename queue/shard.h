/*
 * queue/shard.h - the shard structure shared by spool.c, recover.c and
 * reclaim.c. Private to queue/.
 *
 * Segment deletion rule: a segment may be deleted when no live message
 * has its newest copy there, no read, rewrite or batch uses it, and no
 * segment with a sequence number in [min_ref, seq) still exists.
 * min_ref is the oldest segment that may hold a copy of any message
 * referenced by a record in this segment, so the rule keeps a state record
 * or a newer copy as long as an older copy that it overrides is on disk.
 * Without it, deleting a segment of "delivered" records while the
 * message's own segment stays would bring the message back at recovery.
 */
#ifndef SLUICE_QUEUE_SHARD_H
#define SLUICE_QUEUE_SHARD_H

#include <liburing.h>
#include <stdbool.h>

#include "queue/spool_internal.h"

/* First byte of every object whose address is an io_uring user_data. */
enum sl_op {
	SL_OP_BATCH = 1,
	SL_OP_READ,
	SL_OP_DELETE,
	SL_OP_SUMMARY,
};

enum sl_seg_state {
	SL_SEG_LIVE = 0,
	SL_SEG_DELETING,	/* unlink and folder fsync in flight */
	SL_SEG_STUCK,		/* unlink failed: kept, and counted as present */
	SL_SEG_DELETED,
};

struct sl_segment {
	uint8_t op;		/* SL_OP_DELETE */
	uint8_t state;		/* enum sl_seg_state */
	bool has_header;	/* SEGMENT record durable */
	bool header_queued;	/* SEGMENT record in a batch or durable */
	uint8_t delete_cqes;	/* completions still expected while deleting */
	bool rewrite_mark;	/* chosen for rewrites by the current pass */
	uint32_t seq;
	uint32_t min_ref;
	int fd;			/* read-write, page cache */
	int direct_fd;		/* O_DIRECT reads, opened on first use */
	uint64_t end;		/* committed bytes */
	uint64_t write_end;	/* bytes given to batches, committed or not */
	uint64_t live_msgs;
	uint64_t live_bytes;
	bool sealed;		/* the shard appends to a later segment now */
	bool summary_started;	/* summary write submitted */
	uint8_t *summary;	/* summary being built, header space first */
	size_t summary_len, summary_cap;
	uint32_t summary_count;
	unsigned refs;		/* reads, rewrites and summary writes in flight */
	unsigned rewrites;	/* rewrites in flight out of this segment */
	char name[16];
	char idx_name[16];	/* summary file name while deleting */
};

enum sl_req_kind {
	SL_REQ_APPEND,
	SL_REQ_STATE,
	SL_REQ_REWRITE,
};

/* One record waiting for or inside a group commit. */
struct sl_req {
	struct sl_req *next;
	uint8_t kind;
	bool finalizes;		/* STATE: makes the message final */
	uint64_t id;
	sl_spool_done_fn *done;
	void *arg;
	struct sl_spool_msg *msg;	/* APPEND: inserted after the flush */
	uint8_t *head;			/* header and metadata */
	uint32_t head_len;
	uint32_t body_crc;
	uint64_t body_len;
	uint64_t rec_len;
	struct iovec *body;
	unsigned body_iovcnt;
	void *owned;			/* REWRITE: buffer with the old record */
	uint32_t old_seg, old_off;	/* REWRITE: the copy it replaces */
	uint64_t offset;		/* in the batch segment */
	uint8_t inline_head[SL_REC_HEADER_SIZE + SL_REC_STATE_META];
	struct iovec inline_iov;
};

struct sl_read {
	uint8_t op;		/* SL_OP_READ */
	bool rewrite;		/* internal read of a whole record */
	uint64_t id;
	struct sl_segment *seg;
	uint8_t *buf;
	size_t skip;		/* body offset in buf */
	size_t need;		/* bytes the read must return */
	uint64_t len;
	uint32_t crc;
	sl_spool_read_fn *done;
	void *arg;
};

enum sl_batch_phase {
	SL_BATCH_IDLE = 0,
	SL_BATCH_WRITING,	/* writes in flight */
	SL_BATCH_FLUSHING,	/* writes done, flushes in flight */
	SL_BATCH_DONE,		/* waiting for the batch before it */
};

/* A segment summary being written. */
struct sl_summary_write {
	uint8_t op;		/* SL_OP_SUMMARY */
	int fd;
	uint64_t len;
	uint8_t *buf;
	struct sl_segment *seg;
};

#define SL_MAX_BATCHES 4	/* group commits in flight per shard */

struct sl_batch {
	uint8_t op;		/* SL_OP_BATCH */
	uint8_t phase;		/* enum sl_batch_phase */
	bool with_header;
	struct sl_req *head, *tail;
	unsigned count;
	struct sl_segment *seg;
	uint64_t start, len;	/* file range written */
	uint64_t written;
	uint64_t started_ns;	/* CLOCK_MONOTONIC when submitted */
	unsigned inflight;	/* completions still expected */
	int err;
	uint8_t header_rec[SL_REC_HEADER_SIZE + SL_REC_SEGMENT_META];
	struct iovec *iov;
	unsigned iov_len, iov_cap;
};

struct sl_spool {
	struct sl_spool_config cfg;
	unsigned shard;
	char *dir;
	int dir_fd;
	int lock_fd;		/* flock held while the shard is open */
	int event_fd;
	struct io_uring ring;
	bool ring_ok;
	bool closing;

	struct sl_index index;
	uint64_t index_bytes;	/* entries, without the table */
	uint64_t next_id;	/* counter part of the next id */

	struct sl_segment **segs;	/* sorted by seq */
	size_t nsegs, segs_cap;
	struct sl_segment *active;

	struct sl_req *pending_head, *pending_tail;
	unsigned pending;
	struct sl_batch batches[SL_MAX_BATCHES];	/* ring of batches in flight */
	unsigned batch_first, batch_count;
	unsigned reads;		/* reads in flight */
	unsigned deletes;	/* deletions in flight */
	unsigned summaries;	/* summary writes in flight */
	bool reclaim_due;
	uint64_t rewrite_scan_ns;	/* when sl_reclaim() last walked the index */

	/* Admission control: bytes that may still be appended above the
	 * free-space floor, and when statvfs last ran. */
	int64_t space_budget;
	uint64_t space_checked_ns;

	/* Test hook: the next batch fails with this error (0: none). */
	int inject_error;

	struct sl_spool_stats st;
};

#define SL_ID_SHARD_SHIFT 48
#define SL_ID_COUNTER_MASK ((1ull << SL_ID_SHARD_SHIFT) - 1)

/* Period of the reclaim pass that sl_spool_poll() runs on its own. */
#define SL_RECLAIM_PERIOD_NS (1000ull * 1000 * 1000)

/* spool.c */
uint64_t sl_now_ns(void);
bool sl_batch_uses(const struct sl_spool *sp, const struct sl_segment *seg);
struct sl_segment *sl_seg_find(const struct sl_spool *sp, uint32_t seq);
struct sl_segment *sl_seg_add(struct sl_spool *sp, uint32_t seq, int fd);
void sl_seg_close_fds(struct sl_segment *seg);
struct io_uring_sqe *sl_get_sqe(struct sl_spool *sp);
void sl_msg_detach(struct sl_spool *sp, struct sl_spool_msg *msg);
void sl_msg_attach(struct sl_spool *sp, struct sl_spool_msg *msg);
void sl_enqueue(struct sl_spool *sp, struct sl_req *req);
int sl_start_read(struct sl_spool *sp, struct sl_read *rd, int fd, uint64_t off);

/* recover.c */
int sl_recover(struct sl_spool *sp);

/* reclaim.c: sl_reclaim() walks the index for rewrites at most once a
 * second unless force is set. */
int sl_reclaim(struct sl_spool *sp, unsigned max_rewrites, bool force);
void sl_reclaim_delete_done(struct sl_spool *sp, struct sl_segment *seg, int res);
void sl_rewrite_read_done(struct sl_spool *sp, struct sl_read *rd, int err);
void sl_segs_compact(struct sl_spool *sp);

/* Test hook (unit tests only): fail the next group commit with err. */
void sl_spool_inject_error(struct sl_spool *sp, int err);

#endif
