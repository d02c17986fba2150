/*
 * crypto/canon.c - scalar DKIM canonicalization and the byte sink.
 *
 * See crypto/canon.h for the contract that SIMD versions follow. The
 * scalar loops here are the reference: they scan runs of ordinary bytes
 * with a class table and copy each run to the sink in one piece, so there
 * is no function call per byte.
 *
 * Body rules (RFC 6376 section 3.4.3 and 3.4.4), after CR, LF and CRLF
 * all became CRLF:
 *   simple:  trailing empty lines are dropped, and the body always ends in
 *            one CRLF (an empty body becomes a single CRLF).
 *   relaxed: whitespace at the end of a line is dropped, every other run
 *            of SP and HTAB becomes one SP, trailing empty lines are
 *            dropped, and a non-empty body ends in CRLF (an empty body
 *            stays empty).
 * Both keep empty lines in a count (crlf) and write them only when more
 * content follows, which is what makes any chunk split give one result.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/canon.h"

const struct sl_canon_ops sl_canon_ops_scalar = {
	.name = "scalar",
	.body_simple = sl_canon_body_simple_scalar,
	.body_relaxed = sl_canon_body_relaxed_scalar,
	.header_relaxed = sl_canon_header_relaxed_scalar,
};

const struct sl_canon_ops *sl_canon_active = &sl_canon_ops_scalar;

static const uint8_t crlf2[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

/* ---- sink ---- */

void sl_sink_init(struct sl_sink *s, EVP_MD_CTX *md)
{
	s->md = md;
	s->mem = NULL;
	s->mem_len = 0;
	s->mem_cap = 0;
	s->total = 0;
	s->failed = 0;
	s->n = 0;
}

/* Hand bytes to the digest or the memory buffer. */
static void sink_emit(struct sl_sink *s, const uint8_t *p, size_t n)
{
	if (n == 0 || s->failed)
		return;
	if (s->md) {
		if (EVP_DigestUpdate(s->md, p, n) != 1)
			s->failed = 1;
		return;
	}
	if (s->mem_len + n > s->mem_cap) {
		size_t cap = s->mem_cap ? s->mem_cap : 4096;
		uint8_t *m;

		while (cap < s->mem_len + n)
			cap *= 2;
		m = realloc(s->mem, cap);
		if (!m) {
			s->failed = 1;
			return;
		}
		s->mem = m;
		s->mem_cap = cap;
	}
	memcpy(s->mem + s->mem_len, p, n);
	s->mem_len += n;
}

static void sink_put_slow(struct sl_sink *s, const uint8_t *p, size_t n)
{
	sink_emit(s, s->buf, s->n);
	s->n = 0;
	if (n >= SL_SINK_BUF) {
		sink_emit(s, p, n);
		return;
	}
	memcpy(s->buf, p, n);
	s->n = n;
}

static inline void sink_put(struct sl_sink *s, const uint8_t *p, size_t n)
{
	s->total += n;
	if (n <= SL_SINK_BUF - s->n) {
		memcpy(s->buf + s->n, p, n);
		s->n += n;
		return;
	}
	sink_put_slow(s, p, n);
}

static inline void sink_byte(struct sl_sink *s, uint8_t c)
{
	if (s->n == SL_SINK_BUF) {
		sink_emit(s, s->buf, s->n);
		s->n = 0;
	}
	s->buf[s->n++] = c;
	s->total++;
}

void sl_sink_put(struct sl_sink *s, const uint8_t *p, size_t n)
{
	sink_put(s, p, n);
}

void sl_sink_crlf(struct sl_sink *s, uint64_t count)
{
	while (count > 0) {
		size_t k = count > 8 ? 8 : (size_t)count;

		sink_put(s, crlf2, 2 * k);
		count -= k;
	}
}

int sl_sink_flush(struct sl_sink *s)
{
	sink_emit(s, s->buf, s->n);
	s->n = 0;
	return s->failed ? -1 : 0;
}

void sl_sink_free(struct sl_sink *s)
{
	free(s->mem);
	s->mem = NULL;
	s->mem_len = 0;
	s->mem_cap = 0;
}

/* ---- body ---- */

/* Byte classes: 1 for CR and LF, 2 for SP and HTAB, 0 for the rest. */
static const uint8_t body_class[256] = {
	['\r'] = 1, ['\n'] = 1, [' '] = 2, ['\t'] = 2,
};

void sl_canon_body_init(struct sl_canon_body *st)
{
	memset(st, 0, sizeof(*st));
}

/*
 * Consume one line end at p (CRLF, LF or a CR). Returns the bytes used, or
 * 0 when p is a CR that ends the chunk, in which case st->cr is set and
 * the next chunk decides whether an LF belongs to it.
 */
static inline size_t take_line_end(struct sl_canon_body *st, const uint8_t *p,
				   const uint8_t *end)
{
	if (*p == '\n')
		return 1;
	if (p + 1 == end) {
		st->cr = 1;
		return 0;
	}
	return p[1] == '\n' ? 2 : 1;
}

/* Finish a CR carried over from the previous chunk. */
static inline const uint8_t *resume_cr(struct sl_canon_body *st, const uint8_t *p,
				       const uint8_t *end)
{
	if (!st->cr || p == end)
		return p;
	st->cr = 0;
	st->wsp = 0;
	st->crlf++;
	return *p == '\n' ? p + 1 : p;
}

/*
 * Spans that are already canonical are copied in one piece. A span starts
 * at a content byte and continues over content bytes and over CRLFs that
 * are followed by more content in the same chunk (so the line end is
 * certain to be written, and never trailing). The relaxed span also takes
 * a single SP between two content bytes. Anything else ends the span and
 * goes through the byte-level rules below.
 */
static inline const uint8_t *simple_span(const uint8_t *q, const uint8_t *end)
{
	while (q < end) {
		if (body_class[*q] != 1) {
			q++;
			continue;
		}
		if (q[0] == '\r' && end - q > 2 && q[1] == '\n' && body_class[q[2]] != 1) {
			q += 3;
			continue;
		}
		break;
	}
	return q;
}

/* Precondition: *q is a content byte (class 0). */
static inline const uint8_t *relaxed_span(const uint8_t *q, const uint8_t *end)
{
	q++;
	while (q < end) {
		uint8_t c = *q;

		if (body_class[c] == 0) {
			q++;
			continue;
		}
		if (c == ' ' && end - q > 1 && body_class[q[1]] == 0) {
			q += 2;
			continue;
		}
		if (c == '\r' && end - q > 2 && q[1] == '\n' && body_class[q[2]] == 0) {
			q += 3;
			continue;
		}
		break;
	}
	return q;
}

void sl_canon_body_simple_scalar(struct sl_canon_body *st, struct sl_sink *out,
				 const uint8_t *in, size_t len)
{
	const uint8_t *p = in, *end = in + len;

	p = resume_cr(st, p, end);
	while (p < end) {
		const uint8_t *q = p;
		size_t used;

		q = simple_span(q, end);
		if (q > p) {
			if (st->crlf) {
				sl_sink_crlf(out, st->crlf);
				st->crlf = 0;
			}
			sink_put(out, p, (size_t)(q - p));
			st->any = 1;
			p = q;
			if (p == end)
				break;
		}
		used = take_line_end(st, p, end);
		if (used == 0)
			break;
		st->crlf++;
		p += used;
	}
}

void sl_canon_body_relaxed_scalar(struct sl_canon_body *st, struct sl_sink *out,
				  const uint8_t *in, size_t len)
{
	const uint8_t *p = in, *end = in + len;

	p = resume_cr(st, p, end);
	while (p < end) {
		const uint8_t *q = p;
		size_t used;

		if (body_class[*q] == 0)
			q = relaxed_span(q, end);
		if (q > p) {
			if (st->crlf) {
				sl_sink_crlf(out, st->crlf);
				st->crlf = 0;
			}
			if (st->wsp) {
				sink_byte(out, ' ');
				st->wsp = 0;
			}
			sink_put(out, p, (size_t)(q - p));
			st->any = 1;
			p = q;
			if (p == end)
				break;
		}
		if (body_class[*p] == 2) {
			st->wsp = 1;
			p++;
			continue;
		}
		used = take_line_end(st, p, end);
		if (used == 0)
			break;
		st->wsp = 0;
		st->crlf++;
		p += used;
	}
}

void sl_canon_body_simple_end(struct sl_canon_body *st, struct sl_sink *out)
{
	st->cr = 0;
	st->crlf = 0;
	sl_sink_crlf(out, 1);
}

void sl_canon_body_relaxed_end(struct sl_canon_body *st, struct sl_sink *out)
{
	st->cr = 0;
	st->crlf = 0;
	st->wsp = 0;
	if (st->any)
		sl_sink_crlf(out, 1);
}

/* ---- header fields ---- */

void sl_canon_header_simple(struct sl_sink *out, const uint8_t *field, size_t len,
			    int crlf)
{
	const uint8_t *p = field, *end = field + len;

	while (p < end) {
		const uint8_t *q = p;

		while (q < end && *q != '\r' && *q != '\n')
			q++;
		sink_put(out, p, (size_t)(q - p));
		if (q == end)
			break;
		sink_put(out, crlf2, 2);
		q += (*q == '\r' && q + 1 < end && q[1] == '\n') ? 2 : 1;
		p = q;
	}
	if (crlf)
		sink_put(out, crlf2, 2);
}

static inline int is_wsp_or_eol(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void sl_canon_header_relaxed(struct sl_sink *out, const uint8_t *field, size_t len,
			     int crlf)
{
	sl_canon_active->header_relaxed(out, field, len, crlf);
}

void sl_canon_header_relaxed_scalar(struct sl_sink *out, const uint8_t *field, size_t len,
				    int crlf)
{
	const uint8_t *p = field, *end = field + len;
	const uint8_t *colon = memchr(field, ':', len);
	const uint8_t *name_end;
	int wsp = 0;

	if (!colon)
		colon = end;
	name_end = colon;
	while (name_end > p && is_wsp_or_eol(name_end[-1]))
		name_end--;
	for (; p < name_end; p++) {
		uint8_t c = *p;

		sink_byte(out, (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c);
	}
	if (colon == end)
		goto done;
	sink_byte(out, ':');
	p = colon + 1;
	while (p < end && is_wsp_or_eol(*p))
		p++;
	while (p < end) {
		const uint8_t *q = p;

		while (q < end && !is_wsp_or_eol(*q))
			q++;
		if (q > p) {
			if (wsp)
				sink_byte(out, ' ');
			wsp = 0;
			sink_put(out, p, (size_t)(q - p));
		}
		while (q < end && is_wsp_or_eol(*q)) {
			if (*q == ' ' || *q == '\t')
				wsp = 1;
			q++;
		}
		p = q;
	}
done:
	if (crlf)
		sink_put(out, crlf2, 2);
}
