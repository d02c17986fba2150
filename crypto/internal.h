/*
 * crypto/internal.h - helpers shared by the files of crypto/, not part of
 * the public API.
 */
#ifndef SLUICE_CRYPTO_INTERNAL_H
#define SLUICE_CRYPTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "crypto/dkim.h"
#include "crypto/ed25519.h"

struct sl_dkim_key {
	EVP_PKEY *pkey;
	enum sl_dkim_keytype type;
	int bits;
	uint64_t id;           /* unique per loaded key, for per-thread caches */
	struct sl_ed25519_key ed;   /* expanded Ed25519 private key, if any */
};

/* err.c: fill err and return code; the OpenSSL variant reads its queue. */
int sl_crypto_fail(struct sl_dkim_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sl_crypto_ossl_fail(struct sl_dkim_err *err, const char *call, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Translate an OpenSSL result (1 success; 0 or negative failure) into 0 or
 * -EPROTO (-ENOMEM when OpenSSL ran out of memory), naming the call in err.
 */
int sl_crypto_ossl_check(int ok, struct sl_dkim_err *err, const char *call);
/* Drop queued OpenSSL errors after a failure that was expected and handled. */
void sl_crypto_ossl_clear(void);

/* err.c: the SHA-256 and SHA-512 EVP_MDs, fetched once per process. */
const EVP_MD *sl_crypto_sha256(void);
const EVP_MD *sl_crypto_sha512(void);

/* b64.c: base64 without line breaks. */
size_t sl_b64_encode(char *out, const uint8_t *in, size_t len);
/* Decode, skipping whitespace (FWS); returns the length or -1 if invalid. */
long sl_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len);

/* message.c: header fields of a header block. */
struct sl_hfield {
	const uint8_t *p;      /* field start (name) */
	uint32_t len;          /* field length without its final line end */
	uint32_t name_len;     /* name length without trailing whitespace */
};

struct sl_hlist {
	struct sl_hfield *f;
	size_t n;
	size_t cap;
	struct sl_hfield local[64];
};

void sl_hlist_init(struct sl_hlist *h);
int sl_hlist_parse(struct sl_hlist *h, const uint8_t *hdr, size_t len,
		   struct sl_dkim_err *err);
void sl_hlist_free(struct sl_hlist *h);
int sl_hname_eq(const struct sl_hfield *f, const char *name, size_t len);

/* ---- sign.c: the parts of one signature, shared with sign_batch.c ---- */

#define SL_SIGN_MAX_SIGNERS 16
#define SL_SIGN_HLIST_MAX 4096                        /* h= value, bytes */
#define SL_SIGN_FIELD_MAX (SL_SIGN_HLIST_MAX + 2048)  /* folded field, bytes */
#define SL_SIGN_SIG_MAX 512                           /* RSA-4096 signature bytes */

/* Folding writer of one DKIM-Signature field; buf is NUL-terminated. */
struct sl_fold {
	char *buf;
	size_t len;
	size_t cap;
	size_t col;            /* column of the next byte on the current line */
	int overflow;          /* a write did not fit in cap */
};

/* 1 when name[0..len) is in the colon-separated list, ignoring case. */
int sl_sign_name_in_list(const char *list, const char *name, size_t len);
/* 1 when p[0..n) may be a name in an h= list: printable, no ':' or ';'. */
int sl_sign_valid_hname(const char *p, size_t n);
/*
 * Append ':' (unless hv is empty) and name to the h= value hv, which holds
 * *used bytes. Returns -1 when the result would not fit in
 * SL_SIGN_HLIST_MAX bytes with its NUL.
 */
int sl_sign_hv_append(char *hv, size_t *used, const char *name, size_t len);
/* Check a signer's names, identity and key against the stored body hash. */
int sl_sign_check_signer(const struct sl_dkim_signer *s, const struct sl_dkim_bodyhash *bh,
			 struct sl_dkim_err *err);
/*
 * Write the signer's h= value for the fields in h into hv (room for
 * SL_SIGN_HLIST_MAX bytes). Fails with -EINVAL when the list lacks From
 * or the message has no From field.
 */
int sl_sign_resolve_hlist(const struct sl_dkim_signer *s, const struct sl_hlist *h,
			  char *hv, struct sl_dkim_err *err);
/*
 * Write the DKIM-Signature field up to and including "b=" into f, from
 * its start. f->overflow is set when it does not fit.
 */
void sl_sign_build_field(struct sl_fold *f, const struct sl_dkim_signer *s, const char *hv,
			 const struct sl_dkim_bodyhash *bh, int64_t now);
/*
 * Canonicalize the fields named in hv into sink, each name taken
 * bottom-up. used is scratch space of at least h->n bytes.
 */
void sl_sign_canon_fields(struct sl_sink *sink, const struct sl_hlist *h, const char *hv,
			  enum sl_dkim_canon canon, uint8_t *used);
/*
 * Append the base64 signature, folded, and the final CRLF to a field that
 * sl_sign_build_field wrote. Returns 0 or -E2BIG.
 */
int sl_sign_finish_field(struct sl_fold *f, const uint8_t *sig, size_t siglen,
			 struct sl_dkim_err *err);

/*
 * Sign n SHA-256 header hashes with one key: the DKIM signature of
 * digests[i] goes to sigs + i * sig_stride and its length to siglens[i].
 * sig_stride must be at least the key's signature size (SL_SIGN_SIG_MAX
 * fits every key). When digest i cannot be signed, siglens[i] is 0 and
 * errs[i] holds the message (errs may be NULL), and the other digests are
 * still signed. Returns 0 when every digest was signed, else the negative
 * errno of the first failure.
 */
int sl_dkim_sign_digests(const struct sl_dkim_key *key, const uint8_t (*digests)[32], size_t n,
			 uint8_t *sigs, size_t sig_stride, size_t *siglens,
			 struct sl_dkim_err *errs);

/* sign_batch.c: free this thread's batch scratch memory. */
void sl_sign_batch_thread_cleanup(void);

/* sign.c: sign a caller-built field with an empty b= value (test vectors). */
int sl_dkim_sign_field(const struct sl_dkim_key *key, enum sl_dkim_canon hc,
		       const char *hlist, const void *headers, size_t hlen,
		       const char *field, size_t flen, char *b64, size_t cap,
		       struct sl_dkim_err *err);

/* sign.c: 1 when SLUICE_ED25519=openssl selects OpenSSL's Ed25519 signing. */
int sl_ed25519_openssl(void);

/* Growable byte buffer appending helpers for struct sl_dkim_out. */
int sl_out_reserve(struct sl_dkim_out *o, size_t more);
int sl_out_put(struct sl_dkim_out *o, const void *p, size_t n);

#endif
