/*
 * crypto/ed25519_fe.c - the field operations of ed25519_fe.h that are too
 * long to inline: inversion and the canonical 32-byte encoding.
 */
#include "crypto/ed25519_fe.h"

/*
 * out = z^(p - 2) = 1/z, with p - 2 = 2^255 - 21, by a fixed chain of 254
 * squarings and 11 multiplications: build z^(2^k - 1) for k = 5, 10, 20,
 * 40, 50, 100, 200, 250, then shift by 5 and multiply by z^11.
 */
void fe_invert(struct fe *out, const struct fe *z)
{
	struct fe z2, z9, z11, t, e5, e10, e20, e50, e100;

	fe_sq(&z2, z);                 /* z^2 */
	fe_sq_times(&t, &z2, 2);       /* z^8 */
	fe_mul(&z9, &t, z);            /* z^9 */
	fe_mul(&z11, &z9, &z2);        /* z^11 */
	fe_sq(&t, &z11);               /* z^22 */
	fe_mul(&e5, &t, &z9);          /* z^(2^5 - 1) */
	fe_sq_times(&t, &e5, 5);
	fe_mul(&e10, &t, &e5);         /* z^(2^10 - 1) */
	fe_sq_times(&t, &e10, 10);
	fe_mul(&e20, &t, &e10);        /* z^(2^20 - 1) */
	fe_sq_times(&t, &e20, 20);
	fe_mul(&t, &t, &e20);          /* z^(2^40 - 1) */
	fe_sq_times(&t, &t, 10);
	fe_mul(&e50, &t, &e10);        /* z^(2^50 - 1) */
	fe_sq_times(&t, &e50, 50);
	fe_mul(&e100, &t, &e50);       /* z^(2^100 - 1) */
	fe_sq_times(&t, &e100, 100);
	fe_mul(&t, &t, &e100);         /* z^(2^200 - 1) */
	fe_sq_times(&t, &t, 50);
	fe_mul(&t, &t, &e50);          /* z^(2^250 - 1) */
	fe_sq_times(&t, &t, 5);        /* z^(2^255 - 32) */
	fe_mul(out, &t, &z11);         /* z^(2^255 - 21) */
}

/*
 * Write h fully reduced mod p, little endian. After two carry passes h is
 * below 2^255 + 2^8 < 2p, so it needs at most one subtraction of p; q is
 * 1 exactly when h >= p, found by propagating the carry of h + 19.
 */
void fe_tobytes(uint8_t s[32], const struct fe *h)
{
	struct fe t = *h;
	uint64_t q;

	fe_carry(&t);
	fe_carry(&t);
	q = (t.v[0] + 19) >> 51;
	q = (t.v[1] + q) >> 51;
	q = (t.v[2] + q) >> 51;
	q = (t.v[3] + q) >> 51;
	q = (t.v[4] + q) >> 51;
	t.v[0] += 19 * q;
	t.v[1] += t.v[0] >> 51;
	t.v[0] &= FE_MASK51;
	t.v[2] += t.v[1] >> 51;
	t.v[1] &= FE_MASK51;
	t.v[3] += t.v[2] >> 51;
	t.v[2] &= FE_MASK51;
	t.v[4] += t.v[3] >> 51;
	t.v[3] &= FE_MASK51;
	t.v[4] &= FE_MASK51;   /* drops 2^255, which completes the subtraction of p */

	for (int i = 0; i < 32; i++) {
		unsigned bit = (unsigned)i * 8, limb = bit / 51, off = bit % 51;
		uint64_t b = t.v[limb] >> off;

		if (off > 43 && limb < 4)
			b |= t.v[limb + 1] << (51 - off);
		s[i] = (uint8_t)b;
	}
}
