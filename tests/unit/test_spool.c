/*
 * Unit tests for the spool shard: group commit, reads, recovery of every
 * record type, torn tails, format versions, reclamation and rewrites,
 * error mapping and the free-space floor. Each test uses its own folder
 * under $BUILD/tmp and removes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "queue/shard.h"

struct fixture {
	char dir[256];
	const char *paths[1];
	struct sl_spool_config cfg;
	struct sl_spool *sp;
};

/* Results of completion callbacks, indexed by the order of appends. */
struct result {
	int calls;
	int err;
	uint64_t id;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char base[200];

	snprintf(base, sizeof(base), "%s/tmp", build);
	mkdir(build, 0755);	/* shared with other tests, which may run as other users */
	mkdir(base, 0755);
	snprintf(f->dir, sizeof(f->dir), "%s/test_spool.XXXXXX", base);
	assert_non_null(mkdtemp(f->dir));
	f->paths[0] = f->dir;
	sl_spool_config_default(&f->cfg);
	f->cfg.paths = f->paths;
	f->cfg.path_count = 1;
	f->cfg.segment_size = 1 << 20;
	f->cfg.free_floor_percent = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sl_spool_close(f->sp);
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void open_shard(struct fixture *f)
{
	if (f->sp)
		sl_spool_close(f->sp);
	f->sp = NULL;
	assert_int_equal(sl_spool_open(&f->cfg, 0, &f->sp), 0);
}

static void drain(struct sl_spool *sp)
{
	int rounds = 0;

	while (sl_spool_busy(sp) && rounds++ < 100000) {
		assert_true(sl_spool_poll(sp) >= 0);
		if (sl_spool_busy(sp))
			sl_spool_wait(sp, 100);
	}
	assert_false(sl_spool_busy(sp));
}

static void on_done(void *arg, uint64_t id, int err)
{
	struct result *r = arg;

	r->calls++;
	r->err = err;
	r->id = id;
}

static void fill_body(char *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (seed * 31 + i * 7) % 26);
}

/* Append one message with body_len bytes and nrcpt recipients. */
static uint64_t append(struct fixture *f, size_t body_len, unsigned nrcpt, struct result *r,
		       char *body)
{
	struct sl_spool_rcpt rcpts[4] = {
		{ "one@example.org", NULL, 0, 0, 0, 0 },
		{ "two@example.org", "rfc822;two@example.org", SL_SPOOL_NOTIFY_FAILURE, 0, 0, 0 },
		{ "three@example.org", NULL, 0, 0, 0, 0 },
		{ "four@example.org", NULL, 0, 0, 0, 0 },
	};
	struct sl_spool_envelope env = {
		.sender = "sender@example.com",
		.envid = "E1",
		.flags = SL_SPOOL_F_SMTPUTF8,
		.arrival = 1700000000,
		.rcpts = rcpts,
		.rcpt_count = nrcpt,
	};
	struct iovec iov[2] = {
		{ body, body_len / 2 },
		{ body + body_len / 2, body_len - body_len / 2 },
	};
	uint64_t id = 0;

	env.bodyhash[0] = 0xab;
	assert_int_equal(sl_spool_append(f->sp, &env, iov, 2, on_done, r, &id), 0);
	return id;
}

struct read_result {
	int calls;
	int err;
	char data[40000];
	size_t len;
};

static void on_read(void *arg, uint64_t id, int err, const void *body, size_t len)
{
	struct read_result *r = arg;

	(void)id;
	r->calls++;
	r->err = err;
	r->len = len;
	if (!err && len <= sizeof(r->data))
		memcpy(r->data, body, len);
}

static void expect_body(struct fixture *f, uint64_t id, const char *body, size_t len)
{
	struct read_result *rr = calloc(1, sizeof(*rr));
	const struct sl_spool_message *m = sl_spool_find(f->sp, id);
	size_t cap;
	void *buf = NULL;

	assert_non_null(m);
	cap = sl_spool_read_size(f->sp, m);
	assert_int_equal(posix_memalign(&buf, 4096, cap + 1), 0);
	assert_int_equal(sl_spool_read(f->sp, id, buf, cap, on_read, rr), 0);
	drain(f->sp);
	assert_int_equal(rr->calls, 1);
	assert_int_equal(rr->err, 0);
	assert_int_equal(rr->len, len);
	assert_memory_equal(rr->data, body, len);
	free(buf);
	free(rr);
}

static void append_commits_and_reads(void **state)
{
	struct fixture *f = *state;
	struct result r[3] = { 0 };
	char body[3][5000];
	uint64_t ids[3];

	open_shard(f);
	for (int i = 0; i < 3; i++) {
		fill_body(body[i], sizeof(body[i]), (uint64_t)i);
		ids[i] = append(f, 1000 + 1000 * (size_t)i, 2, &r[i], body[i]);
	}
	/* Nothing is acknowledged before the flush. */
	assert_int_equal(r[0].calls, 0);
	assert_null(sl_spool_find(f->sp, ids[0]));
	drain(f->sp);
	for (int i = 0; i < 3; i++) {
		const struct sl_spool_message *m = sl_spool_find(f->sp, ids[i]);

		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].err, 0);
		assert_int_equal(r[i].id, ids[i]);
		assert_non_null(m);
		assert_int_equal(m->body_size, 1000 + 1000 * i);
		assert_string_equal(m->sender, "sender@example.com");
		assert_string_equal(m->envid, "E1");
		assert_int_equal(m->flags, SL_SPOOL_F_SMTPUTF8);
		assert_int_equal(m->rcpt_count, 2);
		assert_string_equal(m->rcpts[1].orcpt, "rfc822;two@example.org");
		assert_int_equal(m->bodyhash[0], 0xab);
		expect_body(f, ids[i], body[i], 1000 + 1000 * (size_t)i);
	}
	assert_true(ids[1] > ids[0]);
	assert_true(ids[2] > ids[1]);
}

static void direct_read_returns_body(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	char body[12345];
	uint64_t id;

	f->cfg.read_direct = true;
	open_shard(f);
	fill_body(body, sizeof(body), 9);
	id = append(f, sizeof(body), 1, &r, body);
	drain(f->sp);
	assert_int_equal(r.err, 0);
	expect_body(f, id, body, sizeof(body));
}

static void recovery_replays_every_record_type(void **state)
{
	struct fixture *f = *state;
	struct result r[4] = { 0 }, s[4] = { 0 };
	char body[4][3000];
	uint64_t ids[4], next;
	const struct sl_spool_message *m;
	struct sl_spool_stats st;

	open_shard(f);
	for (int i = 0; i < 4; i++) {
		fill_body(body[i], sizeof(body[i]), (uint64_t)i + 100);
		ids[i] = append(f, sizeof(body[i]), 3, &r[i], body[i]);
	}
	drain(f->sp);
	/* ids[0]: one recipient deferred; ids[1]: one delivered, one bounced;
	 * ids[2]: every recipient final; ids[3]: untouched. */
	assert_int_equal(sl_spool_set_state(f->sp, ids[0], 1, SL_SPOOL_RCPT_DEFERRED, 2, 1800000000,
					    on_done, &s[0]), 0);
	assert_int_equal(sl_spool_set_state(f->sp, ids[1], 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, on_done, &s[1]), 0);
	assert_int_equal(sl_spool_set_state(f->sp, ids[1], 2, SL_SPOOL_RCPT_BOUNCED, 1, 0, on_done, &s[1]), 0);
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(sl_spool_set_state(f->sp, ids[2], k, SL_SPOOL_RCPT_DELIVERED, 1, 0,
						    on_done, &s[2]), 0);
	/* The message with every recipient final is no longer offered. */
	assert_null(sl_spool_find(f->sp, ids[2]));
	drain(f->sp);
	assert_int_equal(s[0].calls, 1);
	assert_int_equal(s[1].calls, 2);
	assert_int_equal(s[2].calls, 3);
	assert_int_equal(s[2].err, 0);

	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.truncated_bytes, 0);
	m = sl_spool_find(f->sp, ids[0]);
	assert_non_null(m);
	assert_int_equal(m->rcpts[1].state, SL_SPOOL_RCPT_DEFERRED);
	assert_int_equal(m->rcpts[1].attempts, 2);
	assert_int_equal(m->rcpts[1].next_attempt, 1800000000);
	assert_int_equal(m->rcpts[0].state, SL_SPOOL_RCPT_PENDING);
	assert_int_equal(m->pending_count, 3);
	m = sl_spool_find(f->sp, ids[1]);
	assert_non_null(m);
	assert_int_equal(m->rcpts[0].state, SL_SPOOL_RCPT_DELIVERED);
	assert_int_equal(m->rcpts[2].state, SL_SPOOL_RCPT_BOUNCED);
	assert_int_equal(m->pending_count, 1);
	assert_null(sl_spool_find(f->sp, ids[2]));
	assert_non_null(sl_spool_find(f->sp, ids[3]));
	for (int i = 0; i < 4; i++)
		if (i != 2)
			expect_body(f, ids[i], body[i], sizeof(body[i]));

	/* New ids continue after the recovered ones. */
	next = append(f, 10, 1, &r[0], body[0]);
	assert_true(next > ids[3]);
	drain(f->sp);
}

/* Name of the newest segment file of shard 0. */
static void newest_segment(struct fixture *f, char *path, size_t len, int back)
{
	struct sl_spool *sp = f->sp;
	struct sl_segment *seg = sp->segs[sp->nsegs - 1 - (size_t)back];

	snprintf(path, len, "%s/%s", sp->dir, seg->name);
}

static void torn_tail_is_cut(void **state)
{
	struct fixture *f = *state;
	struct result r[3] = { 0 };
	char body[3][2000], path[512];
	uint64_t ids[3];
	struct stat stbuf;
	struct sl_spool_stats st;
	int fd;

	open_shard(f);
	for (int i = 0; i < 3; i++) {
		fill_body(body[i], sizeof(body[i]), (uint64_t)i + 7);
		ids[i] = append(f, sizeof(body[i]), 1, &r[i], body[i]);
	}
	drain(f->sp);
	newest_segment(f, path, sizeof(path), 0);
	sl_spool_close(f->sp);
	f->sp = NULL;

	/* Cut 100 bytes off the last record: it is torn. */
	assert_int_equal(stat(path, &stbuf), 0);
	assert_int_equal(truncate(path, stbuf.st_size - 100), 0);
	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 2);
	/* The cut starts where the torn record started. */
	assert_int_equal(f->sp->segs[f->sp->nsegs - 2]->end + st.truncated_bytes,
			 (uint64_t)stbuf.st_size - 100);
	assert_int_equal(st.truncated_bytes, sl_align8(SL_REC_HEADER_SIZE + 143 + 2000) - 100);
	assert_non_null(sl_spool_find(f->sp, ids[0]));
	assert_non_null(sl_spool_find(f->sp, ids[1]));
	assert_null(sl_spool_find(f->sp, ids[2]));
	expect_body(f, ids[1], body[1], sizeof(body[1]));
	sl_spool_close(f->sp);
	f->sp = NULL;

	/* Garbage after the last record is cut as well, and logged. */
	assert_int_equal(stat(path, &stbuf), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage-garbage-garbage-garbage-garbage-garbage", 47), 47);
	close(fd);
	/* The newest segment is now the empty one made by the last open;
	 * damage there would be cut as well, but this file is older. */
	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 2);
}

static void tail_garbage_cut_in_newest(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	char body[1000], path[512];
	struct stat before, after;
	struct sl_spool_stats st;
	uint64_t id;
	int fd;

	open_shard(f);
	fill_body(body, sizeof(body), 1);
	id = append(f, sizeof(body), 1, &r, body);
	drain(f->sp);
	newest_segment(f, path, sizeof(path), 0);
	sl_spool_close(f->sp);
	f->sp = NULL;
	assert_int_equal(stat(path, &before), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 40), 40);
	close(fd);
	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.truncated_bytes, 40);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	expect_body(f, id, body, sizeof(body));
}

static void other_format_version_rejected(void **state)
{
	struct fixture *f = *state;
	struct sl_spool *sp = NULL;
	struct sl_rec_segment hdr = { SL_SPOOL_FORMAT_VERSION + 1, 0, 1, 1, 0 };
	uint8_t buf[SL_REC_HEADER_SIZE + SL_REC_SEGMENT_META];
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/shard-000", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/shard-000/00000001.seg", f->dir);
	sl_rec_encode_segment(buf, &hdr);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	assert_int_equal(sl_spool_open(&f->cfg, 0, &sp), -EPROTO);
	assert_null(sp);
}

static void write_errors_map_and_keep_data(void **state)
{
	struct fixture *f = *state;
	struct result a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	char body[4000];
	uint64_t ida, idb, idc, idd;

	open_shard(f);
	fill_body(body, sizeof(body), 3);
	ida = append(f, sizeof(body), 1, &a, body);
	drain(f->sp);
	assert_int_equal(a.err, 0);

	sl_spool_inject_error(f->sp, -EIO);
	idb = append(f, sizeof(body), 1, &b, body);
	drain(f->sp);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.err, -EIO);
	assert_null(sl_spool_find(f->sp, idb));

	sl_spool_inject_error(f->sp, -ENOSPC);
	idd = append(f, sizeof(body), 1, &d, body);
	drain(f->sp);
	assert_int_equal(d.err, -ENOSPC);

	idc = append(f, sizeof(body), 1, &c, body);
	drain(f->sp);
	assert_int_equal(c.err, 0);
	assert_string_equal(sl_spool_smtp_reply(-ENOSPC), "452 4.3.1 Insufficient system storage");
	assert_string_equal(sl_spool_smtp_reply(-EDQUOT), "452 4.3.1 Insufficient system storage");
	assert_int_equal(strncmp(sl_spool_smtp_reply(-EIO), "451 4.3.0", 9), 0);

	open_shard(f);
	assert_non_null(sl_spool_find(f->sp, ida));
	assert_null(sl_spool_find(f->sp, idb));
	assert_null(sl_spool_find(f->sp, idd));
	assert_non_null(sl_spool_find(f->sp, idc));
	expect_body(f, ida, body, sizeof(body));
	expect_body(f, idc, body, sizeof(body));
}

static void free_space_floor_refuses_mail(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct sl_spool_rcpt rcpt = { "x@example.org", NULL, 0, 0, 0, 0 };
	struct sl_spool_envelope env = { .sender = "", .rcpts = &rcpt, .rcpt_count = 1 };
	uint64_t id = 0, kept;
	char body[100];

	open_shard(f);
	fill_body(body, sizeof(body), 5);
	kept = append(f, sizeof(body), 1, &r, body);
	drain(f->sp);
	sl_spool_close(f->sp);
	f->sp = NULL;

	/* A floor of 99% is above the free space of any file system in use. */
	f->cfg.free_floor_percent = 99;
	open_shard(f);
	assert_int_equal(sl_spool_append(f->sp, &env, NULL, 0, on_done, &r, &id), -EDQUOT);
	/* State records still go through: delivery goes on. */
	assert_int_equal(sl_spool_set_state(f->sp, kept, 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, on_done, &r), 0);
	drain(f->sp);
	assert_int_equal(r.err, 0);
	assert_null(sl_spool_find(f->sp, kept));
}

static void state_errors(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	char body[10] = "0123456789";
	uint64_t id;

	open_shard(f);
	id = append(f, sizeof(body), 2, &r, body);
	drain(f->sp);
	assert_int_equal(sl_spool_set_state(f->sp, id + 1000, 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL), -ENOENT);
	assert_int_equal(sl_spool_set_state(f->sp, id, 2, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL), -EINVAL);
	assert_int_equal(sl_spool_set_state(f->sp, id, 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL), 0);
	assert_int_equal(sl_spool_set_state(f->sp, id, 1, SL_SPOOL_RCPT_BOUNCED, 1, 0, NULL, NULL), 0);
	/* Final, with its record not flushed yet: no more changes. */
	assert_int_equal(sl_spool_set_state(f->sp, id, 1, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL), -ENOENT);
	drain(f->sp);
}

static int count_visit(void *arg, const struct sl_spool_message *m)
{
	int *n = arg;

	*n += m->pending_count;
	return 0;
}

static void foreach_visits_pending(void **state)
{
	struct fixture *f = *state;
	struct result r[5] = { 0 };
	char body[64] = { 0 };
	uint64_t ids[5];
	int pending = 0;

	open_shard(f);
	for (int i = 0; i < 5; i++)
		ids[i] = append(f, sizeof(body), 2, &r[i], body);
	drain(f->sp);
	sl_spool_set_state(f->sp, ids[0], 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL);
	sl_spool_set_state(f->sp, ids[0], 1, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL);
	sl_spool_set_state(f->sp, ids[1], 0, SL_SPOOL_RCPT_DEFERRED, 1, 5, NULL, NULL);
	drain(f->sp);
	assert_int_equal(sl_spool_foreach(f->sp, count_visit, &pending), 0);
	assert_int_equal(pending, 8);
}

static unsigned count_files(struct fixture *f)
{
	char cmd[600];
	FILE *p;
	unsigned n = 0;

	snprintf(cmd, sizeof(cmd), "ls %s/shard-000 | grep -c '\\.seg$'", f->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

/* Fill several 64 KiB segments, make every message final: the segments go. */
static void reclaim_deletes_final_segments(void **state)
{
	struct fixture *f = *state;
	enum { N = 60 };
	struct result r[N] = { { 0 } };
	char body[4000];
	uint64_t ids[N];
	struct sl_spool_stats st;

	f->cfg.segment_size = 64 * 1024;
	open_shard(f);
	fill_body(body, sizeof(body), 11);
	for (int i = 0; i < N; i++) {
		ids[i] = append(f, sizeof(body), 1, &r[i], body);
		if (i % 10 == 9)
			drain(f->sp);
	}
	drain(f->sp);
	sl_spool_stats(f->sp, &st);
	assert_true(st.segments >= 4);
	for (int i = 0; i < N; i++)
		assert_int_equal(sl_spool_set_state(f->sp, ids[i], 0, SL_SPOOL_RCPT_DELIVERED, 1, 0,
						    NULL, NULL), 0);
	drain(f->sp);
	sl_spool_reclaim(f->sp, 100);
	drain(f->sp);
	sl_spool_reclaim(f->sp, 100);
	drain(f->sp);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 0);
	/* Only the segment being appended to stays. */
	assert_int_equal(st.segments, 1);
	assert_int_equal(count_files(f), 1);
	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 0);
}

/* A deferred message in a mostly dead segment is rewritten, the segment
 * deleted, and the message keeps its bytes and states across a restart. */
static void rewrite_moves_deferred_message(void **state)
{
	struct fixture *f = *state;
	enum { N = 30 };
	struct result r[N] = { { 0 } };
	char body[N][4000];
	uint64_t ids[N];
	const struct sl_spool_message *m;
	struct sl_spool_stats st;

	f->cfg.segment_size = 64 * 1024;
	open_shard(f);
	for (int i = 0; i < N; i++) {
		fill_body(body[i], sizeof(body[i]), (uint64_t)i * 13);
		ids[i] = append(f, sizeof(body[i]), 2, &r[i], body[i]);
		drain(f->sp);
	}
	/* Message 0 stays deferred; everything else is delivered. */
	assert_int_equal(sl_spool_set_state(f->sp, ids[0], 1, SL_SPOOL_RCPT_DEFERRED, 2, 1900000000,
					    NULL, NULL), 0);
	for (int i = 1; i < N; i++)
		for (unsigned k = 0; k < 2; k++)
			sl_spool_set_state(f->sp, ids[i], k, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL);
	drain(f->sp);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 1);
	assert_true(st.segments >= 2);

	assert_int_equal(sl_spool_reclaim(f->sp, 10), 1);
	drain(f->sp);
	sl_spool_reclaim(f->sp, 10);
	drain(f->sp);
	sl_spool_reclaim(f->sp, 10);
	drain(f->sp);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages_rewritten, 1);
	assert_int_equal(st.segments, 1);
	assert_int_equal(f->sp->segs[0], f->sp->active);
	m = sl_spool_find(f->sp, ids[0]);
	assert_non_null(m);
	assert_int_equal(m->rcpts[1].attempts, 2);
	expect_body(f, ids[0], body[0], sizeof(body[0]));

	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.messages, 1);
	m = sl_spool_find(f->sp, ids[0]);
	assert_non_null(m);
	assert_int_equal(m->rcpts[1].state, SL_SPOOL_RCPT_DEFERRED);
	assert_int_equal(m->rcpts[1].attempts, 2);
	assert_int_equal(m->rcpts[1].next_attempt, 1900000000);
	assert_int_equal(m->rcpts[0].state, SL_SPOOL_RCPT_PENDING);
	expect_body(f, ids[0], body[0], sizeof(body[0]));
}

/* A segment holding the "delivered" record of a message that lives in an
 * older segment stays while that older segment exists. */
static void state_segment_outlives_message_segment(void **state)
{
	struct fixture *f = *state;
	struct result r[3] = { 0 };
	static char body[60000];
	uint64_t ids[3];
	struct sl_spool_stats st;

	f->cfg.segment_size = 64 * 1024;
	f->cfg.rewrite_live_percent = 0;	/* no rewrites in this test */
	open_shard(f);
	fill_body(body, sizeof(body), 2);
	/* Segment A: ids[0] (stays deferred) and ids[1]. */
	ids[0] = append(f, 20000, 1, &r[0], body);
	ids[1] = append(f, 20000, 1, &r[1], body);
	drain(f->sp);
	/* Fill A so that the next records go to segment B. */
	ids[2] = append(f, 30000, 1, &r[2], body);
	drain(f->sp);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.segments, 2);
	/* B, holding ids[2], also gets the deliveries of ids[1] and ids[2]. */
	sl_spool_set_state(f->sp, ids[1], 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL);
	sl_spool_set_state(f->sp, ids[2], 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, NULL, NULL);
	drain(f->sp);
	/* Force a third segment so that B is no longer the active one. */
	{
		struct result x = { 0 };
		uint64_t big = append(f, 50000, 1, &x, body);

		drain(f->sp);
		assert_int_equal(x.err, 0);
		sl_spool_set_state(f->sp, big, 0, SL_SPOOL_RCPT_DEFERRED, 1, 0, NULL, NULL);
		drain(f->sp);
	}
	sl_spool_reclaim(f->sp, 10);
	drain(f->sp);
	sl_spool_stats(f->sp, &st);
	/* A contains deferred ids[0]; B must stay because it contains the final
	 * record of ids[1], whose message record is in A. */
	assert_int_equal(st.segments, 3);
	open_shard(f);
	assert_non_null(sl_spool_find(f->sp, ids[0]));
	assert_null(sl_spool_find(f->sp, ids[1]));
	assert_null(sl_spool_find(f->sp, ids[2]));
}

/* Sealed segments get a summary; recovery replays it, and scans the
 * segment instead when the summary is damaged. */
static void summary_replay_matches_scan(void **state)
{
	struct fixture *f = *state;
	enum { N = 40 };
	struct result r[N] = { { 0 } };
	char body[3000], path[600];
	uint64_t ids[N], used;
	struct sl_spool_stats st;
	int fd;

	f->cfg.segment_size = 64 * 1024;
	open_shard(f);
	fill_body(body, sizeof(body), 4);
	for (int i = 0; i < N; i++) {
		ids[i] = append(f, sizeof(body), 2, &r[i], body);
		drain(f->sp);
	}
	for (int i = 0; i < N; i += 2)
		sl_spool_set_state(f->sp, ids[i], 1, SL_SPOOL_RCPT_DEFERRED, 3, 1950000000, NULL, NULL);
	drain(f->sp);
	for (int i = 0; i < N; i++)
		assert_int_equal(r[i].err, 0);
	/* More appends so that the segments above are not among the last two. */
	for (int i = 0; i < 60; i++) {
		append(f, sizeof(body), 1, &r[0], body);
		drain(f->sp);
	}

	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_true(st.summaries_used >= 2);
	assert_int_equal(st.messages, N + 60);
	for (int i = 0; i < N; i++) {
		const struct sl_spool_message *m = sl_spool_find(f->sp, ids[i]);

		assert_non_null(m);
		assert_int_equal(m->rcpts[1].state, i % 2 ? SL_SPOOL_RCPT_PENDING : SL_SPOOL_RCPT_DEFERRED);
		assert_int_equal(m->rcpts[1].attempts, i % 2 ? 0 : 3);
	}
	expect_body(f, ids[3], body, sizeof(body));
	used = st.summaries_used;

	/* Damage the first summary: that segment is scanned instead. */
	snprintf(path, sizeof(path), "%s/00000001.idx", f->sp->dir);
	sl_spool_close(f->sp);
	f->sp = NULL;
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 100), 1);
	close(fd);
	open_shard(f);
	sl_spool_stats(f->sp, &st);
	assert_int_equal(st.summaries_used, used - 1);
	assert_int_equal(st.messages, N + 60);
	assert_non_null(sl_spool_find(f->sp, ids[0]));
	assert_int_equal(sl_spool_find(f->sp, ids[0])->rcpts[1].attempts, 3);
}

static void crc_uses_hardware_path(void **state)
{
	(void)state;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		assert_non_null(strstr(sl_spool_crc_impl(), "SSE4.2"));
#endif
	assert_non_null(strstr(sl_spool_crc_impl(), "isa-l"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(append_commits_and_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(direct_read_returns_body, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_replays_every_record_type, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_tail_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(tail_garbage_cut_in_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(other_format_version_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(write_errors_map_and_keep_data, setup, teardown),
		cmocka_unit_test_setup_teardown(free_space_floor_refuses_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(state_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(foreach_visits_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(reclaim_deletes_final_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(rewrite_moves_deferred_message, setup, teardown),
		cmocka_unit_test_setup_teardown(state_segment_outlives_message_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(summary_replay_matches_scan, setup, teardown),
		cmocka_unit_test(crc_uses_hardware_path),
	};

	sl_log_init("test_spool", SL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
