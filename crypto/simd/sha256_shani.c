/*
 * crypto/simd/sha256_shani.c - single-buffer SHA-256 with the x86 SHA
 * extensions (SHA-NI).
 *
 * The baseline for one buffer on x86-64, the same technique OpenSSL uses:
 * sha256rnds2 runs two rounds on the state split as ABEF and CDGH, and
 * sha256msg1/sha256msg2 compute the message schedule four words at a time.
 *
 * Built with -msha -msse4.1; called only when the probe found SHA-NI.
 */
#include "crypto/simd/sha256_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

void sl_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const void *)h), 0xb1);
	__m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const void *)(h + 4)), 0x1b);
	__m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);

	cdgh = _mm_blend_epi16(cdgh, tmp, 0xf0);

	for (size_t blk = 0; blk < nblocks; blk++, p += 64) {
		__m128i abef_in = abef, cdgh_in = cdgh, m[4], wk;

		for (int g = 0; g < 16; g++) {
			if (g < 4) {
				m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const void *)(p + 16 * g)), bswap);
			} else {
				__m128i x = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);

				x = _mm_add_epi32(x, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
				m[g & 3] = _mm_sha256msg2_epu32(x, m[(g + 3) & 3]);
			}
			wk = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const void *)(sl_sha256_k + 4 * g)));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
		}
		abef = _mm_add_epi32(abef, abef_in);
		cdgh = _mm_add_epi32(cdgh, cdgh_in);
	}

	tmp = _mm_shuffle_epi32(abef, 0x1b);
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((void *)h, _mm_blend_epi16(tmp, cdgh, 0xf0));
	_mm_storeu_si128((void *)(h + 4), _mm_alignr_epi8(cdgh, tmp, 8));
}
#endif
