/*
 * crypto/ed25519.c - Ed25519 key expansion and batch signing. Contract in
 * ed25519.h.
 *
 * For each message M: r = SHA-512(prefix || M) mod L, R = r * B,
 * k = SHA-512(R || A || M) mod L, S = r + k * a mod L, signature R || S.
 * A batch computes every R in extended coordinates first, encodes them
 * all with one inversion, then finishes each S. Batches are cut into
 * chunks of CHUNK messages so that the scratch memory stays on the stack.
 */
#include <errno.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/ed25519.h"
#include "crypto/ed25519_internal.h"
#include "crypto/internal.h"

#define CHUNK 32

static __thread EVP_MD_CTX *tl_sha512;

/* Hash a || b || c with SHA-512 into out. Any part may be empty. */
static int sha512_3(uint8_t out[64], const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen, const uint8_t *c, size_t clen)
{
	EVP_MD_CTX *m = tl_sha512;

	if (!m && !(m = tl_sha512 = EVP_MD_CTX_new()))
		return -ENOMEM;
	if (EVP_DigestInit_ex(m, sl_crypto_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(m, a, alen) != 1 || EVP_DigestUpdate(m, b, blen) != 1 ||
	    EVP_DigestUpdate(m, c, clen) != 1 || EVP_DigestFinal_ex(m, out, NULL) != 1) {
		sl_crypto_ossl_clear();
		return -EPROTO;
	}
	return 0;
}

int sl_ed25519_expand(struct sl_ed25519_key *k, const uint8_t seed[32])
{
	uint8_t h[64], enc[1][32];
	struct ge_p3 A;
	struct fe tmp[1];
	struct sc a;
	int rc;

	ge_init();
	memset(k, 0, sizeof(*k));
	rc = sha512_3(h, seed, 32, NULL, 0, NULL, 0);
	if (rc)
		return rc;
	h[0] &= 248;
	h[31] &= 127;
	h[31] |= 64;
	sc_reduce256(&a, h);
	sc_tobytes(k->scalar, &a);
	memcpy(k->prefix, h + 32, 32);
	ge_scalarmult_base(&A, k->scalar);
	ge_encode_batch(enc, &A, tmp, 1);
	memcpy(k->pub, enc[0], 32);
	k->ready = 1;
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(&a, sizeof(a));
	OPENSSL_cleanse(&A, sizeof(A));
	return 0;
}

/* Sign n messages, n <= CHUNK, with one inversion for their points R. */
static int sign_chunk(const struct sl_ed25519_key *k, const uint8_t *const *msgs,
		      const size_t *lens, size_t n, uint8_t (*sigs)[SL_ED25519_SIG_LEN])
{
	struct ge_p3 R[CHUNK];
	struct fe tmp[CHUNK];
	struct sc r[CHUNK], a, kh, s;
	uint8_t h[64], rb[32], enc[CHUNK][32];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = sha512_3(h, k->prefix, 32, msgs[i], lens[i], NULL, 0);
		if (rc)
			break;
		sc_reduce512(&r[i], h);
		sc_tobytes(rb, &r[i]);
		ge_scalarmult_base(&R[i], rb);
	}
	if (rc == 0)
		ge_encode_batch(enc, R, tmp, n);

	sc_reduce256(&a, k->scalar);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = sha512_3(h, enc[i], 32, k->pub, 32, msgs[i], lens[i]);
		if (rc)
			break;
		sc_reduce512(&kh, h);
		sc_muladd(&s, &kh, &a, &r[i]);
		memcpy(sigs[i], enc[i], 32);
		sc_tobytes(sigs[i] + 32, &s);
	}

	OPENSSL_cleanse(r, sizeof(r));
	OPENSSL_cleanse(R, sizeof(R));
	OPENSSL_cleanse(tmp, sizeof(tmp));
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(rb, sizeof(rb));
	OPENSSL_cleanse(&a, sizeof(a));
	OPENSSL_cleanse(&s, sizeof(s));
	return rc;
}

int sl_ed25519_sign_batch(const struct sl_ed25519_key *k, const uint8_t *const *msgs,
			  const size_t *lens, size_t n, uint8_t (*sigs)[SL_ED25519_SIG_LEN])
{
	int rc = 0;

	if (!k->ready)
		return -EINVAL;
	for (size_t done = 0; rc == 0 && done < n; done += CHUNK) {
		size_t m = n - done < CHUNK ? n - done : CHUNK;

		rc = sign_chunk(k, msgs + done, lens + done, m, sigs + done);
	}
	return rc;
}

void sl_ed25519_wipe(struct sl_ed25519_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

void sl_ed25519_thread_cleanup(void)
{
	EVP_MD_CTX_free(tl_sha512);
	tl_sha512 = NULL;
}
