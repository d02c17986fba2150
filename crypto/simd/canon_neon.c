/*
 * crypto/simd/canon_neon.c - block canonicalization kernels, arm64 NEON.
 *
 * Four 16-byte compares per byte class; each compare result is reduced to
 * 16 mask bits by weighting the lanes with 1, 2, 4 ... 128 and three
 * pairwise adds. The kept bytes are packed eight at a time with tbl and
 * the table sl_canon_compress8 (index 0x80 reads as zero).
 */
#include "crypto/simd/canon_simd.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static inline uint64_t class_mask(const uint8x16_t v[4], uint8_t c)
{
	static const uint8_t weights[16] = { 1, 2, 4, 8, 16, 32, 64, 128,
					     1, 2, 4, 8, 16, 32, 64, 128 };
	uint8x16_t wt = vld1q_u8(weights), k = vdupq_n_u8(c);
	uint8x16_t m0 = vandq_u8(vceqq_u8(v[0], k), wt);
	uint8x16_t m1 = vandq_u8(vceqq_u8(v[1], k), wt);
	uint8x16_t m2 = vandq_u8(vceqq_u8(v[2], k), wt);
	uint8x16_t m3 = vandq_u8(vceqq_u8(v[3], k), wt);
	uint8x16_t s = vpaddq_u8(vpaddq_u8(m0, m1), vpaddq_u8(m2, m3));

	s = vpaddq_u8(s, s);
	return vgetq_lane_u64(vreinterpretq_u64_u8(s), 0);
}

static inline void classify(const uint8_t *p, uint64_t *w, uint64_t *r, uint64_t *l)
{
	uint8x16_t v[4] = { vld1q_u8(p), vld1q_u8(p + 16), vld1q_u8(p + 32), vld1q_u8(p + 48) };

	*w = class_mask(v, ' ') | class_mask(v, '\t');
	*r = class_mask(v, '\r');
	*l = class_mask(v, '\n');
}

static inline void copy64(const uint8_t *p, uint8_t *o)
{
	vst1q_u8_x4(o, vld1q_u8_x4(p));
}

struct canon_plan;
static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o);

#define CANON_PREFIX neon
#include "crypto/simd/canon_loop.h"

static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	uint8x8_t space = vdup_n_u8(' '), tab = vdup_n_u8('\t');

	for (unsigned g = 0; g < 8; g++) {
		unsigned m = (unsigned)(pl->keep >> (8 * g)) & 0xff;
		uint8x8_t bytes = vld1_u8(p + 8 * g);

		if (pl->to_space)
			bytes = vbsl_u8(vceq_u8(bytes, tab), space, bytes);
		vst1_u8(o, vtbl1_u8(bytes, vld1_u8(sl_canon_compress8[m])));
		o += __builtin_popcount(m);
	}
	return o;
}

/* Header values: every kept SP, HTAB, CR or LF is written as SP. */
static inline uint8_t *compress_header(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	uint8x8_t space = vdup_n_u8(' ');

	for (unsigned g = 0; g < 8; g++) {
		unsigned m = (unsigned)(pl->keep >> (8 * g)) & 0xff;
		uint8x8_t bytes = vld1_u8(p + 8 * g);
		uint8x8_t gap = vorr_u8(vceq_u8(bytes, vdup_n_u8('\t')),
					vorr_u8(vceq_u8(bytes, vdup_n_u8('\r')),
						vceq_u8(bytes, vdup_n_u8('\n'))));

		bytes = vbsl_u8(gap, space, bytes);
		vst1_u8(o, vtbl1_u8(bytes, vld1_u8(sl_canon_compress8[m])));
		o += __builtin_popcount(m);
	}
	return o;
}

#include "crypto/simd/canon_header.h"

const struct sl_canon_kernels sl_canon_kernels_neon = {
	.name = "neon",
	.simple = neon_simple,
	.relaxed = neon_relaxed,
	.header_relaxed = neon_header_relaxed,
};
#endif
