/*
 * crypto/simd/dkim_batch.h - DKIM body hashing of many bodies in one call.
 *
 * sl_dkim_body_hash_batch() canonicalizes each body with the dispatched
 * kernels (crypto/simd/cpu.h) into memory, then hashes every canonical
 * form together with sl_sha256_batch(), which runs multi-buffer lanes once
 * enough bodies are ready. The result for each body equals
 * sl_dkim_body_hash() on that body.
 *
 * struct sl_dkim_body_batch is caller-owned scratch memory for the
 * canonical forms. It grows to the largest batch and is reused by later
 * calls, so steady-state batches allocate nothing. Zero it before first
 * use and release it with sl_dkim_body_batch_free(). One batch struct must
 * not be used by two threads at once.
 */
#ifndef SLUICE_CRYPTO_SIMD_DKIM_BATCH_H
#define SLUICE_CRYPTO_SIMD_DKIM_BATCH_H

#include <stddef.h>

#include "crypto/dkim.h"
#include "crypto/simd/sha256_mb.h"

struct sl_dkim_body_item {
	const void *body;
	size_t len;
	struct sl_dkim_bodyhash hash;  /* output */
};

struct sl_dkim_body_batch {
	struct sl_sink *sinks;         /* two per body: simple, relaxed */
	struct sl_sha256_job *jobs;
	size_t cap;                    /* bodies that sinks and jobs can hold */
};

/*
 * Hash the bodies of items[0..n) for the canonicalizations in mask
 * (SL_DKIM_BODY_SIMPLE, SL_DKIM_BODY_RELAXED). Returns 0, -EINVAL for an
 * empty mask or -ENOMEM.
 */
int sl_dkim_body_hash_batch(struct sl_dkim_body_batch *b, struct sl_dkim_body_item *items,
			    size_t n, unsigned mask, struct sl_dkim_err *err);

void sl_dkim_body_batch_free(struct sl_dkim_body_batch *b);

#endif
