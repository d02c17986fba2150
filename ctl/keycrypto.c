/*
 * ctl/keycrypto.c - key generation, import and DNS records with OpenSSL 3
 * EVP. See keycrypto.h for the contract.
 *
 * OpenSSL returns 1 for success and 0 or a negative value for failure;
 * this file translates that to 0 / -EPROTO in one place (ossl_ok).
 *
 * NOTE: crypto/dkim.h offers the same key operations
 * (sl_dkim_key_generate, sl_dkim_key_write_pem, sl_dkim_key_dns_record);
 * this file can become a thin adapter over it once both are on main.
 */
#include "ctl/keycrypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int ossl_fail(const char *what, const char *path, char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();
	char reason[160] = "unknown error";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, errlen, "%s failed for %s: %s", what, path, reason);
	return -EPROTO;
}

#define ossl_ok(rc) ((rc) == 1)

/* Writes KEY as PKCS#8 PEM to a new file PATH with mode 0600. */
static int write_pem(EVP_PKEY *key, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	BIO *bio;
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "open(%s) failed: %s", path, strerror(errno));
		return rc;
	}
	bio = BIO_new_fd(fd, BIO_CLOSE);
	if (!bio) {
		close(fd);
		unlink(path);
		return ossl_fail("BIO_new_fd", path, err, errlen);
	}
	if (!ossl_ok(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) ||
	    BIO_flush(bio) != 1)
		rc = ossl_fail("PEM_write_bio_PrivateKey", path, err, errlen);
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "fsync(%s) failed: %s", path, strerror(errno));
	}
	BIO_free(bio);
	if (rc)
		unlink(path);
	return rc;
}

static int describe(EVP_PKEY *key, const char *path, struct sl_keyinfo *info,
		    char *err, size_t errlen)
{
	unsigned char der[590], *p = der;	/* RSA-4096 SPKI is 550 bytes */
	unsigned char b64[800];
	size_t rawlen = sizeof(der);
	int len;

	memset(info, 0, sizeof(*info));
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		snprintf(info->algorithm, sizeof(info->algorithm), "rsa");
		info->bits = EVP_PKEY_get_bits(key);
		if (info->bits < 1024 || info->bits > 4096) {
			snprintf(err, errlen, "%s: RSA key of %d bits: allowed sizes are 1024 to 4096",
				 path, info->bits);
			return -ERANGE;
		}
		len = i2d_PUBKEY(key, NULL);
		if (len <= 0 || (size_t)len > sizeof(der) || i2d_PUBKEY(key, &p) != len)
			return ossl_fail("i2d_PUBKEY", path, err, errlen);
		break;
	case EVP_PKEY_ED25519:
		snprintf(info->algorithm, sizeof(info->algorithm), "ed25519");
		info->bits = 256;
		/* RFC 8463: the p= tag is the raw 32-byte public key. */
		if (!ossl_ok(EVP_PKEY_get_raw_public_key(key, der, &rawlen)))
			return ossl_fail("EVP_PKEY_get_raw_public_key", path, err, errlen);
		len = (int)rawlen;
		break;
	default:
		snprintf(err, errlen, "%s: unsupported key type: allowed types are RSA and Ed25519", path);
		return -ENOTSUP;
	}
	EVP_EncodeBlock(b64, der, len);
	snprintf(info->dns, sizeof(info->dns), "v=DKIM1; k=%s; p=%s", info->algorithm, b64);
	return 0;
}

int sl_keycrypto_generate(const char *algorithm, int bits, const char *path,
			  char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	int rc;

	if (strcmp(algorithm, "rsa") == 0) {
		if (bits < 1024 || bits > 4096) {
			snprintf(err, errlen, "bits %d: allowed RSA sizes are 1024 to 4096", bits);
			return -ERANGE;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (strcmp(algorithm, "ed25519") == 0) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		snprintf(err, errlen, "algorithm \"%s\": allowed values are rsa, ed25519", algorithm);
		return -EINVAL;
	}
	if (!key)
		return ossl_fail("EVP_PKEY_Q_keygen", path, err, errlen);
	rc = write_pem(key, path, err, errlen);
	EVP_PKEY_free(key);
	return rc;
}

int sl_keycrypto_import(const char *pem, size_t len, const char *path,
			struct sl_keyinfo *info, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key;
	int rc;

	if (!bio)
		return ossl_fail("BIO_new_mem_buf", path, err, errlen);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!key) {
		ERR_clear_error();
		snprintf(err, errlen, "pem: not a PEM private key (PKCS#1 or PKCS#8, unencrypted)");
		return -EINVAL;
	}
	rc = describe(key, path, info, err, errlen);
	if (rc == 0)
		rc = write_pem(key, path, err, errlen);
	EVP_PKEY_free(key);
	return rc;
}

int sl_keycrypto_inspect(const char *path, struct sl_keyinfo *info,
			 char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *key;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "open(%s) failed: %s", path, strerror(errno));
		return rc;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key)
		return ossl_fail("PEM_read_PrivateKey", path, err, errlen);
	rc = describe(key, path, info, err, errlen);
	EVP_PKEY_free(key);
	return rc;
}
