/*
 * dataplane/spool_dump.c - sluice-spool-dump, a test tool that reads
 * every message of sluiced's spool back through the spool API.
 *
 *   sluice-spool-dump -c FILE [-o DIR]
 *
 * Opens each shard found under the configured spool.paths (shard-000,
 * shard-001, ... until one is missing), prints one line per queued
 * message: "ID SENDER RCPT_COUNT SIZE" (SENDER "<>" for the null sender),
 * and with -o writes DIR/ID.eml (the stored message bytes) and DIR/ID.env
 * (the sender, then one recipient per line).
 *
 * Run it only while sluiced is stopped: opening a shard scans it, cuts a
 * torn tail and starts a new segment, as sluiced does at start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config.h"
#include "ctl/config/config_spool.h"
#include "queue/spool.h"

struct dump {
	struct sl_spool *shard;
	const char *outdir;
	int errors;
};

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len) {
		fprintf(stderr, "sluice-spool-dump: cannot write %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static void read_done(void *arg, uint64_t id, int err, const void *body, size_t len)
{
	struct dump *d = arg;
	char path[4096];

	if (err < 0) {
		fprintf(stderr, "sluice-spool-dump: read of %016" PRIx64 " failed: %s\n", id,
			strerror(-err));
		d->errors++;
		return;
	}
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".eml", d->outdir, id);
	if (write_file(path, body, len) < 0)
		d->errors++;
}

static int dump_message(void *arg, const struct sl_spool_message *msg)
{
	struct dump *d = arg;
	char path[4096], *env = NULL;
	size_t envlen = 0;
	FILE *f;

	printf("%016" PRIx64 " %s %u %" PRIu64 "\n", msg->id, msg->sender[0] ? msg->sender : "<>",
	       msg->rcpt_count, msg->body_size);
	if (!d->outdir)
		return 0;

	f = open_memstream(&env, &envlen);
	fprintf(f, "%s\n", msg->sender);
	for (unsigned i = 0; i < msg->rcpt_count; i++)
		fprintf(f, "%s\n", msg->rcpts[i].address);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".env", d->outdir, msg->id);
	if (write_file(path, env, envlen) < 0)
		d->errors++;
	free(env);

	size_t cap = sl_spool_read_size(d->shard, msg);
	void *buf = aligned_alloc(4096, (cap + 4095) / 4096 * 4096);

	if (!buf || sl_spool_read(d->shard, msg->id, buf, cap, read_done, d) < 0) {
		d->errors++;
		free(buf);
		return 0;
	}
	while (sl_spool_busy(d->shard))
		if (sl_spool_poll(d->shard) == 0)
			sl_spool_wait(d->shard, 1000);
	free(buf);
	return 0;
}

static bool shard_exists(const struct sl_config_spool *c, unsigned index)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/shard-%03u", c->paths.v[index % c->paths.n], index);
	return stat(path, &st) == 0;
}

int main(int argc, char **argv)
{
	struct dump d = { 0 };
	const char *config = NULL;
	struct sl_spool_config scfg;
	struct sl_config *cfg;
	char err[1024];
	int opt;

	while ((opt = getopt(argc, argv, "c:o:")) != -1) {
		if (opt == 'c')
			config = optarg;
		else if (opt == 'o')
			d.outdir = optarg;
		else
			config = NULL, optind = argc + 1;
	}
	if (!config || optind != argc) {
		fprintf(stderr, "usage: sluice-spool-dump -c FILE [-o DIR]\n");
		return 2;
	}
	sl_log_init("sluice-spool-dump", SL_LOG_WARN);
	if (sl_config_load(config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-spool-dump: %s\n", err);
		return 1;
	}
	const struct sl_config_spool *c = sl_config_spool(cfg);

	sl_spool_config_default(&scfg);
	scfg.paths = (const char *const *)c->paths.v;
	scfg.path_count = (unsigned)c->paths.n;
	scfg.segment_size = c->segment_size;
	for (unsigned i = 0; shard_exists(c, i); i++) {
		int rc = sl_spool_open(&scfg, i, &d.shard);

		if (rc < 0) {
			fprintf(stderr, "sluice-spool-dump: opening shard %u failed: %s\n", i,
				strerror(-rc));
			d.errors++;
			continue;
		}
		sl_spool_foreach(d.shard, dump_message, &d);
		sl_spool_close(d.shard);
	}
	sl_config_free(cfg);
	return d.errors ? 1 : 0;
}
