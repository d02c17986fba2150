/*
 * crypto/simd/canon_avx2.c - block canonicalization kernels, AVX2.
 *
 * Two ymm compares per byte class and vpmovmskb give the 64-bit masks.
 * AVX2 has no byte compress, so the kept bytes are packed eight at a time
 * with pshufb and the 256-entry table sl_canon_compress8. Built with
 * -mavx2; selected only when the probe in cpu.c found AVX2.
 */
#include "crypto/simd/canon_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline uint64_t class_mask(__m256i lo, __m256i hi, char c)
{
	__m256i k = _mm256_set1_epi8(c);
	uint32_t a = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, k));
	uint32_t b = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, k));

	return (uint64_t)b << 32 | a;
}

static inline void classify(const uint8_t *p, uint64_t *w, uint64_t *r, uint64_t *l)
{
	__m256i lo = _mm256_loadu_si256((const void *)p);
	__m256i hi = _mm256_loadu_si256((const void *)(p + 32));

	*w = class_mask(lo, hi, ' ') | class_mask(lo, hi, '\t');
	*r = class_mask(lo, hi, '\r');
	*l = class_mask(lo, hi, '\n');
}

static inline void copy64(const uint8_t *p, uint8_t *o)
{
	_mm256_storeu_si256((void *)o, _mm256_loadu_si256((const void *)p));
	_mm256_storeu_si256((void *)(o + 32), _mm256_loadu_si256((const void *)(p + 32)));
}

struct canon_plan;
static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o);

#define CANON_PREFIX avx2
#include "crypto/simd/canon_loop.h"

/* HTAB becomes SP: every SP/HTAB that stays is written as SP. */
static inline __m256i tab_to_space(__m256i v)
{
	__m256i tab = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t'));

	return _mm256_blendv_epi8(v, _mm256_set1_epi8(' '), tab);
}

static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	uint8_t tmp[64];
	__m256i lo = _mm256_loadu_si256((const void *)p);
	__m256i hi = _mm256_loadu_si256((const void *)(p + 32));

	if (pl->to_space) {
		lo = tab_to_space(lo);
		hi = tab_to_space(hi);
	}
	_mm256_storeu_si256((void *)tmp, lo);
	_mm256_storeu_si256((void *)(tmp + 32), hi);
	for (unsigned g = 0; g < 8; g++) {
		unsigned m = (unsigned)(pl->keep >> (8 * g)) & 0xff;
		__m128i bytes = _mm_loadl_epi64((const void *)(tmp + 8 * g));
		__m128i idx = _mm_loadl_epi64((const void *)sl_canon_compress8[m]);

		_mm_storel_epi64((void *)o, _mm_shuffle_epi8(bytes, idx));
		o += __builtin_popcount(m);
	}
	return o;
}

/* Header values: every kept SP, HTAB, CR or LF is written as SP. */
static inline __m256i gap_to_space(__m256i v)
{
	__m256i sp = _mm256_set1_epi8(' ');
	__m256i gap = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')),
				      _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\r')),
						      _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n'))));

	return _mm256_blendv_epi8(v, sp, gap);
}

static inline uint8_t *compress_header(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	uint8_t tmp[64];

	_mm256_storeu_si256((void *)tmp, gap_to_space(_mm256_loadu_si256((const void *)p)));
	_mm256_storeu_si256((void *)(tmp + 32),
			    gap_to_space(_mm256_loadu_si256((const void *)(p + 32))));
	for (unsigned g = 0; g < 8; g++) {
		unsigned m = (unsigned)(pl->keep >> (8 * g)) & 0xff;
		__m128i bytes = _mm_loadl_epi64((const void *)(tmp + 8 * g));
		__m128i idx = _mm_loadl_epi64((const void *)sl_canon_compress8[m]);

		_mm_storel_epi64((void *)o, _mm_shuffle_epi8(bytes, idx));
		o += __builtin_popcount(m);
	}
	return o;
}

#include "crypto/simd/canon_header.h"

const struct sl_canon_kernels sl_canon_kernels_avx2 = {
	.name = "avx2",
	.simple = avx2_simple,
	.relaxed = avx2_relaxed,
	.header_relaxed = avx2_header_relaxed,
};
#endif
