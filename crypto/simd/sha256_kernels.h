/*
 * crypto/simd/sha256_kernels.h - SHA-256 compression kernels (internal).
 *
 * A multi-buffer kernel runs the SHA-256 compression function on up to
 * SL_SHA256_MAX_LANES independent buffers. The state is stored transposed,
 * h[word][lane], so that one vector contains one state word of every lane.
 * Each call processes nblocks 64-byte blocks of every lane: lane j reads
 * p[j][0 .. 64 * nblocks). Lanes a caller does not use still get a valid
 * pointer (any readable block run) and their state is ignored.
 *
 * A single-buffer kernel works on one state in the usual order h[0..7].
 * Kernels exist only on the architectures that have the instructions; the
 * scalar ones exist everywhere.
 */
#ifndef SLUICE_CRYPTO_SIMD_SHA256_KERNELS_H
#define SLUICE_CRYPTO_SIMD_SHA256_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/simd/sha256_mb.h"

typedef void (*sl_sha256_mb_fn)(uint32_t h[8][SL_SHA256_MAX_LANES],
				const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks);
typedef void (*sl_sha256_one_fn)(uint32_t h[8], const uint8_t *p, size_t nblocks);

extern const uint32_t sl_sha256_k[64];
extern const uint32_t sl_sha256_iv[8];

void sl_sha256_blocks_scalar(uint32_t h[8], const uint8_t *p, size_t nblocks);
void sl_sha256_mb_scalar(uint32_t h[8][SL_SHA256_MAX_LANES],
			 const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks);

#if defined(__x86_64__)
void sl_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks);
void sl_sha256_mb_avx2(uint32_t h[8][SL_SHA256_MAX_LANES],
		       const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks);
void sl_sha256_mb_avx512(uint32_t h[8][SL_SHA256_MAX_LANES],
			 const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks);
#endif

#if defined(__aarch64__)
void sl_sha256_blocks_armv8(uint32_t h[8], const uint8_t *p, size_t nblocks);
void sl_sha256_mb_armv8x2(uint32_t h[8][SL_SHA256_MAX_LANES],
			  const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks);
void sl_sha256_mb_neon(uint32_t h[8][SL_SHA256_MAX_LANES],
		       const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks);
#endif

#endif
