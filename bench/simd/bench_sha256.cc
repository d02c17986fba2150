// bench/simd/bench_sha256.cc - SHA-256 throughput per SIMD path against
// OpenSSL's single-stream SHA-256, measured in the same run.
//
// BM_openssl_sha256/SIZE hashes one buffer at a time with EVP_Digest.
// BM_sha256_lanes/PATH/STREAMS/SIZE hashes STREAMS ready buffers of SIZE
// bytes in one sl_sha256_batch_path() call with lanes_min 1, so the
// multi-buffer kernel runs however few streams are ready. bytes_per_second
// is the aggregate over all streams.
#include <benchmark/benchmark.h>

#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" {
#include "crypto/simd/cpu.h"
#include "crypto/simd/sha256_mb.h"
}

namespace {

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed)
{
	std::vector<uint8_t> v(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		v[i] = (uint8_t)(seed >> 56);
	}
	return v;
}

void BM_openssl_sha256(benchmark::State &state)
{
	size_t size = (size_t)state.range(0);
	std::vector<uint8_t> data = random_bytes(size, 1);
	unsigned char out[32];
	unsigned int out_len;

	for (auto _ : state) {
		EVP_Digest(data.data(), size, out, &out_len, EVP_sha256(), nullptr);
		benchmark::DoNotOptimize(out);
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)size);
}

void BM_sha256_lanes(benchmark::State &state)
{
	auto path = (enum sl_simd_path)state.range(0);
	size_t streams = (size_t)state.range(1), size = (size_t)state.range(2);

	if (!sl_simd_supported(path)) {
		state.SkipWithError("path not supported on this CPU");
		return;
	}
	std::vector<uint8_t> data = random_bytes(size * streams, 2);
	std::vector<sl_sha256_job> jobs(streams);

	for (size_t i = 0; i < streams; i++) {
		jobs[i].data = data.data() + i * size;
		jobs[i].len = size;
	}
	for (auto _ : state) {
		sl_sha256_batch_path(path, jobs.data(), streams, 1);
		benchmark::DoNotOptimize(jobs.data());
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)(size * streams));
	state.SetLabel(sl_simd_name(path));
}

void sha256_sizes(benchmark::internal::Benchmark *b)
{
	for (long size : { 1024L, 16384L, 131072L, 1048576L })
		b->Arg(size);
}

void lane_args(benchmark::internal::Benchmark *b)
{
	for (int path = 0; path < SL_SIMD_COUNT; path++) {
		for (long streams : { 1L, 4L, 8L, 16L }) {
			for (long size : { 1024L, 16384L, 131072L, 1048576L })
				b->Args({ path, streams, size });
		}
	}
}

}  // namespace

BENCHMARK(BM_openssl_sha256)->Apply(sha256_sizes);
BENCHMARK(BM_sha256_lanes)->Apply(lane_args);

namespace {

// Args: streams, lanes_min. With the best path of this CPU, 16 KiB buffers:
// lanes_min 1 always runs the multi-buffer lanes, lanes_min 17 never does.
// The smallest stream count where the lanes win is the batch threshold.
void BM_sha256_threshold(benchmark::State &state)
{
	enum sl_simd_path path = sl_simd_current();
	size_t streams = (size_t)state.range(0), size = 16384;
	unsigned lanes_min = (unsigned)state.range(1);
	std::vector<uint8_t> data = random_bytes(size * streams, 3);
	std::vector<sl_sha256_job> jobs(streams);

	for (size_t i = 0; i < streams; i++) {
		jobs[i].data = data.data() + i * size;
		jobs[i].len = size;
	}
	for (auto _ : state) {
		sl_sha256_batch_path(path, jobs.data(), streams, lanes_min);
		benchmark::DoNotOptimize(jobs.data());
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)(size * streams));
	state.SetLabel(sl_simd_name(path));
}

void threshold_args(benchmark::internal::Benchmark *b)
{
	for (long streams = 1; streams <= 16; streams++) {
		b->Args({ streams, 1 });
		b->Args({ streams, 17 });
	}
}

}  // namespace

BENCHMARK(BM_sha256_threshold)->Apply(threshold_args);
