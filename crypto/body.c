/*
 * crypto/body.c - streaming DKIM body hash (accept time).
 *
 * sl_dkim_body_init starts a SHA-256 per requested canonicalization,
 * sl_dkim_body_update feeds any chunk to each canonicalizer in turn (the
 * function table sl_canon_active picks the scalar or a SIMD loop), and
 * sl_dkim_body_final ends the canonical forms and writes struct
 * sl_dkim_bodyhash. The digest contexts live in the struct and are reused
 * by the next init, so a long-lived hasher allocates nothing per message.
 */
#include <errno.h>
#include <string.h>

#include "crypto/internal.h"
#include "crypto/simd/cpu.h"

int sl_dkim_body_init(struct sl_dkim_body *b, unsigned mask, struct sl_dkim_err *err)
{
	int i, rc;

	sl_simd_init();  /* picks sl_canon_active once, from the CPU */
	mask &= SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED;
	if (!mask)
		return sl_crypto_fail(err, -EINVAL, "body hash: no canonicalization requested");
	b->mask = mask;
	for (i = 0; i < 2; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (!b->md[i] && !(b->md[i] = EVP_MD_CTX_new()))
			return sl_crypto_ossl_fail(err, "EVP_MD_CTX_new", "body hash");
		rc = sl_crypto_ossl_check(EVP_DigestInit_ex(b->md[i], sl_crypto_sha256(), NULL),
					  err, "EVP_DigestInit_ex");
		if (rc)
			return rc;
		sl_canon_body_init(&b->st[i]);
		sl_sink_init(&b->sink[i], b->md[i]);
	}
	return 0;
}

void sl_dkim_body_update(struct sl_dkim_body *b, const void *data, size_t len)
{
	const struct sl_canon_ops *ops = sl_canon_active;

	if (b->mask & SL_DKIM_BODY_SIMPLE)
		ops->body_simple(&b->st[SL_DKIM_SIMPLE], &b->sink[SL_DKIM_SIMPLE], data, len);
	if (b->mask & SL_DKIM_BODY_RELAXED)
		ops->body_relaxed(&b->st[SL_DKIM_RELAXED], &b->sink[SL_DKIM_RELAXED], data,
				  len);
}

int sl_dkim_body_final(struct sl_dkim_body *b, struct sl_dkim_bodyhash *out,
		       struct sl_dkim_err *err)
{
	uint8_t *dst[2] = { out->simple, out->relaxed };
	int i;

	memset(out, 0, sizeof(*out));
	if (b->mask & SL_DKIM_BODY_SIMPLE)
		sl_canon_body_simple_end(&b->st[0], &b->sink[0]);
	if (b->mask & SL_DKIM_BODY_RELAXED)
		sl_canon_body_relaxed_end(&b->st[1], &b->sink[1]);
	for (i = 0; i < 2; i++) {
		if (!(b->mask & (1u << i)))
			continue;
		if (sl_sink_flush(&b->sink[i]) < 0)
			return sl_crypto_ossl_fail(err, "EVP_DigestUpdate", "body hash");
		if (EVP_DigestFinal_ex(b->md[i], dst[i], NULL) != 1)
			return sl_crypto_ossl_fail(err, "EVP_DigestFinal_ex", "body hash");
	}
	out->mask = (uint8_t)b->mask;
	return 0;
}

void sl_dkim_body_free(struct sl_dkim_body *b)
{
	EVP_MD_CTX_free(b->md[0]);
	EVP_MD_CTX_free(b->md[1]);
	memset(b, 0, sizeof(*b));
}

int sl_dkim_body_hash(const void *body, size_t len, unsigned mask,
		      struct sl_dkim_bodyhash *out, struct sl_dkim_err *err)
{
	struct sl_dkim_body b;
	int rc;

	memset(&b, 0, sizeof(b));
	rc = sl_dkim_body_init(&b, mask, err);
	if (rc == 0) {
		sl_dkim_body_update(&b, body, len);
		rc = sl_dkim_body_final(&b, out, err);
	}
	sl_dkim_body_free(&b);
	return rc;
}
