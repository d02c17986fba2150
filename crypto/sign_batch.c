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
 * gives for that job alone, checked in tests/unit/test_sign_batch.c. The
 * exceptions are allocation failures, which this file reports in its own
 * words, and signing failures, whose rc is that of the key's first failed
 * digest. A job that fails (bad signer, no From, field too long, signing
 * failure) gets its own rc and err and an empty out, and the other jobs
 * go on.
 *
 * h= lists are parsed once and kept while the signers' lists stay the
 * same, and each message's fields are selected in one pass
 * (crypto/sign_hlist.h). Signers of one job with the
 * same header canonicalization and h= value canonicalize the selected
 * fields once, and the others copy those bytes.
 *
 * Memory: each thread keeps one struct batch_scratch, which grows to the
 * largest batch, header block and h= list seen and is reused, so
 * steady-state batches allocate nothing here. sl_dkim_thread_cleanup()
 * frees it through sl_sign_batch_thread_cleanup().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/internal.h"
#include "crypto/sign_hlist.h"
#include "crypto/simd/sha256_mb.h"

#define NO_SLOT SIZE_MAX

/* One (job, signer) pair. Offsets are into the arena's memory. */
struct batch_item {
	size_t field_off;      /* the field up to "b=", as built */
	size_t field_len;
	size_t col;            /* fold column after "b=" */
	size_t canon_off;      /* the canonical bytes to hash */
	size_t canon_len;
	size_t prefix_len;     /* of which the selected header fields */
	size_t slot;           /* index into the key-ordered arrays, or NO_SLOT */
	int rc;                /* 0, or the failure found in phase 1 */
};

struct batch_scratch {
	struct sl_hlist h;
	struct sl_sink arena;  /* memory sink: fields and canonical bytes */
	char hv[SL_SIGN_MAX_SIGNERS][SL_SIGN_HLIST_MAX];
	char field[SL_SIGN_FIELD_MAX];

	struct sl_hselect hsel;

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

/* Empty the arena but keep its memory. */
static void arena_reset(struct sl_sink *a, size_t len)
{
	a->mem_len = len;
	a->total = len;
	a->n = 0;
	a->failed = 0;
}

/*
 * Append len arena bytes from offset off to the arena. The memory sink
 * has no reserve call, so this grows its buffer the way canon.c does.
 */
static int arena_copy(struct sl_sink *a, size_t off, size_t len)
{
	if (sl_sink_flush(a) < 0)
		return -ENOMEM;
	if (a->mem_len + len > a->mem_cap) {
		size_t cap = a->mem_cap ? a->mem_cap : 4096;
		uint8_t *m;

		while (cap < a->mem_len + len)
			cap *= 2;
		m = realloc(a->mem, cap);
		if (!m)
			return -ENOMEM;
		a->mem = m;
		a->mem_cap = cap;
	}
	memcpy(a->mem + a->mem_len, a->mem + off, len);
	a->mem_len += len;
	a->total += len;
	return 0;
}

/* ---- phase 1 ---- */

/* Canonicalize the fields in b->hsel.sel[0..nsel) into the arena. */
static void canon_selected(struct batch_scratch *b, size_t nsel, enum sl_dkim_canon canon)
{
	for (size_t i = 0; i < nsel; i++) {
		const struct sl_hfield *f = &b->h.f[b->hsel.sel[i]];

		if (canon == SL_DKIM_RELAXED)
			sl_canon_header_relaxed(&b->arena, f->p, f->len, 1);
		else
			sl_canon_header_simple(&b->arena, f->p, f->len, 1);
	}
}

/*
 * Build signer s's field and canonical buffer. The selected fields come
 * from item same (an earlier signer of this job with the same header
 * canonicalization and h= value) when it is not NULL, else from
 * b->hsel.sel.
 * Returns 0 with it->rc telling whether the field fit, or -ENOMEM when the
 * arena could not grow (the arena is then back at its length on entry).
 */
static int prepare_item(struct batch_scratch *b, const struct sl_dkim_signer *s,
			const char *hv, size_t nsel, const struct batch_item *same,
			const struct sl_dkim_bodyhash *bh, int64_t now, struct batch_item *it)
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
	if (same && same->rc == 0) {
		if (arena_copy(a, same->canon_off, same->prefix_len) < 0)
			goto nomem;
	} else {
		canon_selected(b, nsel, s->header_canon);
	}
	it->prefix_len = (size_t)a->total - it->canon_off;
	if (s->header_canon == SL_DKIM_RELAXED)
		sl_canon_header_relaxed(a, (const uint8_t *)f.buf, f.len, 0);
	else
		sl_canon_header_simple(a, (const uint8_t *)f.buf, f.len, 0);
	it->canon_len = (size_t)a->total - it->canon_off;
	if (sl_sink_flush(a) < 0)
		goto nomem;
	return 0;

nomem:
	arena_reset(a, start);
	return -ENOMEM;
}

/* An earlier signer of this job whose selected fields signer i can copy. */
static const struct batch_item *same_prefix(const struct batch_scratch *b,
					    const struct sl_dkim_signer *signers,
					    const struct batch_item *items, size_t i)
{
	for (size_t t = 0; t < i; t++) {
		if (signers[t].header_canon == signers[i].header_canon &&
		    strcmp(b->hv[t], b->hv[i]) == 0)
			return &items[t];
	}
	return NULL;
}

/* Run phase 1 for one job. Returns 0, or the job's rc with j->err filled. */
static int prepare_job(struct batch_scratch *b, const struct sl_dkim_signer *signers,
		       size_t nsigners, struct sl_dkim_job *j, struct batch_item *items,
		       int64_t now)
{
	size_t nsel;
	int rc;

	rc = sl_hlist_parse(&b->h, j->headers, j->hlen, &j->err);
	if (rc)
		return rc;
	if (sl_hselect_message(&b->hsel, &b->h) < 0)
		return sl_crypto_fail(&j->err, -ENOMEM, "out of memory for the header field list");

	/*
	 * Signer by signer: check, resolve and prepare at once. A later
	 * signer's failure still fails the job, and an earlier signer's field
	 * overflow is reported only at the end, as in sl_dkim_sign.
	 */
	for (size_t i = 0; i < nsigners; i++) {
		const struct batch_item *same;

		rc = sl_sign_check_signer(&signers[i], j->bh, &j->err);
		if (rc == 0)
			rc = sl_hselect_resolve(&b->hsel, i, b->hv[i], &nsel, &j->err);
		if (rc)
			return rc;
		same = same_prefix(b, signers, items, i);
		if (prepare_item(b, &signers[i], b->hv[i], nsel, same, j->bh, now, &items[i]) < 0)
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

	if (sl_hselect_plan(&b->hsel, signers, nsigners) < 0)
		return fail_all(jobs, njobs, -ENOMEM, "out of memory for the signers' h= lists");

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
	sl_hselect_free(&b->hsel);
	free(b->items);
	free(b->sha);
	free(b->digests);
	free(b->sigs);
	free(b->siglens);
	free(b->errs);
	free(b);
	tl_batch = NULL;
}
