/*
 * crypto/verify.c - DKIM verification (RFC 6376 section 6, RFC 8463,
 * RFC 8301), for tests and debugging.
 *
 * Every DKIM-Signature field is checked on its own and gets one result:
 *   permerror  the signature or key record cannot be used: tag-list syntax,
 *              a missing required tag, v= not 1, unknown or rsa-sha1 a=,
 *              i= outside d=, h= without From, x= passed or before t=, no
 *              key record, k= not matching a=, key h= without sha256, key
 *              s= without email, t=s with an i= in a subdomain, an empty
 *              p= (revoked key), an RSA key under 1024 bits
 *   temperror  the DNS callback reported a temporary failure
 *   fail       body hash or signature mismatch
 *   pass       everything checked out
 * The header hash uses the signature field with the b= tag value and the
 * whitespace around it deleted, located by the tag-list parser, so other
 * text that contains "b=" (inside bh= or a header value) is never touched.
 *
 * Limits: one DNS answer string of at most 8 KB per key record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/internal.h"

#define MAX_TAGS 32
#define TXT_MAX 8192

struct tag {
	const char *name;
	size_t name_len;
	const char *value;     /* FWS trimmed */
	size_t value_len;
	size_t raw_start;      /* offset just after '=' */
	size_t raw_end;        /* offset of ';' or the end */
};

struct taglist {
	struct tag t[MAX_TAGS];
	size_t n;
};

static int is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parse "tag=value; tag=value[;]" (RFC 6376 section 3.2). */
static int taglist_parse(struct taglist *tl, const char *s, size_t len, const char **problem)
{
	size_t i = 0, k;

	tl->n = 0;
	while (i < len) {
		struct tag *t;

		while (i < len && is_fws(s[i]))
			i++;
		if (i == len)
			break;
		if (tl->n == MAX_TAGS) {
			*problem = "too many tags";
			return -1;
		}
		t = &tl->t[tl->n];
		if (!is_alpha(s[i])) {
			*problem = "tag name does not start with a letter";
			return -1;
		}
		t->name = s + i;
		while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_'))
			i++;
		t->name_len = (size_t)(s + i - t->name);
		while (i < len && is_fws(s[i]))
			i++;
		if (i == len || s[i] != '=') {
			*problem = "tag without '='";
			return -1;
		}
		i++;
		t->raw_start = i;
		while (i < len && s[i] != ';')
			i++;
		t->raw_end = i;
		t->value = s + t->raw_start;
		t->value_len = i - t->raw_start;
		while (t->value_len && is_fws(t->value[0])) {
			t->value++;
			t->value_len--;
		}
		while (t->value_len && is_fws(t->value[t->value_len - 1]))
			t->value_len--;
		for (k = 0; k < tl->n; k++) {
			if (tl->t[k].name_len == t->name_len &&
			    memcmp(tl->t[k].name, t->name, t->name_len) == 0) {
				*problem = "duplicate tag";
				return -1;
			}
		}
		tl->n++;
		if (i < len)
			i++;  /* the ';' */
	}
	return 0;
}

static const struct tag *tag_get(const struct taglist *tl, const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i < tl->n; i++)
		if (tl->t[i].name_len == n && memcmp(tl->t[i].name, name, n) == 0)
			return &tl->t[i];
	return NULL;
}

static int tag_is(const struct tag *t, const char *value)
{
	return t && t->value_len == strlen(value) && strncasecmp(t->value, value, t->value_len) == 0;
}

/* Does a colon-separated list (with FWS) contain item, case-insensitive? */
static int list_has(const char *p, size_t len, const char *item)
{
	const char *end = p + len;
	size_t n = strlen(item);

	while (p < end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *e = c ? c : end, *q = p;

		while (q < e && is_fws(*q))
			q++;
		while (e > q && is_fws(e[-1]))
			e--;
		if ((size_t)(e - q) == n && strncasecmp(q, item, n) == 0)
			return 1;
		p = c ? c + 1 : end;
	}
	return 0;
}

static int parse_u64(const struct tag *t, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (!t || t->value_len == 0 || t->value_len > 19)
		return -1;
	for (i = 0; i < t->value_len; i++) {
		if (!is_digit(t->value[i]))
			return -1;
		*v = *v * 10 + (uint64_t)(t->value[i] - '0');
	}
	return 0;
}

/* ---- result helpers ---- */

static void copy_value(char *dst, size_t cap, const struct tag *t)
{
	size_t n = t ? t->value_len : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, t->value, n);
	dst[n] = '\0';
}

static int result(struct sl_dkim_result *r, enum sl_dkim_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int result(struct sl_dkim_result *r, enum sl_dkim_status st, const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return 0;
}

const char *sl_dkim_status_name(enum sl_dkim_status status)
{
	static const char *const names[] = {
		[SL_DKIM_PASS] = "pass",
		[SL_DKIM_FAIL] = "fail",
		[SL_DKIM_PERMERROR] = "permerror",
		[SL_DKIM_TEMPERROR] = "temperror",
	};

	return (unsigned)status < 4 ? names[status] : "unknown";
}

/* ---- one signature ---- */

struct vctx {
	const uint8_t *body;
	size_t body_len;
	const struct sl_hlist *h;
	sl_dkim_dns_fn dns;
	void *dns_arg;
	int64_t now;
};

struct sig {
	struct taglist tags;
	enum sl_dkim_keytype type;
	enum sl_dkim_canon hc, bc;
	const struct tag *d, *s, *i, *h, *b, *bh;
	char idomain[256];
	uint64_t l;
	int has_l;
};

static int parse_canon(const struct tag *c, struct sig *sg)
{
	const char *v;
	size_t n, slash;

	sg->hc = sg->bc = SL_DKIM_SIMPLE;
	if (!c)
		return 0;
	v = c->value;
	n = c->value_len;
	for (slash = 0; slash < n && v[slash] != '/'; slash++)
		;
	if (slash == 7 && strncasecmp(v, "relaxed", 7) == 0)
		sg->hc = SL_DKIM_RELAXED;
	else if (!(slash == 6 && strncasecmp(v, "simple", 6) == 0))
		return -1;
	if (slash == n)
		return 0;
	v += slash + 1;
	n -= slash + 1;
	if (n == 7 && strncasecmp(v, "relaxed", 7) == 0)
		sg->bc = SL_DKIM_RELAXED;
	else if (!(n == 6 && strncasecmp(v, "simple", 6) == 0))
		return -1;
	return 0;
}

/* i= domain is d= or a subdomain of it. */
static int identity_in_domain(const char *idom, const struct tag *d)
{
	size_t il = strlen(idom), dl = d->value_len;

	if (il == dl)
		return strncasecmp(idom, d->value, dl) == 0;
	return il > dl && idom[il - dl - 1] == '.' &&
	       strncasecmp(idom + il - dl, d->value, dl) == 0;
}

/* Check the signature's own tags; fills r on a permerror and returns 1. */
static int check_sig_tags(struct sig *sg, const struct vctx *v, struct sl_dkim_result *r)
{
	const struct taglist *tl = &sg->tags;
	const struct tag *a = tag_get(tl, "a"), *q, *t, *x;
	uint64_t tv = 0, xv = 0;

	copy_value(r->algorithm, sizeof(r->algorithm), a);
	if (!tag_is(tag_get(tl, "v"), "1"))
		return !result(r, SL_DKIM_PERMERROR, "v= is missing or not 1");
	if (!a || !sg->b || !sg->bh || !sg->d || !sg->h || !sg->s)
		return !result(r, SL_DKIM_PERMERROR, "a required tag (a, b, bh, d, h, s) is missing");
	if (sg->d->value_len == 0 || sg->d->value_len >= sizeof(r->domain) ||
	    sg->s->value_len == 0 || sg->s->value_len >= sizeof(r->selector))
		return !result(r, SL_DKIM_PERMERROR, "d= or s= is empty or too long");
	if (tag_is(a, "rsa-sha256"))
		sg->type = SL_DKIM_KEY_RSA;
	else if (tag_is(a, "ed25519-sha256"))
		sg->type = SL_DKIM_KEY_ED25519;
	else if (tag_is(a, "rsa-sha1"))
		return !result(r, SL_DKIM_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
	else
		return !result(r, SL_DKIM_PERMERROR, "unknown algorithm a=%s", r->algorithm);
	if (parse_canon(tag_get(tl, "c"), sg) < 0)
		return !result(r, SL_DKIM_PERMERROR, "invalid c= value");
	if (!list_has(sg->h->value, sg->h->value_len, "from"))
		return !result(r, SL_DKIM_PERMERROR, "h= does not include From");
	if (sg->i) {
		const char *at = memchr(sg->i->value, '@', sg->i->value_len);
		size_t n;

		if (!at)
			return !result(r, SL_DKIM_PERMERROR, "i= has no '@'");
		n = sg->i->value_len - (size_t)(at + 1 - sg->i->value);
		if (n >= sizeof(sg->idomain))
			n = sizeof(sg->idomain) - 1;
		memcpy(sg->idomain, at + 1, n);
		sg->idomain[n] = '\0';
	} else {
		copy_value(sg->idomain, sizeof(sg->idomain), sg->d);
	}
	if (!identity_in_domain(sg->idomain, sg->d))
		return !result(r, SL_DKIM_PERMERROR, "i= domain is not d= or a subdomain of it");
	q = tag_get(tl, "q");
	if (q && !list_has(q->value, q->value_len, "dns/txt"))
		return !result(r, SL_DKIM_PERMERROR, "q= does not offer dns/txt");
	sg->has_l = tag_get(tl, "l") != NULL;
	if (sg->has_l && parse_u64(tag_get(tl, "l"), &sg->l) < 0)
		return !result(r, SL_DKIM_PERMERROR, "invalid l= value");
	t = tag_get(tl, "t");
	x = tag_get(tl, "x");
	if (t && parse_u64(t, &tv) < 0)
		return !result(r, SL_DKIM_PERMERROR, "invalid t= value");
	if (x && parse_u64(x, &xv) < 0)
		return !result(r, SL_DKIM_PERMERROR, "invalid x= value");
	if (t && x && xv < tv)
		return !result(r, SL_DKIM_PERMERROR, "x= is before t=");
	if (x && v->now > 0 && xv < (uint64_t)v->now)
		return !result(r, SL_DKIM_PERMERROR, "signature expired (x=%llu)",
			       (unsigned long long)xv);
	return 0;
}

/* Fetch and check the key record; returns the public key or NULL with r set. */
static EVP_PKEY *fetch_key(struct sig *sg, const struct vctx *v, struct sl_dkim_result *r)
{
	char name[600], *txt;
	struct taglist kt;
	const struct tag *k, *p, *kh, *ks, *kf;
	const char *problem = NULL;
	uint8_t der[2048];
	const uint8_t *dp = der;
	EVP_PKEY *pkey = NULL;
	long n;
	int len;

	snprintf(name, sizeof(name), "%s._domainkey.%s", r->selector, r->domain);
	txt = malloc(TXT_MAX);
	if (!txt) {
		result(r, SL_DKIM_TEMPERROR, "out of memory");
		return NULL;
	}
	len = v->dns(v->dns_arg, name, txt, TXT_MAX);
	if (len == -ENOENT) {
		result(r, SL_DKIM_PERMERROR, "no key record at %s", name);
		goto out;
	}
	if (len < 0 || len >= TXT_MAX) {
		result(r, SL_DKIM_TEMPERROR, "key lookup for %s failed", name);
		goto out;
	}
	if (taglist_parse(&kt, txt, (size_t)len, &problem) < 0) {
		result(r, SL_DKIM_PERMERROR, "key record syntax: %s", problem);
		goto out;
	}
	k = tag_get(&kt, "k");
	p = tag_get(&kt, "p");
	kh = tag_get(&kt, "h");
	ks = tag_get(&kt, "s");
	kf = tag_get(&kt, "t");
	if (tag_get(&kt, "v") && !tag_is(tag_get(&kt, "v"), "DKIM1")) {
		result(r, SL_DKIM_PERMERROR, "key record v= is not DKIM1");
		goto out;
	}
	if (!p) {
		result(r, SL_DKIM_PERMERROR, "key record has no p=");
		goto out;
	}
	if (p->value_len == 0) {
		result(r, SL_DKIM_PERMERROR, "key revoked (empty p=)");
		goto out;
	}
	if ((sg->type == SL_DKIM_KEY_RSA && k && !tag_is(k, "rsa")) ||
	    (sg->type == SL_DKIM_KEY_ED25519 && !tag_is(k, "ed25519"))) {
		result(r, SL_DKIM_PERMERROR, "key type k= does not match a=%s", r->algorithm);
		goto out;
	}
	if (kh && !list_has(kh->value, kh->value_len, "sha256")) {
		result(r, SL_DKIM_PERMERROR, "key h= does not allow sha256");
		goto out;
	}
	if (ks && !list_has(ks->value, ks->value_len, "email") &&
	    !list_has(ks->value, ks->value_len, "*")) {
		result(r, SL_DKIM_PERMERROR, "key s= does not allow email");
		goto out;
	}
	if (kf && list_has(kf->value, kf->value_len, "s") &&
	    !(strlen(sg->idomain) == sg->d->value_len &&
	      strncasecmp(sg->idomain, sg->d->value, sg->d->value_len) == 0)) {
		result(r, SL_DKIM_PERMERROR, "key t=s forbids an i= subdomain");
		goto out;
	}
	n = sl_b64_decode(der, sizeof(der), p->value, p->value_len);
	if (n <= 0) {
		result(r, SL_DKIM_PERMERROR, "key p= is not valid base64");
		goto out;
	}
	if (sg->type == SL_DKIM_KEY_ED25519) {
		if (n != 32) {
			result(r, SL_DKIM_PERMERROR, "Ed25519 key is %ld bytes, not 32", n);
			goto out;
		}
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
	} else {
		pkey = d2i_PUBKEY(NULL, &dp, n);
		if (!pkey) {
			dp = der;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &dp, n);
		}
		if (pkey && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		if (pkey && EVP_PKEY_get_bits(pkey) < SL_DKIM_RSA_MIN_BITS) {
			result(r, SL_DKIM_PERMERROR, "RSA key of %d bits is under the %d-bit minimum",
			       EVP_PKEY_get_bits(pkey), SL_DKIM_RSA_MIN_BITS);
			EVP_PKEY_free(pkey);
			pkey = NULL;
			goto out;
		}
	}
	/* A failed d2i_PUBKEY before a good d2i_PublicKey leaves errors queued. */
	sl_crypto_ossl_clear();
	if (!pkey)
		result(r, SL_DKIM_PERMERROR, "key p= is not a valid %s public key",
		       sg->type == SL_DKIM_KEY_RSA ? "RSA" : "Ed25519");
out:
	OPENSSL_cleanse(der, sizeof(der));
	free(txt);
	return pkey;
}

/* Compute the body hash for the signature's c= and l=. */
static int body_hash(const struct sig *sg, const struct vctx *v, uint8_t out[32],
		     const char **problem)
{
	struct sl_canon_body st;
	struct sl_sink sink;
	int rc = 0;

	sl_canon_body_init(&st);
	sl_sink_init(&sink, NULL);
	if (sg->bc == SL_DKIM_RELAXED) {
		sl_canon_body_relaxed_scalar(&st, &sink, v->body, v->body_len);
		sl_canon_body_relaxed_end(&st, &sink);
	} else {
		sl_canon_body_simple_scalar(&st, &sink, v->body, v->body_len);
		sl_canon_body_simple_end(&st, &sink);
	}
	if (sl_sink_flush(&sink) < 0) {
		*problem = "out of memory";
		rc = -1;
	} else if (sg->has_l && sg->l > sink.mem_len) {
		*problem = "l= is longer than the body";
		rc = -1;
	} else {
		size_t n = sg->has_l ? (size_t)sg->l : sink.mem_len;

		if (EVP_Digest(sink.mem ? sink.mem : (const uint8_t *)"", n, out, NULL,
			       sl_crypto_sha256(), NULL) != 1) {
			*problem = "EVP_Digest failed";
			rc = -1;
		}
	}
	sl_sink_free(&sink);
	return rc;
}

/* Hash the selected header fields, bottom-up, then the signature field. */
static int header_hash(const struct sig *sg, const struct vctx *v,
		       const struct sl_hfield *sf, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct sl_sink sink;
	uint8_t *used = calloc(v->h->n + 1, 1);
	const char *p = sg->h->value, *end = p + sg->h->value_len;
	const char *val = memchr(sf->p, ':', sf->len);
	uint8_t *copy = malloc(sf->len);
	size_t vo, cut0, cut1, n;
	int rc = -1;

	if (!md || !used || !copy || EVP_DigestInit_ex(md, sl_crypto_sha256(), NULL) != 1)
		goto out;
	sl_sink_init(&sink, md);
	while (p < end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *e = c ? c : end, *q = p;
		size_t i = v->h->n;

		while (q < e && is_fws(*q))
			q++;
		while (e > q && is_fws(e[-1]))
			e--;
		while (i-- > 0) {
			const struct sl_hfield *f = &v->h->f[i];

			if (used[i] || !sl_hname_eq(f, q, (size_t)(e - q)))
				continue;
			used[i] = 1;
			if (sg->hc == SL_DKIM_RELAXED)
				sl_canon_header_relaxed(&sink, f->p, f->len, 1);
			else
				sl_canon_header_simple(&sink, f->p, f->len, 1);
			break;
		}
		p = c ? c + 1 : end;
	}

	/* The signature field without its b= value: cut raw_start..raw_end. */
	vo = (size_t)((const uint8_t *)val + 1 - sf->p);
	cut0 = vo + sg->b->raw_start;
	cut1 = vo + sg->b->raw_end;
	memcpy(copy, sf->p, cut0);
	memcpy(copy + cut0, sf->p + cut1, sf->len - cut1);
	n = sf->len - (cut1 - cut0);
	if (sg->hc == SL_DKIM_RELAXED)
		sl_canon_header_relaxed(&sink, copy, n, 0);
	else
		sl_canon_header_simple(&sink, copy, n, 0);
	if (sl_sink_flush(&sink) == 0 && EVP_DigestFinal_ex(md, out, NULL) == 1)
		rc = 0;
out:
	free(copy);
	free(used);
	EVP_MD_CTX_free(md);
	return rc;
}

/* Returns 0 when sig is a valid signature of digest, else a negative errno. */
static int check_signature(EVP_PKEY *pkey, enum sl_dkim_keytype type,
			   const uint8_t digest[32], const uint8_t *sig, size_t siglen)
{
	int rc;

	if (type == SL_DKIM_KEY_ED25519) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		rc = sl_crypto_ossl_check(m != NULL, NULL, "EVP_MD_CTX_new");
		if (rc == 0)
			rc = sl_crypto_ossl_check(EVP_DigestVerifyInit_ex(m, NULL, NULL, NULL, NULL,
									  pkey, NULL),
						  NULL, "EVP_DigestVerifyInit_ex");
		if (rc == 0)
			rc = sl_crypto_ossl_check(EVP_DigestVerify(m, sig, siglen, digest, 32), NULL,
						  "EVP_DigestVerify");
		EVP_MD_CTX_free(m);
		return rc;
	}

	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

	rc = sl_crypto_ossl_check(pc != NULL, NULL, "EVP_PKEY_CTX_new_from_pkey");
	if (rc == 0)
		rc = sl_crypto_ossl_check(EVP_PKEY_verify_init(pc), NULL, "EVP_PKEY_verify_init");
	if (rc == 0)
		rc = sl_crypto_ossl_check(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0,
					  NULL, "EVP_PKEY_CTX_set_rsa_padding");
	if (rc == 0)
		rc = sl_crypto_ossl_check(EVP_PKEY_CTX_set_signature_md(pc, sl_crypto_sha256()) > 0,
					  NULL, "EVP_PKEY_CTX_set_signature_md");
	if (rc == 0)
		rc = sl_crypto_ossl_check(EVP_PKEY_verify(pc, sig, siglen, digest, 32), NULL,
					  "EVP_PKEY_verify");
	EVP_PKEY_CTX_free(pc);
	return rc;
}

static void verify_one(const struct vctx *v, const struct sl_hfield *sf,
		       struct sl_dkim_result *r)
{
	struct sig sg;
	const char *val = memchr(sf->p, ':', sf->len), *problem = NULL;
	uint8_t bh[32], want_bh[64], digest[32], sigbytes[1024];
	long n, sn;
	EVP_PKEY *pkey;

	memset(r, 0, sizeof(*r));
	memset(&sg, 0, sizeof(sg));
	val++;
	if (taglist_parse(&sg.tags, val, sf->len - (size_t)((const uint8_t *)val - sf->p),
			  &problem) < 0) {
		result(r, SL_DKIM_PERMERROR, "signature tag list: %s", problem);
		return;
	}
	sg.d = tag_get(&sg.tags, "d");
	sg.s = tag_get(&sg.tags, "s");
	sg.i = tag_get(&sg.tags, "i");
	sg.h = tag_get(&sg.tags, "h");
	sg.b = tag_get(&sg.tags, "b");
	sg.bh = tag_get(&sg.tags, "bh");
	copy_value(r->domain, sizeof(r->domain), sg.d);
	copy_value(r->selector, sizeof(r->selector), sg.s);
	if (check_sig_tags(&sg, v, r))
		return;
	n = sl_b64_decode(want_bh, sizeof(want_bh), sg.bh->value, sg.bh->value_len);
	sn = sl_b64_decode(sigbytes, sizeof(sigbytes), sg.b->value, sg.b->value_len);
	if (n != 32 || sn <= 0) {
		result(r, SL_DKIM_PERMERROR, "%s is not valid base64 of the right size",
		       n != 32 ? "bh=" : "b=");
		return;
	}
	pkey = fetch_key(&sg, v, r);
	if (!pkey)
		return;
	if (body_hash(&sg, v, bh, &problem) < 0) {
		result(r, SL_DKIM_PERMERROR, "body hash: %s", problem);
	} else if (memcmp(bh, want_bh, 32) != 0) {
		result(r, SL_DKIM_FAIL, "body hash mismatch");
	} else if (header_hash(&sg, v, sf, digest) < 0) {
		result(r, SL_DKIM_TEMPERROR, "header hash failed (out of memory)");
	} else if (check_signature(pkey, sg.type, digest, sigbytes, (size_t)sn) < 0) {
		result(r, SL_DKIM_FAIL, "signature did not verify");
	} else {
		result(r, SL_DKIM_PASS, "good signature");
	}
	EVP_PKEY_free(pkey);
}

int sl_dkim_verify(const void *msg, size_t len, sl_dkim_dns_fn dns, void *dns_arg,
		   int64_t now, struct sl_dkim_result *results, size_t max, size_t *count,
		   struct sl_dkim_err *err)
{
	struct sl_hlist h;
	struct vctx v;
	size_t hend, body, i, found = 0;
	int rc;

	*count = 0;
	hend = sl_dkim_header_end(msg, len, &body);
	sl_hlist_init(&h);
	rc = sl_hlist_parse(&h, msg, hend, err);
	if (rc) {
		sl_hlist_free(&h);
		return rc;
	}
	v.body = (const uint8_t *)msg + body;
	v.body_len = len - body;
	v.h = &h;
	v.dns = dns;
	v.dns_arg = dns_arg;
	v.now = now;
	for (i = 0; i < h.n; i++) {
		if (!sl_hname_eq(&h.f[i], "DKIM-Signature", 14))
			continue;
		if (found < max)
			verify_one(&v, &h.f[i], &results[found]);
		found++;
	}
	*count = found;
	sl_hlist_free(&h);
	return 0;
}
