/*
 * crypto/ed25519_fe.h - arithmetic in GF(2^255 - 19) for Ed25519 signing.
 *
 * An element is five 64-bit limbs of 51 bits each (radix 2^51), so one
 * product of two limbs fits in an unsigned __int128 with room for the
 * sums. Every function here keeps each output limb below 2^52, and every
 * function accepts inputs with limbs below 2^52; that bound is what makes
 * the 128-bit sums in fe_mul() and the 2p bias in fe_sub() safe:
 *   fe_mul: each column is at most 5 * 19 * 2^104 < 2^111;
 *   fe_sub: 2p has limbs 2^52 - 38 and 2^52 - 2, above any input limb.
 * Elements are fully reduced only by fe_tobytes().
 *
 * All functions run in time independent of the values (no branches or
 * memory indexes on element data), because the signing nonce and the
 * point derived from it pass through them.
 */
#ifndef SLUICE_CRYPTO_ED25519_FE_H
#define SLUICE_CRYPTO_ED25519_FE_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 sl_u128;

struct fe {
	uint64_t v[5];
};

#define FE_MASK51 ((UINT64_C(1) << 51) - 1)

static inline void fe_set(struct fe *h, uint64_t small)
{
	memset(h, 0, sizeof(*h));
	h->v[0] = small;
}

/* Propagate carries so that every limb is below 2^51 + 2^8. */
static inline void fe_carry(struct fe *h)
{
	uint64_t c;

	c = h->v[0] >> 51;
	h->v[0] &= FE_MASK51;
	h->v[1] += c;
	c = h->v[1] >> 51;
	h->v[1] &= FE_MASK51;
	h->v[2] += c;
	c = h->v[2] >> 51;
	h->v[2] &= FE_MASK51;
	h->v[3] += c;
	c = h->v[3] >> 51;
	h->v[3] &= FE_MASK51;
	h->v[4] += c;
	c = h->v[4] >> 51;
	h->v[4] &= FE_MASK51;
	h->v[0] += c * 19;
}

static inline void fe_add(struct fe *h, const struct fe *f, const struct fe *g)
{
	for (int i = 0; i < 5; i++)
		h->v[i] = f->v[i] + g->v[i];
	fe_carry(h);
}

/* h = f - g, computed as f + 2p - g so that no limb goes negative. */
static inline void fe_sub(struct fe *h, const struct fe *f, const struct fe *g)
{
	h->v[0] = f->v[0] + UINT64_C(0xfffffffffffda) - g->v[0];
	for (int i = 1; i < 5; i++)
		h->v[i] = f->v[i] + UINT64_C(0xffffffffffffe) - g->v[i];
	fe_carry(h);
}

static inline void fe_neg(struct fe *h, const struct fe *f)
{
	struct fe zero = { { 0 } };

	fe_sub(h, &zero, f);
}

/* Reduce the five 128-bit column sums of a product into h. */
static inline void fe_reduce_wide(struct fe *h, sl_u128 t0, sl_u128 t1, sl_u128 t2,
				  sl_u128 t3, sl_u128 t4)
{
	uint64_t c;

	t1 += (uint64_t)(t0 >> 51);
	t2 += (uint64_t)(t1 >> 51);
	t3 += (uint64_t)(t2 >> 51);
	t4 += (uint64_t)(t3 >> 51);
	h->v[0] = (uint64_t)t0 & FE_MASK51;
	h->v[1] = (uint64_t)t1 & FE_MASK51;
	h->v[2] = (uint64_t)t2 & FE_MASK51;
	h->v[3] = (uint64_t)t3 & FE_MASK51;
	h->v[4] = (uint64_t)t4 & FE_MASK51;
	/* t4 has no factor 19 in it, so t4 >> 51 < 2^57 and the product fits. */
	h->v[0] += (uint64_t)(t4 >> 51) * 19;
	c = h->v[0] >> 51;
	h->v[0] &= FE_MASK51;
	h->v[1] += c;
}

static inline void fe_mul(struct fe *h, const struct fe *f, const struct fe *g)
{
	const uint64_t *a = f->v, *b = g->v;
	uint64_t b1 = b[1] * 19, b2 = b[2] * 19, b3 = b[3] * 19, b4 = b[4] * 19;
	sl_u128 t0, t1, t2, t3, t4;

	t0 = (sl_u128)a[0] * b[0] + (sl_u128)a[1] * b4 + (sl_u128)a[2] * b3 +
	     (sl_u128)a[3] * b2 + (sl_u128)a[4] * b1;
	t1 = (sl_u128)a[0] * b[1] + (sl_u128)a[1] * b[0] + (sl_u128)a[2] * b4 +
	     (sl_u128)a[3] * b3 + (sl_u128)a[4] * b2;
	t2 = (sl_u128)a[0] * b[2] + (sl_u128)a[1] * b[1] + (sl_u128)a[2] * b[0] +
	     (sl_u128)a[3] * b4 + (sl_u128)a[4] * b3;
	t3 = (sl_u128)a[0] * b[3] + (sl_u128)a[1] * b[2] + (sl_u128)a[2] * b[1] +
	     (sl_u128)a[3] * b[0] + (sl_u128)a[4] * b4;
	t4 = (sl_u128)a[0] * b[4] + (sl_u128)a[1] * b[3] + (sl_u128)a[2] * b[2] +
	     (sl_u128)a[3] * b[1] + (sl_u128)a[4] * b[0];
	fe_reduce_wide(h, t0, t1, t2, t3, t4);
}

static inline void fe_sq(struct fe *h, const struct fe *f)
{
	const uint64_t *a = f->v;
	uint64_t d0 = a[0] * 2, d1 = a[1] * 2, a3_19 = a[3] * 19, a4_19 = a[4] * 19,
		 d4_19 = a[4] * 38;
	sl_u128 t0, t1, t2, t3, t4;

	t0 = (sl_u128)a[0] * a[0] + (sl_u128)d1 * a4_19 + (sl_u128)(a[2] * 2) * a3_19;
	t1 = (sl_u128)d0 * a[1] + (sl_u128)a[2] * d4_19 + (sl_u128)a[3] * a3_19;
	t2 = (sl_u128)d0 * a[2] + (sl_u128)a[1] * a[1] + (sl_u128)a[3] * d4_19;
	t3 = (sl_u128)d0 * a[3] + (sl_u128)d1 * a[2] + (sl_u128)a[4] * a4_19;
	t4 = (sl_u128)d0 * a[4] + (sl_u128)d1 * a[3] + (sl_u128)a[2] * a[2];
	fe_reduce_wide(h, t0, t1, t2, t3, t4);
}

/* h = f^(2^n), n >= 1. */
static inline void fe_sq_times(struct fe *h, const struct fe *f, int n)
{
	fe_sq(h, f);
	while (--n > 0)
		fe_sq(h, h);
}

/* Replace f with g when move is 1; leave it when move is 0. */
static inline void fe_cmov(struct fe *f, const struct fe *g, uint64_t move)
{
	uint64_t mask = (uint64_t)0 - move;

	for (int i = 0; i < 5; i++)
		f->v[i] ^= mask & (f->v[i] ^ g->v[i]);
}

void fe_invert(struct fe *out, const struct fe *z);
void fe_tobytes(uint8_t s[32], const struct fe *h);

#endif
