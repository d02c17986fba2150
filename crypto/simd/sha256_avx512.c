/*
 * crypto/simd/sha256_avx512.c - 16-lane SHA-256 with AVX-512 (x86-64).
 *
 * One zmm register contains one state word (or one message word) of 16
 * buffers. Each block of the 16 lanes is loaded row by row and transposed
 * 16x16 so that vector t contains message word t of every lane. The rotate
 * (vprord) and three-input logic (vpternlogd) instructions make each
 * round about 17 vector operations for 16 buffers.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl; called only when the probe in
 * cpu.c found those features.
 */
#include "crypto/simd/sha256_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m512i vec;

#define ADD(a, b) _mm512_add_epi32((a), (b))
#define ROR(x, n) _mm512_ror_epi32((x), (n))
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define CH(e, f, g) _mm512_ternarylogic_epi32((e), (f), (g), 0xca)
#define MAJ(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0xe8)
#define BSIG0(a) XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22))
#define BSIG1(e) XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25))
#define SSIG0(x) XOR3(ROR(x, 7), ROR(x, 18), _mm512_srli_epi32((x), 3))
#define SSIG1(x) XOR3(ROR(x, 17), ROR(x, 19), _mm512_srli_epi32((x), 10))

/* One round; d and h are updated, the caller rotates the names. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                               \
	do {                                                                           \
		vec t1_ = ADD(ADD(h, BSIG1(e)),                                        \
			      ADD(CH(e, f, g), ADD(w[(t) & 15],                        \
						   _mm512_set1_epi32((int)sl_sha256_k[t])))); \
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

/* Transpose four groups of four rows (stage 1 and 2 done) into words. */
static inline void transpose_128(vec v0, vec v1, vec v2, vec v3, vec *out, int j)
{
	vec x0 = _mm512_shuffle_i32x4(v0, v1, 0x44);
	vec x1 = _mm512_shuffle_i32x4(v0, v1, 0xee);
	vec x2 = _mm512_shuffle_i32x4(v2, v3, 0x44);
	vec x3 = _mm512_shuffle_i32x4(v2, v3, 0xee);

	out[j] = _mm512_shuffle_i32x4(x0, x2, 0x88);
	out[4 + j] = _mm512_shuffle_i32x4(x0, x2, 0xdd);
	out[8 + j] = _mm512_shuffle_i32x4(x1, x3, 0x88);
	out[12 + j] = _mm512_shuffle_i32x4(x1, x3, 0xdd);
}

/* Load the block at offset off of every lane: word t of lane j goes to w[t][j]. */
static inline void load_words(vec w[16], const uint8_t *const p[16], size_t off)
{
	const vec bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	vec r[16], t[16], u[4][4];

	for (int i = 0; i < 16; i++)
		r[i] = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)(p[i] + off)), bswap);
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	for (int g = 0; g < 4; g++) {
		u[g][0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
		u[g][1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
		u[g][2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
		u[g][3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
	}
	for (int j = 0; j < 4; j++)
		transpose_128(u[0][j], u[1][j], u[2][j], u[3][j], w, j);
}

void sl_sha256_mb_avx512(uint32_t state[8][SL_SHA256_MAX_LANES],
			 const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks)
{
	vec s[8];

	for (int i = 0; i < 8; i++)
		s[i] = _mm512_loadu_si512((const void *)state[i]);

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
		_mm512_storeu_si512((void *)state[i], s[i]);
}
#endif
