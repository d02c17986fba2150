/*
 * Unit tests for crypto/simd SHA-256: every SIMD path and the single-buffer
 * code against OpenSSL's SHA-256, on random lengths, edge lengths around
 * the padding boundaries, every alignment and buffers up to 1 MiB.
 * Seeded random input, so a failure repeats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/simd/sha256_kernels.h"
#include "crypto/simd/sha256_mb.h"
#include "tests/unit/simd_testlib.h"

#define MAX_JOBS 48

static void openssl_sha256(const uint8_t *p, size_t len, uint8_t out[32])
{
	unsigned int out_len = 0;

	assert_int_equal(EVP_Digest(p, len, out, &out_len, EVP_sha256(), NULL), 1);
	assert_int_equal(out_len, 32);
}

/* Run JOBS through PATH with lanes_min and compare each with OpenSSL. */
static void check_batch(enum sl_simd_path path, struct sl_sha256_job *jobs, size_t n,
			unsigned lanes_min)
{
	uint8_t want[32];

	for (size_t i = 0; i < n; i++)
		memset(jobs[i].digest, 0, 32);
	assert_int_equal(sl_sha256_batch_path(path, jobs, n, lanes_min), 0);
	for (size_t i = 0; i < n; i++) {
		openssl_sha256(jobs[i].data, jobs[i].len, want);
		if (memcmp(want, jobs[i].digest, 32) != 0)
			fail_msg("path %s lanes_min %u: job %zu of %zu (length %zu) has a wrong digest",
				 sl_simd_name(path), lanes_min, i, n, jobs[i].len);
	}
}

static void batch_random_lengths(void **state)
{
	static const size_t edges[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129 };
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	struct test_rng rng;
	uint8_t *pool = malloc(64 * 1024);
	struct sl_sha256_job jobs[MAX_JOBS];

	(void)state;
	assert_non_null(pool);
	rng_seed(&rng, 1);
	rng_fill(&rng, pool, 64 * 1024);
	for (size_t pi = 0; pi < npaths; pi++) {
		enum sl_simd_path path = paths[pi];
		unsigned lanes = sl_sha256_lanes(path);
		unsigned mins[] = { 1, sl_sha256_threshold(path), lanes, lanes + 1 };

		for (int round = 0; round < 12; round++) {
			size_t n = 1 + rng_below(&rng, MAX_JOBS);

			for (size_t i = 0; i < n; i++) {
				size_t len = rng_below(&rng, 4) == 0 ? edges[rng_below(&rng, 13)]
								     : rng_below(&rng, 3000);

				jobs[i].len = len;
				jobs[i].data = pool + rng_below(&rng, 64 * 1024 - len);
			}
			check_batch(path, jobs, n, mins[round % 4]);
		}
		print_message("sha256 path %s: %u lanes, random batches match OpenSSL\n",
			      sl_simd_name(path), lanes);
	}
	free(pool);
}

static void batch_every_alignment(void **state)
{
	static const size_t lens[] = { 0, 3, 55, 56, 64, 100, 1000 };
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	struct test_rng rng;
	uint8_t pool[64 + 1000 + 64];
	struct sl_sha256_job jobs[64];

	(void)state;
	rng_seed(&rng, 2);
	rng_fill(&rng, pool, sizeof(pool));
	for (size_t pi = 0; pi < npaths; pi++) {
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			for (size_t off = 0; off < 64; off++) {
				jobs[off].data = pool + off;
				jobs[off].len = lens[li];
			}
			check_batch(paths[pi], jobs, 64, 1);
		}
	}
}

static void batch_large_buffers(void **state)
{
	const size_t mib = 1024 * 1024;
	size_t lens[] = { mib, mib - 1, 65 * 1024 + 7, 0, 55, 56, 4096, mib - 64 };
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	struct test_rng rng;
	uint8_t *big = malloc(mib + 64);
	struct sl_sha256_job jobs[8];

	(void)state;
	assert_non_null(big);
	rng_seed(&rng, 3);
	rng_fill(&rng, big, mib + 64);
	for (size_t i = 0; i < 8; i++) {
		jobs[i].len = lens[i];
		jobs[i].data = big + (i * 7) % 64;
	}
	for (size_t pi = 0; pi < npaths; pi++)
		check_batch(paths[pi], jobs, 8, 1);
	free(big);
}

/* Identical data in every lane must give identical digests. */
static void batch_same_buffer_repeated(void **state)
{
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	uint8_t data[300];
	struct sl_sha256_job jobs[20];

	(void)state;
	memset(data, 'a', sizeof(data));
	for (size_t i = 0; i < 20; i++) {
		jobs[i].data = data;
		jobs[i].len = sizeof(data);
	}
	for (size_t pi = 0; pi < npaths; pi++)
		check_batch(paths[pi], jobs, 20, 1);
}

static void single_kernels_match_scalar(void **state)
{
	struct test_rng rng;
	uint8_t data[64 * 5 + 3];
	uint32_t want[8], got[8];

	(void)state;
	rng_seed(&rng, 4);
	for (int round = 0; round < 50; round++) {
		size_t off = rng_below(&rng, 4), nb = rng_below(&rng, 6);

		rng_fill(&rng, data, sizeof(data));
		for (int i = 0; i < 8; i++)
			want[i] = got[i] = (uint32_t)rng_next(&rng);
		(void)got;
		sl_sha256_blocks_scalar(want, data + off, nb);
#if defined(__x86_64__)
		if (sl_cpu_features() & SL_CPU_SHA_NI) {
			uint32_t h[8];

			memcpy(h, got, sizeof(h));
			sl_sha256_blocks_shani(h, data + off, nb);
			assert_memory_equal(h, want, sizeof(h));
		}
#elif defined(__aarch64__)
		if (sl_cpu_features() & SL_CPU_ARM_SHA2) {
			uint32_t h[8];

			memcpy(h, got, sizeof(h));
			sl_sha256_blocks_armv8(h, data + off, nb);
			assert_memory_equal(h, want, sizeof(h));
		}
#endif
	}
	print_message("sha256 single-buffer kernel: features 0x%x\n", sl_cpu_features());
}

static void one_buffer_matches_openssl(void **state)
{
	struct test_rng rng;
	uint8_t data[2048], want[32], got[32];

	(void)state;
	rng_seed(&rng, 5);
	rng_fill(&rng, data, sizeof(data));
	for (size_t len = 0; len < sizeof(data); len += 1 + rng_below(&rng, 97)) {
		openssl_sha256(data, len, want);
		sl_sha256(data, len, got);
		assert_memory_equal(got, want, 32);
	}
}

static void force_rejects_missing_path(void **state)
{
	(void)state;
	for (int p = 0; p < SL_SIMD_COUNT; p++) {
		if (!sl_simd_supported((enum sl_simd_path)p))
			assert_int_not_equal(sl_simd_force((enum sl_simd_path)p), 0);
	}
	assert_int_equal(sl_simd_force(SL_SIMD_SCALAR), 0);
	assert_int_equal(sl_simd_current(), SL_SIMD_SCALAR);
	assert_int_equal(sl_simd_parse("avx512"), SL_SIMD_AVX512);
	assert_int_equal(sl_simd_parse("sse9"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_random_lengths),
		cmocka_unit_test(batch_every_alignment),
		cmocka_unit_test(batch_large_buffers),
		cmocka_unit_test(batch_same_buffer_repeated),
		cmocka_unit_test(single_kernels_match_scalar),
		cmocka_unit_test(one_buffer_matches_openssl),
		cmocka_unit_test(force_rejects_missing_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
