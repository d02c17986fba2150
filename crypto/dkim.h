/*
 * crypto/dkim.h - DKIM signing and verification (RFC 6376, RFC 8463,
 * RFC 8301) for sluice.
 *
 * Two steps with a stored result between them:
 *   1. Accept time: sl_dkim_body_init/update/final stream the message body
 *      once and produce struct sl_dkim_bodyhash, plain bytes that the spool
 *      stores as they are.
 *   2. Send time: sl_dkim_sign builds the DKIM-Signature header fields for
 *      one or several signers from the header block and the stored body
 *      hash. Signers that share a header canonicalization and an h= list
 *      share one header hash pass. sl_dkim_sign_batch signs many messages.
 *
 * Keys are RSA (1024 to 4096 bits, rsa-sha256) or Ed25519
 * (ed25519-sha256), loaded from PEM (PKCS#1 or PKCS#8) through OpenSSL 3
 * EVP. sl_dkim_verify is a complete verifier with a caller-supplied DNS
 * TXT lookup, used by tests and by "sluicectl dkim verify".
 *
 * Errors: every function that can fail returns 0 or a negative errno
 * value and fills struct sl_dkim_err with a message that names the value
 * and the cause (OpenSSL's error queue is read into it, see crypto/err.c):
 *   -EINVAL   malformed input (message, key, tag list, argument)
 *   -ENOTSUP  key type or algorithm not supported
 *   -ERANGE   key size outside the accepted range
 *   -ENOMEM   allocation failed
 *   -EPROTO   an OpenSSL call failed
 *   other     -errno of a failed system call (open, read, write)
 * The err argument may be NULL everywhere.
 *
 * Ownership: keys come from sl_dkim_key_* and are freed with
 * sl_dkim_key_free. A key may be shared by threads for signing. Each
 * signing thread keeps its digest contexts and one signing context for
 * each of its last 4 keys in thread-local storage, and must call
 * sl_dkim_thread_cleanup before it exits. Output buffers (struct
 * sl_dkim_out) belong to the caller, grow as needed and are reused across
 * calls. Private key bytes copied by this module are wiped with
 * OPENSSL_cleanse before they are freed.
 *
 * Never produced: l= (the whole body is always signed), z= and q=. The
 * verifier accepts l= and q=dns/txt in signatures made by others.
 */
#ifndef SLUICE_CRYPTO_DKIM_H
#define SLUICE_CRYPTO_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/canon.h"

/* ---- errors ---- */

#define SL_DKIM_ERR_MAX 256

struct sl_dkim_err {
	char msg[SL_DKIM_ERR_MAX];
};

/* ---- canonicalization names ---- */

enum sl_dkim_canon {
	SL_DKIM_SIMPLE = 0,
	SL_DKIM_RELAXED = 1,
};

/* Bits of struct sl_dkim_bodyhash.mask and of sl_dkim_body_init's mask. */
#define SL_DKIM_BODY_SIMPLE  0x01u
#define SL_DKIM_BODY_RELAXED 0x02u

/* ---- step 1: body hash at accept time ---- */

/* Plain-old-data result, 65 bytes, stored by the spool as raw bytes. */
struct sl_dkim_bodyhash {
	uint8_t mask;          /* SL_DKIM_BODY_* bits that are valid */
	uint8_t simple[32];    /* SHA-256 of the simple body canonical form */
	uint8_t relaxed[32];   /* SHA-256 of the relaxed body canonical form */
};

/*
 * Streaming body hasher. Zero the struct before its first init; after
 * final it may be initialized again (the digest contexts are reused), and
 * sl_dkim_body_free releases it.
 */
struct sl_dkim_body {
	unsigned mask;
	EVP_MD_CTX *md[2];     /* [SL_DKIM_SIMPLE], [SL_DKIM_RELAXED] */
	struct sl_canon_body st[2];
	struct sl_sink sink[2];
};

int sl_dkim_body_init(struct sl_dkim_body *b, unsigned mask, struct sl_dkim_err *err);
void sl_dkim_body_update(struct sl_dkim_body *b, const void *data, size_t len);
int sl_dkim_body_final(struct sl_dkim_body *b, struct sl_dkim_bodyhash *out,
		       struct sl_dkim_err *err);
void sl_dkim_body_free(struct sl_dkim_body *b);

/* One call for a whole body in memory. */
int sl_dkim_body_hash(const void *body, size_t len, unsigned mask,
		      struct sl_dkim_bodyhash *out, struct sl_dkim_err *err);

/* ---- keys ---- */

enum sl_dkim_keytype {
	SL_DKIM_KEY_RSA = 1,
	SL_DKIM_KEY_ED25519 = 2,
};

#define SL_DKIM_RSA_MIN_BITS 1024
#define SL_DKIM_RSA_MAX_BITS 4096

struct sl_dkim_key;

/* Load a private key from a PEM file or from PEM text in memory. */
int sl_dkim_key_load_file(const char *path, struct sl_dkim_key **key,
			  struct sl_dkim_err *err);
int sl_dkim_key_load_mem(const void *pem, size_t len, struct sl_dkim_key **key,
			 struct sl_dkim_err *err);
/* Generate a key; bits is ignored for Ed25519. */
int sl_dkim_key_generate(enum sl_dkim_keytype type, int bits, struct sl_dkim_key **key,
			 struct sl_dkim_err *err);
/* Write the private key as PKCS#8 PEM, creating the file with mode 0600. */
int sl_dkim_key_write_pem(const struct sl_dkim_key *key, const char *path,
			  struct sl_dkim_err *err);
/*
 * Write the DNS TXT record text "v=DKIM1; k=rsa; p=BASE64" (RSA: DER
 * SubjectPublicKeyInfo; Ed25519: the raw 32-byte public key) into buf.
 * Returns the length, or a negative errno (-ENOSPC when buf is too small).
 */
int sl_dkim_key_dns_record(const struct sl_dkim_key *key, char *buf, size_t cap,
			   struct sl_dkim_err *err);
enum sl_dkim_keytype sl_dkim_key_type(const struct sl_dkim_key *key);
int sl_dkim_key_bits(const struct sl_dkim_key *key);
/* "rsa-sha256" or "ed25519-sha256". */
const char *sl_dkim_key_algorithm(const struct sl_dkim_key *key);
void sl_dkim_key_free(struct sl_dkim_key *key);

/* ---- step 2: signing at send time ---- */

/*
 * One signature to make. Strings are borrowed for the duration of the
 * call. headers is a colon-separated h= list; NULL selects the default
 * list (SL_DKIM_DEFAULT_HEADERS) with From, To, Cc, Subject and Date
 * over-signed, that is listed once more than they occur, so that none can
 * be added after signing. An explicit list is used as given.
 */
struct sl_dkim_signer {
	const struct sl_dkim_key *key;
	const char *domain;        /* d= */
	const char *selector;      /* s= */
	const char *identity;      /* i=, or NULL for none */
	const char *headers;       /* h= list, or NULL for the default */
	enum sl_dkim_canon header_canon;
	enum sl_dkim_canon body_canon;
	uint32_t expire;           /* x= is t= plus this many seconds; 0: no x= */
};

#define SL_DKIM_DEFAULT_HEADERS                                              \
	"From:To:Cc:Subject:Date:Message-ID:Reply-To:In-Reply-To:References:" \
	"MIME-Version:Content-Type:Content-Transfer-Encoding:"               \
	"List-Unsubscribe:List-Unsubscribe-Post:Feedback-ID"
#define SL_DKIM_OVERSIGN_HEADERS "From:To:Cc:Subject:Date"

/* Caller-owned output buffer; zero it before first use. */
struct sl_dkim_out {
	char *data;
	size_t len;
	size_t cap;
};

void sl_dkim_out_free(struct sl_dkim_out *out);

/*
 * Sign one message. headers/hlen is the header block: every header field
 * with its line ends, up to but not including the empty line. Bare LF
 * line ends are accepted. bh must hold the body hash for each signer's
 * body canonicalization. now is the signing time (t=), in seconds since
 * the epoch. out receives the DKIM-Signature fields to write before the
 * message, one per signer in signer order. Each is folded under 78
 * columns and ends in CRLF. out->len is reset first.
 */
int sl_dkim_sign(const struct sl_dkim_signer *signers, size_t nsigners,
		 const void *headers, size_t hlen, const struct sl_dkim_bodyhash *bh,
		 int64_t now, struct sl_dkim_out *out, struct sl_dkim_err *err);

/* One message of a batch; rc and err are outputs. */
struct sl_dkim_job {
	const void *headers;
	size_t hlen;
	const struct sl_dkim_bodyhash *bh;
	struct sl_dkim_out *out;
	int rc;
	struct sl_dkim_err err;
};

/*
 * Sign njobs messages with the same signers and time. Each job's out, rc
 * and err are what sl_dkim_sign gives for that message alone, and a
 * failing job does not stop the others. The header hashes of the whole
 * batch go through the multi-buffer SHA-256 in one call, and each key
 * signs all its digests in one call (crypto/sign_batch.c). Returns 0 when
 * every job succeeded, else the first failing job's rc.
 */
int sl_dkim_sign_batch(const struct sl_dkim_signer *signers, size_t nsigners,
		       struct sl_dkim_job *jobs, size_t njobs, int64_t now);

/*
 * Free the digest contexts that sl_dkim_sign keeps per thread. Call it
 * before a signing thread exits; the next sign call makes new ones.
 */
void sl_dkim_thread_cleanup(void);

/* ---- verification ---- */

/*
 * DNS TXT lookup for NAME (for example "sel._domainkey.example.com").
 * Writes the record text (multiple strings joined without separator)
 * into txt and returns its length. Returns -ENOENT when the name or
 * record does not exist, which the verifier reports as permerror. Any
 * other negative value is a temporary failure (temperror).
 */
typedef int (*sl_dkim_dns_fn)(void *arg, const char *name, char *txt, size_t cap);

enum sl_dkim_status {
	SL_DKIM_PASS = 0,
	SL_DKIM_FAIL,
	SL_DKIM_PERMERROR,
	SL_DKIM_TEMPERROR,
};

struct sl_dkim_result {
	enum sl_dkim_status status;
	char domain[256];
	char selector[128];
	char algorithm[32];
	char reason[160];
};

/*
 * Verify every DKIM-Signature field of msg (a whole message, headers and
 * body; CRLF or LF line ends). Writes up to max results, one per
 * signature in header order, and the count found into *count (which may
 * exceed max). now is used for x= expiry. Returns 0, or a negative errno
 * when the message itself cannot be parsed.
 */
int sl_dkim_verify(const void *msg, size_t len, sl_dkim_dns_fn dns, void *dns_arg,
		   int64_t now, struct sl_dkim_result *results, size_t max,
		   size_t *count, struct sl_dkim_err *err);

const char *sl_dkim_status_name(enum sl_dkim_status status);

/* ---- message helpers shared by the signer, verifier and CLI ---- */

/*
 * Find the end of the header block: returns the offset of the empty line
 * that separates headers from body (or len when there is none, a message
 * of headers only), and sets *body to the offset where the body starts.
 */
size_t sl_dkim_header_end(const uint8_t *msg, size_t len, size_t *body);

/*
 * Check message syntax as sluice accepts it: every header line has a
 * colon (or continues the previous one), no line is over 998 octets
 * without its line end, no NUL byte. Returns 0 or -EINVAL with a message
 * naming the problem and the 1-based line number (*line, if not NULL).
 */
int sl_dkim_check_message(const uint8_t *msg, size_t len, size_t *line,
			  struct sl_dkim_err *err);

#endif
