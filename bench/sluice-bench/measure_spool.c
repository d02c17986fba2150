/*
 * bench/sluice-bench/measure_spool.c - the "spool" section: sluice's own
 * spool code (queue/spool.h) appending messages to a new folder inside
 * --spool-path, with group commit (one fdatasync per batch).
 *
 * The loop keeps WINDOW appends in flight, as a worker with that many
 * injecting sessions would, for --seconds or until MAX_BYTES were
 * written, whichever comes first. Appends per second count messages made
 * durable; flushes per second count group commits. The folder is removed
 * at the end, also after an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "bench/sluice-bench/bench.h"
#include "common/log.h"
#include "queue/spool.h"

#define WINDOW 64
#define MAX_BYTES (1ull << 30)

struct progress {
	uint64_t done;
	int err;
};

static void on_append(void *arg, uint64_t id, int err)
{
	struct progress *p = arg;

	(void)id;
	p->done++;
	if (err && !p->err)
		p->err = err;
}

static const char *filesystem_name(const char *path)
{
	static const struct {
		long magic;
		const char *name;
	} names[] = {
		{ 0xEF53, "ext4" },       { 0x58465342, "xfs" },   { 0x9123683E, "btrfs" },
		{ 0x01021994, "tmpfs" },  { 0x794c7630, "overlay" }, { 0x2FC12FC1, "zfs" },
		{ 0x6969, "nfs" },
	};
	struct statfs st;

	if (statfs(path, &st) != 0)
		return "unknown";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (st.f_type == names[i].magic)
			return names[i].name;
	return "other";
}

/* Append until the time or byte bound; returns 0 or a negative errno. */
static int append_loop(struct sl_spool *sp, const struct sl_bench_options *opt, char *body,
		       struct progress *p, uint64_t *queued, double *elapsed, char *err,
		       size_t errlen)
{
	struct sl_spool_rcpt rcpt = { .address = "reader@dest.example" };
	struct sl_spool_envelope env = {
		.sender = "news@bench.example", .arrival = 1700000000, .rcpts = &rcpt, .rcpt_count = 1,
	};
	struct iovec iov = { body, opt->message_bytes };
	double start = sl_bench_now();
	uint64_t id;
	int rc;

	while (sl_bench_now() - start < opt->seconds && !sl_bench_stop && !p->err &&
	       (*queued) * opt->message_bytes < MAX_BYTES) {
		while (*queued - p->done < WINDOW) {
			rc = sl_spool_append(sp, &env, &iov, 1, on_append, p, &id);
			if (rc < 0) {
				snprintf(err, errlen, "spool append failed: %s", strerror(-rc));
				return rc;
			}
			(*queued)++;
		}
		rc = sl_spool_poll(sp);
		if (rc < 0) {
			snprintf(err, errlen, "spool io_uring poll failed: %s", strerror(-rc));
			return rc;
		}
		if (sl_spool_busy(sp))
			sl_spool_wait(sp, 100);
	}
	*elapsed = sl_bench_now() - start;
	for (int rounds = 0; sl_spool_busy(sp) && rounds < 600; rounds++) {
		sl_spool_poll(sp);
		if (sl_spool_busy(sp))
			sl_spool_wait(sp, 100);
	}
	*elapsed = sl_bench_now() - start;
	if (p->err) {
		snprintf(err, errlen, "spool write failed: %s", strerror(-p->err));
		return p->err;
	}
	return 0;
}

static json_t *measure_in(const char *dir, const struct sl_bench_options *opt, char *err,
			  size_t errlen)
{
	const char *paths[1] = { dir };
	struct sl_spool_config cfg;
	struct sl_spool_stats st;
	struct sl_spool *sp = NULL;
	struct progress p = { 0 };
	uint64_t queued = 0;
	double elapsed = 0;
	char *body = malloc(opt->message_bytes);
	json_t *s;
	int rc;

	if (!body) {
		snprintf(err, errlen, "out of memory for a %u-byte message", opt->message_bytes);
		return NULL;
	}
	memset(body, 'x', opt->message_bytes);
	sl_spool_config_default(&cfg);
	cfg.paths = paths;
	cfg.path_count = 1;
	cfg.free_floor_percent = 0;
	rc = sl_spool_open(&cfg, 0, &sp);
	if (rc < 0) {
		snprintf(err, errlen, "opening a spool in %s failed: %s", dir, strerror(-rc));
		free(body);
		return NULL;
	}
	rc = append_loop(sp, opt, body, &p, &queued, &elapsed, err, errlen);
	sl_spool_stats(sp, &st);
	sl_spool_close(sp);
	free(body);
	if (rc < 0 || elapsed <= 0 || p.done == 0) {
		if (rc == 0)
			snprintf(err, errlen, "no spool append completed in %.2f s", elapsed);
		return NULL;
	}

	s = json_object();
	json_object_set_new(s, "path", json_string(opt->spool_path));
	json_object_set_new(s, "filesystem", json_string(filesystem_name(dir)));
	json_object_set_new(s, "message_bytes", json_integer(opt->message_bytes));
	json_object_set_new(s, "in_flight", json_integer(WINDOW));
	json_object_set_new(s, "appends", json_integer((json_int_t)p.done));
	json_object_set_new(s, "seconds", json_real(elapsed));
	json_object_set_new(s, "appends_per_s", json_real((double)p.done / elapsed));
	json_object_set_new(s, "flushes_per_s", json_real((double)st.batches / elapsed));
	json_object_set_new(s, "mb_per_s",
			    json_real((double)p.done * opt->message_bytes / elapsed / 1e6));
	json_object_set_new(s, "flush_p50_us", json_real(sl_spool_flush_percentile(&st, 50)));
	json_object_set_new(s, "flush_p99_us", json_real(sl_spool_flush_percentile(&st, 99)));
	return s;
}

json_t *sl_bench_measure_spool(const struct sl_bench_options *opt, char *err, size_t errlen)
{
	char dir[4096];
	json_t *s;

	fprintf(stderr, "sluice-bench: spool on %s\n", opt->spool_path);
	if (snprintf(dir, sizeof(dir), "%s/sluice-bench-spool.XXXXXX", opt->spool_path) >=
	    (int)sizeof(dir)) {
		snprintf(err, errlen, "--spool-path '%s' is too long", opt->spool_path);
		return NULL;
	}
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "cannot make a folder in --spool-path '%s': %s; give a "
			 "writable folder", opt->spool_path, strerror(errno));
		return NULL;
	}
	sl_bench_track_dir(dir);
	s = measure_in(dir, opt, err, errlen);
	sl_bench_remove_dir(dir);
	return s;
}
