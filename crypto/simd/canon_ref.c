/*
 * crypto/simd/canon_ref.c - byte-at-a-time body canonicalization.
 *
 * The reference for the block kernels' mask logic and carry state, written
 * apart from the engine's scalar code (which scans runs with a class
 * table) so that tests compare two independent versions. Line ends: CRLF,
 * a bare LF and a bare CR each count as one line end and come out as CRLF.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/simd/canon_simd.h"

void sl_canon_buf_put(struct sl_canon_buf *b, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();  /* test and benchmark helper: no recovery */
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void sl_canon_buf_crlf(struct sl_canon_buf *b, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		sl_canon_buf_put(b, (const uint8_t *)"\r\n", 2);
}

static void ref_byte(struct sl_canon_body *st, struct sl_canon_buf *out, uint8_t c, int relaxed)
{
	if (st->cr) {
		st->cr = 0;
		st->wsp = 0;
		st->crlf++;
		if (c == '\n')
			return;
	}
	if (c == '\r') {
		st->cr = 1;
		return;
	}
	if (c == '\n') {
		st->wsp = 0;
		st->crlf++;
		return;
	}
	if (relaxed && (c == ' ' || c == '\t')) {
		st->wsp = 1;
		return;
	}
	sl_canon_buf_crlf(out, st->crlf);
	st->crlf = 0;
	if (st->wsp)
		sl_canon_buf_put(out, (const uint8_t *)" ", 1);
	st->wsp = 0;
	sl_canon_buf_put(out, &c, 1);
	st->any = 1;
}

void sl_canon_ref_simple(struct sl_canon_body *st, struct sl_canon_buf *out, const uint8_t *in,
			 size_t len)
{
	for (size_t i = 0; i < len; i++)
		ref_byte(st, out, in[i], 0);
}

void sl_canon_ref_relaxed(struct sl_canon_body *st, struct sl_canon_buf *out, const uint8_t *in,
			  size_t len)
{
	for (size_t i = 0; i < len; i++)
		ref_byte(st, out, in[i], 1);
}

void sl_canon_ref_end(struct sl_canon_body *st, struct sl_canon_buf *out, int relaxed)
{
	if (!relaxed || st->any)
		sl_canon_buf_crlf(out, 1);
	st->cr = 0;
	st->crlf = 0;
	st->wsp = 0;
}
