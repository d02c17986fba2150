/*
 * crypto/simd/canon_portable.c - the block kernels without vectors.
 *
 * The same mask logic as the vector kernels with plain C classify and
 * compress steps. Tests use it to check the mask logic apart from any
 * instruction set. This file also defines the 8-byte compress table that
 * the AVX2 and NEON kernels use.
 */
#include <string.h>

#include "crypto/simd/canon_block.h"

/* Entry m: the set bit positions of m in order, then 0x80 (pshufb zero). */
uint8_t sl_canon_compress8[256][8];

static void build_compress_table(void) __attribute__((constructor));

static void build_compress_table(void)
{
	uint8_t (*t)[8] = sl_canon_compress8;

	for (unsigned m = 0; m < 256; m++) {
		unsigned k = 0;

		for (unsigned b = 0; b < 8; b++) {
			if (m & (1u << b))
				t[m][k++] = (uint8_t)b;
		}
		while (k < 8)
			t[m][k++] = 0x80;
	}
}

static inline void classify(const uint8_t *p, uint64_t *w, uint64_t *r, uint64_t *l)
{
	uint64_t mw = 0, mr = 0, ml = 0;

	for (unsigned i = 0; i < 64; i++) {
		mw |= (uint64_t)(p[i] == ' ' || p[i] == '\t') << i;
		mr |= (uint64_t)(p[i] == '\r') << i;
		ml |= (uint64_t)(p[i] == '\n') << i;
	}
	*w = mw;
	*r = mr;
	*l = ml;
}

static inline uint8_t *compress(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	for (unsigned i = 0; i < 64; i++) {
		if (pl->keep >> i & 1)
			*o++ = (pl->to_space >> i & 1) ? ' ' : p[i];
	}
	return o;
}

static inline void copy64(const uint8_t *p, uint8_t *o)
{
	memcpy(o, p, 64);
}

#define CANON_PREFIX portable
#include "crypto/simd/canon_loop.h"

static inline uint8_t *compress_header(const uint8_t *p, const struct canon_plan *pl, uint8_t *o)
{
	return compress(p, pl, o);
}

#include "crypto/simd/canon_header.h"

const struct sl_canon_kernels sl_canon_kernels_portable = {
	.name = "portable",
	.simple = portable_simple,
	.relaxed = portable_relaxed,
	.header_relaxed = portable_header_relaxed,
};
