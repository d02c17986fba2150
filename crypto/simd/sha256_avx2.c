/*
 * crypto/simd/sha256_avx2.c - 8-lane SHA-256 with AVX2 (x86-64).
 *
 * One ymm register contains one state or message word of 8 buffers (lanes
 * 0-7 of the h[word][lane] state). AVX2 has no rotate or three-input logic
 * instruction, so each rotate is two shifts and an or. Each lane's block
 * is loaded as two 32-byte rows and transposed 8x8 twice.
 *
 * Built with -mavx2; called only when the probe in cpu.c found AVX2.
 */
#include "crypto/simd/sha256_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m256i vec;

#define ADD(a, b) _mm256_add_epi32((a), (b))
#define XOR(a, b) _mm256_xor_si256((a), (b))
#define ROR(x, n) _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))
#define CH(e, f, g) XOR(_mm256_and_si256((e), (f)), _mm256_andnot_si256((e), (g)))
#define MAJ(a, b, c) XOR(_mm256_and_si256(XOR((a), (b)), (c)), _mm256_and_si256((a), (b)))
#define BSIG0(a) XOR(XOR(ROR(a, 2), ROR(a, 13)), ROR(a, 22))
#define BSIG1(e) XOR(XOR(ROR(e, 6), ROR(e, 11)), ROR(e, 25))
#define SSIG0(x) XOR(XOR(ROR(x, 7), ROR(x, 18)), _mm256_srli_epi32((x), 3))
#define SSIG1(x) XOR(XOR(ROR(x, 17), ROR(x, 19)), _mm256_srli_epi32((x), 10))

#define ROUND(a, b, c, d, e, f, g, h, t)                                               \
	do {                                                                           \
		vec t1_ = ADD(ADD(h, BSIG1(e)),                                        \
			      ADD(CH(e, f, g), ADD(w[(t) & 15],                        \
						   _mm256_set1_epi32((int)sl_sha256_k[t])))); \
		vec t2_ = ADD(BSIG0(a), MAJ(a, b, c));                                 \
		d = ADD(d, t1_);                                                       \
		h = ADD(t1_, t2_);                                                     \
	} while (0)

#define SCHEDULE(t)                                                                    \
	do {                                                                           \
		if ((t) >= 16)                                                         \
			w[(t) & 15] = ADD(ADD(w[(t) & 15], SSIG0(w[((t) - 15) & 15])),  \
					  ADD(w[((t) - 7) & 15], SSIG1(w[((t) - 2) & 15]))); \
	} while (0)

#define EIGHT_ROUNDS(t)                                                                \
	do {                                                                           \
		SCHEDULE(t + 0); ROUND(a, b, c, d, e, f, g, h, t + 0);                \
		SCHEDULE(t + 1); ROUND(h, a, b, c, d, e, f, g, t + 1);                \
		SCHEDULE(t + 2); ROUND(g, h, a, b, c, d, e, f, t + 2);                \
		SCHEDULE(t + 3); ROUND(f, g, h, a, b, c, d, e, t + 3);                \
		SCHEDULE(t + 4); ROUND(e, f, g, h, a, b, c, d, t + 4);                \
		SCHEDULE(t + 5); ROUND(d, e, f, g, h, a, b, c, t + 5);                \
		SCHEDULE(t + 6); ROUND(c, d, e, f, g, h, a, b, t + 6);                \
		SCHEDULE(t + 7); ROUND(b, c, d, e, f, g, h, a, t + 7);                \
	} while (0)

/* Transpose eight rows of eight words: out[k] contains word k of every row. */
static inline void transpose8(const vec r[8], vec out[8])
{
	vec t[8], u[8];

	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	for (int g = 0; g < 2; g++) {
		u[4 * g + 0] = _mm256_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
		u[4 * g + 1] = _mm256_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
		u[4 * g + 2] = _mm256_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
		u[4 * g + 3] = _mm256_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
	}
	for (int j = 0; j < 4; j++) {
		out[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
		out[4 + j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
	}
}

static inline void load_words(vec w[16], const uint8_t *const p[8], size_t off)
{
	const vec bswap = _mm256_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
					  12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
	vec lo[8], hi[8];

	for (int i = 0; i < 8; i++) {
		lo[i] = _mm256_shuffle_epi8(_mm256_loadu_si256((const void *)(p[i] + off)), bswap);
		hi[i] = _mm256_shuffle_epi8(_mm256_loadu_si256((const void *)(p[i] + off + 32)), bswap);
	}
	transpose8(lo, w);
	transpose8(hi, w + 8);
}

void sl_sha256_mb_avx2(uint32_t state[8][SL_SHA256_MAX_LANES],
		       const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks)
{
	vec s[8];

	for (int i = 0; i < 8; i++)
		s[i] = _mm256_loadu_si256((const void *)state[i]);

	for (size_t blk = 0; blk < nblocks; blk++) {
		vec w[16];
		vec a = s[0], b = s[1], c = s[2], d = s[3];
		vec e = s[4], f = s[5], g = s[6], h = s[7];

		load_words(w, p, 64 * blk);
		EIGHT_ROUNDS(0);
		EIGHT_ROUNDS(8);
		EIGHT_ROUNDS(16);
		EIGHT_ROUNDS(24);
		EIGHT_ROUNDS(32);
		EIGHT_ROUNDS(40);
		EIGHT_ROUNDS(48);
		EIGHT_ROUNDS(56);
		s[0] = ADD(s[0], a);
		s[1] = ADD(s[1], b);
		s[2] = ADD(s[2], c);
		s[3] = ADD(s[3], d);
		s[4] = ADD(s[4], e);
		s[5] = ADD(s[5], f);
		s[6] = ADD(s[6], g);
		s[7] = ADD(s[7], h);
	}

	for (int i = 0; i < 8; i++)
		_mm256_storeu_si256((void *)state[i], s[i]);
}
#endif
