/*
 * crypto/simd/canon_simd.c - kernel lookup and the driver that mixes the
 * block kernels with the scalar code. Contract in canon_simd.h.
 */
#include "crypto/simd/canon_simd.h"

#include <stdlib.h>
#include <string.h>

const struct sl_canon_kernels *sl_canon_kernels_for(enum sl_simd_path path)
{
	if (!sl_simd_supported(path))
		return NULL;
	switch (path) {
#if defined(__x86_64__)
	case SL_SIMD_AVX512:
		return &sl_canon_kernels_avx512;
	case SL_SIMD_AVX2:
		return &sl_canon_kernels_avx2;
#endif
#if defined(__aarch64__)
	case SL_SIMD_NEON:
	case SL_SIMD_SHA2:
		return &sl_canon_kernels_neon;
#endif
	default:
		return NULL;
	}
}

void sl_canon_drive(sl_canon_blocks_fn fn, struct sl_canon_body *st,
		    const struct sl_canon_target *t, const uint8_t *in, size_t len)
{
	uint8_t stage[SL_CANON_STAGE_OUT];

	while (len > 0) {
		enum sl_canon_stop stop = SL_CANON_STOP_END;
		size_t out_len = 0, used = 0, piece;

		if (len >= 64) {
			used = fn(st, in, len, stage, &out_len, &stop);
			if (out_len > 0)
				t->put(t->ctx, stage, out_len);
			in += used;
			len -= used;
		}
		if (len == 0)
			break;
		if (stop == SL_CANON_STOP_CRLF) {
			/* Content follows in the next block, so the line ends stay. */
			t->crlf(t->ctx, st->crlf);
			st->crlf = 0;
			continue;
		}
		if (stop == SL_CANON_STOP_END && len >= 64)
			continue;  /* the stage was full */

		/* A carried CR needs one byte; a bad block or the tail, 64 or fewer. */
		piece = st->cr ? 1 : (len < 64 ? len : 64);
		t->scalar(t->ctx, st, in, piece);
		in += piece;
		len -= piece;
	}
}
