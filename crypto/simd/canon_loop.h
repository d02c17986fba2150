/*
 * crypto/simd/canon_loop.h - the block loop of every canonicalization
 * kernel (internal, included once per instruction set).
 *
 * The including file defines, before the #include:
 *   CANON_PREFIX                 name prefix of the two blocks functions
 *   classify(p, &w, &r, &l)      SP/HTAB, CR and LF masks of 64 bytes at p
 *   compress(p, &plan, o)        write the kept bytes of p at o (it may
 *                                write up to 64 bytes), return the new end
 *   copy64(p, o)                 copy 64 bytes from p to o
 * and gets CANON_PREFIX##_simple and CANON_PREFIX##_relaxed. Files that
 * also include canon_header.h define compress_header(p, &plan, o), which
 * writes every kept SP, HTAB, CR or LF as SP.
 */
#include "crypto/simd/canon_block.h"

#define CANON_CAT2(a, b) a##b
#define CANON_CAT(a, b) CANON_CAT2(a, b)

static size_t CANON_CAT(CANON_PREFIX, _run)(struct sl_canon_body *st, const uint8_t *in,
					    size_t len, uint8_t *out, size_t *out_len,
					    enum sl_canon_stop *stop, int relaxed)
{
	size_t done = 0, limit = len < SL_CANON_STAGE_IN ? len : SL_CANON_STAGE_IN;
	uint8_t *o = out;

	*stop = SL_CANON_STOP_END;
	while (limit - done >= 64) {
		const uint8_t *p = in + done;
		struct canon_plan plan;
		uint64_t w, r, l;
		int res;

		classify(p, &w, &r, &l);
		if (!relaxed)
			w = 0;

		/* Fast path: no SP/HTAB, CR or LF, nothing pending. */
		if ((w | r | l) == 0 && st->crlf == 0 && !st->wsp && !st->cr) {
			copy64(p, o);
			o += 64;
			st->any = 1;
			done += 64;
			continue;
		}
		res = relaxed ? canon_plan_relaxed(st, w, r, l, &plan) : canon_plan_simple(st, r, l, &plan);
		if (res != CANON_PLAN_OK) {
			*stop = res == CANON_PLAN_FLUSH ? SL_CANON_STOP_CRLF : SL_CANON_STOP_SCALAR;
			break;
		}
		o = canon_prewrite(&plan, o);
		if (plan.keep == ~0ULL && plan.to_space == 0) {
			copy64(p, o);
			o += 64;
		} else if (plan.keep != 0) {
			o = compress(p, &plan, o);
		}
		done += 64;
	}
	*out_len = (size_t)(o - out);
	return done;
}

static size_t CANON_CAT(CANON_PREFIX, _simple)(struct sl_canon_body *st, const uint8_t *in,
					       size_t len, uint8_t *out, size_t *out_len,
					       enum sl_canon_stop *stop)
{
	return CANON_CAT(CANON_PREFIX, _run)(st, in, len, out, out_len, stop, 0);
}

static size_t CANON_CAT(CANON_PREFIX, _relaxed)(struct sl_canon_body *st, const uint8_t *in,
						size_t len, uint8_t *out, size_t *out_len,
						enum sl_canon_stop *stop)
{
	return CANON_CAT(CANON_PREFIX, _run)(st, in, len, out, out_len, stop, 1);
}
