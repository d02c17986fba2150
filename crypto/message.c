/*
 * crypto/message.c - header block parsing and the message syntax check.
 *
 * Line ends may be CRLF, LF or a bare CR; each counts as one line end.
 * sl_dkim_check_message is the syntax check that the CLI (and the SMTP
 * server) apply before signing: header fields with a colon, no line over
 * 998 octets (RFC 5322 section 2.1.1), no NUL byte. sl_hlist_parse splits
 * a header block into fields, each with its folded continuation lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/internal.h"

#define LINE_MAX_OCTETS 998

/* Length of the line end at p (0 when p is not at a line end). */
static inline size_t eol_len(const uint8_t *p, const uint8_t *end)
{
	if (p >= end)
		return 0;
	if (*p == '\n')
		return 1;
	if (*p == '\r')
		return (p + 1 < end && p[1] == '\n') ? 2 : 1;
	return 0;
}

/* Offset of the next line end at or after p, or end. */
static const uint8_t *find_eol(const uint8_t *p, const uint8_t *end)
{
	while (p < end && *p != '\n' && *p != '\r')
		p++;
	return p;
}

size_t sl_dkim_header_end(const uint8_t *msg, size_t len, size_t *body)
{
	const uint8_t *p = msg, *end = msg + len;

	while (p < end) {
		size_t e = eol_len(p, end);

		if (e) {
			*body = (size_t)(p - msg) + e;
			return (size_t)(p - msg);
		}
		p = find_eol(p, end);
		p += eol_len(p, end);
	}
	*body = len;
	return len;
}

/* Check one header line (not a continuation) for a colon and a valid name. */
static int check_header_line(const uint8_t *p, const uint8_t *eol, size_t line,
			     struct sl_dkim_err *err)
{
	const uint8_t *colon = memchr(p, ':', (size_t)(eol - p));
	const uint8_t *q = p;

	if (!colon)
		return sl_crypto_fail(err, -EINVAL,
				      "line %zu: header line has no colon", line);
	if (colon == p)
		return sl_crypto_fail(err, -EINVAL,
				      "line %zu: header field name is empty", line);
	while (q < colon && *q > ' ' && *q < 127)
		q++;
	while (q < colon && (*q == ' ' || *q == '\t'))
		q++;
	if (q != colon)
		return sl_crypto_fail(err, -EINVAL,
				      "line %zu: invalid character in header field name", line);
	return 0;
}

int sl_dkim_check_message(const uint8_t *msg, size_t len, size_t *line_out,
			  struct sl_dkim_err *err)
{
	const uint8_t *p = msg, *end = msg + len;
	size_t line = 1;
	int in_headers = 1, rc = 0;

	while (p < end) {
		const uint8_t *eol = find_eol(p, end);
		const uint8_t *nul = memchr(p, '\0', (size_t)(eol - p));

		if (nul) {
			rc = sl_crypto_fail(err, -EINVAL, "line %zu: NUL byte at column %zu",
					    line, (size_t)(nul - p) + 1);
			break;
		}
		if (eol - p > LINE_MAX_OCTETS) {
			rc = sl_crypto_fail(err, -EINVAL,
					    "line %zu: line is %zu octets long, over the "
					    "limit of %d", line, (size_t)(eol - p),
					    LINE_MAX_OCTETS);
			break;
		}
		if (in_headers) {
			if (eol == p) {
				in_headers = 0;
			} else if (*p == ' ' || *p == '\t') {
				if (line == 1) {
					rc = sl_crypto_fail(err, -EINVAL,
							    "line 1: message starts with a "
							    "continuation line");
					break;
				}
			} else if ((rc = check_header_line(p, eol, line, err)) != 0) {
				break;
			}
		}
		p = eol + eol_len(eol, end);
		line++;
	}
	if (line_out)
		*line_out = rc ? line : 0;
	return rc;
}

/* ---- header field list ---- */

void sl_hlist_init(struct sl_hlist *h)
{
	h->f = h->local;
	h->n = 0;
	h->cap = sizeof(h->local) / sizeof(h->local[0]);
}

void sl_hlist_free(struct sl_hlist *h)
{
	if (h->f != h->local)
		free(h->f);
	sl_hlist_init(h);
}

static int hlist_grow(struct sl_hlist *h)
{
	size_t cap = h->cap * 2;
	struct sl_hfield *f;

	if (h->f == h->local) {
		f = malloc(cap * sizeof(*f));
		if (f)
			memcpy(f, h->local, h->n * sizeof(*f));
	} else {
		f = realloc(h->f, cap * sizeof(*f));
	}
	if (!f)
		return -ENOMEM;
	h->f = f;
	h->cap = cap;
	return 0;
}

int sl_hlist_parse(struct sl_hlist *h, const uint8_t *hdr, size_t len,
		   struct sl_dkim_err *err)
{
	const uint8_t *p = hdr, *end = hdr + len;

	h->n = 0;
	while (p < end) {
		const uint8_t *start = p, *eol, *colon, *name_end;
		struct sl_hfield *f;

		if (*p == ' ' || *p == '\t')
			return sl_crypto_fail(err, -EINVAL,
					      "header block starts with a continuation line");
		eol = find_eol(p, end);
		if (eol == p)
			break;  /* the empty line: end of headers */
		for (;;) {
			const uint8_t *next = eol + eol_len(eol, end);

			if (next < end && (*next == ' ' || *next == '\t')) {
				eol = find_eol(next, end);
				continue;
			}
			p = next;
			break;
		}
		colon = memchr(start, ':', (size_t)(eol - start));
		if (!colon)
			return sl_crypto_fail(err, -EINVAL, "header field \"%.*s\" has no colon",
					      (int)((eol - start) > 40 ? 40 : (eol - start)),
					      (const char *)start);
		if (eol - start > UINT32_MAX)
			return sl_crypto_fail(err, -EINVAL, "header field too long");
		name_end = colon;
		while (name_end > start && (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		if (h->n == h->cap && hlist_grow(h) < 0)
			return sl_crypto_fail(err, -ENOMEM, "out of memory for header list");
		f = &h->f[h->n++];
		f->p = start;
		f->len = (uint32_t)(eol - start);
		f->name_len = (uint32_t)(name_end - start);
	}
	return 0;
}

int sl_hname_eq(const struct sl_hfield *f, const char *name, size_t len)
{
	return f->name_len == len && strncasecmp((const char *)f->p, name, len) == 0;
}
