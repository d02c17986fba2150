/*
 * crypto/simd/canon_block.h - mask arithmetic shared by the block kernels
 * (internal).
 *
 * Bit i of a mask is byte i of the 64-byte block. Given the SP/HTAB mask
 * W, the CR mask R and the LF mask L, canon_plan_*() checks that the block
 * has only CRLF line ends (a CR in the last byte is carried to the next
 * block), computes which bytes stay (keep), what must be written before
 * the block (pending line ends, one SP), and updates the carry state the
 * way the scalar code would after the same 64 bytes.
 *
 * Relaxed: a content byte stays; an SP/HTAB stays, as SP, only when the
 * next byte is content, so each run becomes one SP and a run before a
 * line end disappears; a CR or LF stays only when content follows later
 * in the block. Line ends after the last content byte go to st->crlf.
 * Simple: the same without the SP/HTAB rule (they are content).
 */
#ifndef SLUICE_CRYPTO_SIMD_CANON_BLOCK_H
#define SLUICE_CRYPTO_SIMD_CANON_BLOCK_H

#include <stdint.h>

#include "crypto/simd/canon_simd.h"

struct canon_plan {
	uint64_t keep;      /* bytes that stay */
	uint64_t to_space;  /* kept bytes to write as SP (relaxed HTAB) */
	uint64_t crlf;      /* line ends to write before the block */
	int space;          /* 1: write one SP after those line ends */
};

enum canon_plan_result {
	CANON_PLAN_OK = 0,
	CANON_PLAN_SCALAR,
	CANON_PLAN_FLUSH,
};

/* 8-byte compress table: entry m lists the set bit positions of m in order. */
extern uint8_t sl_canon_compress8[256][8];

static inline int canon_line_ends_paired(const struct sl_canon_body *st, uint64_t r, uint64_t l)
{
	uint64_t r_inner = r & ~(1ULL << 63);

	if (st->cr)
		return 0;
	if (l & ~(r << 1))
		return 0;      /* an LF without CR before it */
	if (r_inner & ~(l >> 1))
		return 0;      /* a CR without LF after it */
	return 1;
}

/* Keep line ends before the last content byte; count the later LFs. */
static inline int canon_plan_tail(struct sl_canon_body *st, uint64_t c, uint64_t e, uint64_t l,
				  uint64_t keep, struct canon_plan *pl)
{
	if (c == 0) {
		pl->keep = 0;
		pl->crlf = 0;
		pl->space = 0;
		st->crlf += (uint64_t)__builtin_popcountll(l);
		return CANON_PLAN_OK;
	}
	if (st->crlf > SL_CANON_MAX_PREWRITE)
		return CANON_PLAN_FLUSH;

	unsigned last = 63u - (unsigned)__builtin_clzll(c);
	uint64_t upto = last == 63 ? ~0ULL : (1ULL << (last + 1)) - 1;

	pl->keep = keep | (e & upto);
	pl->crlf = st->crlf;
	st->crlf = (uint64_t)__builtin_popcountll(l & ~upto);
	st->any = 1;
	return CANON_PLAN_OK;
}

static inline int canon_plan_relaxed(struct sl_canon_body *st, uint64_t w, uint64_t r, uint64_t l,
				     struct canon_plan *pl)
{
	uint64_t e = r | l, c = ~(w | e);
	unsigned cr_last = (unsigned)(r >> 63);
	int space;

	if (!canon_line_ends_paired(st, r, l))
		return CANON_PLAN_SCALAR;
	space = st->wsp && (c & 1);
	if (canon_plan_tail(st, c, e, l, c | (w & (c >> 1)), pl) != CANON_PLAN_OK)
		return CANON_PLAN_FLUSH;
	pl->space = space;
	pl->to_space = w & pl->keep;
	st->wsp = (uint8_t)((w >> (cr_last ? 62 : 63)) & 1);
	st->cr = (uint8_t)cr_last;
	return CANON_PLAN_OK;
}

static inline int canon_plan_simple(struct sl_canon_body *st, uint64_t r, uint64_t l,
				    struct canon_plan *pl)
{
	uint64_t e = r | l, c = ~e;

	if (!canon_line_ends_paired(st, r, l))
		return CANON_PLAN_SCALAR;
	if (canon_plan_tail(st, c, e, l, c, pl) != CANON_PLAN_OK)
		return CANON_PLAN_FLUSH;
	pl->space = 0;
	pl->to_space = 0;
	st->cr = (uint8_t)(r >> 63);
	return CANON_PLAN_OK;
}

/* Write the line ends and SP that go before the block; returns the end. */
static inline uint8_t *canon_prewrite(const struct canon_plan *pl, uint8_t *o)
{
	for (uint64_t i = 0; i < pl->crlf; i++) {
		o[0] = '\r';
		o[1] = '\n';
		o += 2;
	}
	if (pl->space)
		*o++ = ' ';
	return o;
}

#endif
