/*
 * crypto/simd/sha256_neon.c - 4-lane SHA-256 with arm64 Advanced SIMD.
 *
 * For arm64 CPUs without the SHA-2 instructions: one q register contains one
 * state or message word of four buffers (lanes 0-3). A rotate is a shift
 * and a shift-insert (ushr + sli). Each lane's block is four q rows,
 * transposed 4x4 per group of four words.
 */
#include "crypto/simd/sha256_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

typedef uint32x4_t vec;

#define ADD(a, b) vaddq_u32((a), (b))
#define XOR(a, b) veorq_u32((a), (b))
#define ROR(x, n) vsliq_n_u32(vshrq_n_u32((x), (n)), (x), 32 - (n))
#define CH(e, f, g) vbslq_u32((e), (f), (g))
#define MAJ(a, b, c) vbslq_u32(XOR((a), (b)), (c), (b))
#define BSIG0(a) XOR(XOR(ROR(a, 2), ROR(a, 13)), ROR(a, 22))
#define BSIG1(e) XOR(XOR(ROR(e, 6), ROR(e, 11)), ROR(e, 25))
#define SSIG0(x) XOR(XOR(ROR(x, 7), ROR(x, 18)), vshrq_n_u32((x), 3))
#define SSIG1(x) XOR(XOR(ROR(x, 17), ROR(x, 19)), vshrq_n_u32((x), 10))

#define ROUND(a, b, c, d, e, f, g, h, t)                                                \
	do {                                                                            \
		vec t1_ = ADD(ADD(h, BSIG1(e)),                                         \
			      ADD(CH(e, f, g), ADD(w[(t) & 15], vdupq_n_u32(sl_sha256_k[t])))); \
		vec t2_ = ADD(BSIG0(a), MAJ(a, b, c));                                  \
		d = ADD(d, t1_);                                                        \
		h = ADD(t1_, t2_);                                                      \
	} while (0)

#define SCHEDULE(t)                                                                     \
	do {                                                                            \
		if ((t) >= 16)                                                          \
			w[(t) & 15] = ADD(ADD(w[(t) & 15], SSIG0(w[((t) - 15) & 15])),   \
					  ADD(w[((t) - 7) & 15], SSIG1(w[((t) - 2) & 15]))); \
	} while (0)

#define EIGHT_ROUNDS(t)                                                                 \
	do {                                                                            \
		SCHEDULE(t + 0); ROUND(a, b, c, d, e, f, g, h, t + 0);                 \
		SCHEDULE(t + 1); ROUND(h, a, b, c, d, e, f, g, t + 1);                 \
		SCHEDULE(t + 2); ROUND(g, h, a, b, c, d, e, f, t + 2);                 \
		SCHEDULE(t + 3); ROUND(f, g, h, a, b, c, d, e, t + 3);                 \
		SCHEDULE(t + 4); ROUND(e, f, g, h, a, b, c, d, t + 4);                 \
		SCHEDULE(t + 5); ROUND(d, e, f, g, h, a, b, c, t + 5);                 \
		SCHEDULE(t + 6); ROUND(c, d, e, f, g, h, a, b, t + 6);                 \
		SCHEDULE(t + 7); ROUND(b, c, d, e, f, g, h, a, t + 7);                 \
	} while (0)

static inline void load_words(vec w[16], const uint8_t *const p[4], size_t off)
{
	for (int q = 0; q < 4; q++) {
		vec r[4];

		for (int i = 0; i < 4; i++)
			r[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p[i] + off + 16 * q)));
		vec t0 = vtrn1q_u32(r[0], r[1]), t1 = vtrn2q_u32(r[0], r[1]);
		vec t2 = vtrn1q_u32(r[2], r[3]), t3 = vtrn2q_u32(r[2], r[3]);
		uint64x2_t t0q = vreinterpretq_u64_u32(t0), t1q = vreinterpretq_u64_u32(t1);
		uint64x2_t t2q = vreinterpretq_u64_u32(t2), t3q = vreinterpretq_u64_u32(t3);

		w[4 * q + 0] = vreinterpretq_u32_u64(vtrn1q_u64(t0q, t2q));
		w[4 * q + 1] = vreinterpretq_u32_u64(vtrn1q_u64(t1q, t3q));
		w[4 * q + 2] = vreinterpretq_u32_u64(vtrn2q_u64(t0q, t2q));
		w[4 * q + 3] = vreinterpretq_u32_u64(vtrn2q_u64(t1q, t3q));
	}
}

void sl_sha256_mb_neon(uint32_t state[8][SL_SHA256_MAX_LANES],
		       const uint8_t *const p[SL_SHA256_MAX_LANES], size_t nblocks)
{
	vec s[8];

	for (int i = 0; i < 8; i++)
		s[i] = vld1q_u32(state[i]);

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
		vst1q_u32(state[i], s[i]);
}
#endif
