/*
 * crypto/simd/canon_avx512.c - block canonicalization kernels, AVX-512.
 *
 * One zmm compare per byte class gives the 64-bit masks directly, and
 * vpcompressb (AVX512-VBMI2) packs the kept bytes of a block in one
 * instruction. Built with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi2;
 * selected only when the probe in cpu.c found all four.
 */
#include "crypto/simd/canon_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline void classify(const uint8_t *p, uint64_t *w, uint64_t *r, uint64_t *l)
{
	__m512i v = _mm512_loadu_si512((const void *)p);

	*w = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' ')) |
	     _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\t'));
	*r = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
	*l = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
}

struct canon_plan;
static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o);

static inline void copy64(const uint8_t *p, uint8_t *o)
{
	_mm512_storeu_si512((void *)o, _mm512_loadu_si512((const void *)p));
}

#define CANON_PREFIX avx512
#include "crypto/simd/canon_loop.h"

static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	__m512i v = _mm512_loadu_si512((const void *)p);

	v = _mm512_mask_mov_epi8(v, pl->to_space, _mm512_set1_epi8(' '));
	_mm512_storeu_si512((void *)o, _mm512_maskz_compress_epi8(pl->keep, v));
	return o + __builtin_popcountll(pl->keep);
}

static inline uint8_t *compress_header(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	return compress(p, pl, o);
}

#include "crypto/simd/canon_header.h"

const struct sl_canon_kernels sl_canon_kernels_avx512 = {
	.name = "avx512",
	.simple = avx512_simple,
	.relaxed = avx512_relaxed,
	.header_relaxed = avx512_header_relaxed,
};
#endif
