/*
 * crypto/simd/canon_simd.h - vectorized DKIM body canonicalization kernels.
 *
 * The body canonicalizers (RFC 6376 section 3.4.3 simple, 3.4.4 relaxed)
 * keep a small carry state between chunks. A block kernel works on whole
 * 64-byte blocks: it classifies the bytes into bit masks (SP/HTAB, CR, LF)
 * with vector compares, decides with 64-bit mask arithmetic which bytes
 * stay, and packs them with a vector compress. It handles only blocks
 * where every CR is followed by LF and every LF follows a CR. It stops at
 * the first block with a bare CR or LF, or after a CR carried over from
 * the previous chunk, because those need the byte-at-a-time scalar code.
 *
 * Carry state, struct sl_canon_body of crypto/canon.h:
 *   cr   the input so far ended in CR; the next byte decides if LF follows
 *   wsp  relaxed only: SP/HTAB seen after the last content byte or line end
 *   any  a content byte has been written
 *   crlf line ends seen after the last content byte, not yet written,
 *        because trailing empty lines are dropped
 *
 * sl_canon_blocks_fn(st, in, len, out, &out_len) consumes whole blocks of
 * in[0..len) and returns the bytes consumed (a multiple of 64, at most
 * SL_CANON_STAGE_IN); out must have SL_CANON_STAGE_OUT bytes. It returns
 * early with *stop set to:
 *   SL_CANON_STOP_SCALAR  the next block needs the scalar code
 *   SL_CANON_STOP_CRLF    st->crlf exceeds SL_CANON_MAX_PREWRITE line ends
 *                         and content follows: write them, zero the count
 *   SL_CANON_STOP_END     fewer than 64 bytes left, or the stage is full
 * Kernels read only in[0..len) and write only out.
 */
#ifndef SLUICE_CRYPTO_SIMD_CANON_SIMD_H
#define SLUICE_CRYPTO_SIMD_CANON_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/canon.h"
#include "crypto/simd/cpu.h"

#define SL_CANON_STAGE_IN 4096
#define SL_CANON_MAX_PREWRITE 16
#define SL_CANON_STAGE_OUT (SL_CANON_STAGE_IN + SL_CANON_STAGE_IN / 64 + 2 * SL_CANON_MAX_PREWRITE + 128)

enum sl_canon_stop {
	SL_CANON_STOP_END = 0,
	SL_CANON_STOP_SCALAR,
	SL_CANON_STOP_CRLF,
};

typedef size_t (*sl_canon_blocks_fn)(struct sl_canon_body *st, const uint8_t *in, size_t len,
				     uint8_t *out, size_t *out_len, enum sl_canon_stop *stop);

struct sl_canon_kernels {
	const char *name;
	sl_canon_blocks_fn simple;
	sl_canon_blocks_fn relaxed;
	sl_canon_header_fn header_relaxed;  /* output equal to the scalar one */
};

/* Kernels of PATH, or NULL when PATH has none (scalar) or the CPU lacks it. */
const struct sl_canon_kernels *sl_canon_kernels_for(enum sl_simd_path path);

/*
 * Output of a driven canonicalization. put() appends bytes, crlf() appends
 * count CRLF pairs, and scalar() runs the byte-at-a-time code with the
 * same carry state on a piece the block kernel left.
 */
struct sl_canon_target {
	void *ctx;
	void (*put)(void *ctx, const uint8_t *p, size_t n);
	void (*crlf)(void *ctx, uint64_t count);
	void (*scalar)(void *ctx, struct sl_canon_body *st, const uint8_t *p, size_t n);
};

/*
 * Canonicalize one chunk with the block kernel FN, handing each piece it
 * cannot take (bare CR or LF, a CR carried from the last chunk, the last
 * bytes under 64) to t->scalar. The result and the carry state equal those
 * of t->scalar on the whole chunk.
 */
void sl_canon_drive(sl_canon_blocks_fn fn, struct sl_canon_body *st,
		    const struct sl_canon_target *t, const uint8_t *in, size_t len);

/*
 * Engine function table of PATH (the scalar table for the scalar path), or
 * NULL when the CPU cannot run PATH.
 */
const struct sl_canon_ops *sl_canon_ops_for(enum sl_simd_path path);

/* Point sl_canon_active, the engine's table in use, at PATH's table. */
void sl_canon_simd_select(enum sl_simd_path path);

/* Portable version of the block kernels: the same mask logic, no vectors. */
extern const struct sl_canon_kernels sl_canon_kernels_portable;

#if defined(__x86_64__)
extern const struct sl_canon_kernels sl_canon_kernels_avx2;
extern const struct sl_canon_kernels sl_canon_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const struct sl_canon_kernels sl_canon_kernels_neon;
#endif

/*
 * Reference chunk canonicalizers, byte at a time, with the carry semantics
 * above. out is a growable buffer owned by the caller (free() it).
 */
struct sl_canon_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

void sl_canon_ref_simple(struct sl_canon_body *st, struct sl_canon_buf *out, const uint8_t *in,
			 size_t len);
void sl_canon_ref_relaxed(struct sl_canon_body *st, struct sl_canon_buf *out, const uint8_t *in,
			  size_t len);
void sl_canon_ref_end(struct sl_canon_body *st, struct sl_canon_buf *out, int relaxed);
void sl_canon_buf_put(struct sl_canon_buf *b, const uint8_t *p, size_t n);
void sl_canon_buf_crlf(struct sl_canon_buf *b, uint64_t count);

#endif
