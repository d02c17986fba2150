/*
 * crypto/ed25519_sc.c - arithmetic mod the Ed25519 group order L.
 *
 * Products use Montgomery multiplication (R = 2^256, word-by-word
 * reduction with four 64-bit limbs). The constants that follow from L
 * (-1/L mod 2^64 and R^2 mod L) are computed by sc_init() instead of
 * being written out, so L below is the only number to check against RFC
 * 8032, section 5.1. Every function runs in time independent of the
 * values: the nonce r and the secret scalar a pass through them.
 */
#include "crypto/ed25519_internal.h"

static const uint64_t L[4] = {
	UINT64_C(0x5812631a5cf5d3ed), UINT64_C(0x14def9dea2f79cd6), 0, UINT64_C(0x1000000000000000),
};

static uint64_t mont_mu;         /* -1/L mod 2^64 */
static struct sc mont_r2;        /* 2^512 mod L */

/* x = x - m if x >= m, in constant time; m is L times a power of two. */
static void sub_if_ge(uint64_t x[4], const uint64_t m[4])
{
	uint64_t t[4], borrow = 0, keep;

	for (int i = 0; i < 4; i++) {
		sl_u128 d = (sl_u128)x[i] - m[i] - borrow;

		t[i] = (uint64_t)d;
		borrow = (uint64_t)(d >> 64) & 1;
	}
	keep = (uint64_t)0 - borrow;       /* all ones when x < m */
	for (int i = 0; i < 4; i++)
		x[i] = (x[i] & keep) | (t[i] & ~keep);
}

/* Reduce any 256-bit x (< 2^256 < 16 L) below L: subtract 8L, 4L, 2L, L. */
static void reduce_small(uint64_t x[4])
{
	for (int k = 3; k >= 0; k--) {
		uint64_t m[4];

		m[0] = L[0] << k;
		m[1] = (L[1] << k) | (k ? L[0] >> (64 - k) : 0);
		m[2] = k ? L[1] >> (64 - k) : 0;
		m[3] = L[3] << k;
		sub_if_ge(x, m);
	}
}

/* r = a * b / 2^256 mod L, for a, b < L. */
static void montmul(struct sc *r, const struct sc *a, const struct sc *b)
{
	uint64_t t[6] = { 0 };

	for (int i = 0; i < 4; i++) {
		sl_u128 c = 0;
		uint64_t m;

		for (int j = 0; j < 4; j++) {
			c += (sl_u128)a->v[j] * b->v[i] + t[j];
			t[j] = (uint64_t)c;
			c >>= 64;
		}
		c += t[4];
		t[4] = (uint64_t)c;
		t[5] = (uint64_t)(c >> 64);

		/* Add m * L so that the lowest limb becomes 0, then shift it out. */
		m = t[0] * mont_mu;
		c = ((sl_u128)m * L[0] + t[0]) >> 64;
		for (int j = 1; j < 4; j++) {
			c += (sl_u128)m * L[j] + t[j];
			t[j - 1] = (uint64_t)c;
			c >>= 64;
		}
		c += t[4];
		t[3] = (uint64_t)c;
		t[4] = t[5] + (uint64_t)(c >> 64);
	}
	/* t < 2L < 2^254 here, so t[4] is 0 and one subtraction is enough. */
	sub_if_ge(t, L);
	for (int i = 0; i < 4; i++)
		r->v[i] = t[i];
}

static void add_mod(struct sc *r, const struct sc *a, const struct sc *b)
{
	uint64_t s[4];
	sl_u128 c = 0;

	for (int i = 0; i < 4; i++) {
		c += (sl_u128)a->v[i] + b->v[i];
		s[i] = (uint64_t)c;
		c >>= 64;
	}
	sub_if_ge(s, L);
	for (int i = 0; i < 4; i++)
		r->v[i] = s[i];
}

static void load(uint64_t x[4], const uint8_t *p)
{
	for (int i = 0; i < 4; i++) {
		x[i] = 0;
		for (int j = 7; j >= 0; j--)
			x[i] = (x[i] << 8) | p[i * 8 + j];
	}
}

void sc_init(void)
{
	uint64_t inv = L[0];

	/* Newton's iteration doubles the correct low bits: 3, 6, ..., 96. */
	for (int i = 0; i < 5; i++)
		inv *= 2 - L[0] * inv;
	mont_mu = (uint64_t)0 - inv;

	/* 2^512 mod L by 512 doublings of 1 (public values, run once). */
	memset(&mont_r2, 0, sizeof(mont_r2));
	mont_r2.v[0] = 1;
	for (int i = 0; i < 512; i++) {
		uint64_t *x = mont_r2.v;

		x[3] = (x[3] << 1) | (x[2] >> 63);
		x[2] = (x[2] << 1) | (x[1] >> 63);
		x[1] = (x[1] << 1) | (x[0] >> 63);
		x[0] <<= 1;
		sub_if_ge(x, L);
	}
}

void sc_reduce256(struct sc *r, const uint8_t a[32])
{
	load(r->v, a);
	reduce_small(r->v);
}

void sc_reduce512(struct sc *r, const uint8_t h[64])
{
	struct sc lo, hi;

	sc_reduce256(&lo, h);
	sc_reduce256(&hi, h + 32);
	montmul(&hi, &hi, &mont_r2);       /* hi * 2^256 mod L */
	add_mod(r, &hi, &lo);
}

void sc_muladd(struct sc *s, const struct sc *k, const struct sc *a, const struct sc *r)
{
	struct sc t;

	montmul(&t, k, a);                 /* k * a / 2^256 */
	montmul(&t, &t, &mont_r2);         /* k * a */
	add_mod(s, &t, r);
}

void sc_tobytes(uint8_t out[32], const struct sc *a)
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			out[i * 8 + j] = (uint8_t)(a->v[i] >> (8 * j));
}
