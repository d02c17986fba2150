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

struct sl_dkim_key {
	EVP_PKEY *pkey;
	enum sl_dkim_keytype type;
	int bits;
	uint64_t id;           /* unique per loaded key, for per-thread caches */
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

/* err.c: the SHA-256 EVP_MD, fetched once per process. */
const EVP_MD *sl_crypto_sha256(void);

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

/* sign.c: sign a caller-built field with an empty b= value (test vectors). */
int sl_dkim_sign_field(const struct sl_dkim_key *key, enum sl_dkim_canon hc,
		       const char *hlist, const void *headers, size_t hlen,
		       const char *field, size_t flen, char *b64, size_t cap,
		       struct sl_dkim_err *err);

/* Growable byte buffer appending helpers for struct sl_dkim_out. */
int sl_out_reserve(struct sl_dkim_out *o, size_t more);
int sl_out_put(struct sl_dkim_out *o, const void *p, size_t n);

#endif
