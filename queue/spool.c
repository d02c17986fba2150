/*
 * queue/spool.c - shard lifecycle, group commit, state records and reads.
 *
 * Durability: a record's callback reports success only after the batch
 * that contains it has been written and flushed (one fdatasync submitted
 * after all writes of the batch completed, or RWF_DSYNC / O_DSYNC
 * writes), after the folder was flushed when the batch created the
 * segment file, and after every earlier batch succeeded.
 *
 * Pipeline: up to SL_MAX_BATCHES batches are in flight. Batch N+1
 * gathers the records queued meanwhile and starts writing once batch N
 * has finished writing and waits for its flush, so writes overlap
 * flushes. Callbacks run in batch order.
 *
 * A batch writes one contiguous range of one segment with as few writev
 * operations as WRITE_CHUNK allows. When a batch fails, the segment is
 * cut back to where the batch started, once no write is in flight, so no
 * record of the failed batch can reappear at recovery. Every record of it,
 * and of the batches after it, reports the error (-ENOSPC for a full disk,
 * -EIO otherwise).
 *
 * State records update the index when they are queued (the delivery
 * already happened), so a rewrite always encodes the newest states and log
 * order equals queue order. A message leaves the index when the record
 * making its last recipient final has been flushed.
 *
 * See queue/spool.h for the API contract and queue/shard.h for the
 * segment deletion rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "queue/shard.h"

#define MIN_SEGMENT_SIZE (64u * 1024)
#define MAX_SEGMENT_SIZE (1ull << 32)
#define SPACE_CHECK_NS (100ull * 1000 * 1000)
#define SEG_HEADER_LEN (SL_REC_HEADER_SIZE + SL_REC_SEGMENT_META)
#define REWRITES_PER_POLL 64

/* Bytes per writev of a batch. Several writes in flight beat one large
 * write on ext4: in one bench/spool run on a shared 2-core VM, 32 KiB
 * appends reached 223 MB/s with 64 KiB writes and 83 MB/s with one
 * writev per batch. */
#define WRITE_CHUNK (64u * 1024)

static const uint8_t zero_pad[8];

void sl_spool_config_default(struct sl_spool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->segment_size = 64ull << 20;
	cfg->flush_mode = SL_SPOOL_FLUSH_FDATASYNC;
	cfg->free_floor_percent = 10;
	cfg->ring_entries = 256;
	cfg->rewrite_live_percent = 25;
	cfg->max_batch_records = 1024;
}

uint64_t sl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t precise_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define FOURTH_ROOT_OF_2 1.189207115002721

/* Bucket i counts latencies in (2^((i-1)/4), 2^(i/4)] microseconds. */
static void flush_latency_add(struct sl_spool_stats *st, uint64_t us)
{
	double bound = 1.0;
	unsigned i = 0;

	while (i + 1 < SL_SPOOL_FLUSH_BUCKETS && (double)us > bound) {
		bound *= FOURTH_ROOT_OF_2;
		i++;
	}
	st->flush_us_hist[i]++;
}

double sl_spool_flush_percentile(const struct sl_spool_stats *st, double p)
{
	uint64_t total = 0, seen = 0;
	double bound = 1.0;

	for (unsigned i = 0; i < SL_SPOOL_FLUSH_BUCKETS; i++)
		total += st->flush_us_hist[i];
	if (total == 0)
		return 0;
	for (unsigned i = 0; i < SL_SPOOL_FLUSH_BUCKETS; i++) {
		seen += st->flush_us_hist[i];
		if ((double)seen * 100.0 >= p * (double)total)
			break;
		bound *= FOURTH_ROOT_OF_2;
	}
	return bound;
}

/* Map a kernel error of a write or flush to the spool's two classes. */
static int write_error(int err)
{
	return (err == -ENOSPC || err == -EDQUOT) ? -ENOSPC : -EIO;
}

/* ---- segments ---- */

struct sl_segment *sl_seg_find(const struct sl_spool *sp, uint32_t seq)
{
	size_t lo = 0, hi = sp->nsegs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sp->segs[mid]->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sp->nsegs && sp->segs[lo]->seq == seq ? sp->segs[lo] : NULL;
}

/* Append a segment; seq must be larger than every present one. */
struct sl_segment *sl_seg_add(struct sl_spool *sp, uint32_t seq, int fd)
{
	struct sl_segment *seg;

	if (sp->nsegs == sp->segs_cap) {
		size_t cap = sp->segs_cap ? sp->segs_cap * 2 : 16;
		struct sl_segment **segs = realloc(sp->segs, cap * sizeof(*segs));

		if (segs == NULL)
			return NULL;
		sp->segs = segs;
		sp->segs_cap = cap;
	}
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return NULL;
	seg->op = SL_OP_DELETE;
	seg->seq = seq;
	seg->min_ref = seq;
	seg->fd = fd;
	seg->direct_fd = -1;
	snprintf(seg->name, sizeof(seg->name), "%08x.seg", seq);
	sp->segs[sp->nsegs++] = seg;
	return seg;
}

void sl_seg_close_fds(struct sl_segment *seg)
{
	if (seg->fd >= 0)
		close(seg->fd);
	if (seg->direct_fd >= 0)
		close(seg->direct_fd);
	seg->fd = seg->direct_fd = -1;
}

static int seg_open_flags(const struct sl_spool *sp)
{
	int flags = O_RDWR | O_CLOEXEC;

	if (sp->cfg.flush_mode == SL_SPOOL_FLUSH_O_DSYNC)
		flags |= O_DSYNC;
	return flags;
}

/*
 * Create segment file seq. NOTE: unlinkat and open(O_CREAT) run on the
 * owner thread. They need no disk wait on ext4, and the folder flush that
 * makes the name durable goes through io_uring with the first batch.
 */
static struct sl_segment *seg_create(struct sl_spool *sp, uint32_t seq)
{
	char name[16];
	struct sl_segment *seg;
	int fd;

	/* A summary left by an older segment with this number (deleted while
	 * a crash kept its summary) must not describe the new file. */
	snprintf(name, sizeof(name), "%08x.idx", seq);
	unlinkat(sp->dir_fd, name, 0);
	snprintf(name, sizeof(name), "%08x.seg", seq);
	fd = openat(sp->dir_fd, name, seg_open_flags(sp) | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		sl_err("spool shard=%u: open(%s/%s) failed: %s", sp->shard, sp->dir,
		       name, strerror(errno));
		return NULL;
	}
	seg = sl_seg_add(sp, seq, fd);
	if (seg == NULL)
		close(fd);
	return seg;
}

/* ---- index accounting ---- */

/* Count msg in its segment and the index memory. */
void sl_msg_attach(struct sl_spool *sp, struct sl_spool_msg *msg)
{
	struct sl_segment *seg = sl_seg_find(sp, msg->seg);

	if (seg != NULL) {
		seg->live_msgs++;
		seg->live_bytes += msg->rec_len;
	}
	sp->index_bytes += sl_msg_bytes(msg);
	sp->st.recipients += msg->pub.rcpt_count;
}

void sl_msg_detach(struct sl_spool *sp, struct sl_spool_msg *msg)
{
	struct sl_segment *seg = sl_seg_find(sp, msg->seg);

	if (seg != NULL) {
		seg->live_msgs--;
		seg->live_bytes -= msg->rec_len;
	}
	sp->index_bytes -= sl_msg_bytes(msg);
	sp->st.recipients -= msg->pub.rcpt_count;
}

static void msg_finalize(struct sl_spool *sp, struct sl_spool_msg *msg)
{
	sl_msg_detach(sp, msg);
	sl_index_remove(&sp->index, msg->pub.id);
	sl_msg_free(msg);
	sp->reclaim_due = true;
}

/* ---- requests ---- */

static void req_free(struct sl_req *req)
{
	if (req->head != req->inline_head)
		free(req->head);
	if (req->body != &req->inline_iov)
		free(req->body);
	free(req->owned);
	free(req);
}

void sl_enqueue(struct sl_spool *sp, struct sl_req *req)
{
	req->next = NULL;
	if (sp->pending_tail)
		sp->pending_tail->next = req;
	else
		sp->pending_head = req;
	sp->pending_tail = req;
	sp->pending++;
}

/* Refresh the admission budget from statvfs when it is stale or spent. */
static void space_refresh(struct sl_spool *sp)
{
	struct statvfs vfs;
	uint64_t block, floor, avail;

	sp->space_checked_ns = sl_now_ns();
	if (fstatvfs(sp->dir_fd, &vfs) != 0) {
		sp->space_budget = INT64_MAX;
		return;
	}
	block = vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize;
	floor = (uint64_t)vfs.f_blocks * block / 100 * sp->cfg.free_floor_percent;
	avail = (uint64_t)vfs.f_bavail * block;
	sp->space_budget = avail > floor ? (int64_t)(avail - floor) : 0;
}

static int admit(struct sl_spool *sp, uint64_t rec_len)
{
	if (sp->cfg.free_floor_percent == 0)
		return 0;
	if ((int64_t)rec_len > sp->space_budget ||
	    sl_now_ns() - sp->space_checked_ns > SPACE_CHECK_NS)
		space_refresh(sp);
	if ((int64_t)rec_len > sp->space_budget)
		return -EDQUOT;
	sp->space_budget -= (int64_t)rec_len;
	return 0;
}

static uint64_t max_record(const struct sl_spool *sp)
{
	return sp->cfg.segment_size - SEG_HEADER_LEN;
}

int sl_spool_append(struct sl_spool *sp, const struct sl_spool_envelope *env,
		    const struct iovec *body, unsigned body_iovcnt,
		    sl_spool_done_fn *done, void *arg, uint64_t *id)
{
	uint64_t body_len = 0, rec_len, new_id;
	uint32_t crc = 0;
	size_t meta_len;
	struct sl_spool_msg *msg;
	struct sl_req *req;
	int err;

	if (sp->closing)
		return -ESHUTDOWN;
	if (body_iovcnt > 0 && body == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < body_iovcnt; i++) {
		body_len += body[i].iov_len;
		crc = sl_crc32c(crc, body[i].iov_base, body[i].iov_len);
	}
	new_id = ((uint64_t)sp->shard << SL_ID_SHARD_SHIFT) | sp->next_id;
	err = sl_msg_from_envelope(env, new_id, body_len, &msg);
	if (err)
		return err;
	meta_len = sl_rec_message_meta_size(&msg->pub);
	rec_len = sl_align8(SL_REC_HEADER_SIZE + meta_len + body_len);
	if (rec_len > max_record(sp)) {
		sl_msg_free(msg);
		return -E2BIG;
	}
	err = admit(sp, rec_len);
	if (err) {
		sl_msg_free(msg);
		return err;
	}

	req = calloc(1, sizeof(*req));
	if (req == NULL)
		goto nomem;
	req->head = malloc(SL_REC_HEADER_SIZE + meta_len);
	req->body = body_iovcnt ? calloc(body_iovcnt, sizeof(struct iovec)) : NULL;
	if (req->head == NULL || (body_iovcnt && req->body == NULL))
		goto nomem;
	if (body_iovcnt)
		memcpy(req->body, body, body_iovcnt * sizeof(struct iovec));
	sl_rec_encode_message(req->head, &msg->pub, body_len, crc);
	req->kind = SL_REQ_APPEND;
	req->id = new_id;
	req->done = done;
	req->arg = arg;
	req->msg = msg;
	req->head_len = (uint32_t)(SL_REC_HEADER_SIZE + meta_len);
	req->body_crc = crc;
	req->body_len = body_len;
	req->rec_len = rec_len;
	req->body_iovcnt = body_iovcnt;
	sl_enqueue(sp, req);
	sp->next_id++;
	if (id)
		*id = new_id;
	return 0;

nomem:
	if (req) {
		free(req->head);
		free(req->body);
		free(req);
	}
	sl_msg_free(msg);
	return -ENOMEM;
}

int sl_spool_set_state(struct sl_spool *sp, uint64_t id, unsigned rcpt,
		       enum sl_spool_rcpt_state state, uint16_t attempts,
		       int64_t next_attempt, sl_spool_done_fn *done, void *arg)
{
	struct sl_spool_msg *msg = sl_index_find(&sp->index, id);
	struct sl_rec_state rec = { id, rcpt, (uint8_t)state, attempts, next_attempt };
	struct sl_req *req;

	if (sp->closing)
		return -ESHUTDOWN;
	if (msg == NULL || msg->finalizing)
		return -ENOENT;
	if (rcpt >= msg->pub.rcpt_count || (unsigned)state > SL_SPOOL_RCPT_BOUNCED)
		return -EINVAL;
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return -ENOMEM;
	sl_msg_set_state(msg, rcpt, (uint8_t)state, attempts, next_attempt);
	if (msg->pub.pending_count == 0) {
		msg->finalizing = 1;
		req->finalizes = true;
	}
	req->kind = SL_REQ_STATE;
	req->id = id;
	req->done = done;
	req->arg = arg;
	req->head = req->inline_head;
	req->head_len = sizeof(req->inline_head);
	req->rec_len = sl_align8(req->head_len);
	sl_rec_encode_state(req->head, &rec);
	sl_enqueue(sp, req);
	return 0;
}

/* ---- group commit ---- */

struct io_uring_sqe *sl_get_sqe(struct sl_spool *sp)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sp->ring);

	if (sqe == NULL) {
		io_uring_submit(&sp->ring);
		sqe = io_uring_get_sqe(&sp->ring);
	}
	if (sqe == NULL)
		sl_err("spool shard=%u: io_uring submission queue full", sp->shard);
	return sqe;
}

static int batch_iov_push(struct sl_batch *b, const void *base, size_t len)
{
	if (len == 0)
		return 0;
	if (b->iov_len == b->iov_cap) {
		unsigned cap = b->iov_cap ? b->iov_cap * 2 : 256;
		struct iovec *iov = realloc(b->iov, cap * sizeof(*iov));

		if (iov == NULL)
			return -ENOMEM;
		b->iov = iov;
		b->iov_cap = cap;
	}
	b->iov[b->iov_len].iov_base = (void *)base;
	b->iov[b->iov_len].iov_len = len;
	b->iov_len++;
	return 0;
}

static int batch_add_record(struct sl_batch *b, struct sl_req *req)
{
	uint64_t unpadded = req->head_len + req->body_len;
	int err = batch_iov_push(b, req->head, req->head_len);

	for (unsigned i = 0; !err && i < req->body_iovcnt; i++)
		err = batch_iov_push(b, req->body[i].iov_base, req->body[i].iov_len);
	if (!err)
		err = batch_iov_push(b, zero_pad, req->rec_len - unpadded);
	return err;
}

static struct sl_batch *batch_oldest(struct sl_spool *sp)
{
	return &sp->batches[sp->batch_first];
}

/* True when a new batch may start: none in flight, or fewer than
 * SL_MAX_BATCHES and the newest has finished writing. */
static struct sl_batch *batch_at(struct sl_spool *sp, unsigned i)
{
	return &sp->batches[(sp->batch_first + i) % SL_MAX_BATCHES];
}

static bool batch_can_start(struct sl_spool *sp)
{
	return sp->batch_count == 0 ||
	       (sp->batch_count < SL_MAX_BATCHES &&
		batch_at(sp, sp->batch_count - 1)->phase != SL_BATCH_WRITING);
}

/* Take pending records that fit in the active segment into batch b. */
static int batch_gather(struct sl_spool *sp, struct sl_batch *b)
{
	struct sl_segment *seg = b->seg;
	uint64_t off = b->start + (b->with_header ? SEG_HEADER_LEN : 0);
	int err;

	while (sp->pending_head && b->count < sp->cfg.max_batch_records) {
		struct sl_req *req = sp->pending_head;

		if (off + req->rec_len > sp->cfg.segment_size)
			break;
		err = batch_add_record(b, req);
		if (err)
			return err;
		if (req->kind != SL_REQ_APPEND) {
			struct sl_spool_msg *msg = sl_index_find(&sp->index, req->id);

			if (msg && msg->first_seg < seg->min_ref)
				seg->min_ref = msg->first_seg;
		}
		req->offset = off;
		off += req->rec_len;
		sp->pending_head = req->next;
		if (sp->pending_head == NULL)
			sp->pending_tail = NULL;
		sp->pending--;
		req->next = NULL;
		if (b->tail)
			b->tail->next = req;
		else
			b->head = req;
		b->tail = req;
		b->count++;
	}
	b->len = off - b->start;
	return 0;
}

bool sl_batch_uses(const struct sl_spool *sp, const struct sl_segment *seg)
{
	for (unsigned i = 0; i < sp->batch_count; i++)
		if (sp->batches[(sp->batch_first + i) % SL_MAX_BATCHES].seg == seg)
			return true;
	return false;
}

/* Add the committed records of batch b to its segment's summary. A
 * segment whose summary could not be built simply gets none. */
static void summary_add(struct sl_segment *seg, const struct sl_batch *b)
{
	for (const struct sl_req *req = b->head; req && !seg->summary_started; req = req->next) {
		size_t entry = sl_align8(SL_SUMMARY_ENTRY_FIXED + req->head_len);
		uint32_t off = (uint32_t)req->offset, zero = 0;

		if (seg->summary_len + entry > seg->summary_cap) {
			size_t cap = seg->summary_cap ? seg->summary_cap * 2 : 64 * 1024;
			uint8_t *p;

			while (cap < seg->summary_len + entry)
				cap *= 2;
			p = realloc(seg->summary, cap);
			if (p == NULL) {
				free(seg->summary);
				seg->summary = NULL;
				seg->summary_started = true;
				return;
			}
			seg->summary = p;
			seg->summary_cap = cap;
			if (seg->summary_len == 0)
				seg->summary_len = SL_SUMMARY_HEADER_SIZE;
		}
		memcpy(seg->summary + seg->summary_len, &off, 4);
		memcpy(seg->summary + seg->summary_len + 4, &zero, 4);
		memcpy(seg->summary + seg->summary_len + 8, req->head, req->head_len);
		memset(seg->summary + seg->summary_len + 8 + req->head_len, 0,
		       entry - SL_SUMMARY_ENTRY_FIXED - req->head_len);
		seg->summary_len += entry;
		seg->summary_count++;
	}
}

/* Write the summary of a sealed segment once no batch writes to it.
 * NOTE: the open(O_CREAT) runs on the owner thread, like a segment's. */
static void summary_maybe_write(struct sl_spool *sp, struct sl_segment *seg)
{
	struct sl_summary_write *sw;
	struct io_uring_sqe *sqe;
	uint64_t covered = seg->end;
	uint32_t crc, version = SL_SPOOL_FORMAT_VERSION, magic = SL_SUMMARY_MAGIC;
	char name[24];
	uint8_t *h;

	if (!seg->sealed || seg->summary_started || seg->summary == NULL || sl_batch_uses(sp, seg))
		return;
	seg->summary_started = true;
	sw = calloc(1, sizeof(*sw));
	snprintf(name, sizeof(name), "%08x.idx", seg->seq);
	if (sw == NULL || (sw->fd = openat(sp->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					     0600)) < 0 || (sqe = sl_get_sqe(sp)) == NULL) {
		if (sw && sw->fd >= 0)
			close(sw->fd);
		free(sw);
		free(seg->summary);
		seg->summary = NULL;
		return;
	}
	h = seg->summary;
	crc = sl_crc32c(0, h + SL_SUMMARY_HEADER_SIZE, seg->summary_len - SL_SUMMARY_HEADER_SIZE);
	memcpy(h, &magic, 4);
	memcpy(h + 4, &version, 4);
	memcpy(h + 8, &seg->seq, 4);
	memcpy(h + 12, &seg->summary_count, 4);
	memcpy(h + 16, &covered, 8);
	memcpy(h + 24, &crc, 4);
	crc = sl_crc32c(0, h, 28);
	memcpy(h + 28, &crc, 4);
	sw->op = SL_OP_SUMMARY;
	sw->buf = seg->summary;
	sw->len = seg->summary_len;
	sw->seg = seg;
	seg->summary = NULL;
	io_uring_prep_write(sqe, sw->fd, sw->buf, (unsigned)sw->len, 0);
	io_uring_sqe_set_data(sqe, sw);
	seg->refs++;
	sp->summaries++;
}

static void summary_done(struct sl_spool *sp, struct sl_summary_write *sw, int res)
{
	sw->seg->refs--;
	sp->summaries--;
	close(sw->fd);
	if (res < 0 || (uint64_t)res != sw->len) {
		char name[24];

		/* Recovery scans the segment instead; an incomplete summary
		 * fails its checksum anyway. */
		snprintf(name, sizeof(name), "%08x.idx", sw->seg->seq);
		unlinkat(sp->dir_fd, name, 0);
	}
	free(sw->buf);
	free(sw);
}

/* Start a new segment when the next record does not fit the active one. */
static int batch_pick_segment(struct sl_spool *sp)
{
	struct sl_segment *seg = sp->active;

	if (seg->write_end + (seg->header_queued ? 0 : SEG_HEADER_LEN) +
	    sp->pending_head->rec_len <= sp->cfg.segment_size)
		return 0;
	seg = seg_create(sp, sp->active->seq + 1);
	if (seg == NULL)
		return -EIO;
	sp->active->sealed = true;
	summary_maybe_write(sp, sp->active);
	sp->active = seg;
	sp->reclaim_due = true;
	return 0;
}

static int batch_submit_writes(struct sl_spool *sp, struct sl_batch *b)
{
	uint64_t off = b->start;
	int rw_flags = sp->cfg.flush_mode == SL_SPOOL_FLUSH_RWF_DSYNC ? RWF_DSYNC : 0;

	for (unsigned i = 0; i < b->iov_len; ) {
		unsigned n = 0;
		struct io_uring_sqe *sqe = sl_get_sqe(sp);
		uint64_t bytes = 0;

		if (sqe == NULL)
			return -EBUSY;
		while (i + n < b->iov_len && n < IOV_MAX && (n == 0 || bytes < WRITE_CHUNK))
			bytes += b->iov[i + n++].iov_len;
		io_uring_prep_writev2(sqe, b->seg->fd, &b->iov[i], n, off, rw_flags);
		io_uring_sqe_set_data(sqe, b);
		b->inflight++;
		off += bytes;
		i += n;
	}
	return 0;
}

/* Submit the flushes of a batch whose writes have all completed, so the
 * flush covers them. Returns how many were submitted. */
static unsigned batch_submit_flushes(struct sl_spool *sp, struct sl_batch *b)
{
	struct io_uring_sqe *sqe;

	if (sp->cfg.flush_mode == SL_SPOOL_FLUSH_FDATASYNC) {
		sqe = sl_get_sqe(sp);
		if (sqe == NULL) {
			b->err = -EIO;
			return b->inflight;
		}
		io_uring_prep_fsync(sqe, b->seg->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sqe, b);
		b->inflight++;
	}
	if (b->with_header) {
		sqe = sl_get_sqe(sp);
		if (sqe == NULL) {
			b->err = -EIO;
			return b->inflight;
		}
		io_uring_prep_fsync(sqe, sp->dir_fd, 0);
		io_uring_sqe_set_data(sqe, b);
		b->inflight++;
	}
	return b->inflight;
}

static void batch_retire(struct sl_spool *sp);

/* Move every pending record into the batch, so that a batch that failed
 * before writing reports the error to them instead of retrying forever. */
static void batch_take_all(struct sl_spool *sp, struct sl_batch *b)
{
	b->head = sp->pending_head;
	b->tail = sp->pending_tail;
	b->count = sp->pending;
	sp->pending_head = sp->pending_tail = NULL;
	sp->pending = 0;
}

/* Form the next batch from the pending records and submit its writes. */
static void batch_start(struct sl_spool *sp)
{
	struct sl_batch *b = batch_at(sp, sp->batch_count);
	int err;

	sp->batch_count++;
	b->head = b->tail = NULL;
	b->count = 0;
	b->iov_len = 0;
	b->written = 0;
	b->len = 0;
	b->inflight = 0;
	b->err = 0;
	b->phase = SL_BATCH_WRITING;
	b->started_ns = precise_ns();
	b->seg = NULL;
	err = batch_pick_segment(sp);
	b->seg = sp->active;
	b->start = b->seg->write_end;
	b->with_header = !b->seg->header_queued;
	if (!err && b->with_header) {
		struct sl_rec_segment hdr = {
			SL_SPOOL_FORMAT_VERSION, sp->shard, b->seg->seq,
			((uint64_t)sp->shard << SL_ID_SHARD_SHIFT) | sp->next_id,
			(int64_t)time(NULL),
		};

		sl_rec_encode_segment(b->header_rec, &hdr);
		err = batch_iov_push(b, b->header_rec, sizeof(b->header_rec));
	}
	if (!err)
		err = batch_gather(sp, b);
	if (!err && b->count == 0) {
		/* A record larger than a fresh segment: sl_spool_append()
		 * rejects those, so this is a bug; fail the batch loudly. */
		err = -EIO;
	}
	if (!err && sp->inject_error) {
		err = sp->inject_error;
		sp->inject_error = 0;
	}
	if (!err) {
		b->seg->header_queued = true;
		b->seg->write_end = b->start + b->len;
		err = batch_submit_writes(sp, b);
	}
	if (err) {
		b->err = err;
		if (b->count == 0)
			batch_take_all(sp, b);
		if (b->inflight == 0) {
			b->phase = SL_BATCH_DONE;
			batch_retire(sp);
		}
	}
}

/* NOTE: ftruncate runs on the owner thread. It happens only after a
 * failed batch, and removes the failed records so that recovery cannot
 * find records whose callbacks reported an error. */
static void batch_cut(struct sl_spool *sp, struct sl_batch *b)
{
	struct sl_segment *seg = b->seg;

	if (ftruncate(seg->fd, (off_t)b->start) != 0 || fdatasync(seg->fd) != 0)
		sl_err("spool shard=%u: cutting %s/%s to %llu bytes failed: %s",
		       sp->shard, sp->dir, seg->name,
		       (unsigned long long)b->start, strerror(errno));
	seg->write_end = b->start;
	if (b->with_header)
		seg->header_queued = false;
}

static void req_complete(struct sl_spool *sp, struct sl_batch *b,
			 struct sl_req *req, int err)
{
	struct sl_spool_msg *msg;

	switch (req->kind) {
	case SL_REQ_APPEND:
		msg = req->msg;
		req->msg = NULL;
		if (err) {
			sl_msg_free(msg);
			break;
		}
		msg->seg = msg->first_seg = b->seg->seq;
		msg->rec_off = (uint32_t)req->offset;
		msg->rec_len = (uint32_t)req->rec_len;
		msg->body_off = req->head_len;
		msg->body_crc = req->body_crc;
		if (sl_index_insert(&sp->index, msg) != 0) {
			sl_msg_free(msg);
			err = -ENOMEM;
			break;
		}
		sl_msg_attach(sp, msg);
		break;
	case SL_REQ_STATE:
		break;
	case SL_REQ_REWRITE:
		msg = sl_index_find(&sp->index, req->id);
		if (msg == NULL)
			break;
		msg->rewriting = 0;
		if (err || msg->seg != req->old_seg || msg->rec_off != req->old_off)
			break;
		sl_msg_detach(sp, msg);
		msg->seg = b->seg->seq;
		msg->rec_off = (uint32_t)req->offset;
		msg->rec_len = (uint32_t)req->rec_len;
		msg->body_off = req->head_len;
		sl_msg_attach(sp, msg);
		sp->st.messages_rewritten++;
		sp->reclaim_due = true;
		break;
	}
	if (req->done)
		req->done(req->arg, req->id, err);
	if (req->finalizes) {
		msg = sl_index_find(&sp->index, req->id);
		if (msg)
			msg_finalize(sp, msg);
	}
}

/* Run the callbacks of batch b with err and free its records. */
static void batch_complete(struct sl_spool *sp, struct sl_batch *b, int err)
{
	struct sl_req *req = b->head, *next;

	b->head = b->tail = NULL;
	b->phase = SL_BATCH_IDLE;
	for (; req; req = next) {
		next = req->next;
		req_complete(sp, b, req, err);
		req_free(req);
	}
}

static int batch_error(int err)
{
	return (err == -ENOMEM || err == -EBUSY) ? -EIO : write_error(err);
}

/*
 * Fail every batch in flight once all of them are done: later batches
 * wrote after the failed one, and cutting the file back to the failed
 * batch's start removes their records too. Cut the newest first.
 */
static void batch_fail_all(struct sl_spool *sp, int err)
{
	struct sl_batch *old = batch_oldest(sp);
	struct sl_batch *failed[SL_MAX_BATCHES];
	unsigned n = sp->batch_count;

	sl_err("spool shard=%u: group commit of %u records to %s/%s at offset %llu failed: %s",
	       sp->shard, old->count, sp->dir, old->seg->name,
	       (unsigned long long)old->start, strerror(-err));
	for (unsigned i = 0; i < n; i++)
		failed[i] = batch_at(sp, i);
	for (unsigned i = n; i-- > 0; )
		batch_cut(sp, failed[i]);
	sp->batch_first = (sp->batch_first + n) % SL_MAX_BATCHES;
	sp->batch_count = 0;
	for (unsigned i = 0; i < n; i++)
		batch_complete(sp, failed[i], err);
}

/* Complete finished batches in order. */
static void batch_retire(struct sl_spool *sp)
{
	while (sp->batch_count > 0) {
		struct sl_batch *b = batch_oldest(sp);
		bool writing = false;

		if (b->phase != SL_BATCH_DONE)
			return;
		if (b->err) {
			/* The later batches' records sit after the failed ones. */
			for (unsigned i = 1; i < sp->batch_count; i++) {
				struct sl_batch *young = batch_at(sp, i);

				if (young->err == 0)
					young->err = b->err;
				writing |= young->phase != SL_BATCH_DONE;
			}
			if (!writing)	/* cut only when no write is in flight */
				batch_fail_all(sp, batch_error(b->err));
			return;
		}
		b->seg->end = b->start + b->len;
		b->seg->has_header = true;
		flush_latency_add(&sp->st, (precise_ns() - b->started_ns) / 1000);
		sp->st.batches++;
		sp->st.records += b->count;
		summary_add(b->seg, b);
		sp->batch_first = (sp->batch_first + 1) % SL_MAX_BATCHES;
		sp->batch_count--;
		batch_complete(sp, b, 0);
		summary_maybe_write(sp, b->seg);
	}
}

static void batch_cqe(struct sl_spool *sp, struct sl_batch *b, int res)
{
	if (res < 0 && b->err == 0)
		b->err = res;
	else if (res > 0)
		b->written += (uint64_t)res;
	if (--b->inflight > 0)
		return;
	if (b->phase == SL_BATCH_WRITING) {
		if (b->err == 0 && b->written != b->len)
			b->err = -ENOSPC;	/* a short write on a regular file means no space */
		if (b->err == 0 && batch_submit_flushes(sp, b) > 0) {
			b->phase = SL_BATCH_FLUSHING;
			return;
		}
	}
	b->phase = SL_BATCH_DONE;
	batch_retire(sp);
}

/* ---- reads ---- */

size_t sl_spool_read_size(const struct sl_spool *sp, const struct sl_spool_message *msg)
{
	if (!sp->cfg.read_direct)
		return msg->body_size;
	return (size_t)msg->body_size + 2 * 4096;
}

int sl_start_read(struct sl_spool *sp, struct sl_read *rd, int fd, uint64_t off)
{
	struct io_uring_sqe *sqe = sl_get_sqe(sp);

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, rd->buf, (unsigned)rd->need, off);
	io_uring_sqe_set_data(sqe, rd);
	rd->seg->refs++;
	sp->reads++;
	return 0;
}

/* NOTE: the O_DIRECT descriptor is opened on the owner thread at the
 * first direct read of a segment. */
static int direct_fd(struct sl_spool *sp, struct sl_segment *seg)
{
	if (seg->direct_fd < 0)
		seg->direct_fd = openat(sp->dir_fd, seg->name, O_RDONLY | O_DIRECT | O_CLOEXEC);
	return seg->direct_fd < 0 ? -errno : seg->direct_fd;
}

int sl_spool_read(struct sl_spool *sp, uint64_t id, void *buf, size_t cap,
		  sl_spool_read_fn *done, void *arg)
{
	struct sl_spool_msg *msg = sl_index_find(&sp->index, id);
	struct sl_segment *seg;
	struct sl_read *rd;
	uint64_t off, start;
	int fd, err;

	if (msg == NULL)
		return -ENOENT;
	seg = sl_seg_find(sp, msg->seg);
	if (seg == NULL || seg->fd < 0)
		return -EIO;
	if (cap < sl_spool_read_size(sp, &msg->pub))
		return -ENOBUFS;
	off = (uint64_t)msg->rec_off + msg->body_off;
	start = off;
	fd = seg->fd;
	if (sp->cfg.read_direct) {
		if ((uintptr_t)buf % 4096 != 0)
			return -EINVAL;
		fd = direct_fd(sp, seg);
		if (fd < 0)
			return fd;
		start = off & ~(uint64_t)4095;
	}
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return -ENOMEM;
	rd->op = SL_OP_READ;
	rd->id = id;
	rd->seg = seg;
	rd->buf = buf;
	rd->skip = (size_t)(off - start);
	rd->len = msg->pub.body_size;
	rd->need = rd->skip + rd->len;
	if (sp->cfg.read_direct)
		rd->need = (rd->need + 4095) & ~(size_t)4095;
	rd->crc = msg->body_crc;
	rd->done = done;
	rd->arg = arg;
	err = sl_start_read(sp, rd, fd, start);
	if (err)
		free(rd);
	return err;
}

static void read_cqe(struct sl_spool *sp, struct sl_read *rd, int res)
{
	int err = 0;

	rd->seg->refs--;
	sp->reads--;
	if (rd->rewrite) {
		sl_rewrite_read_done(sp, rd, res < 0 || (size_t)res < rd->need ? -EIO : 0);
		return;
	}
	if (res < 0)
		err = -EIO;
	else if ((size_t)res < rd->skip + rd->len)
		err = -EIO;
	else if (sl_crc32c(0, rd->buf + rd->skip, rd->len) != rd->crc)
		err = -EBADMSG;
	if (err) {
		const char *why = "short read";

		if (res < 0)
			why = strerror(-res);
		else if (err == -EBADMSG)
			why = "checksum mismatch";
		sl_err("spool shard=%u: reading message %016llx from %s/%s failed: %s",
		       sp->shard, (unsigned long long)rd->id, sp->dir, rd->seg->name, why);
	}
	rd->done(rd->arg, rd->id, err, err ? NULL : rd->buf + rd->skip, (size_t)rd->len);
	free(rd);
}

/* ---- poll ---- */

static int reap(struct sl_spool *sp)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	while (io_uring_peek_cqe(&sp->ring, &cqe) == 0) {
		uint8_t *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&sp->ring, cqe);
		if (op == NULL)
			continue;
		switch (*op) {
		case SL_OP_BATCH:
			batch_cqe(sp, (struct sl_batch *)op, res);
			break;
		case SL_OP_READ:
			read_cqe(sp, (struct sl_read *)op, res);
			break;
		case SL_OP_DELETE:
			sl_reclaim_delete_done(sp, (struct sl_segment *)op, res);
			break;
		case SL_OP_SUMMARY:
			summary_done(sp, (struct sl_summary_write *)op, res);
			break;
		}
		n++;
	}
	return n;
}

int sl_spool_poll(struct sl_spool *sp)
{
	int n = reap(sp);

	if (batch_can_start(sp) && sp->pending_head && !sp->closing)
		batch_start(sp);
	if ((sp->reclaim_due || sl_now_ns() - sp->rewrite_scan_ns >= SL_RECLAIM_PERIOD_NS) &&
	    !sp->closing)
		sl_reclaim(sp, REWRITES_PER_POLL, false);
	if (io_uring_sq_ready(&sp->ring) > 0) {
		int err = io_uring_submit(&sp->ring);

		if (err < 0 && err != -EAGAIN && err != -EBUSY && err != -EINTR) {
			sl_err("spool shard=%u: io_uring_submit failed: %s", sp->shard, strerror(-err));
			return err;
		}
	}
	return n;
}

bool sl_spool_busy(const struct sl_spool *sp)
{
	return sp->pending_head != NULL || sp->batch_count > 0 || sp->reads > 0 ||
	       sp->deletes > 0 || sp->summaries > 0 || io_uring_sq_ready(&sp->ring) > 0;
}

int sl_spool_event_fd(const struct sl_spool *sp)
{
	return sp->event_fd;
}

int sl_spool_wait(struct sl_spool *sp, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int err;

	if (io_uring_sq_ready(&sp->ring) > 0)
		io_uring_submit(&sp->ring);
	err = io_uring_wait_cqe_timeout(&sp->ring, &cqe, &ts);
	return err == -ETIME ? -ETIME : (err < 0 && err != -EINTR ? err : 0);
}

const struct sl_spool_message *sl_spool_find(const struct sl_spool *sp, uint64_t id)
{
	struct sl_spool_msg *msg = sl_index_find(&sp->index, id);

	return msg && !msg->finalizing ? &msg->pub : NULL;
}

int sl_spool_foreach(const struct sl_spool *sp, sl_spool_visit_fn *visit, void *arg)
{
	for (size_t i = 0; i < sp->index.cap; i++) {
		struct sl_spool_msg *msg = sp->index.slots[i];
		int r;

		if (msg == NULL || msg->finalizing)
			continue;
		r = visit(arg, &msg->pub);
		if (r)
			return r;
	}
	return 0;
}

void sl_spool_stats(const struct sl_spool *sp, struct sl_spool_stats *st)
{
	*st = sp->st;
	st->messages = sp->index.count;
	st->index_bytes = sp->index_bytes + sp->index.cap * sizeof(*sp->index.slots);
	st->segments = 0;
	st->disk_bytes = 0;
	for (size_t i = 0; i < sp->nsegs; i++) {
		if (sp->segs[i]->state == SL_SEG_DELETED)
			continue;
		st->segments++;
		st->disk_bytes += sp->segs[i]->end;
	}
}

const char *sl_spool_smtp_reply(int err)
{
	switch (err) {
	case 0:
		return "250 2.0.0 Ok";
	case -ENOSPC:
	case -EDQUOT:
		return "452 4.3.1 Insufficient system storage";
	default:
		return "451 4.3.0 Temporary spool failure, try again later";
	}
}

const char *sl_spool_crc_impl(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul"))
		return "isa-l crc32_iscsi, SSE4.2 crc32 + PCLMULQDQ";
	return "isa-l crc32_iscsi, table-driven base code";
#elif defined(__aarch64__)
	return "isa-l crc32_iscsi, ARMv8 CRC32C instructions";
#else
	return "isa-l crc32_iscsi, table-driven base code";
#endif
}

void sl_spool_inject_error(struct sl_spool *sp, int err)
{
	sp->inject_error = err;
}

/* ---- open and close ---- */

static int check_config(const struct sl_spool_config *cfg)
{
	if (cfg->paths == NULL || cfg->path_count == 0) {
		sl_err("spool: no spool path configured");
		return -EINVAL;
	}
	if (cfg->segment_size < MIN_SEGMENT_SIZE || cfg->segment_size > MAX_SEGMENT_SIZE) {
		sl_err("spool: segment size %llu is invalid: expected %u to %llu bytes",
		       (unsigned long long)cfg->segment_size, MIN_SEGMENT_SIZE,
		       (unsigned long long)MAX_SEGMENT_SIZE);
		return -EINVAL;
	}
	if (cfg->free_floor_percent > 99 || cfg->rewrite_live_percent > 100 ||
	    cfg->flush_mode > SL_SPOOL_FLUSH_O_DSYNC || cfg->max_batch_records == 0) {
		sl_err("spool: invalid free-space floor, rewrite threshold, flush mode or batch size");
		return -EINVAL;
	}
	return 0;
}

static int open_dir(struct sl_spool *sp)
{
	const char *base = sp->cfg.paths[sp->shard % sp->cfg.path_count];

	if (asprintf(&sp->dir, "%s/shard-%03u", base, sp->shard) < 0) {
		sp->dir = NULL;
		return -ENOMEM;
	}
	if (mkdir(base, 0700) != 0 && errno != EEXIST) {
		sl_err("spool: mkdir(%s) failed: %s", base, strerror(errno));
		return -errno;
	}
	if (mkdir(sp->dir, 0700) != 0 && errno != EEXIST) {
		sl_err("spool: mkdir(%s) failed: %s", sp->dir, strerror(errno));
		return -errno;
	}
	sp->dir_fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dir_fd < 0) {
		sl_err("spool: open(%s) failed: %s", sp->dir, strerror(errno));
		return -errno;
	}
	/* The lock sits on its own file that never enters the ring: after a
	 * crash, io_uring requests still draining hold the other files. */
	sp->lock_fd = openat(sp->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lock_fd < 0 || flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int err = -errno;

		sl_err("spool: %s is in use by another process: flock(%s/lock) failed: %s",
		       sp->dir, sp->dir, strerror(errno));
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	return 0;
}

/* Create the segment this run appends to. Its header record goes out with
 * the first batch, so that a full disk does not stop the shard from
 * opening and delivering what it has. */
static int start_segment(struct sl_spool *sp)
{
	uint32_t seq = sp->nsegs ? sp->segs[sp->nsegs - 1]->seq + 1 : 1;
	struct sl_segment *seg = seg_create(sp, seq);

	if (seg == NULL)
		return -EIO;
	sp->active = seg;
	return 0;
}

static int open_ring(struct sl_spool *sp)
{
	int err = io_uring_queue_init(sp->cfg.ring_entries ? sp->cfg.ring_entries : 256,
				      &sp->ring, 0);

	if (err < 0) {
		sl_err("spool shard=%u: io_uring_queue_init failed: %s", sp->shard, strerror(-err));
		return err;
	}
	sp->ring_ok = true;
	sp->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sp->event_fd < 0)
		return -errno;
	err = io_uring_register_eventfd(&sp->ring, sp->event_fd);
	if (err < 0)
		sl_err("spool shard=%u: io_uring_register_eventfd failed: %s", sp->shard,
		       strerror(-err));
	return err;
}

int sl_spool_open(const struct sl_spool_config *cfg, unsigned shard_index,
		  struct sl_spool **out)
{
	struct sl_spool *sp;
	int err;

	*out = NULL;
	err = check_config(cfg);
	if (err)
		return err;
	if (shard_index >= (1u << 16))
		return -EINVAL;
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return -ENOMEM;
	sp->cfg = *cfg;
	sp->shard = shard_index;
	sp->dir_fd = sp->event_fd = sp->lock_fd = -1;
	for (unsigned i = 0; i < SL_MAX_BATCHES; i++)
		sp->batches[i].op = SL_OP_BATCH;
	sp->next_id = 1;

	err = sl_index_init(&sp->index);
	if (!err)
		err = open_dir(sp);
	if (!err)
		err = sl_recover(sp);
	if (!err)
		err = start_segment(sp);
	if (!err)
		err = open_ring(sp);
	if (err) {
		sl_spool_close(sp);
		return err;
	}
	space_refresh(sp);
	sl_info("spool shard=%u opened: dir=%s segments=%zu messages=%zu truncated_bytes=%llu",
		sp->shard, sp->dir, sp->nsegs, sp->index.count,
		(unsigned long long)sp->st.truncated_bytes);
	*out = sp;
	return 0;
}

void sl_spool_close(struct sl_spool *sp)
{
	struct sl_req *req, *next;

	if (sp == NULL)
		return;
	sp->closing = true;
	while (sp->ring_ok && (sp->batch_count > 0 || sp->reads > 0 || sp->deletes > 0 ||
			       sp->summaries > 0)) {
		sl_spool_wait(sp, 1000);
		reap(sp);
	}
	for (req = sp->pending_head; req; req = next) {
		next = req->next;
		if (req->kind == SL_REQ_APPEND) {
			sl_msg_free(req->msg);
			req->msg = NULL;
		}
		if (req->done)
			req->done(req->arg, req->id, -ECANCELED);
		req_free(req);
	}
	sp->pending_head = sp->pending_tail = NULL;
	if (sp->ring_ok)
		io_uring_queue_exit(&sp->ring);
	if (sp->event_fd >= 0)
		close(sp->event_fd);
	for (size_t i = 0; i < sp->nsegs; i++) {
		sl_seg_close_fds(sp->segs[i]);
		free(sp->segs[i]->summary);
		free(sp->segs[i]);
	}
	free(sp->segs);
	for (unsigned i = 0; i < SL_MAX_BATCHES; i++)
		free(sp->batches[i].iov);
	sl_index_free(&sp->index);
	if (sp->dir_fd >= 0)
		close(sp->dir_fd);
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	free(sp->dir);
	free(sp);
}
