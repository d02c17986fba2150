/*
 * crypto/sign_batch.c - sl_dkim_sign_batch: DKIM signing of many messages
 * with the same signers, in phases over the whole batch.
 *
 *   1. Per job: parse the header block, check the signers, resolve each
 *      signer's h= list and build its DKIM-Signature field up to "b=".
 *      The selected header fields and that field are canonicalized into
 *      one contiguous buffer per (job, signer) in a per-thread arena.
 *   2. One sl_sha256_batch() call hashes every buffer, with multi-buffer
 *      lanes once enough buffers are ready (crypto/simd/sha256_mb.h).
 *   3. The digests are grouped by key, and each key signs all of its
 *      digests in one sl_dkim_sign_digests() call.
 *   4. Each job's fields get their b= values and folding, in signer order,
 *      and go to the job's out.
 *
 * The output and each job's rc and error message equal what sl_dkim_sign()
 * gives for that job alone, checked in tests/unit/test_sign_batch.c. A job
 * that fails (bad signer, no From, field too long, signing failure) gets
 * its own rc and err and an empty out, and the other jobs go on.
 *
 * Memory: each thread keeps one struct batch_scratch, which grows to the
 * largest batch and header set seen and is reused, so steady-state
 * batches allocate nothing here. sl_dkim_thread_cleanup() frees it
 * through sl_sign_batch_thread_cleanup().
 *
 * Limits: signers that share a header canonicalization and an h= list
 * each canonicalize the selected fields again (sl_dkim_sign() hashes them
 * once per group), because each hash needs one contiguous buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/internal.h"
#include "crypto/simd/sha256_mb.h"

#define NO_SLOT SIZE_MAX

/* One (job, signer) pair. Offsets are into the arena's memory. */
struct batch_item {
	size_t field_off;      /* the field up to "b=", as built */
	size_t field_len;
	size_t col;            /* fold column after "b=" */
	size_t canon_off;      /* the canonical bytes to hash */
	size_t canon_len;
	size_t slot;           /* index into the key-ordered arrays, or NO_SLOT */
	int rc;                /* 0, or the failure found in phase 1 */
};

struct batch_scratch {
	struct sl_hlist h;
	struct sl_sink arena;  /* memory sink: fields and canonical bytes */
	uint8_t *used;         /* field marks for sl_sign_canon_fields */
	size_t used_cap;
	char hv[SL_SIGN_MAX_SIGNERS][SL_SIGN_HLIST_MAX];
	char field[SL_SIGN_FIELD_MAX];

	/* Arrays of cap entries: items has one per (job, signer), the others one per slot. */
	size_t cap;
	struct batch_item *items;
	struct sl_sha256_job *sha;
	uint8_t (*digests)[32];
	uint8_t *sigs;         /* SL_SIGN_SIG_MAX bytes per slot */
	size_t *siglens;
	struct sl_dkim_err *errs;
};

static __thread struct batch_scratch *tl_batch;

static struct batch_scratch *scratch_get(void)
{
	struct batch_scratch *b = tl_batch;

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	sl_hlist_init(&b->h);
	sl_sink_init(&b->arena, NULL);
	tl_batch = b;
	return b;
}

/* Grow every per-item array to n entries. Returns 0 or -ENOMEM. */
static int scratch_reserve(struct batch_scratch *b, size_t n)
{
	void *p;

	if (n <= b->cap)
		return 0;
#define GROW(field, size)                          \
	do {                                       \
		p = realloc(b->field, n * (size)); \
		if (!p)                            \
			return -ENOMEM;            \
		b->field = p;                      \
	} while (0)
	GROW(items, sizeof(*b->items));
	GROW(sha, sizeof(*b->sha));
	GROW(digests, sizeof(*b->digests));
	GROW(sigs, SL_SIGN_SIG_MAX);
	GROW(siglens, sizeof(*b->siglens));
	GROW(errs, sizeof(*b->errs));
#undef GROW
	b->cap = n;
	return 0;
}

static int used_reserve(struct batch_scratch *b, size_t n)
{
	uint8_t *p;

	if (n <= b->used_cap)
		return 0;
	p = realloc(b->used, n);
	if (!p)
		return -ENOMEM;
	b->used = p;
	b->used_cap = n;
	return 0;
}

/* Empty the arena but keep its memory. */
static void arena_reset(struct sl_sink *a, size_t len)
{
	a->mem_len = len;
	a->total = len;
	a->n = 0;
	a->failed = 0;
}

/* ---- phase 1 ---- */

/*
 * Build signer s's field and canonical buffer for the message in b->h.
 * Returns 0 with it->rc telling whether the field fit, or -ENOMEM when the
 * arena could not grow (the arena is then back at its length on entry).
 */
static int prepare_item(struct batch_scratch *b, const struct sl_dkim_signer *s,
			const char *hv, const struct sl_dkim_bodyhash *bh, int64_t now,
			struct batch_item *it)
{
	struct sl_fold f = { .buf = b->field, .cap = sizeof(b->field) };
	struct sl_sink *a = &b->arena;
	size_t start = (size_t)a->total;

	it->slot = NO_SLOT;
	sl_sign_build_field(&f, s, hv, bh, now);
	if (f.overflow) {
		it->rc = -E2BIG;
		return 0;
	}
	it->rc = 0;
	it->field_off = start;
	it->field_len = f.len;
	it->col = f.col;
	sl_sink_put(a, (const uint8_t *)f.buf, f.len);

	it->canon_off = (size_t)a->total;
	sl_sign_canon_fields(a, &b->h, hv, s->header_canon, b->used);
	if (s->header_canon == SL_DKIM_RELAXED)
		sl_canon_header_relaxed(a, (const uint8_t *)f.buf, f.len, 0);
	else
		sl_canon_header_simple(a, (const uint8_t *)f.buf, f.len, 0);
	it->canon_len = (size_t)a->total - it->canon_off;
	if (sl_sink_flush(a) < 0) {
		arena_reset(a, start);
		return -ENOMEM;
	}
	return 0;
}

/* Run phase 1 for one job. Returns 0, or the job's rc with j->err filled. */
static int prepare_job(struct batch_scratch *b, const struct sl_dkim_signer *signers,
		       size_t nsigners, struct sl_dkim_job *j, struct batch_item *items,
		       int64_t now)
{
	size_t i;
	int rc;

	rc = sl_hlist_parse(&b->h, j->headers, j->hlen, &j->err);
	for (i = 0; rc == 0 && i < nsigners; i++) {
		rc = sl_sign_check_signer(&signers[i], j->bh, &j->err);
		if (rc == 0)
			rc = sl_sign_resolve_hlist(&signers[i], &b->h, b->hv[i], &j->err);
	}
	if (rc)
		return rc;
	if (used_reserve(b, b->h.n) < 0)
		return sl_crypto_fail(&j->err, -ENOMEM, "out of memory for the header field list");

	for (i = 0; i < nsigners; i++) {
		if (prepare_item(b, &signers[i], b->hv[i], j->bh, now, &items[i]) < 0)
			return sl_crypto_fail(&j->err, -ENOMEM,
					      "out of memory for canonical header fields");
	}
	return 0;
}

/* ---- phases 2 and 3 ---- */

/*
 * Give each ready item a slot, key by key, hash every slot's buffer in
 * one call and sign each key's digests in one call. key_rc[k] receives the
 * result of the key whose first signer is k.
 */
static void hash_and_sign(struct batch_scratch *b, const struct sl_dkim_signer *signers,
			  size_t nsigners, const struct sl_dkim_job *jobs, size_t njobs,
			  int *key_rc)
{
	size_t key_first[SL_SIGN_MAX_SIGNERS], key_start[SL_SIGN_MAX_SIGNERS];
	size_t nslots = 0;

	for (size_t s = 0; s < nsigners; s++) {
		key_first[s] = s;
		for (size_t t = 0; t < s; t++) {
			if (signers[t].key == signers[s].key) {
				key_first[s] = key_first[t];
				break;
			}
		}
	}

	for (size_t k = 0; k < nsigners; k++) {
		key_start[k] = nslots;
		if (key_first[k] != k)
			continue;
		for (size_t j = 0; j < njobs; j++) {
			if (jobs[j].rc)
				continue;
			for (size_t s = k; s < nsigners; s++) {
				struct batch_item *it = &b->items[j * nsigners + s];

				if (key_first[s] != k || it->rc)
					continue;
				it->slot = nslots;
				b->sha[nslots].data = b->arena.mem + it->canon_off;
				b->sha[nslots].len = it->canon_len;
				nslots++;
			}
		}
	}

	sl_sha256_batch(b->sha, nslots);
	for (size_t i = 0; i < nslots; i++)
		memcpy(b->digests[i], b->sha[i].digest, 32);

	for (size_t k = 0; k < nsigners; k++) {
		size_t start = key_start[k];
		size_t end = k + 1 < nsigners ? key_start[k + 1] : nslots;

		key_rc[k] = 0;
		if (key_first[k] != k || end == start)
			continue;
		key_rc[k] = sl_dkim_sign_digests(signers[k].key, (const uint8_t (*)[32])&b->digests[start],
						 end - start, b->sigs + start * SL_SIGN_SIG_MAX,
						 SL_SIGN_SIG_MAX, &b->siglens[start], &b->errs[start]);
	}
}

/* ---- phase 4 ---- */

/* Write job j's signed fields, in signer order, to its out. */
static int finish_job(struct batch_scratch *b, const struct sl_dkim_signer *signers,
		      size_t nsigners, struct sl_dkim_job *j, const struct batch_item *items,
		      const int *key_rc)
{
	for (size_t s = 0; s < nsigners; s++) {
		const struct batch_item *it = &items[s];
		struct sl_fold f = { .buf = b->field, .cap = sizeof(b->field) };
		int rc;

		if (it->rc)
			return sl_crypto_fail(&j->err, it->rc, "DKIM-Signature field too long");
		if (b->siglens[it->slot] == 0) {
			size_t k;

			for (k = 0; signers[k].key != signers[s].key; k++)
				;
			j->err = b->errs[it->slot];
			return key_rc[k] ? key_rc[k] : -EPROTO;
		}
		memcpy(f.buf, b->arena.mem + it->field_off, it->field_len);
		f.buf[it->field_len] = '\0';
		f.len = it->field_len;
		f.col = it->col;
		rc = sl_sign_finish_field(&f, b->sigs + it->slot * SL_SIGN_SIG_MAX,
					  b->siglens[it->slot], &j->err);
		if (rc)
			return rc;
		if (sl_out_put(j->out, f.buf, f.len) < 0)
			return sl_crypto_fail(&j->err, -ENOMEM, "out of memory for signature output");
	}
	return 0;
}

/* ---- the batch ---- */

/* Give every job the same failure. */
static int fail_all(struct sl_dkim_job *jobs, size_t njobs, int rc, const char *msg)
{
	for (size_t i = 0; i < njobs; i++)
		jobs[i].rc = sl_crypto_fail(&jobs[i].err, rc, "%s", msg);
	return rc;
}

int sl_dkim_sign_batch(const struct sl_dkim_signer *signers, size_t nsigners,
		       struct sl_dkim_job *jobs, size_t njobs, int64_t now)
{
	struct batch_scratch *b;
	int key_rc[SL_SIGN_MAX_SIGNERS];
	int first = 0;

	for (size_t i = 0; i < njobs; i++) {
		jobs[i].out->len = 0;
		jobs[i].rc = 0;
		jobs[i].err.msg[0] = '\0';
	}
	if (njobs == 0)
		return 0;
	if (nsigners == 0 || nsigners > SL_SIGN_MAX_SIGNERS) {
		for (size_t i = 0; i < njobs; i++)
			jobs[i].rc = sl_crypto_fail(&jobs[i].err, -EINVAL,
						    "%zu signers given, need 1 to %d", nsigners,
						    SL_SIGN_MAX_SIGNERS);
		return -EINVAL;
	}
	b = scratch_get();
	if (!b || njobs > SIZE_MAX / SL_SIGN_MAX_SIGNERS || scratch_reserve(b, njobs * nsigners) < 0)
		return fail_all(jobs, njobs, -ENOMEM, "out of memory for the signing batch");

	sl_simd_init();
	arena_reset(&b->arena, 0);
	for (size_t i = 0; i < njobs; i++)
		jobs[i].rc = prepare_job(b, signers, nsigners, &jobs[i], &b->items[i * nsigners], now);

	hash_and_sign(b, signers, nsigners, jobs, njobs, key_rc);

	for (size_t i = 0; i < njobs; i++) {
		struct sl_dkim_job *j = &jobs[i];

		if (j->rc == 0)
			j->rc = finish_job(b, signers, nsigners, j, &b->items[i * nsigners], key_rc);
		if (j->rc) {
			j->out->len = 0;
			if (first == 0)
				first = j->rc;
		}
	}
	return first;
}

void sl_sign_batch_thread_cleanup(void)
{
	struct batch_scratch *b = tl_batch;

	if (!b)
		return;
	sl_hlist_free(&b->h);
	sl_sink_free(&b->arena);
	free(b->used);
	free(b->items);
	free(b->sha);
	free(b->digests);
	free(b->sigs);
	free(b->siglens);
	free(b->errs);
	free(b);
	tl_batch = NULL;
}
