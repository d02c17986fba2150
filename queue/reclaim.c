/*
 * queue/reclaim.c - segment deletion and rewrites.
 *
 * A segment is deleted (unlinkat, then an fsync of the shard folder, both
 * through io_uring and linked) when the rule in queue/shard.h allows it.
 * Deletions complete in sequence order whenever a later segment refers to
 * an earlier one, because the later one stays while the earlier one is
 * still present or being deleted.
 *
 * A segment whose live messages use less than rewrite_live_percent of its
 * bytes has those messages rewritten: the old record is read back through
 * io_uring, its checksums are verified, and a new MESSAGE record with the
 * current recipient states is appended through the normal group commit.
 * Once that record is durable the index points at it and the old segment
 * can be deleted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "queue/shard.h"


/* Free the entries of segments whose deletion has completed. */
void sl_segs_compact(struct sl_spool *sp)
{
	size_t k = 0;

	for (size_t i = 0; i < sp->nsegs; i++) {
		if (sp->segs[i]->state == SL_SEG_DELETED)
			free(sp->segs[i]);
		else
			sp->segs[k++] = sp->segs[i];
	}
	sp->nsegs = k;
}

/* True when a present segment in [seg->min_ref, seg->seq) exists. */
static bool older_present(const struct sl_spool *sp, const struct sl_segment *seg)
{
	for (size_t i = 0; i < sp->nsegs && sp->segs[i]->seq < seg->seq; i++) {
		const struct sl_segment *s = sp->segs[i];

		if (s->seq >= seg->min_ref && s->state != SL_SEG_DELETED)
			return true;
	}
	return false;
}

static bool deletable(const struct sl_spool *sp, const struct sl_segment *seg)
{
	return seg != sp->active && seg->state == SL_SEG_LIVE && seg->live_msgs == 0 &&
	       seg->refs == 0 && seg->rewrites == 0 &&
	       !sl_batch_uses(sp, seg) && !older_present(sp, seg);
}

static void delete_start(struct sl_spool *sp, struct sl_segment *seg)
{
	struct io_uring_sqe *unlink_sqe, *sync_sqe;

	struct io_uring_sqe *idx_sqe;

	if (io_uring_sq_space_left(&sp->ring) < 3)
		io_uring_submit(&sp->ring);
	if (io_uring_sq_space_left(&sp->ring) < 3)
		return;
	sl_seg_close_fds(seg);

	/* The summary goes first, unlinked from the rest: without it,
	 * recovery scans the segment, so its removal needs no ordering. The
	 * name must stay valid until the request is submitted, so it lives
	 * in the segment. */
	snprintf(seg->idx_name, sizeof(seg->idx_name), "%08x.idx", seg->seq);
	idx_sqe = io_uring_get_sqe(&sp->ring);
	io_uring_prep_unlinkat(idx_sqe, sp->dir_fd, seg->idx_name, 0);
	io_uring_sqe_set_data(idx_sqe, NULL);
	unlink_sqe = io_uring_get_sqe(&sp->ring);
	io_uring_prep_unlinkat(unlink_sqe, sp->dir_fd, seg->name, 0);
	unlink_sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data(unlink_sqe, seg);
	sync_sqe = io_uring_get_sqe(&sp->ring);
	io_uring_prep_fsync(sync_sqe, sp->dir_fd, 0);
	io_uring_sqe_set_data(sync_sqe, seg);
	seg->state = SL_SEG_DELETING;
	seg->delete_cqes = 2;
	sp->deletes++;
}

void sl_reclaim_delete_done(struct sl_spool *sp, struct sl_segment *seg, int res)
{
	bool unlink_result = seg->delete_cqes == 2;

	if (unlink_result && res < 0 && res != -ENOENT) {
		sl_err("spool shard=%u: unlinkat(%s/%s) failed: %s; the segment is kept",
		       sp->shard, sp->dir, seg->name, strerror(-res));
		seg->state = SL_SEG_STUCK;
	} else if (!unlink_result && res < 0 && seg->state == SL_SEG_DELETING) {
		sl_warn("spool shard=%u: fsync of %s after deleting %s failed: %s",
			sp->shard, sp->dir, seg->name, strerror(-res));
	}
	if (--seg->delete_cqes > 0)
		return;
	sp->deletes--;
	if (seg->state == SL_SEG_DELETING) {
		seg->state = SL_SEG_DELETED;
		sp->st.segments_deleted++;
		sl_debug("spool shard=%u: deleted %s/%s", sp->shard, sp->dir, seg->name);
	}
	sp->reclaim_due = true;
}

static bool rewrite_candidate(const struct sl_spool *sp, const struct sl_segment *seg)
{
	return seg != sp->active && seg->state == SL_SEG_LIVE && seg->live_msgs > 0 &&
	       seg->rewrites == 0 && seg->fd >= 0 &&
	       seg->live_bytes * 100 < (uint64_t)sp->cfg.rewrite_live_percent * seg->end;
}

static int rewrite_start(struct sl_spool *sp, struct sl_spool_msg *msg, struct sl_segment *seg)
{
	struct sl_read *rd = calloc(1, sizeof(*rd));
	int err;

	if (rd == NULL)
		return -ENOMEM;
	rd->buf = malloc(msg->rec_len);
	if (rd->buf == NULL) {
		free(rd);
		return -ENOMEM;
	}
	rd->op = SL_OP_READ;
	rd->rewrite = true;
	rd->id = msg->pub.id;
	rd->seg = seg;
	rd->need = msg->rec_len;
	err = sl_start_read(sp, rd, seg->fd, msg->rec_off);
	if (err) {
		free(rd->buf);
		free(rd);
		return err;
	}
	msg->rewriting = 1;
	seg->rewrites++;
	return 0;
}

/* Verify the record read back for a rewrite; 0 when it is intact. */
static int rewrite_verify(const struct sl_read *rd, const struct sl_spool_msg *msg)
{
	struct sl_rec_header h;
	uint64_t id;

	if (sl_rec_check(rd->buf, rd->need, &h) != 0 || h.type != SL_REC_MESSAGE ||
	    h.body_len != msg->pub.body_size || h.body_crc != msg->body_crc)
		return -EBADMSG;
	memcpy(&id, rd->buf + SL_REC_HEADER_SIZE, sizeof(id));
	if (id != msg->pub.id)
		return -EBADMSG;
	if (sl_crc32c(0, rd->buf + msg->body_off, h.body_len) != h.body_crc)
		return -EBADMSG;
	return 0;
}

static int rewrite_enqueue(struct sl_spool *sp, struct sl_read *rd, struct sl_spool_msg *msg)
{
	size_t meta_len = sl_rec_message_meta_size(&msg->pub);
	struct sl_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return -ENOMEM;
	req->head = malloc(SL_REC_HEADER_SIZE + meta_len);
	if (req->head == NULL) {
		free(req);
		return -ENOMEM;
	}
	sl_rec_encode_message(req->head, &msg->pub, msg->pub.body_size, msg->body_crc);
	req->kind = SL_REQ_REWRITE;
	req->id = msg->pub.id;
	req->head_len = (uint32_t)(SL_REC_HEADER_SIZE + meta_len);
	req->body_len = msg->pub.body_size;
	req->body_crc = msg->body_crc;
	req->rec_len = sl_align8(req->head_len + req->body_len);
	req->inline_iov.iov_base = rd->buf + msg->body_off;
	req->inline_iov.iov_len = (size_t)msg->pub.body_size;
	req->body = &req->inline_iov;
	req->body_iovcnt = 1;
	req->owned = rd->buf;
	req->old_seg = msg->seg;
	req->old_off = msg->rec_off;
	sl_enqueue(sp, req);
	return 0;
}

void sl_rewrite_read_done(struct sl_spool *sp, struct sl_read *rd, int err)
{
	struct sl_spool_msg *msg = sl_index_find(&sp->index, rd->id);

	rd->seg->rewrites--;
	if (msg && msg->seg == rd->seg->seq && !msg->finalizing && !sp->closing) {
		if (!err)
			err = rewrite_verify(rd, msg);
		if (err == -EBADMSG)
			sl_err("spool shard=%u: message %016llx in %s/%s failed its checksum; not rewritten",
			       sp->shard, (unsigned long long)rd->id, sp->dir, rd->seg->name);
		if (!err)
			err = rewrite_enqueue(sp, rd, msg);
		if (!err) {
			free(rd);
			return;
		}
	}
	if (msg)
		msg->rewriting = 0;
	free(rd->buf);
	free(rd);
}

static int rewrite_pass(struct sl_spool *sp, unsigned max_rewrites)
{
	int started = 0;
	bool any = false;

	sp->rewrite_scan_ns = sl_now_ns();
	for (size_t i = 0; i < sp->nsegs; i++) {
		sp->segs[i]->rewrite_mark = rewrite_candidate(sp, sp->segs[i]);
		any |= sp->segs[i]->rewrite_mark;
	}
	if (!any)
		return 0;
	for (size_t i = 0; i < sp->index.cap && (unsigned)started < max_rewrites; i++) {
		struct sl_spool_msg *msg = sp->index.slots[i];
		struct sl_segment *seg;

		if (msg == NULL || msg->rewriting || msg->finalizing)
			continue;
		seg = sl_seg_find(sp, msg->seg);
		if (seg == NULL || !seg->rewrite_mark)
			continue;
		if (rewrite_start(sp, msg, seg) == 0)
			started++;
	}
	return started;
}

int sl_reclaim(struct sl_spool *sp, unsigned max_rewrites, bool force)
{
	int started = 0;

	sp->reclaim_due = false;
	sl_segs_compact(sp);
	for (size_t i = 0; i < sp->nsegs; i++)
		if (deletable(sp, sp->segs[i]))
			delete_start(sp, sp->segs[i]);
	if (force || sl_now_ns() - sp->rewrite_scan_ns >= SL_RECLAIM_PERIOD_NS)
		started = rewrite_pass(sp, max_rewrites);
	return started;
}

int sl_spool_reclaim(struct sl_spool *sp, unsigned max_rewrites)
{
	return sl_reclaim(sp, max_rewrites, true);
}
