/*
 * crypto/simd/sha256_armv8.c - SHA-256 with the arm64 SHA-2 instructions.
 *
 * sl_sha256_blocks_armv8() is the single-buffer baseline (the technique
 * OpenSSL uses on arm64): sha256h/sha256h2 run four rounds on the ABCD and
 * EFGH halves of the state, sha256su0/sha256su1 compute the schedule.
 *
 * sl_sha256_mb_armv8x2() runs two buffers with their instruction streams
 * interleaved. One sha256h has a latency of several cycles and each round
 * group depends on the previous one, so a second independent buffer fills
 * the pipeline gaps (lanes 0 and 1 of the transposed state).
 *
 * Built with -march=armv8-a+crypto; called only when getauxval(AT_HWCAP)
 * reports HWCAP_SHA2.
 */
#include "crypto/simd/sha256_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static inline uint32x4_t load_be_words(const uint8_t *p)
{
	return vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p)));
}

/* Four rounds of group g on one state; updates the schedule m. */
#define GROUP(abcd, efgh, m, g)                                                         \
	do {                                                                            \
		uint32x4_t wk_ = vaddq_u32(m[(g) & 3], vld1q_u32(sl_sha256_k + 4 * (g))); \
		uint32x4_t abcd_in_ = abcd;                                             \
		if ((g) < 12)                                                           \
			m[(g) & 3] = vsha256su1q_u32(vsha256su0q_u32(m[(g) & 3], m[((g) + 1) & 3]), \
						     m[((g) + 2) & 3], m[((g) + 3) & 3]); \
		abcd = vsha256hq_u32(abcd, efgh, wk_);                                  \
		efgh = vsha256h2q_u32(efgh, abcd_in_, wk_);                             \
	} while (0)

void sl_sha256_blocks_armv8(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	uint32x4_t abcd = vld1q_u32(h), efgh = vld1q_u32(h + 4);

	for (size_t blk = 0; blk < nblocks; blk++, p += 64) {
		uint32x4_t abcd_in = abcd, efgh_in = efgh, m[4];

		for (int i = 0; i < 4; i++)
			m[i] = load_be_words(p + 16 * i);
		for (int g = 0; g < 16; g++)
			GROUP(abcd, efgh, m, g);
		abcd = vaddq_u32(abcd, abcd_in);
		efgh = vaddq_u32(efgh, efgh_in);
	}
	vst1q_u32(h, abcd);
	vst1q_u32(h + 4, efgh);
}

void sl_sha256_mb_armv8x2(uint32_t state[8][SL_SHA256_MAX_LANES],
			  const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks)
{
	uint32_t s0[8], s1[8];

	for (int i = 0; i < 8; i++) {
		s0[i] = state[i][0];
		s1[i] = state[i][1];
	}

	uint32x4_t abcd0 = vld1q_u32(s0), efgh0 = vld1q_u32(s0 + 4);
	uint32x4_t abcd1 = vld1q_u32(s1), efgh1 = vld1q_u32(s1 + 4);

	for (size_t blk = 0; blk < nblocks; blk++) {
		const uint8_t *p0 = p[0] + 64 * blk, *p1 = p[1] + 64 * blk;
		uint32x4_t abcd0_in = abcd0, efgh0_in = efgh0, m0[4];
		uint32x4_t abcd1_in = abcd1, efgh1_in = efgh1, m1[4];

		for (int i = 0; i < 4; i++) {
			m0[i] = load_be_words(p0 + 16 * i);
			m1[i] = load_be_words(p1 + 16 * i);
		}
		for (int g = 0; g < 16; g++) {
			GROUP(abcd0, efgh0, m0, g);
			GROUP(abcd1, efgh1, m1, g);
		}
		abcd0 = vaddq_u32(abcd0, abcd0_in);
		efgh0 = vaddq_u32(efgh0, efgh0_in);
		abcd1 = vaddq_u32(abcd1, abcd1_in);
		efgh1 = vaddq_u32(efgh1, efgh1_in);
	}
	vst1q_u32(s0, abcd0);
	vst1q_u32(s0 + 4, efgh0);
	vst1q_u32(s1, abcd1);
	vst1q_u32(s1 + 4, efgh1);
	for (int i = 0; i < 8; i++) {
		state[i][0] = s0[i];
		state[i][1] = s1[i];
	}
}
#endif
