/*
 * Unit tests for crypto/ed25519*.c, sluice's Ed25519 signing.
 *
 * Ed25519 signatures are deterministic, so OpenSSL 3 (EVP_DigestSign) is
 * the reference. Every signature made here must equal OpenSSL's byte for
 * byte: random keys, random messages of 0 to 600 bytes, and batch sizes
 * from 1 to 70, across the border of the 32-message chunks. The scalar
 * arithmetic mod L is checked against OpenSSL's BIGNUM on random and edge
 * values, the field encoding on non-canonical inputs, and the RFC 8032
 * section 7.1 vectors are reproduced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/ed25519.h"
#include "crypto/ed25519_internal.h"

static void hex_to(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* OpenSSL's Ed25519 signature of msg under the key with this seed. */
static void openssl_sign(const uint8_t seed[32], const uint8_t *msg, size_t len,
			 uint8_t sig[64], uint8_t pub[32])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	size_t siglen = 64, publen = 32;

	assert_non_null(pkey);
	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, pkey, NULL), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &siglen, msg, len), 1);
	assert_int_equal(siglen, 64);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, pub, &publen), 1);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pkey);
}

/* ---- RFC 8032, section 7.1, TEST 1 and TEST 2 ---- */

static const struct {
	const char *seed, *pub, *msg, *sig;
} rfc8032[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
};

static void rfc8032_vectors(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(rfc8032) / sizeof(rfc8032[0]); v++) {
		uint8_t seed[32], pub[32], sig[64], msg[1], got[1][64];
		size_t len = strlen(rfc8032[v].msg) / 2;
		const uint8_t *mp = msg;
		struct sl_ed25519_key k;

		hex_to(seed, rfc8032[v].seed, 32);
		hex_to(pub, rfc8032[v].pub, 32);
		hex_to(sig, rfc8032[v].sig, 64);
		hex_to(msg, rfc8032[v].msg, len);
		assert_int_equal(sl_ed25519_expand(&k, seed), 0);
		assert_memory_equal(k.pub, pub, 32);
		assert_int_equal(sl_ed25519_sign_batch(&k, &mp, &len, 1, got), 0);
		assert_memory_equal(got[0], sig, 64);
		sl_ed25519_wipe(&k);
	}
}

/* ---- differential against OpenSSL ---- */

static void check_batch(const uint8_t seed[32], size_t n, size_t max_len)
{
	uint8_t (*msgs)[600] = calloc(n, 600), (*sigs)[64] = calloc(n, 64);
	const uint8_t **mp = calloc(n, sizeof(*mp));
	size_t *lens = calloc(n, sizeof(*lens));
	struct sl_ed25519_key k;

	assert_true(msgs && sigs && mp && lens);
	for (size_t i = 0; i < n; i++) {
		uint16_t r;

		assert_int_equal(RAND_bytes((uint8_t *)&r, sizeof(r)), 1);
		lens[i] = max_len ? r % (max_len + 1) : 0;
		assert_int_equal(RAND_bytes(msgs[i], 600), 1);
		mp[i] = msgs[i];
	}
	assert_int_equal(sl_ed25519_expand(&k, seed), 0);
	assert_int_equal(sl_ed25519_sign_batch(&k, mp, lens, n, sigs), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t want[64], pub[32];

		openssl_sign(seed, msgs[i], lens[i], want, pub);
		assert_memory_equal(k.pub, pub, 32);
		if (memcmp(sigs[i], want, 64) != 0)
			fail_msg("signature %zu of %zu (%zu bytes) differs from OpenSSL's", i, n,
				 lens[i]);
	}
	sl_ed25519_wipe(&k);
	free(msgs);
	free(sigs);
	free(mp);
	free(lens);
}

static void random_keys_match_openssl(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		uint8_t seed[32], n;

		assert_int_equal(RAND_bytes(seed, 32), 1);
		assert_int_equal(RAND_bytes(&n, 1), 1);
		check_batch(seed, 1 + n % 4, 600);
	}
}

static void batch_sizes_match_openssl(void **state)
{
	static const size_t sizes[] = { 1, 2, 7, 16, 31, 32, 33, 64, 70 };
	uint8_t seed[32];

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(RAND_bytes(seed, 32), 1);
		check_batch(seed, sizes[i], 200);
	}
}

static void edge_seeds_match_openssl(void **state)
{
	uint8_t seed[32];

	(void)state;
	memset(seed, 0, 32);
	check_batch(seed, 3, 0);
	check_batch(seed, 5, 300);
	memset(seed, 0xff, 32);
	check_batch(seed, 5, 300);
}

static void unexpanded_key_rejected(void **state)
{
	struct sl_ed25519_key k;
	uint8_t sig[1][64], msg[1] = { 0 };
	const uint8_t *mp = msg;
	size_t len = 1;

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_int_equal(sl_ed25519_sign_batch(&k, &mp, &len, 1, sig), -EINVAL);
}

static void wipe_clears_key(void **state)
{
	struct sl_ed25519_key k, zero;
	uint8_t seed[32] = { 7 };

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(sl_ed25519_expand(&k, seed), 0);
	assert_int_equal(k.ready, 1);
	sl_ed25519_wipe(&k);
	assert_memory_equal(&k, &zero, sizeof(k));
}

/* ---- scalars mod L against BIGNUM ---- */

static BIGNUM *bn_le(const uint8_t *p, size_t n)
{
	BIGNUM *b = BN_lebin2bn(p, (int)n, NULL);

	assert_non_null(b);
	return b;
}

static void sc_expect(const struct sc *got, const BIGNUM *want)
{
	uint8_t g[32], w[32];

	sc_tobytes(g, got);
	assert_int_equal(BN_bn2lebinpad(want, w, 32), 32);
	assert_memory_equal(g, w, 32);
}

static const BIGNUM *group_order(void)
{
	static BIGNUM *l;

	if (!l) {
		assert_int_equal(BN_hex2bn(&l, "1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed"),
				 64);
	}
	return l;
}

static void fill_edge(uint8_t *p, size_t n, int kind)
{
	uint8_t l[32];

	assert_int_equal(BN_bn2lebinpad(group_order(), l, 32), 32);
	memset(p, 0, n);
	switch (kind) {
	case 0: break;                                   /* zero */
	case 1: memset(p, 0xff, n); break;               /* all ones */
	case 2: memcpy(p, l, 32); break;                 /* L */
	case 3: memcpy(p, l, 32); p[0]--; break;         /* L - 1 */
	case 4: memcpy(p, l, 32); p[0]++; break;         /* L + 1 */
	case 5: memcpy(p + n - 32, l, 32); break;        /* L shifted up */
	default: assert_int_equal(RAND_bytes(p, (int)n), 1);
	}
}

static void scalar_reduce_matches_bignum(void **state)
{
	BN_CTX *ctx = BN_CTX_new();

	(void)state;
	sc_init();
	for (int i = 0; i < 2000; i++) {
		uint8_t h[64];
		struct sc r;
		BIGNUM *b, *want = BN_new();

		fill_edge(h, 64, i < 6 ? i : 6);
		sc_reduce512(&r, h);
		b = bn_le(h, 64);
		assert_int_equal(BN_nnmod(want, b, group_order(), ctx), 1);
		sc_expect(&r, want);
		BN_free(b);

		fill_edge(h, 32, i < 6 ? i : 6);
		sc_reduce256(&r, h);
		b = bn_le(h, 32);
		assert_int_equal(BN_nnmod(want, b, group_order(), ctx), 1);
		sc_expect(&r, want);
		BN_free(b);
		BN_free(want);
	}
	BN_CTX_free(ctx);
}

static void scalar_muladd_matches_bignum(void **state)
{
	BN_CTX *ctx = BN_CTX_new();

	(void)state;
	sc_init();
	for (int i = 0; i < 2000; i++) {
		uint8_t raw[3][32];
		struct sc v[3], s;
		BIGNUM *b[3], *want = BN_new();

		for (int j = 0; j < 3; j++) {
			fill_edge(raw[j], 32, (i + j) % 9 < 6 ? (i + j) % 9 : 6);
			sc_reduce256(&v[j], raw[j]);
			sc_tobytes(raw[j], &v[j]);
			b[j] = bn_le(raw[j], 32);
		}
		sc_muladd(&s, &v[0], &v[1], &v[2]);
		assert_int_equal(BN_mod_mul(want, b[0], b[1], group_order(), ctx), 1);
		assert_int_equal(BN_mod_add(want, want, b[2], group_order(), ctx), 1);
		sc_expect(&s, want);
		for (int j = 0; j < 3; j++)
			BN_free(b[j]);
		BN_free(want);
	}
	BN_CTX_free(ctx);
}

/* ---- field encoding and inversion ---- */

static void field_encoding_is_canonical(void **state)
{
	const uint64_t m = (UINT64_C(1) << 51) - 1;
	struct {
		struct fe f;
		uint8_t first;     /* expected first byte; the others are 0 */
	} cases[] = {
		{ { { m - 18, m, m, m, m } }, 0 },        /* p */
		{ { { m - 17, m, m, m, m } }, 1 },        /* p + 1 */
		{ { { m, m, m, m, m } }, 18 },            /* 2^255 - 1 */
		{ { { m + 19, m, m, m, m } }, 37 },       /* 2^255 + 18, not carried */
		{ { { 0, 0, 0, 0, 0 } }, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[32], want[32] = { 0 };

		want[0] = cases[i].first;
		fe_tobytes(out, &cases[i].f);
		assert_memory_equal(out, want, 32);
	}
}

static void field_inverse_times_value_is_one(void **state)
{
	uint8_t one[32] = { 1 };

	(void)state;
	for (int i = 0; i < 200; i++) {
		struct fe a, inv, prod;
		uint8_t out[32];

		assert_int_equal(RAND_bytes((uint8_t *)a.v, sizeof(a.v)), 1);
		for (int j = 0; j < 5; j++)
			a.v[j] &= (UINT64_C(1) << 51) - 1;
		a.v[0] |= 1;             /* never zero */
		fe_invert(&inv, &a);
		fe_mul(&prod, &a, &inv);
		fe_tobytes(out, &prod);
		assert_memory_equal(out, one, 32);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc8032_vectors),
		cmocka_unit_test(random_keys_match_openssl),
		cmocka_unit_test(batch_sizes_match_openssl),
		cmocka_unit_test(edge_seeds_match_openssl),
		cmocka_unit_test(unexpanded_key_rejected),
		cmocka_unit_test(wipe_clears_key),
		cmocka_unit_test(scalar_reduce_matches_bignum),
		cmocka_unit_test(scalar_muladd_matches_bignum),
		cmocka_unit_test(field_encoding_is_canonical),
		cmocka_unit_test(field_inverse_times_value_is_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
