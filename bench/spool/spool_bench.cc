// bench/spool/spool_bench.cc - spool benchmarks (Google Benchmark).
//
// BM_Append/SIZE/SHARDS/MODE: appends of SIZE-byte messages, one thread
//   per shard, with group commits of at most 16 records: the batch depth
//   of the fio peer run by bench/spool/run.sh (iodepth=16, fdatasync=16).
//   64 appends are kept in flight per shard, so that up to 4 batches are
//   in flight and later ones write while earlier ones flush, as fio keeps
//   writing while its fdatasync runs. MODE is the flush mode (0 fdatasync, 1 RWF_DSYNC,
//   2 O_DSYNC). Reports appends/s, MB/s and the flush latency p50 and p99
//   in microseconds.
// BM_Read/DIRECT: 32 KiB message reads, 16 in flight, page cache or
//   O_DIRECT.
//
// The spool folder comes from SPOOL_BENCH_DIR. "spool_bench --recovery DIR
// COUNT" instead fills a shard with COUNT 1 KiB messages (when it has
// fewer), then times sl_spool_open() on it with the segment files dropped
// from the page cache (posix_fadvise) and prints key=value lines.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "common/log.h"
#include "queue/spool.h"
}

namespace {

constexpr unsigned kDepth = 16;		// reads in flight, records per batch
constexpr unsigned kAppendsInFlight = 64;

std::string bench_dir()
{
	const char *d = getenv("SPOOL_BENCH_DIR");
	return d ? d : "build/tmp/spool-bench";
}

void remove_tree(const std::string &path)
{
	std::string cmd = "rm -rf '" + path + "'";
	if (system(cmd.c_str()) != 0)
		fprintf(stderr, "%s failed\n", cmd.c_str());
}

const sl_spool_rcpt kRcpt = { "recipient@example.org", nullptr, 0, 0, 0, 0 };

sl_spool_envelope make_envelope()
{
	sl_spool_envelope env;
	memset(&env, 0, sizeof(env));
	env.sender = "bulk-sender@example.com";
	env.arrival = 1700000000;
	env.rcpts = &kRcpt;
	env.rcpt_count = 1;
	return env;
}

struct Shard {
	sl_spool *sp = nullptr;
	unsigned in_flight = 0;
	uint64_t done = 0;
	int err = 0;
};

void on_append(void *arg, uint64_t, int err)
{
	Shard *s = static_cast<Shard *>(arg);
	s->in_flight--;
	s->done++;
	if (err)
		s->err = err;
}

void pump(sl_spool *sp)
{
	sl_spool_poll(sp);
	if (sl_spool_busy(sp))
		sl_spool_wait(sp, 100);
}

// Append count messages of size bytes to one shard, depth in flight.
void append_many(Shard *s, const std::vector<char> &body, uint64_t count, unsigned depth)
{
	sl_spool_envelope env = make_envelope();
	iovec iov = { const_cast<char *>(body.data()), body.size() };
	uint64_t queued = 0;

	while (s->done < count && s->err == 0) {
		while (s->in_flight < depth && queued < count) {
			if (sl_spool_append(s->sp, &env, &iov, 1, on_append, s, nullptr) != 0) {
				s->err = -1;
				break;
			}
			s->in_flight++;
			queued++;
		}
		pump(s->sp);
	}
	while (sl_spool_busy(s->sp))
		pump(s->sp);
}

sl_spool_config base_config(const char *const *paths)
{
	sl_spool_config cfg;
	sl_spool_config_default(&cfg);
	cfg.paths = paths;
	cfg.path_count = 1;
	cfg.free_floor_percent = 0;
	return cfg;
}

void BM_Append(benchmark::State &state)
{
	size_t size = (size_t)state.range(0);
	unsigned shards = (unsigned)state.range(1);
	std::string dir = bench_dir() + "/append";
	const char *paths[1] = { dir.c_str() };
	sl_spool_config cfg = base_config(paths);
	std::vector<Shard> sh(shards);
	std::vector<char> body(size, 'x');
	const uint64_t per_iteration = 256;
	uint64_t total = 0;

	cfg.flush_mode = (sl_spool_flush_mode)state.range(2);
	cfg.max_batch_records = kDepth;
	remove_tree(dir);
	for (unsigned i = 0; i < shards; i++) {
		if (sl_spool_open(&cfg, i, &sh[i].sp) != 0) {
			state.SkipWithError("sl_spool_open failed");
			return;
		}
	}
	for (auto _ : state) {
		std::vector<std::thread> threads;
		for (unsigned i = 0; i < shards; i++) {
			threads.emplace_back([&, i] {
				append_many(&sh[i], body, sh[i].done + per_iteration, kAppendsInFlight);
			});
		}
		for (auto &t : threads)
			t.join();
		total += per_iteration * shards;
	}

	struct sl_spool_stats st, all;
	memset(&all, 0, sizeof(all));
	for (unsigned i = 0; i < shards; i++) {
		if (sh[i].err)
			state.SkipWithError("append failed");
		sl_spool_stats(sh[i].sp, &st);
		all.batches += st.batches;
		all.records += st.records;
		for (unsigned b = 0; b < SL_SPOOL_FLUSH_BUCKETS; b++)
			all.flush_us_hist[b] += st.flush_us_hist[b];
		sl_spool_close(sh[i].sp);
	}
	state.SetItemsProcessed((int64_t)total);
	state.SetBytesProcessed((int64_t)(total * size));
	state.counters["appends_per_s"] = benchmark::Counter((double)total, benchmark::Counter::kIsRate);
	state.counters["flush_p50_us"] = sl_spool_flush_percentile(&all, 50);
	state.counters["flush_p99_us"] = sl_spool_flush_percentile(&all, 99);
	state.counters["records_per_flush"] = all.batches ? (double)all.records / (double)all.batches : 0;
	remove_tree(dir);
}

struct ReadCtx {
	unsigned in_flight = 0;
	int err = 0;
};

void on_read(void *arg, uint64_t, int err, const void *, size_t)
{
	ReadCtx *c = static_cast<ReadCtx *>(arg);
	c->in_flight--;
	if (err)
		c->err = err;
}

void collect_id(void *arg, uint64_t id, int)
{
	static_cast<std::vector<uint64_t> *>(arg)->push_back(id);
}

void BM_Read(benchmark::State &state)
{
	std::string dir = bench_dir() + "/read";
	const char *paths[1] = { dir.c_str() };
	sl_spool_config cfg = base_config(paths);
	const size_t size = 32 * 1024;
	const unsigned count = 2048;
	std::vector<char> body(size, 'r');
	std::vector<uint64_t> ids;
	sl_spool *sp = nullptr;

	cfg.read_direct = state.range(0) != 0;
	remove_tree(dir);
	if (sl_spool_open(&cfg, 0, &sp) != 0) {
		state.SkipWithError("sl_spool_open failed");
		return;
	}
	sl_spool_envelope env = make_envelope();
	iovec iov = { body.data(), body.size() };
	for (unsigned i = 0; i < count; i++) {
		sl_spool_append(sp, &env, &iov, 1, collect_id, &ids, nullptr);
		if (i % 64 == 63)
			while (sl_spool_busy(sp))
				pump(sp);
	}
	while (sl_spool_busy(sp))
		pump(sp);

	size_t cap = sl_spool_read_size(sp, sl_spool_find(sp, ids[0]));
	std::vector<void *> bufs(kDepth);
	for (auto &b : bufs)
		if (posix_memalign(&b, 4096, cap) != 0)
			abort();
	ReadCtx ctx;
	uint64_t reads = 0;
	size_t next = 0;
	for (auto _ : state) {
		for (unsigned k = 0; k < kDepth; k++) {
			sl_spool_read(sp, ids[next++ % ids.size()], bufs[k], cap, on_read, &ctx);
			ctx.in_flight++;
		}
		while (ctx.in_flight > 0)
			pump(sp);
		reads += kDepth;
	}
	if (ctx.err)
		state.SkipWithError("read failed");
	state.SetItemsProcessed((int64_t)reads);
	state.SetBytesProcessed((int64_t)(reads * size));
	for (auto b : bufs)
		free(b);
	sl_spool_close(sp);
	remove_tree(dir);
}

double now_s()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Drop the shard's segment files from the page cache.
void evict(const std::string &shard_dir)
{
	DIR *d = opendir(shard_dir.c_str());
	if (d == nullptr)
		return;
	while (dirent *de = readdir(d)) {
		std::string p = shard_dir + "/" + de->d_name;
		int fd = open(p.c_str(), O_RDONLY);
		if (fd >= 0) {
			fdatasync(fd);
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
	closedir(d);
}

int run_recovery(const char *dir, uint64_t count)
{
	const char *paths[1] = { dir };
	sl_spool_config cfg = base_config(paths);
	sl_spool *sp = nullptr;
	struct sl_spool_stats st;
	double t0, fill_s = 0, warm_s, cold_s;

	cfg.max_batch_records = 1024;
	if (sl_spool_open(&cfg, 0, &sp) != 0)
		return 1;
	sl_spool_stats(sp, &st);
	if (st.messages < count) {
		Shard s;
		std::vector<char> body(1024, 'm');

		s.sp = sp;
		t0 = now_s();
		append_many(&s, body, count - st.messages, 2048);
		fill_s = now_s() - t0;
		if (s.err) {
			fprintf(stderr, "filling the recovery spool failed\n");
			return 1;
		}
	}
	sl_spool_close(sp);

	evict(std::string(dir) + "/shard-000");
	t0 = now_s();
	if (sl_spool_open(&cfg, 0, &sp) != 0)
		return 1;
	cold_s = now_s() - t0;
	sl_spool_stats(sp, &st);
	sl_spool_close(sp);

	t0 = now_s();
	if (sl_spool_open(&cfg, 0, &sp) != 0)
		return 1;
	warm_s = now_s() - t0;
	sl_spool_close(sp);

	printf("recovery_messages=%llu\n", (unsigned long long)st.messages);
	printf("recovery_fill_seconds=%.2f\n", fill_s);
	printf("recovery_cold_seconds=%.2f\n", cold_s);
	printf("recovery_warm_seconds=%.2f\n", warm_s);
	printf("recovery_disk_bytes=%llu\n", (unsigned long long)st.disk_bytes);
	printf("index_bytes_per_msg=%.0f\n", (double)st.index_bytes / (double)st.messages);
	printf("crc_impl=%s\n", sl_spool_crc_impl());
	return 0;
}

}  // namespace

BENCHMARK(BM_Append)
	->ArgNames({ "size", "shards", "flush" })
	->Args({ 4096, 1, 0 })
	->Args({ 4096, 2, 0 })
	->Args({ 32768, 1, 0 })
	->Args({ 32768, 2, 0 })
	->Args({ 4096, 1, 1 })
	->Args({ 4096, 1, 2 })
	->UseRealTime()
	->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Read)->ArgName("direct")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

int main(int argc, char **argv)
{
	sl_log_init("spool_bench", SL_LOG_WARN);
	if (argc == 4 && strcmp(argv[1], "--recovery") == 0)
		return run_recovery(argv[2], strtoull(argv[3], nullptr, 10));
	benchmark::Initialize(&argc, argv);
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
