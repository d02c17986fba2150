/*
 * crypto/canon.h - DKIM canonicalization inner loops (RFC 6376 section 3.4).
 *
 * The body canonicalizers are chunk functions with a small carry state, so
 * a body can arrive in pieces of any size and the output is the same as
 * for the whole body at once. Each function reads one input chunk and
 * writes the canonical bytes into a sink, which hashes them in blocks
 * (EVP_DigestUpdate once per buffer fill, never per byte) or appends them
 * to a memory buffer.
 *
 * Line ends: CRLF, a bare LF and a bare CR all count as one line end and
 * come out as CRLF, because sluice signs what it sends and it sends CRLF.
 *
 * Contract for other implementations (SIMD paths plug in here):
 *   - struct sl_canon_ops is the function table. sl_canon_ops_scalar is
 *     the portable reference; sl_canon_active points to the table in use
 *     and starts as the scalar one. CPU dispatch may point it elsewhere
 *     once, before any worker thread starts.
 *   - A replacement must produce byte-identical sink output and leave the
 *     same struct sl_canon_body state as the scalar function for every
 *     input and every chunk split, so the two can be mixed chunk by chunk.
 *   - It may read only in[0..len) and must write only through the sink
 *     functions below (sl_sink_put, sl_sink_crlf).
 *   - The state fields are the whole carry between chunks:
 *       cr    the previous chunk ended in CR
 *       crlf  line ends seen but not yet written, because trailing empty
 *             lines are dropped
 *       wsp   whitespace seen but not yet written (relaxed only)
 *       any   a non-empty line has been written
 *
 * Limits: the header functions work on one complete header field at a
 * time (name, colon, value, folded lines), not on chunks.
 */
#ifndef SLUICE_CRYPTO_CANON_H
#define SLUICE_CRYPTO_CANON_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SL_SINK_BUF 4096

/*
 * Destination of canonical bytes: a SHA-256 context (md != NULL), or a
 * growable memory buffer (md == NULL, used by the verifier and tests).
 * total counts every byte written, in both modes.
 */
struct sl_sink {
	EVP_MD_CTX *md;
	uint8_t *mem;
	size_t mem_len;
	size_t mem_cap;
	uint64_t total;
	int failed;          /* an allocation or digest update failed */
	size_t n;
	uint8_t buf[SL_SINK_BUF];
};

/* Carry state of one body canonicalizer between chunks. */
struct sl_canon_body {
	uint8_t cr;
	uint8_t wsp;
	uint8_t any;
	uint64_t crlf;
};

typedef void (*sl_canon_body_fn)(struct sl_canon_body *st, struct sl_sink *out,
				 const uint8_t *in, size_t len);

typedef void (*sl_canon_header_fn)(struct sl_sink *out, const uint8_t *field, size_t len,
				   int crlf);

struct sl_canon_ops {
	const char *name;
	sl_canon_body_fn body_simple;
	sl_canon_body_fn body_relaxed;
	sl_canon_header_fn header_relaxed;
};

extern const struct sl_canon_ops sl_canon_ops_scalar;
extern const struct sl_canon_ops *sl_canon_active;

/* Sink: init (md may be NULL for memory), write, flush, release memory. */
void sl_sink_init(struct sl_sink *s, EVP_MD_CTX *md);
void sl_sink_put(struct sl_sink *s, const uint8_t *p, size_t n);
void sl_sink_crlf(struct sl_sink *s, uint64_t count);
int sl_sink_flush(struct sl_sink *s);
void sl_sink_free(struct sl_sink *s);

/* Body canonicalization: the scalar reference chunk functions and end. */
void sl_canon_body_init(struct sl_canon_body *st);
void sl_canon_body_simple_scalar(struct sl_canon_body *st, struct sl_sink *out,
				 const uint8_t *in, size_t len);
void sl_canon_body_relaxed_scalar(struct sl_canon_body *st, struct sl_sink *out,
				  const uint8_t *in, size_t len);
void sl_canon_body_simple_end(struct sl_canon_body *st, struct sl_sink *out);
void sl_canon_body_relaxed_end(struct sl_canon_body *st, struct sl_sink *out);

/*
 * Header canonicalization of one whole field (name ':' value, with its
 * folded lines, without the final line end). The simple form writes the
 * field unchanged with CRLF line ends. The relaxed form lowercases the
 * name, unfolds, turns whitespace runs into one SP and drops whitespace
 * around the colon and at the end. Both end the field with CRLF unless
 * crlf is 0 (the DKIM-Signature field being signed has none).
 */
void sl_canon_header_simple(struct sl_sink *out, const uint8_t *field, size_t len,
			    int crlf);
void sl_canon_header_relaxed(struct sl_sink *out, const uint8_t *field, size_t len,
			     int crlf);
/* The scalar reference of the relaxed form; the one above dispatches. */
void sl_canon_header_relaxed_scalar(struct sl_sink *out, const uint8_t *field, size_t len,
				    int crlf);

#endif
