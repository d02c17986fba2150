/*
 * crypto/ed25519_ge.c - fixed-base scalar multiplication and point
 * encoding for Ed25519 signing.
 *
 * a * B is computed from a table of (j + 1) * 256^i * B for i < 32 and
 * j < 8, with the scalar written in 64 signed radix-16 digits in [-8, 8]:
 * the odd digits are added first, the sum is multiplied by 16, then the
 * even digits are added (64 mixed additions and 4 doublings). Each table
 * read touches all 8 entries of a row and keeps one by mask, so neither
 * the time nor the memory addresses depend on the scalar.
 *
 * The table is built at first use from the base point itself (y = 4/5,
 * x even, RFC 8032, section 5.1), not copied from a listing; ge_init()
 * aborts if the derived point is not on the curve.
 */
#include <pthread.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "crypto/ed25519_internal.h"

/* An affine point as (y + x, y - x, 2 d x y), ready for mixed addition. */
struct niels {
	struct fe ypx, ymx, xy2d;
};

static struct niels base_table[32][8];
static struct fe curve_d2;              /* 2d */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void p3_identity(struct ge_p3 *h)
{
	fe_set(&h->X, 0);
	fe_set(&h->Y, 1);
	fe_set(&h->Z, 1);
	fe_set(&h->T, 0);
}

/* r = p + q (add-2008-hwcd-3 with Z2 = 1 and k = 2d); r may be p. */
static void ge_madd(struct ge_p3 *r, const struct ge_p3 *p, const struct niels *q)
{
	struct fe a, b, c, d, e, f, g, h;

	fe_sub(&a, &p->Y, &p->X);
	fe_mul(&a, &a, &q->ymx);
	fe_add(&b, &p->Y, &p->X);
	fe_mul(&b, &b, &q->ypx);
	fe_mul(&c, &p->T, &q->xy2d);
	fe_add(&d, &p->Z, &p->Z);

	fe_sub(&e, &b, &a);
	fe_sub(&f, &d, &c);
	fe_add(&g, &d, &c);
	fe_add(&h, &b, &a);

	fe_mul(&r->X, &e, &f);
	fe_mul(&r->Y, &g, &h);
	fe_mul(&r->T, &e, &h);
	fe_mul(&r->Z, &f, &g);
}

/* r = 2p (dbl-2008-hwcd with a = -1); r may be p. */
static void ge_dbl(struct ge_p3 *r, const struct ge_p3 *p)
{
	struct fe a, b, c, e, f, g, h;

	fe_sq(&a, &p->X);
	fe_sq(&b, &p->Y);
	fe_sq(&c, &p->Z);
	fe_add(&c, &c, &c);
	fe_add(&e, &p->X, &p->Y);
	fe_sq(&e, &e);
	fe_sub(&e, &e, &a);
	fe_sub(&e, &e, &b);              /* 2XY */
	fe_sub(&g, &b, &a);              /* -A + B */
	fe_sub(&f, &g, &c);
	fe_add(&h, &a, &b);
	fe_neg(&h, &h);                  /* -A - B */

	fe_mul(&r->X, &e, &f);
	fe_mul(&r->Y, &g, &h);
	fe_mul(&r->T, &e, &h);
	fe_mul(&r->Z, &f, &g);
}

static void niels_from_p3(struct niels *n, const struct ge_p3 *p)
{
	struct fe zi, x, y;

	fe_invert(&zi, &p->Z);
	fe_mul(&x, &p->X, &zi);
	fe_mul(&y, &p->Y, &zi);
	fe_add(&n->ypx, &y, &x);
	fe_sub(&n->ymx, &y, &x);
	fe_mul(&n->xy2d, &x, &y);
	fe_mul(&n->xy2d, &n->xy2d, &curve_d2);
}

/* ---- set-up: constants and the base table (public values only) ---- */

static int fe_equal(const struct fe *a, const struct fe *b)
{
	uint8_t x[32], y[32];

	fe_tobytes(x, a);
	fe_tobytes(y, b);
	return memcmp(x, y, 32) == 0;
}

/* out = base^e for a public 256-bit little-endian exponent. */
static void fe_pow_public(struct fe *out, const struct fe *base, const uint8_t e[32])
{
	struct fe r;

	fe_set(&r, 1);
	for (int bit = 255; bit >= 0; bit--) {
		fe_sq(&r, &r);
		if ((e[bit / 8] >> (bit % 8)) & 1)
			fe_mul(&r, &r, base);
	}
	*out = r;
}

static void fe_fraction(struct fe *out, uint64_t num, uint64_t den, int negative)
{
	struct fe n, d;

	fe_set(&n, num);
	if (negative)
		fe_neg(&n, &n);
	fe_set(&d, den);
	fe_invert(&d, &d);
	fe_mul(out, &n, &d);
}

/* The base point: y = 4/5 and the even x with x^2 = (y^2 - 1)/(d y^2 + 1). */
static void base_point(struct ge_p3 *b, const struct fe *d)
{
	uint8_t e_sqrt[32], e_i[32], xb[32];
	struct fe y, yy, u, v, w, x, xx, i;

	/* (p + 3)/8 = 2^252 - 2 and (p - 1)/4 = 2^253 - 5 */
	memset(e_sqrt, 0xff, 32);
	e_sqrt[0] = 0xfe;
	e_sqrt[31] = 0x0f;
	memset(e_i, 0xff, 32);
	e_i[0] = 0xfb;
	e_i[31] = 0x1f;

	fe_fraction(&y, 4, 5, 0);
	fe_sq(&yy, &y);
	fe_set(&u, 1);
	fe_sub(&u, &yy, &u);
	fe_mul(&v, d, &yy);
	fe_set(&w, 1);
	fe_add(&v, &v, &w);
	fe_invert(&w, &v);
	fe_mul(&w, &u, &w);

	fe_pow_public(&x, &w, e_sqrt);
	fe_sq(&xx, &x);
	if (!fe_equal(&xx, &w)) {
		fe_set(&i, 2);
		fe_pow_public(&i, &i, e_i);     /* sqrt(-1) */
		fe_mul(&x, &x, &i);
		fe_sq(&xx, &x);
	}
	if (!fe_equal(&xx, &w))
		abort();                        /* arithmetic is broken */
	fe_tobytes(xb, &x);
	if (xb[0] & 1)
		fe_neg(&x, &x);

	b->X = x;
	b->Y = y;
	fe_set(&b->Z, 1);
	fe_mul(&b->T, &x, &y);
}

static void build_tables(void)
{
	struct ge_p3 base, q;
	struct fe d;

	sc_init();
	fe_fraction(&d, 121665, 121666, 1);
	fe_add(&curve_d2, &d, &d);
	base_point(&base, &d);
	for (int i = 0; i < 32; i++) {
		struct niels nb;

		niels_from_p3(&nb, &base);
		p3_identity(&q);
		for (int j = 0; j < 8; j++) {
			ge_madd(&q, &q, &nb);
			niels_from_p3(&base_table[i][j], &q);
		}
		for (int k = 0; k < 8; k++)
			ge_dbl(&base, &base);
	}
}

void ge_init(void)
{
	pthread_once(&table_once, build_tables);
}

/* ---- constant-time scalar multiplication ---- */

static uint64_t byte_eq(uint8_t a, uint8_t b)
{
	return ((uint32_t)(a ^ b) - 1) >> 31;
}

/*
 * t = digit * 256^row * B for a digit in [-8, 8], reading the whole row.
 * The entries are walked as flat arrays of limbs so that the masked copy
 * is one loop the compiler can vectorize.
 */
static void table_select(struct niels *t, int row, int8_t digit)
{
	enum { WORDS = sizeof(struct niels) / sizeof(uint64_t) };
	uint8_t u = (uint8_t)digit, neg = u >> 7;
	uint8_t mag = (uint8_t)((u ^ (uint8_t)(0 - neg)) + neg);
	uint64_t acc[WORDS] = { 0 };
	struct niels minus;

	acc[0] = 1;                      /* the neutral element: (1, 1, 0) */
	acc[5] = 1;
	for (int j = 0; j < 8; j++) {
		const uint64_t *in = (const uint64_t *)&base_table[row][j];
		uint64_t mask = (uint64_t)0 - byte_eq(mag, (uint8_t)(j + 1));

		for (int w = 0; w < WORDS; w++)
			acc[w] ^= mask & (acc[w] ^ in[w]);
	}
	memcpy(t, acc, sizeof(*t));
	minus.ypx = t->ymx;
	minus.ymx = t->ypx;
	fe_neg(&minus.xy2d, &t->xy2d);
	fe_cmov(&t->ypx, &minus.ypx, neg);
	fe_cmov(&t->ymx, &minus.ymx, neg);
	fe_cmov(&t->xy2d, &minus.xy2d, neg);
}

void ge_scalarmult_base(struct ge_p3 *h, const uint8_t a[32])
{
	int8_t e[64], carry = 0;
	struct niels t;

	for (int i = 0; i < 32; i++) {
		e[2 * i] = (int8_t)(a[i] & 15);
		e[2 * i + 1] = (int8_t)(a[i] >> 4);
	}
	/* Signed digits in [-8, 7], the top one up to 8 (a < 2^255). */
	for (int i = 0; i < 63; i++) {
		e[i] = (int8_t)(e[i] + carry);
		carry = (int8_t)((e[i] + 8) >> 4);
		e[i] = (int8_t)(e[i] - carry * 16);
	}
	e[63] = (int8_t)(e[63] + carry);

	p3_identity(h);
	for (int i = 1; i < 64; i += 2) {
		table_select(&t, i / 2, e[i]);
		ge_madd(h, h, &t);
	}
	for (int k = 0; k < 4; k++)
		ge_dbl(h, h);
	for (int i = 0; i < 64; i += 2) {
		table_select(&t, i / 2, e[i]);
		ge_madd(h, h, &t);
	}
	OPENSSL_cleanse(e, sizeof(e));
	OPENSSL_cleanse(&t, sizeof(t));
}

/* ---- encoding ---- */

static void encode_affine(uint8_t out[32], const struct ge_p3 *p, const struct fe *zi)
{
	struct fe x, y;
	uint8_t xb[32];

	fe_mul(&x, &p->X, zi);
	fe_mul(&y, &p->Y, zi);
	fe_tobytes(out, &y);
	fe_tobytes(xb, &x);
	out[31] ^= (uint8_t)((xb[0] & 1) << 7);
}

/*
 * Montgomery's trick: tmp[i] = Z0 * ... * Zi, one inversion of the full
 * product, then each 1/Zi falls out of a walk back with two
 * multiplications per point.
 */
void ge_encode_batch(uint8_t (*out)[32], const struct ge_p3 *p, struct fe *tmp, size_t n)
{
	struct fe inv, zi;

	if (n == 0)
		return;
	tmp[0] = p[0].Z;
	for (size_t i = 1; i < n; i++)
		fe_mul(&tmp[i], &tmp[i - 1], &p[i].Z);
	fe_invert(&inv, &tmp[n - 1]);
	for (size_t i = n - 1; i > 0; i--) {
		fe_mul(&zi, &inv, &tmp[i - 1]);
		fe_mul(&inv, &inv, &p[i].Z);
		encode_affine(out[i], &p[i], &zi);
	}
	encode_affine(out[0], &p[0], &inv);
}
