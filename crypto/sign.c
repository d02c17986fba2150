/*
 * crypto/sign.c - DKIM signing at send time, from the header block and the
 * body hash stored at accept time.
 *
 * For each call: the header block is split into fields once; each signer's
 * h= list is resolved (default list with over-signing, or the list given);
 * signers with the same header canonicalization and h= list share one
 * SHA-256 pass over the selected fields, and each then copies that digest
 * state and adds only its own DKIM-Signature field. Header instances are
 * taken bottom-up: the first "Received" in h= is the last one in the
 * block, the second the one above it, and a name listed more often than
 * it occurs adds nothing (this is what makes over-signing work).
 *
 * The DKIM-Signature field is folded with CRLF SP so that no line is over
 * SL_DKIM_FOLD_WIDTH characters (a single tag value longer than that, such
 * as a very long i=, stays on one line). b= comes last and starts on the
 * line where the signed text placed it, so the text a verifier gets after
 * removing the b= value is exactly the text that was signed, in both
 * header canonicalizations.
 *
 * Digest and signing contexts are kept per thread and reused (see
 * sign_cache below), so a steady stream of signatures with the same keys
 * does no OpenSSL provider lookups and no allocation of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>

#include "crypto/internal.h"

#define SL_DKIM_FOLD_WIDTH 76
#define MAX_SIGNERS SL_SIGN_MAX_SIGNERS
#define HLIST_MAX SL_SIGN_HLIST_MAX
#define FIELD_MAX SL_SIGN_FIELD_MAX
#define SIG_MAX SL_SIGN_SIG_MAX

/* ---- per-thread digest contexts ---- */

static __thread EVP_MD_CTX *tl_prefix[MAX_SIGNERS];
static __thread EVP_MD_CTX *tl_work;
static __thread EVP_MD_CTX *tl_edsign;

static EVP_MD_CTX *md_get(EVP_MD_CTX **slot)
{
	if (!*slot)
		*slot = EVP_MD_CTX_new();
	return *slot;
}

/* ---- folding writer (struct sl_fold is in crypto/internal.h) ---- */

static void fold_raw(struct sl_fold *f, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (f->len + n >= f->cap) {
		f->overflow = 1;
		return;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

/*
 * Add an atom made of up to three pieces, after a space (sep) or joined
 * to the previous one, folding first if the line would pass the width.
 * Pieces are copied directly: this runs a dozen times per signature.
 */
static void fold_pieces(struct sl_fold *f, const char *a, size_t an, const char *b, size_t bn,
			const char *c, size_t cn, int sep)
{
	size_t n = an + bn + cn;

	if (f->col + (sep ? 1 : 0) + n > SL_DKIM_FOLD_WIDTH && f->col > 1) {
		fold_raw(f, "\r\n ", 3);
		f->col = 1;
	} else if (sep) {
		fold_raw(f, " ", 1);
		f->col++;
	}
	fold_raw(f, a, an);
	fold_raw(f, b, bn);
	fold_raw(f, c, cn);
	f->col += n;
}

static void fold_atom(struct sl_fold *f, const char *s, size_t n, int sep)
{
	fold_pieces(f, s, n, NULL, 0, NULL, 0, sep);
}

/* "tag=value;" as one atom; tag includes the '='. */
static void fold_tag(struct sl_fold *f, const char *tag, const char *value)
{
	fold_pieces(f, tag, strlen(tag), value, strlen(value), ";", 1, 1);
}

/* h=name:name:...; with folds allowed after each colon. */
static void fold_hlist(struct sl_fold *f, const char *list)
{
	const char *p = list;
	int first = 1;

	while (*p) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		fold_pieces(f, first ? "h=" : "", first ? 2 : 0, p, n, c ? ":" : ";", 1, first);
		first = 0;
		p = c ? c + 1 : p + n;
	}
}

/* Put "b=" where it will stay, so the signed text matches the output. */
static void fold_b_tag(struct sl_fold *f)
{
	fold_atom(f, "b=", 2, 1);
	if (f->col + 1 > SL_DKIM_FOLD_WIDTH) {
		/* Keep at least one value character on the "b=" line. */
		f->len -= 2;
		f->col -= 2;
		if (f->buf[f->len - 1] == ' ') {
			f->len--;
			f->col--;
		}
		fold_raw(f, "\r\n b=", 5);
		f->col = 3;
	}
}

static void fold_b_value(struct sl_fold *f, const char *b64, size_t n)
{
	while (n > 0) {
		size_t room = SL_DKIM_FOLD_WIDTH > f->col ? SL_DKIM_FOLD_WIDTH - f->col : 0;
		size_t take = n < room ? n : room;

		if (take == 0) {
			fold_raw(f, "\r\n ", 3);
			f->col = 1;
			continue;
		}
		fold_raw(f, b64, take);
		f->col += take;
		b64 += take;
		n -= take;
	}
}

/* ---- h= list resolution ---- */

int sl_sign_name_in_list(const char *list, const char *name, size_t len)
{
	const char *p = list;

	while (*p) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (n == len && strncasecmp(p, name, len) == 0)
			return 1;
		p = c ? c + 1 : p + n;
	}
	return 0;
}

static size_t count_fields(const struct sl_hlist *h, const char *name, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < h->n; i++)
		k += (size_t)sl_hname_eq(&h->f[i], name, len);
	return k;
}

int sl_sign_hv_append(char *hv, size_t *used, const char *name, size_t len)
{
	if (*used + len + 2 > HLIST_MAX)
		return -1;
	if (*used)
		hv[(*used)++] = ':';
	memcpy(hv + *used, name, len);
	*used += len;
	hv[*used] = '\0';
	return 0;
}

int sl_sign_valid_hname(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 127 || p[i] == ':' ||
		    p[i] == ';')
			return 0;
	return 1;
}

/*
 * Build the h= value for one signer into hv. The default list names each
 * present field as often as it occurs, and the over-signed ones once more.
 */
int sl_sign_resolve_hlist(const struct sl_dkim_signer *s, const struct sl_hlist *h,
			  char *hv, struct sl_dkim_err *err)
{
	const char *list = s->headers ? s->headers : SL_DKIM_DEFAULT_HEADERS;
	const char *p = list;
	size_t used = 0;
	int has_from = 0;

	hv[0] = '\0';
	while (*p) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		size_t k = 1, i;

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (!sl_sign_valid_hname(p, n))
			return sl_crypto_fail(err, -EINVAL, "invalid header name \"%.*s\" in h= list",
					      (int)(n > 60 ? 60 : n), p);
		if (n == 4 && strncasecmp(p, "from", 4) == 0)
			has_from = 1;
		if (!s->headers) {
			k = count_fields(h, p, n);
			if (sl_sign_name_in_list(SL_DKIM_OVERSIGN_HEADERS, p, n))
				k++;
		}
		for (i = 0; i < k; i++)
			if (sl_sign_hv_append(hv, &used, p, n) < 0)
				return sl_crypto_fail(err, -E2BIG, "h= list is over %d characters",
						      HLIST_MAX);
		p = c ? c + 1 : p + strlen(p);
	}
	if (!has_from)
		return sl_crypto_fail(err, -EINVAL, "h= list must include From");
	if (count_fields(h, "From", 4) == 0)
		return sl_crypto_fail(err, -EINVAL, "message has no From header field");
	return 0;
}

/* ---- header hashing ---- */

void sl_sign_canon_fields(struct sl_sink *sink, const struct sl_hlist *h, const char *hv,
			  enum sl_dkim_canon canon, uint8_t *used)
{
	const char *p = hv;

	memset(used, 0, h->n);
	while (*p) {
		const char *c = strchr(p, ':');
		const char *name = p;
		size_t n = c ? (size_t)(c - p) : strlen(p);
		size_t i = h->n;

		p = c ? c + 1 : p + n;
		while (n > 0 && (*name == ' ' || *name == '\t')) {
			name++;
			n--;
		}
		while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			n--;
		while (i-- > 0) {
			const struct sl_hfield *f = &h->f[i];

			if (used[i] || !sl_hname_eq(f, name, n))
				continue;
			used[i] = 1;
			if (canon == SL_DKIM_RELAXED)
				sl_canon_header_relaxed(sink, f->p, f->len, 1);
			else
				sl_canon_header_simple(sink, f->p, f->len, 1);
			break;
		}
	}
}

/* Hash the fields named in hv, bottom-up per name, into md. */
static int hash_fields(EVP_MD_CTX *md, const struct sl_hlist *h, const char *hv,
		       enum sl_dkim_canon canon)
{
	struct sl_sink sink;
	uint8_t used_mark[256];
	uint8_t *used = used_mark;
	int rc = 0;

	if (h->n > sizeof(used_mark)) {
		used = malloc(h->n);
		if (!used)
			return -ENOMEM;
	}
	sl_sink_init(&sink, md);
	sl_sign_canon_fields(&sink, h, hv, canon, used);
	if (sl_sink_flush(&sink) < 0)
		rc = -EPROTO;
	if (used != used_mark)
		free(used);
	return rc;
}

/* ---- signature ---- */

/*
 * Per-thread signing contexts, one per recently used key, so that a
 * signature costs the private-key operation and not a provider lookup.
 * An RSA entry is an EVP_PKEY_CTX ready for EVP_PKEY_sign (PKCS#1 v1.5,
 * SHA-256 DigestInfo), which may be called again and again. An Ed25519
 * entry is an EVP_MD_CTX after EVP_DigestSignInit_ex, copied before each
 * one-shot EVP_DigestSign. Entries match on the key's unique id, so a
 * freed key whose address is reused never hits a stale entry, and each
 * context holds its own reference to the EVP_PKEY.
 */
#define SIGN_CACHE 4

struct sign_cache {
	uint64_t key_id;
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *mctx;
};

static __thread struct sign_cache tl_sign[SIGN_CACHE];
static __thread unsigned tl_sign_next;

static void sign_cache_clear(struct sign_cache *c)
{
	EVP_PKEY_CTX_free(c->pctx);
	EVP_MD_CTX_free(c->mctx);
	memset(c, 0, sizeof(*c));
}

static int sign_cache_fill(struct sign_cache *c, const struct sl_dkim_key *key,
			   struct sl_dkim_err *err)
{
	int rc;

	if (key->type == SL_DKIM_KEY_ED25519) {
		c->mctx = EVP_MD_CTX_new();
		if (!c->mctx)
			return sl_crypto_ossl_fail(err, "EVP_MD_CTX_new", "sign");
		rc = sl_crypto_ossl_check(EVP_DigestSignInit_ex(c->mctx, NULL, NULL, NULL, NULL,
								key->pkey, NULL),
					  err, "EVP_DigestSignInit_ex");
	} else {
		c->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
		if (!c->pctx)
			return sl_crypto_ossl_fail(err, "EVP_PKEY_CTX_new_from_pkey", "sign");
		rc = sl_crypto_ossl_check(EVP_PKEY_sign_init(c->pctx), err, "EVP_PKEY_sign_init");
		if (rc == 0)
			rc = sl_crypto_ossl_check(EVP_PKEY_CTX_set_rsa_padding(c->pctx,
									     RSA_PKCS1_PADDING) > 0,
						  err, "EVP_PKEY_CTX_set_rsa_padding");
		if (rc == 0)
			rc = sl_crypto_ossl_check(EVP_PKEY_CTX_set_signature_md(c->pctx,
									      sl_crypto_sha256()) > 0,
						  err, "EVP_PKEY_CTX_set_signature_md");
	}
	if (rc) {
		sign_cache_clear(c);
		return rc;
	}
	c->key_id = key->id;
	return 0;
}

static int sign_cache_get(const struct sl_dkim_key *key, struct sign_cache **out,
			  struct sl_dkim_err *err)
{
	struct sign_cache *c;
	unsigned i;
	int rc;

	for (i = 0; i < SIGN_CACHE; i++) {
		if (tl_sign[i].key_id == key->id && (tl_sign[i].pctx || tl_sign[i].mctx)) {
			*out = &tl_sign[i];
			return 0;
		}
	}
	c = &tl_sign[tl_sign_next++ % SIGN_CACHE];
	sign_cache_clear(c);
	rc = sign_cache_fill(c, key, err);
	if (rc == 0)
		*out = c;
	return rc;
}

/*
 * SLUICE_ED25519=openssl signs Ed25519 with OpenSSL's EVP_DigestSign
 * instead of crypto/ed25519.c, for comparison in tests and benchmarks.
 * Both give the same bytes.
 */
static int ed25519_openssl_env = -1;

int sl_ed25519_openssl(void)
{
	if (ed25519_openssl_env < 0) {
		const char *v = getenv("SLUICE_ED25519");

		ed25519_openssl_env = v && strcmp(v, "openssl") == 0;
	}
	return ed25519_openssl_env;
}

static int sign_ed25519(const struct sl_dkim_key *key, const uint8_t digest[32],
			uint8_t *sig, size_t *siglen, struct sl_dkim_err *err)
{
	const uint8_t *msg = digest;
	size_t len = 32;

	if (*siglen < SL_ED25519_SIG_LEN)
		return sl_crypto_fail(err, -ENOSPC, "signature buffer too small");
	if (sl_ed25519_sign_batch(&key->ed, &msg, &len, 1, (uint8_t(*)[SL_ED25519_SIG_LEN])sig) < 0)
		return sl_crypto_fail(err, -EPROTO, "Ed25519 signing failed (SHA-512)");
	*siglen = SL_ED25519_SIG_LEN;
	return 0;
}

static int sign_digest(const struct sl_dkim_key *key, const uint8_t digest[32],
		       uint8_t *sig, size_t *siglen, struct sl_dkim_err *err)
{
	struct sign_cache *c;
	EVP_MD_CTX *m;
	int rc;

	if (key->type == SL_DKIM_KEY_ED25519 && !sl_ed25519_openssl())
		return sign_ed25519(key, digest, sig, siglen, err);
	rc = sign_cache_get(key, &c, err);
	if (rc)
		return rc;
	if (key->type == SL_DKIM_KEY_RSA)
		return sl_crypto_ossl_check(EVP_PKEY_sign(c->pctx, sig, siglen, digest, 32) > 0,
					    err, "EVP_PKEY_sign");
	m = md_get(&tl_edsign);
	if (!m)
		return sl_crypto_ossl_fail(err, "EVP_MD_CTX_new", "sign");
	rc = sl_crypto_ossl_check(EVP_MD_CTX_copy_ex(m, c->mctx), err, "EVP_MD_CTX_copy_ex");
	if (rc == 0)
		rc = sl_crypto_ossl_check(EVP_DigestSign(m, sig, siglen, digest, 32), err,
					  "EVP_DigestSign");
	return rc;
}

/*
 * Sign Ed25519 digests in groups of ED_GROUP, so that each group shares
 * one field inversion (crypto/ed25519.c). A failure (SHA-512 in OpenSSL)
 * fails the whole group.
 */
#define ED_GROUP 32

static int sign_ed25519_digests(const struct sl_dkim_key *key, const uint8_t (*digests)[32],
				size_t n, uint8_t *sigs, size_t sig_stride, size_t *siglens,
				struct sl_dkim_err *errs)
{
	uint8_t out[ED_GROUP][SL_ED25519_SIG_LEN];
	const uint8_t *msgs[ED_GROUP];
	size_t lens[ED_GROUP];
	int first = 0;

	for (size_t done = 0; done < n; done += ED_GROUP) {
		size_t m = n - done < ED_GROUP ? n - done : ED_GROUP;
		int rc = sig_stride < SL_ED25519_SIG_LEN ? -ENOSPC : 0;

		for (size_t i = 0; i < m; i++) {
			msgs[i] = digests[done + i];
			lens[i] = 32;
		}
		if (rc == 0 && sl_ed25519_sign_batch(&key->ed, msgs, lens, m, out) < 0)
			rc = -EPROTO;
		for (size_t i = 0; i < m; i++) {
			size_t at = done + i;

			siglens[at] = rc ? 0 : SL_ED25519_SIG_LEN;
			if (rc == 0)
				memcpy(sigs + at * sig_stride, out[i], SL_ED25519_SIG_LEN);
			else if (errs)
				sl_crypto_fail(&errs[at], rc, "%s",
					       rc == -ENOSPC ? "signature buffer too small"
							     : "Ed25519 signing failed (SHA-512)");
		}
		if (rc && !first)
			first = rc;
	}
	return first;
}

int sl_dkim_sign_digests(const struct sl_dkim_key *key, const uint8_t (*digests)[32], size_t n,
			 uint8_t *sigs, size_t sig_stride, size_t *siglens,
			 struct sl_dkim_err *errs)
{
	int first = 0;

	if (key->type == SL_DKIM_KEY_ED25519 && !sl_ed25519_openssl())
		return sign_ed25519_digests(key, digests, n, sigs, sig_stride, siglens, errs);

	for (size_t i = 0; i < n; i++) {
		int rc;

		siglens[i] = sig_stride;
		rc = sign_digest(key, digests[i], sigs + i * sig_stride, &siglens[i],
				 errs ? &errs[i] : NULL);
		if (rc == 0)
			continue;
		siglens[i] = 0;
		if (first == 0)
			first = rc;
	}
	return first;
}

/* ---- signer checks ---- */

static int valid_token(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127 || *s == ';' ||
		    *s == '=')
			return 0;
	return 1;
}

int sl_sign_check_signer(const struct sl_dkim_signer *s, const struct sl_dkim_bodyhash *bh,
			 struct sl_dkim_err *err)
{
	unsigned need = s->body_canon == SL_DKIM_RELAXED ? SL_DKIM_BODY_RELAXED
							 : SL_DKIM_BODY_SIMPLE;

	if (!s->key)
		return sl_crypto_fail(err, -EINVAL, "signer has no key");
	if (!valid_token(s->domain))
		return sl_crypto_fail(err, -EINVAL, "invalid signing domain \"%s\"",
				      s->domain ? s->domain : "");
	if (!valid_token(s->selector))
		return sl_crypto_fail(err, -EINVAL, "invalid selector \"%s\"",
				      s->selector ? s->selector : "");
	if (s->identity) {
		const char *at = strrchr(s->identity, '@');
		size_t dl = strlen(s->domain), il;

		if (!valid_token(s->identity) || !at)
			return sl_crypto_fail(err, -EINVAL, "invalid identity \"%s\"", s->identity);
		il = strlen(at + 1);
		if (!(strcasecmp(at + 1, s->domain) == 0 ||
		      (il > dl && at[il - dl] == '.' && strcasecmp(at + 1 + il - dl, s->domain) == 0)))
			return sl_crypto_fail(err, -EINVAL,
					      "identity \"%s\" is not in domain %s or a "
					      "subdomain", s->identity, s->domain);
	}
	if (!(bh->mask & need))
		return sl_crypto_fail(err, -EINVAL, "no %s body hash stored for this message",
				      s->body_canon == SL_DKIM_RELAXED ? "relaxed" : "simple");
	return 0;
}

/* ---- one signature field ---- */

/* c= values indexed by [header][body] canonicalization. */
static const char *const canon_names[2][2] = {
	{ "simple/simple", "simple/relaxed" },
	{ "relaxed/simple", "relaxed/relaxed" },
};

/* Decimal text of a non-negative time value. */
static const char *decimal(char buf[24], int64_t v)
{
	char *p = buf + 23;
	uint64_t u = v < 0 ? 0 : (uint64_t)v;

	*p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	return p;
}

void sl_sign_build_field(struct sl_fold *f, const struct sl_dkim_signer *s, const char *hv,
			 const struct sl_dkim_bodyhash *bh, int64_t now)
{
	char num[24], bh64[48];
	const uint8_t *b = s->body_canon == SL_DKIM_RELAXED ? bh->relaxed : bh->simple;

	f->len = 0;
	f->col = 0;
	f->overflow = 0;
	fold_raw(f, "DKIM-Signature: v=1;", 20);
	f->col = 20;
	fold_tag(f, "a=", sl_dkim_key_algorithm(s->key));
	fold_tag(f, "c=", canon_names[s->header_canon == SL_DKIM_RELAXED]
				     [s->body_canon == SL_DKIM_RELAXED]);
	fold_tag(f, "d=", s->domain);
	fold_tag(f, "s=", s->selector);
	fold_tag(f, "t=", decimal(num, now));
	if (s->expire) {
		fold_tag(f, "x=", decimal(num, now + (int64_t)s->expire));
	}
	if (s->identity)
		fold_tag(f, "i=", s->identity);
	fold_hlist(f, hv);
	sl_b64_encode(bh64, b, 32);
	fold_tag(f, "bh=", bh64);
	fold_b_tag(f);
}

int sl_sign_finish_field(struct sl_fold *f, const uint8_t *sig, size_t siglen,
			 struct sl_dkim_err *err)
{
	char b64[SIG_MAX * 4 / 3 + 8];
	size_t n = sl_b64_encode(b64, sig, siglen);

	fold_b_value(f, b64, n);
	fold_raw(f, "\r\n", 2);
	if (f->overflow)
		return sl_crypto_fail(err, -E2BIG, "DKIM-Signature field too long");
	return 0;
}

static int sign_one(const struct sl_dkim_signer *s, EVP_MD_CTX *prefix, const char *hv,
		    const struct sl_dkim_bodyhash *bh, int64_t now, struct sl_dkim_out *out,
		    struct sl_dkim_err *err)
{
	char field[FIELD_MAX];
	uint8_t digest[32], sig[SIG_MAX];
	size_t siglen = sizeof(sig);
	struct sl_fold f = { .buf = field, .cap = sizeof(field) };
	struct sl_sink sink;
	EVP_MD_CTX *work = md_get(&tl_work);
	int rc;

	if (!work)
		return sl_crypto_ossl_fail(err, "EVP_MD_CTX_new", "sign");
	sl_sign_build_field(&f, s, hv, bh, now);
	if (f.overflow)
		return sl_crypto_fail(err, -E2BIG, "DKIM-Signature field too long");
	rc = sl_crypto_ossl_check(EVP_MD_CTX_copy_ex(work, prefix), err, "EVP_MD_CTX_copy_ex");
	if (rc)
		return rc;
	sl_sink_init(&sink, work);
	if (s->header_canon == SL_DKIM_RELAXED)
		sl_canon_header_relaxed(&sink, (const uint8_t *)field, f.len, 0);
	else
		sl_canon_header_simple(&sink, (const uint8_t *)field, f.len, 0);
	if (sl_sink_flush(&sink) < 0)
		return sl_crypto_ossl_fail(err, "EVP_DigestUpdate", "header hash");
	rc = sl_crypto_ossl_check(EVP_DigestFinal_ex(work, digest, NULL), err,
				  "EVP_DigestFinal_ex");
	if (rc)
		return rc;
	rc = sign_digest(s->key, digest, sig, &siglen, err);
	if (rc == 0)
		rc = sl_sign_finish_field(&f, sig, siglen, err);
	if (rc)
		return rc;
	if (sl_out_put(out, field, f.len) < 0)
		return sl_crypto_fail(err, -ENOMEM, "out of memory for signature output");
	return 0;
}

int sl_dkim_sign(const struct sl_dkim_signer *signers, size_t nsigners,
		 const void *headers, size_t hlen, const struct sl_dkim_bodyhash *bh,
		 int64_t now, struct sl_dkim_out *out, struct sl_dkim_err *err)
{
	static __thread char hv[MAX_SIGNERS][HLIST_MAX];
	struct sl_hlist h;
	size_t i, j, group[MAX_SIGNERS];
	int rc;

	out->len = 0;
	if (nsigners == 0 || nsigners > MAX_SIGNERS)
		return sl_crypto_fail(err, -EINVAL, "%zu signers given, need 1 to %d", nsigners,
				      MAX_SIGNERS);
	sl_hlist_init(&h);
	rc = sl_hlist_parse(&h, headers, hlen, err);
	for (i = 0; rc == 0 && i < nsigners; i++) {
		rc = sl_sign_check_signer(&signers[i], bh, err);
		if (rc == 0)
			rc = sl_sign_resolve_hlist(&signers[i], &h, hv[i], err);
	}

	/* One prefix hash per distinct (header canonicalization, h= list). */
	for (i = 0; rc == 0 && i < nsigners; i++) {
		group[i] = i;
		for (j = 0; j < i; j++) {
			if (signers[j].header_canon == signers[i].header_canon &&
			    strcmp(hv[j], hv[i]) == 0) {
				group[i] = group[j];
				break;
			}
		}
		if (group[i] != i)
			continue;
		if (!md_get(&tl_prefix[i])) {
			rc = sl_crypto_ossl_fail(err, "EVP_MD_CTX_new", "sign");
			break;
		}
		rc = sl_crypto_ossl_check(EVP_DigestInit_ex(tl_prefix[i], sl_crypto_sha256(), NULL),
					  err, "EVP_DigestInit_ex");
		if (rc == 0 && hash_fields(tl_prefix[i], &h, hv[i], signers[i].header_canon) < 0)
			rc = sl_crypto_ossl_fail(err, "EVP_DigestUpdate", "header hash");
	}

	for (i = 0; rc == 0 && i < nsigners; i++)
		rc = sign_one(&signers[i], tl_prefix[group[i]], hv[i], bh, now, out, err);
	sl_hlist_free(&h);
	if (rc)
		out->len = 0;
	return rc;
}

/*
 * Sign a caller-built DKIM-Signature field whose b= value is empty (used
 * for published test vectors, whose layout sl_dkim_sign does not produce).
 * Writes the base64 signature, without folding, into b64.
 */
int sl_dkim_sign_field(const struct sl_dkim_key *key, enum sl_dkim_canon hc,
		       const char *hlist, const void *headers, size_t hlen,
		       const char *field, size_t flen, char *b64, size_t cap,
		       struct sl_dkim_err *err)
{
	uint8_t digest[32], sig[SIG_MAX];
	size_t siglen = sizeof(sig);
	struct sl_hlist h;
	struct sl_sink sink;
	EVP_MD_CTX *md = md_get(&tl_work);
	int rc;

	if (!md)
		return sl_crypto_ossl_fail(err, "EVP_MD_CTX_new", "sign");
	sl_hlist_init(&h);
	rc = sl_hlist_parse(&h, headers, hlen, err);
	if (rc == 0)
		rc = sl_crypto_ossl_check(EVP_DigestInit_ex(md, sl_crypto_sha256(), NULL), err,
					  "EVP_DigestInit_ex");
	if (rc == 0 && hash_fields(md, &h, hlist, hc) < 0)
		rc = sl_crypto_ossl_fail(err, "EVP_DigestUpdate", "header hash");
	sl_hlist_free(&h);
	if (rc)
		return rc;
	sl_sink_init(&sink, md);
	if (hc == SL_DKIM_RELAXED)
		sl_canon_header_relaxed(&sink, (const uint8_t *)field, flen, 0);
	else
		sl_canon_header_simple(&sink, (const uint8_t *)field, flen, 0);
	if (sl_sink_flush(&sink) < 0)
		return sl_crypto_ossl_fail(err, "EVP_DigestUpdate", "header hash");
	rc = sl_crypto_ossl_check(EVP_DigestFinal_ex(md, digest, NULL), err,
				  "EVP_DigestFinal_ex");
	if (rc == 0)
		rc = sign_digest(key, digest, sig, &siglen, err);
	if (rc)
		return rc;
	if ((siglen + 2) / 3 * 4 + 1 > cap)
		return sl_crypto_fail(err, -ENOSPC, "signature buffer too small");
	sl_b64_encode(b64, sig, siglen);
	return 0;
}

/* ---- output buffer ---- */

int sl_out_reserve(struct sl_dkim_out *o, size_t more)
{
	size_t cap;
	char *d;

	if (o->len + more + 1 <= o->cap)
		return 0;
	cap = o->cap ? o->cap : 1024;
	while (cap < o->len + more + 1)
		cap *= 2;
	d = realloc(o->data, cap);
	if (!d)
		return -ENOMEM;
	o->data = d;
	o->cap = cap;
	return 0;
}

int sl_out_put(struct sl_dkim_out *o, const void *p, size_t n)
{
	if (sl_out_reserve(o, n) < 0)
		return -ENOMEM;
	memcpy(o->data + o->len, p, n);
	o->len += n;
	o->data[o->len] = '\0';
	return 0;
}

void sl_dkim_out_free(struct sl_dkim_out *o)
{
	free(o->data);
	o->data = NULL;
	o->len = 0;
	o->cap = 0;
}

void sl_dkim_thread_cleanup(void)
{
	size_t i;

	for (i = 0; i < MAX_SIGNERS; i++) {
		EVP_MD_CTX_free(tl_prefix[i]);
		tl_prefix[i] = NULL;
	}
	EVP_MD_CTX_free(tl_work);
	EVP_MD_CTX_free(tl_edsign);
	tl_work = NULL;
	tl_edsign = NULL;
	for (i = 0; i < SIGN_CACHE; i++)
		sign_cache_clear(&tl_sign[i]);
	sl_sign_batch_thread_cleanup();
	sl_ed25519_thread_cleanup();
}
