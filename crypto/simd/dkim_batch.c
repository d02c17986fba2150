/*
 * crypto/simd/dkim_batch.c - batch body hashing; contract in dkim_batch.h.
 */
#include "crypto/simd/dkim_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/internal.h"

static int reserve(struct sl_dkim_body_batch *b, size_t n)
{
	struct sl_sink *sinks;
	struct sl_sha256_job *jobs;

	if (n <= b->cap)
		return 0;
	sinks = realloc(b->sinks, 2 * n * sizeof(*sinks));
	if (sinks == NULL)
		return -ENOMEM;
	memset(sinks + 2 * b->cap, 0, 2 * (n - b->cap) * sizeof(*sinks));
	b->sinks = sinks;
	jobs = realloc(b->jobs, 2 * n * sizeof(*jobs));
	if (jobs == NULL)
		return -ENOMEM;
	b->jobs = jobs;
	b->cap = n;
	return 0;
}

/* Empty a memory sink but keep its buffer for the next body. */
static void sink_reuse(struct sl_sink *s)
{
	s->md = NULL;
	s->mem_len = 0;
	s->total = 0;
	s->failed = 0;
	s->n = 0;
}

/* Canonicalize one body into S; returns 0 or -ENOMEM. */
static int canonicalize(struct sl_sink *s, const struct sl_dkim_body_item *it, int relaxed)
{
	const struct sl_canon_ops *ops = sl_canon_active;
	struct sl_canon_body st;

	sink_reuse(s);
	sl_canon_body_init(&st);
	if (relaxed) {
		ops->body_relaxed(&st, s, it->body, it->len);
		sl_canon_body_relaxed_end(&st, s);
	} else {
		ops->body_simple(&st, s, it->body, it->len);
		sl_canon_body_simple_end(&st, s);
	}
	return sl_sink_flush(s) < 0 ? -ENOMEM : 0;
}

int sl_dkim_body_hash_batch(struct sl_dkim_body_batch *b, struct sl_dkim_body_item *items,
			    size_t n, unsigned mask, struct sl_dkim_err *err)
{
	size_t njobs = 0;

	sl_simd_init();
	mask &= SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED;
	if (mask == 0)
		return sl_crypto_fail(err, -EINVAL, "body hash batch: no canonicalization requested");
	if (reserve(b, n) < 0)
		return sl_crypto_fail(err, -ENOMEM, "body hash batch: out of memory for %zu bodies", n);

	/* Canonical forms first, then one multi-buffer pass over all of them. */
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < 2; c++) {
			struct sl_sink *s = &b->sinks[2 * i + (size_t)c];

			if (!(mask & (1u << c)))
				continue;
			if (canonicalize(s, &items[i], c == SL_DKIM_RELAXED) < 0)
				return sl_crypto_fail(err, -ENOMEM,
						      "body hash batch: out of memory for body %zu (%zu bytes)",
						      i, items[i].len);
			b->jobs[njobs].data = s->mem;
			b->jobs[njobs].len = s->mem_len;
			njobs++;
		}
	}
	sl_sha256_batch(b->jobs, njobs);

	njobs = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&items[i].hash, 0, sizeof(items[i].hash));
		items[i].hash.mask = (uint8_t)mask;
		if (mask & SL_DKIM_BODY_SIMPLE)
			memcpy(items[i].hash.simple, b->jobs[njobs++].digest, 32);
		if (mask & SL_DKIM_BODY_RELAXED)
			memcpy(items[i].hash.relaxed, b->jobs[njobs++].digest, 32);
	}
	return 0;
}

void sl_dkim_body_batch_free(struct sl_dkim_body_batch *b)
{
	for (size_t i = 0; i < 2 * b->cap; i++)
		sl_sink_free(&b->sinks[i]);
	free(b->sinks);
	free(b->jobs);
	memset(b, 0, sizeof(*b));
}
