/*
 * crypto/simd/sha256_mb.h - SHA-256 of many buffers at once.
 *
 * sl_sha256_batch() hashes n complete buffers. When at least the path's
 * threshold of buffers is ready, it runs them through a multi-buffer
 * kernel with one buffer per vector lane (AVX-512 16 lanes, AVX2 8, NEON
 * 4, arm64 SHA-2 instructions 2 buffers interleaved). Below the threshold,
 * and for the last buffers of a batch once too few lanes stay busy, it
 * hashes one buffer at a time with the single-buffer code (x86 SHA-NI,
 * arm64 SHA-2 instructions, or portable C). Results never depend on the
 * path.
 *
 * The caller owns the jobs and their data; nothing is allocated. Buffers
 * may have any length and alignment and may overlap or repeat.
 *
 * sl_sha256_batch_path() runs one given path (tests and benchmarks); it
 * returns -ENOTSUP if the CPU lacks that path. sl_sha256_threshold() is the
 * number of ready buffers from which the batch uses multi-buffer lanes.
 */
#ifndef SLUICE_CRYPTO_SIMD_SHA256_MB_H
#define SLUICE_CRYPTO_SIMD_SHA256_MB_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/simd/cpu.h"

#define SL_SHA256_LEN 32
#define SL_SHA256_MAX_LANES 16

struct sl_sha256_job {
	const uint8_t *data;
	size_t len;
	uint8_t digest[SL_SHA256_LEN];
};

/* Hash every job with the current path and its threshold. */
void sl_sha256_batch(struct sl_sha256_job *jobs, size_t n);

/*
 * Hash every job with PATH. lanes_min is the lowest count of busy lanes for
 * which the multi-buffer kernel still runs. A value of 1 runs it to the
 * end, and a value above the lane count never runs it.
 */
int sl_sha256_batch_path(enum sl_simd_path path, struct sl_sha256_job *jobs, size_t n,
			 unsigned lanes_min);

/* One buffer with the best single-buffer code on this CPU. */
void sl_sha256(const uint8_t *data, size_t len, uint8_t digest[SL_SHA256_LEN]);

/* Lane count of PATH's multi-buffer kernel (1 for scalar). */
unsigned sl_sha256_lanes(enum sl_simd_path path);

/* Ready buffers from which sl_sha256_batch() uses the lanes of PATH. */
unsigned sl_sha256_threshold(enum sl_simd_path path);

#endif
