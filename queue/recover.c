/*
 * queue/recover.c - rebuild a shard's index from its segment files.
 *
 * sl_recover() lists the shard folder, maps each segment read-only in
 * sequence order and replays its records: MESSAGE records insert or
 * supersede an index entry, STATE records update recipients, and a
 * message whose recipients are all final leaves the index.
 *
 * Every record's header and metadata are checked against their CRC32C.
 * Bodies are checked in the last two segments, because only those can be
 * half-written by a crash. Bodies in older segments are checked when they
 * are read for delivery. At the first invalid record of the last segment the
 * file is cut (ftruncate and fdatasync) and the cut is logged with the
 * file and offset. An invalid record in an older segment is logged and the
 * rest of that file is skipped but kept. A file whose first record is not
 * a valid segment header is renamed to NAME.bad and skipped. A segment of
 * another format version stops recovery with -EPROTO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "queue/shard.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Parse "%08x.seg", the name of segment seq. */
static bool parse_name(const char *name, uint32_t *seq)
{
	char *end;
	unsigned long v;

	if (strlen(name) != 12 || strcmp(name + 8, ".seg") != 0 ||
	    strspn(name, "0123456789abcdef") != 8)
		return false;
	v = strtoul(name, &end, 16);
	*seq = (uint32_t)v;
	return end == name + 8;
}

/* Collect the sequence numbers of NAME.seg files, sorted. */
static int list_segments(struct sl_spool *sp, uint32_t **out, size_t *count)
{
	DIR *d = fdopendir(dup(sp->dir_fd));
	struct dirent *de;
	uint32_t *seqs = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		uint32_t seq;

		if (!parse_name(de->d_name, &seq))
			continue;
		if (n == cap) {
			uint32_t *p;

			cap = cap ? cap * 2 : 64;
			p = realloc(seqs, cap * sizeof(*p));
			if (p == NULL) {
				free(seqs);
				closedir(d);
				return -ENOMEM;
			}
			seqs = p;
		}
		seqs[n++] = seq;
	}
	closedir(d);
	if (n > 1)
		qsort(seqs, n, sizeof(*seqs), cmp_u32);
	*out = seqs;
	*count = n;
	return 0;
}

static void note_id(struct sl_spool *sp, uint64_t id)
{
	uint64_t counter = id & SL_ID_COUNTER_MASK;

	if (counter >= sp->next_id)
		sp->next_id = counter + 1;
}

static void apply_message(struct sl_spool *sp, struct sl_segment *seg, uint64_t pos,
			  const struct sl_rec_header *h, struct sl_spool_msg *msg)
{
	struct sl_spool_msg *old = sl_index_find(&sp->index, msg->pub.id);

	msg->seg = seg->seq;
	msg->first_seg = seg->seq;
	msg->rec_off = (uint32_t)pos;
	msg->rec_len = (uint32_t)sl_align8(SL_REC_HEADER_SIZE + (uint64_t)h->meta_len + h->body_len);
	msg->body_off = SL_REC_HEADER_SIZE + h->meta_len;
	msg->body_crc = h->body_crc;
	note_id(sp, msg->pub.id);
	if (old) {
		msg->first_seg = old->first_seg;
		sl_msg_detach(sp, old);
		sl_index_remove(&sp->index, old->pub.id);
		sl_msg_free(old);
	}
	if (msg->first_seg < seg->min_ref)
		seg->min_ref = msg->first_seg;
	if (msg->pub.pending_count == 0 || sl_index_insert(&sp->index, msg) != 0) {
		sl_msg_free(msg);
		return;
	}
	sl_msg_attach(sp, msg);
}

static void apply_state(struct sl_spool *sp, struct sl_segment *seg,
			const struct sl_rec_state *st)
{
	struct sl_spool_msg *msg = sl_index_find(&sp->index, st->id);

	note_id(sp, st->id);
	if (msg == NULL)
		return;	/* final earlier, or its segment was deleted */
	if (msg->first_seg < seg->min_ref)
		seg->min_ref = msg->first_seg;
	if (sl_msg_set_state(msg, st->rcpt, st->state, st->attempts, st->next_attempt) != 0) {
		sl_warn("spool shard=%u: %s/%s: state record for message %016llx names recipient %u of %u, ignored",
			sp->shard, sp->dir, seg->name, (unsigned long long)st->id,
			st->rcpt, msg->pub.rcpt_count);
		return;
	}
	if (msg->pub.pending_count == 0) {
		sl_msg_detach(sp, msg);
		sl_index_remove(&sp->index, msg->pub.id);
		sl_msg_free(msg);
	}
}

/* Replay one record; returns 0, or a reason for a bad record. */
static const char *replay(struct sl_spool *sp, struct sl_segment *seg, const uint8_t *rec,
			  uint64_t pos, const struct sl_rec_header *h)
{
	const uint8_t *meta = rec + SL_REC_HEADER_SIZE;
	struct sl_rec_state st;
	struct sl_spool_msg *msg;

	switch (h->type) {
	case SL_REC_MESSAGE:
		if (sl_rec_decode_message(meta, h->meta_len, h->body_len, &msg) != 0)
			return "invalid message metadata";
		apply_message(sp, seg, pos, h, msg);
		sp->st.recovered_messages++;
		return NULL;
	case SL_REC_STATE:
		if (sl_rec_decode_state(meta, h->meta_len, &st) != 0)
			return "invalid state record";
		apply_state(sp, seg, &st);
		return NULL;
	default:
		return "unexpected record type";
	}
}

/* Check the segment header record at offset 0. Returns 0, -EPROTO for
 * another format version, -EBADMSG when the file has no valid header. */
static int check_header(struct sl_spool *sp, const char *name, const uint8_t *map,
			uint64_t size, uint32_t seq)
{
	struct sl_rec_header h;
	struct sl_rec_segment s;
	uint32_t magic = 0, version = 0;

	if (size >= SL_REC_HEADER_SIZE + 4) {
		memcpy(&magic, map, 4);
		memcpy(&version, map + SL_REC_HEADER_SIZE, 4);
	}
	if (magic == SL_REC_MAGIC && map[24] == SL_REC_SEGMENT &&
	    version != SL_SPOOL_FORMAT_VERSION) {
		sl_err("spool: %s/%s has spool format version %u, but this build reads version %u only; "
		       "move the spool aside or run a matching sluice version",
		       sp->dir, name, version, SL_SPOOL_FORMAT_VERSION);
		return -EPROTO;
	}
	if (sl_rec_check(map, size, &h) != 0 || h.type != SL_REC_SEGMENT ||
	    sl_rec_decode_segment(map + SL_REC_HEADER_SIZE, h.meta_len, &s) != 0 ||
	    s.seq != seq)
		return -EBADMSG;
	if (s.shard != sp->shard)
		sl_warn("spool: %s/%s was written by shard %u, not %u", sp->dir, name,
			s.shard, sp->shard);
	note_id(sp, s.next_id > 0 ? s.next_id - 1 : 0);
	return 0;
}

/* The CRCs do not cover the padding, so check that it is still zero. */
static bool padding_zero(const uint8_t *rec, uint64_t used, uint64_t rec_len)
{
	for (uint64_t i = used; i < rec_len; i++)
		if (rec[i] != 0)
			return false;
	return true;
}

/* Find the end of the valid records, replaying them. Returns the offset
 * of the first invalid record (size when all are valid) and its reason. */
static uint64_t scan(struct sl_spool *sp, struct sl_segment *seg, const uint8_t *map,
		     uint64_t size, bool verify_bodies, const char **why)
{
	uint64_t pos = SL_REC_HEADER_SIZE + SL_REC_SEGMENT_META;
	struct sl_rec_header h;

	*why = NULL;
	while (pos < size) {
		int r = sl_rec_check(map + pos, size - pos, &h);
		uint64_t rec_len;

		if (r != 0) {
			*why = r == -EAGAIN ? "record runs past the end of the file"
					    : "bad magic or header checksum";
			return pos;
		}
		rec_len = sl_align8(SL_REC_HEADER_SIZE + (uint64_t)h.meta_len + h.body_len);
		if (pos + rec_len > size || rec_len > UINT32_MAX) {
			*why = "record runs past the end of the file";
			return pos;
		}
		if (!padding_zero(map + pos, SL_REC_HEADER_SIZE + (uint64_t)h.meta_len + h.body_len,
				  rec_len)) {
			*why = "padding is not zero";
			return pos;
		}
		if (verify_bodies && h.body_len > 0 &&
		    sl_crc32c(0, map + pos + SL_REC_HEADER_SIZE + h.meta_len, h.body_len) != h.body_crc) {
			*why = "message body checksum mismatch";
			return pos;
		}
		*why = replay(sp, seg, map + pos, pos, &h);
		if (*why)
			return pos;
		pos += rec_len;
	}
	return pos;
}

/* Read the summary of segment seq into a new buffer when it is complete
 * and covers size bytes of the segment. Returns its length or 0. */
static size_t summary_load(struct sl_spool *sp, uint32_t seq, uint64_t size, uint8_t **out)
{
	char name[24];
	struct stat st;
	uint8_t *buf = NULL;
	uint32_t magic, version, file_seq, crc, hcrc;
	uint64_t covered;
	int fd;

	snprintf(name, sizeof(name), "%08x.idx", seq);
	fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || st.st_size < SL_SUMMARY_HEADER_SIZE ||
	    (buf = malloc((size_t)st.st_size)) == NULL ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto bad;
	memcpy(&magic, buf, 4);
	memcpy(&version, buf + 4, 4);
	memcpy(&file_seq, buf + 8, 4);
	memcpy(&covered, buf + 16, 8);
	memcpy(&crc, buf + 24, 4);
	memcpy(&hcrc, buf + 28, 4);
	if (magic != SL_SUMMARY_MAGIC || version != SL_SPOOL_FORMAT_VERSION || file_seq != seq ||
	    covered != size || hcrc != sl_crc32c(0, buf, 28) ||
	    crc != sl_crc32c(0, buf + SL_SUMMARY_HEADER_SIZE, (size_t)st.st_size - SL_SUMMARY_HEADER_SIZE))
		goto bad;
	close(fd);
	*out = buf;
	return (size_t)st.st_size;
bad:
	free(buf);
	close(fd);
	return 0;
}

/* Check every entry of a summary before any is replayed. */
static bool summary_valid(const uint8_t *buf, size_t len, uint64_t size)
{
	size_t pos = SL_SUMMARY_HEADER_SIZE;
	struct sl_rec_header h;

	while (pos < len) {
		uint32_t off;

		if (len - pos < SL_SUMMARY_ENTRY_FIXED)
			return false;
		memcpy(&off, buf + pos, 4);
		if (sl_rec_check_meta(buf + pos + SL_SUMMARY_ENTRY_FIXED,
				      len - pos - SL_SUMMARY_ENTRY_FIXED, &h) != 0 ||
		    off + sl_align8(SL_REC_HEADER_SIZE + (uint64_t)h.meta_len + h.body_len) > size)
			return false;
		pos += sl_align8(SL_SUMMARY_ENTRY_FIXED + SL_REC_HEADER_SIZE + h.meta_len);
	}
	return pos == len;
}

/* Replay a segment from its summary instead of its records; false when
 * there is no usable summary. */
static bool replay_summary(struct sl_spool *sp, struct sl_segment *seg, uint64_t size)
{
	uint8_t *buf = NULL;
	size_t len = summary_load(sp, seg->seq, size, &buf), pos = SL_SUMMARY_HEADER_SIZE;
	struct sl_rec_header h;

	if (len == 0)
		return false;
	if (!summary_valid(buf, len, size)) {
		free(buf);
		return false;
	}
	while (pos < len) {
		uint32_t off;
		const uint8_t *rec = buf + pos + SL_SUMMARY_ENTRY_FIXED;
		const char *why;

		memcpy(&off, buf + pos, 4);
		sl_rec_check_meta(rec, len - pos - SL_SUMMARY_ENTRY_FIXED, &h);
		why = replay(sp, seg, rec, off, &h);
		if (why)
			sl_err("spool shard=%u: %s/%08x.idx: record at offset %u: %s; skipped",
			       sp->shard, sp->dir, seg->seq, off, why);
		pos += sl_align8(SL_SUMMARY_ENTRY_FIXED + SL_REC_HEADER_SIZE + h.meta_len);
	}
	free(buf);
	return true;
}

static void cut_tail(struct sl_spool *sp, struct sl_segment *seg, uint64_t pos,
		     uint64_t size, const char *why)
{
	sl_warn("spool shard=%u: torn or corrupt tail in %s/%s at offset %llu (%s): cutting %llu bytes",
		sp->shard, sp->dir, seg->name, (unsigned long long)pos, why,
		(unsigned long long)(size - pos));
	if (ftruncate(seg->fd, (off_t)pos) != 0 || fdatasync(seg->fd) != 0)
		sl_err("spool shard=%u: ftruncate(%s/%s, %llu) failed: %s", sp->shard, sp->dir,
		       seg->name, (unsigned long long)pos, strerror(errno));
	sp->st.truncated_bytes += size - pos;

	/* The cut bytes may hold records with ids above any seen, and those
	 * ids may already be in logs, so skip as many ids as records fit. */
	sp->next_id += (size - pos) / SL_REC_HEADER_SIZE + 1;
}

static void set_aside(struct sl_spool *sp, int fd, const char *name, uint64_t size)
{
	char bad[32];

	close(fd);
	if (size == 0) {
		unlinkat(sp->dir_fd, name, 0);
		return;
	}
	snprintf(bad, sizeof(bad), "%s.bad", name);
	sl_err("spool shard=%u: %s/%s has no valid segment header: renamed to %s, not replayed",
	       sp->shard, sp->dir, name, bad);
	if (renameat(sp->dir_fd, name, sp->dir_fd, bad) != 0)
		sl_err("spool shard=%u: rename of %s/%s failed: %s", sp->shard, sp->dir, name,
		       strerror(errno));
}

static int recover_segment(struct sl_spool *sp, uint32_t seq, bool verify_bodies, bool last)
{
	char name[16];
	struct stat stbuf;
	struct sl_segment *seg;
	const char *why;
	uint8_t *map;
	uint64_t size, end;
	int fd, err;

	snprintf(name, sizeof(name), "%08x.seg", seq);
	fd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC |
		    (sp->cfg.flush_mode == SL_SPOOL_FLUSH_O_DSYNC ? O_DSYNC : 0));
	if (fd < 0 || fstat(fd, &stbuf) != 0) {
		sl_err("spool shard=%u: open(%s/%s) failed: %s", sp->shard, sp->dir, name,
		       strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	size = (uint64_t)stbuf.st_size;
	map = size ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	if (map == MAP_FAILED) {
		sl_err("spool shard=%u: mmap(%s/%s) failed: %s", sp->shard, sp->dir, name,
		       strerror(errno));
		close(fd);
		return -EIO;
	}
	if (size)
		madvise(map, size, MADV_SEQUENTIAL);
	err = size ? check_header(sp, name, map, size, seq) : -EBADMSG;
	if (err) {
		if (map)
			munmap(map, size);
		if (err == -EPROTO) {
			close(fd);
			return err;
		}
		set_aside(sp, fd, name, size);
		return 0;
	}
	seg = sl_seg_add(sp, seq, fd);
	if (seg == NULL) {
		munmap(map, size);
		close(fd);
		return -ENOMEM;
	}
	seg->has_header = seg->header_queued = true;
	seg->sealed = true;
	if (!verify_bodies && replay_summary(sp, seg, size)) {
		munmap(map, size);
		seg->end = seg->write_end = size;
		sp->st.summaries_used++;
		return 0;
	}
	end = scan(sp, seg, map, size, verify_bodies, &why);
	munmap(map, size);
	seg->end = seg->write_end = end;
	if (end < size && last) {
		cut_tail(sp, seg, end, size, why);
	} else if (end < size) {
		sl_err("spool shard=%u: corrupt record in %s/%s at offset %llu (%s): the %llu bytes after it are skipped",
		       sp->shard, sp->dir, name, (unsigned long long)end, why,
		       (unsigned long long)(size - end));
		seg->end = seg->write_end = size;	/* keep the damaged file as it is */
	}
	return 0;
}

/* Remove empty segment files (made by an open that never appended) so
 * that the last file left is the one a crash may have torn. */
static size_t drop_empty(struct sl_spool *sp, uint32_t *seqs, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char name[16];
		struct stat st;

		snprintf(name, sizeof(name), "%08x.seg", seqs[i]);
		if (fstatat(sp->dir_fd, name, &st, 0) == 0 && st.st_size == 0 &&
		    unlinkat(sp->dir_fd, name, 0) == 0)
			continue;
		seqs[k++] = seqs[i];
	}
	return k;
}

int sl_recover(struct sl_spool *sp)
{
	uint32_t *seqs = NULL;
	size_t n = 0;
	int err = list_segments(sp, &seqs, &n);

	if (err) {
		sl_err("spool shard=%u: listing %s failed: %s", sp->shard, sp->dir, strerror(-err));
		return err;
	}
	n = drop_empty(sp, seqs, n);
	for (size_t i = 0; i < n && !err; i++)
		err = recover_segment(sp, seqs[i], i + 2 >= n, i + 1 == n);
	free(seqs);
	return err;
}
