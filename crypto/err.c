/*
 * crypto/err.c - the one place where OpenSSL results become sluice errors.
 *
 * OpenSSL returns 1 for success and 0 (sometimes negative) for failure and
 * leaves the cause on a per-thread error queue. sl_crypto_ossl_check and
 * sl_crypto_ossl_fail turn that into the crypto/ convention: 0, or a
 * negative errno with a message in struct sl_dkim_err that names the call
 * and OpenSSL's first reason. They empty the queue, so a stale error never
 * shows up in a later message.
 *
 * sl_crypto_sha256 and sl_crypto_sha512 also live here: the EVP_MDs that
 * the digests in crypto/ use, fetched from the provider once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "crypto/internal.h"

int sl_crypto_fail(struct sl_dkim_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Append OpenSSL's first queued reason to err and clear the queue. */
static int ossl_drain(struct sl_dkim_err *err)
{
	unsigned long e = ERR_get_error();
	int code = -EPROTO;
	size_t used;

	if (e && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
		code = -ENOMEM;
	if (err) {
		used = strlen(err->msg);
		if (e) {
			char reason[160];

			ERR_error_string_n(e, reason, sizeof(reason));
			snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", reason);
		} else {
			snprintf(err->msg + used, sizeof(err->msg) - used,
				 ": no OpenSSL reason given");
		}
	}
	ERR_clear_error();
	return code;
}

int sl_crypto_ossl_fail(struct sl_dkim_err *err, const char *call, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		used = strlen(err->msg);
		snprintf(err->msg + used, sizeof(err->msg) - used, ": %s() failed", call);
	}
	return ossl_drain(err);
}

void sl_crypto_ossl_clear(void)
{
	ERR_clear_error();
}

int sl_crypto_ossl_check(int ok, struct sl_dkim_err *err, const char *call)
{
	if (ok == 1)
		return 0;
	if (err)
		snprintf(err->msg, sizeof(err->msg), "%s() failed", call);
	return ossl_drain(err);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * SHA-256 fetched once per process. EVP_sha256() makes OpenSSL 3 look the
 * implementation up again at every EVP_DigestInit_ex (under a lock), which
 * costs more than hashing a header block. Falls back to EVP_sha256() if
 * the fetch failed, so the caller's own init reports the error.
 */
const EVP_MD *sl_crypto_sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}

static EVP_MD *sha512_md;
static pthread_once_t sha512_once = PTHREAD_ONCE_INIT;

static void sha512_fetch(void)
{
	sha512_md = EVP_MD_fetch(NULL, "SHA512", NULL);
}

/* SHA-512 for Ed25519 signing, fetched once like sl_crypto_sha256. */
const EVP_MD *sl_crypto_sha512(void)
{
	pthread_once(&sha512_once, sha512_fetch);
	return sha512_md ? sha512_md : EVP_sha512();
}
