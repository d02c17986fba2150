/*
 * dataplane/bodyhash.h - layout of the DKIM body hashes that the SMTP
 * server stores with each message (the spool's 64-byte bodyhash field).
 *
 *   bytes  0..31  SHA-256 of the body in simple canonical form
 *   bytes 32..63  SHA-256 of the body in relaxed canonical form
 *
 * A form that was not computed is all zero bytes (a SHA-256 output of all
 * zeros is not expected to occur). Delivery unpacks the field into a
 * struct sl_dkim_bodyhash for sl_dkim_sign().
 */
#ifndef SLUICE_DATAPLANE_BODYHASH_H
#define SLUICE_DATAPLANE_BODYHASH_H

#include <stdint.h>
#include <string.h>

#include "crypto/dkim.h"

#define SL_BODYHASH_PACKED_SIZE 64

static inline void sl_bodyhash_pack(const struct sl_dkim_bodyhash *bh, uint8_t out[64])
{
	memset(out, 0, SL_BODYHASH_PACKED_SIZE);
	if (bh->mask & SL_DKIM_BODY_SIMPLE)
		memcpy(out, bh->simple, 32);
	if (bh->mask & SL_DKIM_BODY_RELAXED)
		memcpy(out + 32, bh->relaxed, 32);
}

static inline void sl_bodyhash_unpack(const uint8_t in[64], struct sl_dkim_bodyhash *bh)
{
	static const uint8_t zero[32];

	memset(bh, 0, sizeof(*bh));
	if (memcmp(in, zero, 32) != 0) {
		memcpy(bh->simple, in, 32);
		bh->mask |= SL_DKIM_BODY_SIMPLE;
	}
	if (memcmp(in + 32, zero, 32) != 0) {
		memcpy(bh->relaxed, in + 32, 32);
		bh->mask |= SL_DKIM_BODY_RELAXED;
	}
}

#endif
