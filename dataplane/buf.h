/*
 * dataplane/buf.h - a growable byte buffer.
 *
 * Growth goes through realloc (jemalloc, per-worker arena in sluiced); a
 * buffer is kept and reused across messages of a session, so a session in
 * steady state does not allocate per message. Allocation failure aborts.
 */
#ifndef SLUICE_DATAPLANE_BUF_H
#define SLUICE_DATAPLANE_BUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sl_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static inline void sl_buf_reserve(struct sl_buf *b, size_t extra)
{
	size_t want = b->len + extra, cap = b->cap ? b->cap : 256;

	if (want <= b->cap)
		return;
	while (cap < want)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p)
		abort();	/* allocation failure never returns */
	b->cap = cap;
}

static inline void sl_buf_append(struct sl_buf *b, const void *data, size_t len)
{
	sl_buf_reserve(b, len);
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* Drop the first n bytes. */
static inline void sl_buf_consume(struct sl_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static inline void sl_buf_free(struct sl_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#endif
