/*
 * tests/crash/spool_crash_writer.c - the process that the spool crash
 * test kills, and the checker that runs after it.
 *
 *   spool_crash_writer write DIR LOG SEED [COUNT] [--no-states]
 *       Append messages of random size (1 byte to 16 KiB, 1 to 3
 *       recipients) to shard 0 under DIR until COUNT messages are
 *       acknowledged (forever without COUNT). After each acknowledgement
 *       it appends "A id len nrcpt" to LOG. Unless --no-states is given it
 *       then defers or delivers some messages, writing "d id" / "f id"
 *       before queuing the state records and "D id" / "F id" after their
 *       flush. Each line is one write(2) to LOG opened with O_APPEND, so a
 *       SIGKILL leaves whole lines only.
 *
 *   spool_crash_writer check DIR LOG [SEGMENT_COPY OFFSET]
 *       Recover the spool and check every acknowledged message: present
 *       with identical bytes unless it was made final, absent when its
 *       final state was acknowledged, recipient states consistent with
 *       the log. With a segment copy and a damage offset, messages whose
 *       record does not end before the offset are excluded (printed as
 *       "X id" lines for the log), and "expected_cut=N" names the record
 *       offset where recovery must cut. Ends with
 *       "check: acknowledged N, lost N, corrupt N, excluded N".
 *
 *   spool_crash_writer enospc DIR FILLER
 *       The disk-full scenario on a small file system: prints key=value
 *       lines that tests/integration/spool_enospc.sh compares.
 *
 * Message bytes are a function of the id, so the checker regenerates
 * them instead of storing them.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "queue/shard.h"

#define MAX_BODY (16 * 1024)
#define IN_FLIGHT 32
#define DEFER_AT 1900000000

static int log_fd = -1;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(log_fd, line, (size_t)n) != n) {
		perror("write to log");
		exit(2);
	}
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void fill_body(uint8_t *buf, size_t len, uint64_t id)
{
	uint64_t s = id * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			xorshift(&s);
		buf[i] = (uint8_t)(s >> (8 * (i % 8)));
	}
}

static void setup_config(struct sl_spool_config *cfg, const char **paths)
{
	sl_spool_config_default(cfg);
	cfg->paths = paths;
	cfg->path_count = 1;
	cfg->segment_size = 1 << 20;
	cfg->free_floor_percent = 0;
}

/* ---- write ---- */

struct writer {
	struct sl_spool *sp;
	uint64_t rng;
	unsigned in_flight;
	unsigned long acked;
	bool states;
};

struct pending_msg {
	struct writer *w;
	uint8_t *body;
	size_t len;
	unsigned nrcpt;
	unsigned finals_left;
};

static void final_done(void *arg, uint64_t id, int err)
{
	struct pending_msg *pm = arg;

	if (err == 0 && --pm->finals_left == 0)
		log_line("F %llx\n", (unsigned long long)id);
	if (err != 0 || pm->finals_left == 0)
		free(pm);
}

static void defer_done(void *arg, uint64_t id, int err)
{
	(void)arg;
	if (err == 0)
		log_line("D %llx\n", (unsigned long long)id);
}

static void after_ack(struct writer *w, struct pending_msg *pm, uint64_t id)
{
	unsigned action = (unsigned)(xorshift(&w->rng) % 10);

	if (!w->states || action < 4) {
		free(pm);
		return;
	}
	if (action < 7) {
		log_line("d %llx\n", (unsigned long long)id);
		sl_spool_set_state(w->sp, id, 0, SL_SPOOL_RCPT_DEFERRED, 1, DEFER_AT, defer_done, NULL);
		free(pm);
		return;
	}
	log_line("f %llx\n", (unsigned long long)id);
	pm->finals_left = pm->nrcpt;
	for (unsigned k = 0; k < pm->nrcpt; k++)
		sl_spool_set_state(w->sp, id, k, k == 2 ? SL_SPOOL_RCPT_BOUNCED : SL_SPOOL_RCPT_DELIVERED,
				   1, 0, final_done, pm);
}

static void append_done(void *arg, uint64_t id, int err)
{
	struct pending_msg *pm = arg;
	struct writer *w = pm->w;

	w->in_flight--;
	free(pm->body);
	pm->body = NULL;
	if (err) {
		fprintf(stderr, "append of %llx failed: %s\n", (unsigned long long)id, strerror(-err));
		free(pm);
		return;
	}
	log_line("A %llx %zu %u\n", (unsigned long long)id, pm->len, pm->nrcpt);
	w->acked++;
	after_ack(w, pm, id);
}

static const struct sl_spool_rcpt crash_rcpts[3] = {
	{ "r0@example.org", NULL, 0, 0, 0, 0 },
	{ "r1@example.net", NULL, SL_SPOOL_NOTIFY_FAILURE, 0, 0, 0 },
	{ "r2@example.com", NULL, 0, 0, 0, 0 },
};

static int append_one(struct writer *w)
{
	struct pending_msg *pm = calloc(1, sizeof(*pm));
	struct sl_spool_envelope env = {
		.sender = "crash@example.com", .arrival = 1700000000,
		.rcpts = crash_rcpts,
	};
	struct iovec iov;
	uint64_t id = ((uint64_t)0 << SL_ID_SHARD_SHIFT) | w->sp->next_id;
	int err;

	pm->w = w;
	pm->len = 1 + (size_t)(xorshift(&w->rng) % MAX_BODY);
	pm->nrcpt = 1 + (unsigned)(xorshift(&w->rng) % 3);
	env.rcpt_count = pm->nrcpt;
	pm->body = malloc(pm->len);
	/* The id is known before the append: the spool hands out next_id. */
	fill_body(pm->body, pm->len, id);
	iov.iov_base = pm->body;
	iov.iov_len = pm->len;
	err = sl_spool_append(w->sp, &env, &iov, 1, append_done, pm, &id);
	if (err) {
		free(pm->body);
		free(pm);
		return err;
	}
	w->in_flight++;
	return 0;
}

static int cmd_write(const char *dir, uint64_t seed, long count, bool states)
{
	const char *paths[1] = { dir };
	struct sl_spool_config cfg;
	struct writer w = { .rng = seed * 2654435761u + 88172645463325252ull, .states = states };
	int err;

	setup_config(&cfg, paths);
	err = sl_spool_open(&cfg, 0, &w.sp);
	if (err) {
		fprintf(stderr, "sl_spool_open(%s) failed: %s\n", dir, strerror(-err));
		return 1;
	}
	while (count < 0 || (long)w.acked < count || sl_spool_busy(w.sp)) {
		while (w.in_flight < IN_FLIGHT && (count < 0 || (long)(w.acked + w.in_flight) < count))
			if (append_one(&w) != 0)
				break;
		if (sl_spool_poll(w.sp) < 0)
			return 1;
		if (sl_spool_busy(w.sp))
			sl_spool_wait(w.sp, 50);
	}
	sl_spool_close(w.sp);
	return 0;
}

/* ---- check ---- */

enum { SEEN_A = 1, SEEN_d = 2, SEEN_D = 4, SEEN_f = 8, SEEN_F = 16, SEEN_X = 32 };

struct entry {
	uint64_t id;
	size_t len;
	unsigned nrcpt;
	unsigned seen;
	unsigned long line;	/* line of the A record in the log */
};

struct table {
	struct entry *e;
	size_t n, cap;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = ((const struct entry *)a)->id, y = ((const struct entry *)b)->id;

	return x < y ? -1 : x > y;
}

static struct entry *table_find(struct table *t, uint64_t id)
{
	struct entry key = { .id = id };

	return bsearch(&key, t->e, t->n, sizeof(*t->e), cmp_id);
}

/* Keep the newest A line of each id: an id whose record was destroyed by
 * tail damage may be handed out again. */
static void table_dedupe(struct table *t)
{
	size_t k = 0;

	qsort(t->e, t->n, sizeof(*t->e), cmp_entry);
	for (size_t i = 0; i < t->n; i++) {
		if (k > 0 && t->e[k - 1].id == t->e[i].id)
			k--;
		t->e[k++] = t->e[i];
	}
	t->n = k;
}

static unsigned seen_bit(char kind)
{
	switch (kind) {
	case 'd': return SEEN_d;
	case 'D': return SEEN_D;
	case 'f': return SEEN_f;
	case 'F': return SEEN_F;
	case 'X': return SEEN_X;
	default: return 0;
	}
}

static int load_log(const char *path, struct table *t)
{
	FILE *fp = fopen(path, "r");
	char kind;
	unsigned long long id;
	unsigned long line_no = 0;
	size_t len;
	unsigned nrcpt;
	char line[128];

	if (fp == NULL)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		line_no++;
		if (sscanf(line, "A %llx %zu %u", &id, &len, &nrcpt) != 3)
			continue;
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 1024;
			t->e = realloc(t->e, t->cap * sizeof(*t->e));
		}
		t->e[t->n++] = (struct entry){ id, len, nrcpt, SEEN_A, line_no };
	}
	table_dedupe(t);
	rewind(fp);
	line_no = 0;
	while (fgets(line, sizeof(line), fp)) {
		struct entry *e;

		line_no++;
		if (sscanf(line, "%c %llx", &kind, &id) != 2 || kind == 'A')
			continue;
		e = table_find(t, id);
		if (e == NULL || line_no < e->line)
			continue;	/* about an older message with this id */
		e->seen |= seen_bit(kind);
	}
	fclose(fp);
	return 0;
}

/* Mark entries whose record does not end before offset in the copy of
 * the damaged segment; print the offset where recovery must cut. */
static int mark_damaged(struct table *t, const char *copy, uint64_t offset)
{
	FILE *fp = fopen(copy, "r");
	uint8_t *map;
	struct stat st;
	uint64_t pos = SL_REC_HEADER_SIZE + SL_REC_SEGMENT_META, cut = UINT64_MAX;
	struct sl_rec_header h;

	if (fp == NULL || fstat(fileno(fp), &st) != 0)
		return -errno;
	map = malloc((size_t)st.st_size + 1);
	if (fread(map, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	while (pos < (uint64_t)st.st_size && sl_rec_check(map + pos, (uint64_t)st.st_size - pos, &h) == 0) {
		uint64_t rec_len = sl_align8(SL_REC_HEADER_SIZE + (uint64_t)h.meta_len + h.body_len);

		if (pos + rec_len > offset) {
			if (cut == UINT64_MAX)
				cut = pos;
			if (h.type == SL_REC_MESSAGE) {
				uint64_t id;
				struct entry *e;

				memcpy(&id, map + pos + SL_REC_HEADER_SIZE, 8);
				e = table_find(t, id);
				if (e && !(e->seen & SEEN_X)) {
					e->seen |= SEEN_X;
					printf("X %llx\n", (unsigned long long)id);
				}
			}
		}
		pos += rec_len;
	}
	if (cut != UINT64_MAX)
		printf("expected_cut=%llu\n", (unsigned long long)cut);
	else
		printf("expected_cut=none\n");
	free(map);
	return 0;
}

struct checker {
	struct sl_spool *sp;
	unsigned long corrupt;
	unsigned reads;
};

struct check_read {
	struct checker *c;
	uint8_t *buf;
	size_t len;
};

static void check_read_done(void *arg, uint64_t id, int err, const void *body, size_t len)
{
	struct check_read *cr = arg;
	uint8_t *want = malloc(cr->len ? cr->len : 1);

	cr->c->reads--;
	fill_body(want, cr->len, id);
	if (err || len != cr->len || memcmp(body, want, len) != 0) {
		fprintf(stderr, "corrupt: message %llx: %s\n", (unsigned long long)id,
			err ? strerror(-err) : "bytes differ");
		cr->c->corrupt++;
	}
	free(want);
	free(cr->buf);
	free(cr);
}

/* Check the recipient states of a present message against the log. */
static bool states_consistent(const struct entry *e, const struct sl_spool_message *m)
{
	if (m->rcpt_count != e->nrcpt || m->body_size != e->len)
		return false;
	for (unsigned k = 0; k < m->rcpt_count; k++) {
		const struct sl_spool_rcpt *r = &m->rcpts[k];

		if (e->seen & SEEN_f)
			continue;	/* any mix of old and final states */
		if (k > 0 && r->state != SL_SPOOL_RCPT_PENDING)
			return false;
		if (k == 0 && (e->seen & SEEN_D) &&
		    (r->state != SL_SPOOL_RCPT_DEFERRED || r->attempts != 1 || r->next_attempt != DEFER_AT))
			return false;
		if (k == 0 && (e->seen & SEEN_d) && r->state != SL_SPOOL_RCPT_PENDING &&
		    r->state != SL_SPOOL_RCPT_DEFERRED)
			return false;
		if (k == 0 && !(e->seen & (SEEN_d | SEEN_D)) && r->state != SL_SPOOL_RCPT_PENDING)
			return false;
	}
	return true;
}

static int cmd_check(const char *dir, const char *log_path, const char *copy, uint64_t offset)
{
	const char *paths[1] = { dir };
	struct sl_spool_config cfg;
	struct table t = { 0 };
	struct checker c = { 0 };
	unsigned long acked = 0, lost = 0, excluded = 0;
	int err;

	if (load_log(log_path, &t) != 0) {
		fprintf(stderr, "cannot read %s\n", log_path);
		return 2;
	}
	if (copy && mark_damaged(&t, copy, offset) != 0) {
		fprintf(stderr, "cannot read %s\n", copy);
		return 2;
	}
	setup_config(&cfg, paths);
	err = sl_spool_open(&cfg, 0, &c.sp);
	if (err) {
		fprintf(stderr, "sl_spool_open(%s) failed: %s\n", dir, strerror(-err));
		return 1;
	}
	for (size_t i = 0; i < t.n; i++) {
		struct entry *e = &t.e[i];
		const struct sl_spool_message *m;

		if (e->seen & SEEN_X) {
			excluded++;
			continue;
		}
		acked++;
		m = sl_spool_find(c.sp, e->id);
		if (m == NULL) {
			if (!(e->seen & SEEN_f)) {
				fprintf(stderr, "lost: message %llx\n", (unsigned long long)e->id);
				lost++;
			}
			continue;
		}
		if ((e->seen & SEEN_F) || !states_consistent(e, m)) {
			fprintf(stderr, "corrupt: message %llx has states that contradict the log\n",
				(unsigned long long)e->id);
			c.corrupt++;
			continue;
		}
		struct check_read *cr = calloc(1, sizeof(*cr));

		cr->c = &c;
		cr->len = e->len;
		cr->buf = malloc(sl_spool_read_size(c.sp, m));
		if (sl_spool_read(c.sp, e->id, cr->buf, sl_spool_read_size(c.sp, m), check_read_done, cr) != 0) {
			c.corrupt++;
			free(cr->buf);
			free(cr);
			continue;
		}
		c.reads++;
		while (c.reads >= 64) {
			sl_spool_poll(c.sp);
			if (c.reads >= 64)
				sl_spool_wait(c.sp, 100);
		}
	}
	while (sl_spool_busy(c.sp)) {
		sl_spool_poll(c.sp);
		if (sl_spool_busy(c.sp))
			sl_spool_wait(c.sp, 100);
	}
	sl_spool_close(c.sp);
	free(t.e);
	printf("check: acknowledged %lu, lost %lu, corrupt %lu, excluded %lu\n",
	       acked, lost, c.corrupt, excluded);
	return lost == 0 && c.corrupt == 0 ? 0 : 1;
}

/* ---- enospc ---- */

struct enospc_state {
	unsigned done;
	unsigned ok;
	int first_err;
	uint64_t ids[4096];
	unsigned nids;
};

static void enospc_done(void *arg, uint64_t id, int err)
{
	struct enospc_state *s = arg;

	s->done++;
	if (err == 0) {
		s->ok++;
		if (s->nids < 4096)
			s->ids[s->nids++] = id;
	} else if (s->first_err == 0) {
		s->first_err = err;
	}
}

static void run_idle(struct sl_spool *sp)
{
	while (sl_spool_busy(sp)) {
		sl_spool_poll(sp);
		if (sl_spool_busy(sp))
			sl_spool_wait(sp, 100);
	}
}

static int append_body(struct sl_spool *sp, size_t len, struct enospc_state *s)
{
	/* The spool does not copy message bytes, so each of the up to 8
	 * appends in flight gets its own buffer. */
	static uint8_t bodies[8][MAX_BODY];
	static unsigned turn;
	uint8_t *body = bodies[turn++ % 8];
	struct sl_spool_envelope env = {
		.sender = "full@example.com", .rcpts = crash_rcpts, .rcpt_count = 1,
	};
	struct iovec iov = { body, len };

	fill_body(body, len, sp->next_id);
	return sl_spool_append(sp, &env, &iov, 1, enospc_done, s, NULL);
}

/* Read back every acknowledged message; returns how many are intact. */
static unsigned count_intact(struct sl_spool *sp, struct enospc_state *s)
{
	struct checker c = { .sp = sp };
	unsigned intact = 0;

	for (unsigned i = 0; i < s->nids; i++) {
		const struct sl_spool_message *m = sl_spool_find(sp, s->ids[i]);
		struct check_read *cr;

		if (m == NULL)
			continue;
		cr = calloc(1, sizeof(*cr));
		cr->c = &c;
		cr->len = (size_t)m->body_size;
		cr->buf = malloc(cr->len + 1);
		if (sl_spool_read(sp, s->ids[i], cr->buf, cr->len + 1, check_read_done, cr) == 0)
			c.reads++;
		run_idle(sp);
		intact++;
	}
	return intact - (unsigned)c.corrupt;
}

static int make_filler(const char *path, uint64_t bytes)
{
	static char block[65536];
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);

	if (fd < 0)
		return -errno;
	while (bytes > 0) {
		size_t n = bytes > sizeof(block) ? sizeof(block) : (size_t)bytes;

		if (write(fd, block, n) != (ssize_t)n)
			break;
		bytes -= n;
	}
	fsync(fd);
	close(fd);
	return 0;
}

static uint64_t free_bytes(const char *dir, uint64_t *total)
{
	struct statvfs v;

	if (statvfs(dir, &v) != 0)
		return 0;
	*total = (uint64_t)v.f_blocks * v.f_frsize;
	return (uint64_t)v.f_bavail * v.f_frsize;
}

static int cmd_enospc(const char *dir, const char *filler)
{
	const char *paths[1] = { dir };
	struct sl_spool_config cfg;
	struct sl_spool *sp = NULL;
	struct enospc_state *s = calloc(1, sizeof(*s));
	uint64_t total, avail;
	unsigned queued = 0;
	int err;

	setup_config(&cfg, paths);
	mkdir(dir, 0700);
	/* Leave about 2 MiB free, so the spool fills the rest. */
	avail = free_bytes(dir, &total);
	make_filler(filler, avail > (2u << 20) ? avail - (2u << 20) : 0);
	err = sl_spool_open(&cfg, 0, &sp);
	printf("open_err=%d\n", err);
	if (err)
		return 1;

	while (s->first_err == 0 && queued < 4000) {
		for (int k = 0; k < 8; k++, queued++)
			append_body(sp, 16 * 1024, s);
		run_idle(sp);
	}
	printf("append_error=%s\n", s->first_err == -ENOSPC ? "ENOSPC" : strerror(-s->first_err));
	printf("smtp_reply=%s\n", sl_spool_smtp_reply(s->first_err));
	printf("acked_before_full=%s\n", s->ok > 10 ? "many" : "few");
	printf("intact_when_full=%s\n", count_intact(sp, s) == s->nids ? "all" : "not all");

	/* Restart while the disk is still full: recovery keeps everything. */
	sl_spool_close(sp);
	sp = NULL;
	err = sl_spool_open(&cfg, 0, &sp);
	printf("reopen_err=%d\n", err);
	if (err)
		return 1;
	printf("intact_after_reopen=%s\n", count_intact(sp, s) == s->nids ? "all" : "not all");

	/* Space returns: appends succeed again. */
	unlink(filler);
	s->first_err = 0;
	s->ok = 0;
	for (int k = 0; k < 5; k++)
		append_body(sp, 16 * 1024, s);
	run_idle(sp);
	printf("appends_after_free=%u\n", s->ok);
	printf("error_after_free=%d\n", s->first_err);
	sl_spool_close(sp);
	sp = NULL;

	/* Below the free-space floor new mail is refused, delivery goes on. */
	avail = free_bytes(dir, &total);
	make_filler(filler, avail - total / 20);
	cfg.free_floor_percent = 10;
	err = sl_spool_open(&cfg, 0, &sp);
	if (err)
		return 1;
	err = append_body(sp, 100, s);
	printf("floor_append=%s\n", err == -EDQUOT ? "EDQUOT" : strerror(-err));
	printf("floor_smtp_reply=%s\n", sl_spool_smtp_reply(err));
	s->first_err = 0;
	s->ok = 0;
	err = sl_spool_set_state(sp, s->ids[0], 0, SL_SPOOL_RCPT_DELIVERED, 1, 0, enospc_done, s);
	run_idle(sp);
	printf("floor_state_record=%s\n", err == 0 && s->ok == 1 ? "ok" : "failed");
	if (err || s->ok != 1)
		fprintf(stderr, "state record below the floor: err=%d first_err=%d\n", err, s->first_err);
	sl_spool_close(sp);
	unlink(filler);
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	sl_log_init("spool_crash_writer", SL_LOG_WARN);
	if (argc >= 4 && strcmp(argv[1], "write") == 0) {
		bool states = !(argc >= 7 && strcmp(argv[6], "--no-states") == 0);

		log_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (log_fd < 0) {
			perror(argv[3]);
			return 2;
		}
		return cmd_write(argv[2], strtoull(argv[4], NULL, 10),
				 argc >= 6 ? strtol(argv[5], NULL, 10) : -1, states);
	}
	if (argc == 4 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2], argv[3], NULL, 0);
	if (argc == 6 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "enospc") == 0)
		return cmd_enospc(argv[2], argv[3]);
	fprintf(stderr,
		"usage: spool_crash_writer write DIR LOG SEED [COUNT [--no-states]]\n"
		"       spool_crash_writer check DIR LOG [SEGMENT_COPY OFFSET]\n"
		"       spool_crash_writer enospc DIR FILLER\n");
	return 2;
}
