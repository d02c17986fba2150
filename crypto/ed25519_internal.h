/*
 * crypto/ed25519_internal.h - the group and scalar layers under
 * crypto/ed25519.c. Not part of the crypto API.
 *
 * Points are on the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 over
 * GF(2^255 - 19), d = -121665/121666, in extended coordinates (X:Y:Z:T)
 * with x = X/Z, y = Y/Z and x*y = T/Z (Hisil, Wong, Carter and Dawson,
 * "Twisted Edwards curves revisited", 2008). Scalars are integers mod the
 * group order L = 2^252 + 27742317777372353535851937790883648493, held
 * as four 64-bit little-endian limbs.
 */
#ifndef SLUICE_CRYPTO_ED25519_INTERNAL_H
#define SLUICE_CRYPTO_ED25519_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/ed25519_fe.h"

struct ge_p3 {
	struct fe X, Y, Z, T;
};

/* ed25519_ge.c */

/* Build the base-point tables once per process (thread-safe). */
void ge_init(void);

/* h = a * B for a 32-byte little-endian scalar a < 2^255, in constant time. */
void ge_scalarmult_base(struct ge_p3 *h, const uint8_t a[32]);

/*
 * Encode n points (y with the sign of x in bit 255) with one field
 * inversion for all of them. tmp must hold n elements.
 */
void ge_encode_batch(uint8_t (*out)[32], const struct ge_p3 *p, struct fe *tmp, size_t n);

/* ed25519_sc.c */

struct sc {
	uint64_t v[4];
};

void sc_init(void);
/* r = the 512-bit little-endian value h mod L. */
void sc_reduce512(struct sc *r, const uint8_t h[64]);
/* r = the 256-bit little-endian value a mod L. */
void sc_reduce256(struct sc *r, const uint8_t a[32]);
/* s = (k * a + r) mod L, for k, a, r < L. */
void sc_muladd(struct sc *s, const struct sc *k, const struct sc *a, const struct sc *r);
void sc_tobytes(uint8_t out[32], const struct sc *a);

#endif
