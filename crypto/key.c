/*
 * crypto/key.c - DKIM private keys: load, generate, write, DNS record.
 *
 * Keys are RSA (SL_DKIM_RSA_MIN_BITS to SL_DKIM_RSA_MAX_BITS) or Ed25519,
 * read from PEM: PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY").
 * Before OpenSSL parses the text, a light scan finds the PEM block and
 * checks its base64 lines, so that a malformed file gets a message with
 * the line number. Encrypted keys are rejected (no passphrase prompt).
 *
 * Ownership: sl_dkim_key_free releases the EVP_PKEY. Every buffer that
 * held private key bytes (file contents, PEM output) is wiped with
 * OPENSSL_cleanse before it is freed. A loaded key is read-only and may
 * be used by several threads at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/internal.h"

#define KEY_FILE_MAX (64 * 1024)

static _Atomic uint64_t next_key_id = 1;

/* PEM passphrase callback that never prompts. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int line_is(const char *p, const char *eol, const char *text)
{
	size_t n = strlen(text);

	return (size_t)(eol - p) >= n && memcmp(p, text, n) == 0;
}

static const char *next_line(const char *p, const char *end, const char **eol)
{
	const char *e = memchr(p, '\n', (size_t)(end - p));

	if (!e)
		e = end;
	*eol = (e > p && e[-1] == '\r') ? e - 1 : e;
	return e < end ? e + 1 : end;
}

/*
 * Find the PEM block and check its label and base64 lines. Returns 0, or
 * a negative errno with a message naming the line.
 */
static int pem_scan(const char *text, size_t len, struct sl_dkim_err *err)
{
	const char *p = text, *end = text + len, *eol, *next;
	size_t line = 0;
	int in_block = 0;

	if (memchr(text, '\0', len))
		return sl_crypto_fail(err, -EINVAL, "NUL byte in key file");
	for (; p < end; p = next) {
		next = next_line(p, end, &eol);
		line++;
		if (!in_block) {
			if (!line_is(p, eol, "-----BEGIN "))
				continue;
			if (line_is(p, eol, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
				return sl_crypto_fail(err, -ENOTSUP,
						      "line %zu: encrypted private keys are "
						      "not supported", line);
			if (line_is(p, eol, "-----BEGIN PUBLIC KEY-----") ||
			    line_is(p, eol, "-----BEGIN RSA PUBLIC KEY-----"))
				return sl_crypto_fail(err, -EINVAL,
						      "line %zu: this is a public key, a "
						      "private key is needed", line);
			if (!line_is(p, eol, "-----BEGIN PRIVATE KEY-----") &&
			    !line_is(p, eol, "-----BEGIN RSA PRIVATE KEY-----"))
				return sl_crypto_fail(err, -ENOTSUP,
						      "line %zu: unsupported PEM type \"%.*s\" "
						      "(need PRIVATE KEY or RSA PRIVATE KEY)",
						      line, (int)(eol - p > 60 ? 60 : eol - p), p);
			in_block = 1;
			continue;
		}
		if (line_is(p, eol, "-----END "))
			return 0;
		for (const char *c = p; c < eol; c++) {
			if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			      (*c >= '0' && *c <= '9') || *c == '+' || *c == '/' ||
			      *c == '=' || *c == ' ' || *c == '\t' || *c == ':' || *c == '-' ||
			      *c == ','))
				return sl_crypto_fail(err, -EINVAL,
						      "line %zu: invalid character in PEM base64 "
						      "data", line);
		}
	}
	if (in_block)
		return sl_crypto_fail(err, -EINVAL,
				      "line %zu: PEM block has no END line", line);
	return sl_crypto_fail(err, -EINVAL, "no PEM BEGIN line found (%zu lines read)",
			      line);
}

/*
 * Expand an Ed25519 private key for crypto/ed25519.c and check that the
 * public key it derives is the one OpenSSL holds, so a fault in either
 * implementation stops the key from being used instead of producing
 * signatures that no verifier accepts.
 */
static int ed_expand(struct sl_dkim_key *key, struct sl_dkim_err *err)
{
	uint8_t seed[32], pub[32];
	size_t n = sizeof(seed), pn = sizeof(pub);
	int rc = 0;

	if (EVP_PKEY_get_raw_private_key(key->pkey, seed, &n) != 1 || n != sizeof(seed) ||
	    EVP_PKEY_get_raw_public_key(key->pkey, pub, &pn) != 1 || pn != sizeof(pub)) {
		rc = sl_crypto_ossl_fail(err, "EVP_PKEY_get_raw_private_key",
					 "Ed25519 key material");
	} else if (sl_ed25519_expand(&key->ed, seed) < 0) {
		rc = sl_crypto_fail(err, -EPROTO, "SHA-512 failed while expanding Ed25519 key");
	} else if (memcmp(key->ed.pub, pub, sizeof(pub)) != 0) {
		rc = sl_crypto_fail(err, -EPROTO,
				    "Ed25519 public key derived by sluice differs from OpenSSL's; "
				    "refusing to sign with it");
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	if (rc)
		sl_ed25519_wipe(&key->ed);
	return rc;
}

static int key_wrap(EVP_PKEY *pkey, struct sl_dkim_key **out, struct sl_dkim_err *err)
{
	struct sl_dkim_key *key;
	int id = EVP_PKEY_get_base_id(pkey);
	int bits = EVP_PKEY_get_bits(pkey);

	if (id == EVP_PKEY_RSA) {
		if (bits < SL_DKIM_RSA_MIN_BITS || bits > SL_DKIM_RSA_MAX_BITS) {
			EVP_PKEY_free(pkey);
			return sl_crypto_fail(err, -ERANGE,
					      "RSA key has %d bits, outside the accepted "
					      "%d to %d", bits, SL_DKIM_RSA_MIN_BITS,
					      SL_DKIM_RSA_MAX_BITS);
		}
	} else if (id != EVP_PKEY_ED25519) {
		const char *name = EVP_PKEY_get0_type_name(pkey);

		EVP_PKEY_free(pkey);
		return sl_crypto_fail(err, -ENOTSUP,
				      "key type %s is not supported (need RSA or Ed25519)",
				      name ? name : "unknown");
	}
	key = calloc(1, sizeof(*key));
	if (!key) {
		EVP_PKEY_free(pkey);
		return sl_crypto_fail(err, -ENOMEM, "out of memory for key");
	}
	key->pkey = pkey;
	key->type = id == EVP_PKEY_RSA ? SL_DKIM_KEY_RSA : SL_DKIM_KEY_ED25519;
	key->bits = bits;
	key->id = next_key_id++;
	if (key->type == SL_DKIM_KEY_ED25519) {
		int rc = ed_expand(key, err);

		if (rc) {
			sl_dkim_key_free(key);
			return rc;
		}
	}
	*out = key;
	return 0;
}

int sl_dkim_key_load_mem(const void *pem, size_t len, struct sl_dkim_key **key,
			 struct sl_dkim_err *err)
{
	EVP_PKEY *pkey;
	BIO *bio;
	int rc;

	*key = NULL;
	if (len > INT32_MAX)
		return sl_crypto_fail(err, -EINVAL, "key text too large");
	rc = pem_scan(pem, len, err);
	if (rc)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return sl_crypto_ossl_fail(err, "BIO_new_mem_buf", "key");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pkey)
		return sl_crypto_ossl_fail(err, "PEM_read_bio_PrivateKey",
					   "malformed private key");
	return key_wrap(pkey, key, err);
}

/* Read a whole file of at most KEY_FILE_MAX bytes; *len receives its size. */
static int read_small_file(const char *path, char **data, size_t *len,
			   struct sl_dkim_err *err)
{
	struct stat sb;
	ssize_t got;
	size_t n = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return sl_crypto_fail(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > KEY_FILE_MAX) {
		close(fd);
		return sl_crypto_fail(err, -EINVAL, "%s: not a regular file of at most %d bytes",
				      path, KEY_FILE_MAX);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return sl_crypto_fail(err, -ENOMEM, "out of memory reading %s", path);
	}
	while (n < (size_t)sb.st_size) {
		got = read(fd, buf + n, (size_t)sb.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int e = got < 0 ? errno : EIO;

			close(fd);
			OPENSSL_cleanse(buf, n);
			free(buf);
			return sl_crypto_fail(err, -e, "cannot read %s: %s", path, strerror(e));
		}
		n += (size_t)got;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int sl_dkim_key_load_file(const char *path, struct sl_dkim_key **key,
			  struct sl_dkim_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*key = NULL;
	rc = read_small_file(path, &text, &len, err);
	if (rc)
		return rc;
	rc = sl_dkim_key_load_mem(text, len, key, err);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc && err) {
		char msg[SL_DKIM_ERR_MAX];
		size_t used;

		memcpy(msg, err->msg, sizeof(msg));
		used = (size_t)snprintf(err->msg, sizeof(err->msg), "%s: ", path);
		if (used < sizeof(err->msg))
			memcpy(err->msg + used, msg, strnlen(msg, sizeof(msg) - used - 1) + 1);
		err->msg[sizeof(err->msg) - 1] = '\0';
	}
	return rc;
}

int sl_dkim_key_generate(enum sl_dkim_keytype type, int bits, struct sl_dkim_key **key,
			 struct sl_dkim_err *err)
{
	EVP_PKEY *pkey;

	*key = NULL;
	if (type == SL_DKIM_KEY_RSA) {
		if (bits < SL_DKIM_RSA_MIN_BITS || bits > SL_DKIM_RSA_MAX_BITS)
			return sl_crypto_fail(err, -ERANGE,
					      "RSA key size %d is outside %d to %d", bits,
					      SL_DKIM_RSA_MIN_BITS, SL_DKIM_RSA_MAX_BITS);
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (type == SL_DKIM_KEY_ED25519) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		return sl_crypto_fail(err, -ENOTSUP, "unknown key type %d", (int)type);
	}
	if (!pkey)
		return sl_crypto_ossl_fail(err, "EVP_PKEY_Q_keygen", "key generation");
	return key_wrap(pkey, key, err);
}

int sl_dkim_key_write_pem(const struct sl_dkim_key *key, const char *path,
			  struct sl_dkim_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	ssize_t put;
	int fd, rc = 0;

	if (!bio)
		return sl_crypto_ossl_fail(err, "BIO_new", "write key");
	if (PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(bio);
		return sl_crypto_ossl_fail(err, "PEM_write_bio_PrivateKey", "write key");
	}
	len = BIO_get_mem_data(bio, &pem);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = sl_crypto_fail(err, -errno, "cannot create %s: %s", path, strerror(errno));
	} else {
		if (fchmod(fd, 0600) < 0) {
			rc = sl_crypto_fail(err, -errno, "chmod 0600 %s: %s", path,
					    strerror(errno));
		} else {
			put = write(fd, pem, (size_t)len);
			if (put != len)
				rc = sl_crypto_fail(err, put < 0 ? -errno : -EIO,
						    "cannot write %s: %s", path,
						    put < 0 ? strerror(errno) : "short write");
		}
		if (close(fd) < 0 && rc == 0)
			rc = sl_crypto_fail(err, -errno, "cannot write %s: %s", path,
					    strerror(errno));
	}
	OPENSSL_cleanse(pem, (size_t)len);
	BIO_free(bio);
	return rc;
}

int sl_dkim_key_dns_record(const struct sl_dkim_key *key, char *buf, size_t cap,
			   struct sl_dkim_err *err)
{
	uint8_t raw[32], *der = NULL;
	const uint8_t *pub;
	size_t publen = sizeof(raw);
	const char *k;
	int n, rc = 0;

	if (key->type == SL_DKIM_KEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &publen) != 1)
			return sl_crypto_ossl_fail(err, "EVP_PKEY_get_raw_public_key",
						   "DNS record");
		pub = raw;
		k = "ed25519";
	} else {
		n = i2d_PUBKEY(key->pkey, &der);
		if (n <= 0)
			return sl_crypto_ossl_fail(err, "i2d_PUBKEY", "DNS record");
		pub = der;
		publen = (size_t)n;
		k = "rsa";
	}
	n = snprintf(buf, cap, "v=DKIM1; k=%s; p=", k);
	if (n < 0 || (size_t)n + (publen + 2) / 3 * 4 + 1 > cap)
		rc = sl_crypto_fail(err, -ENOSPC, "DNS record buffer too small");
	else
		rc = (int)((size_t)n + sl_b64_encode(buf + n, pub, publen));
	OPENSSL_free(der);
	return rc;
}

enum sl_dkim_keytype sl_dkim_key_type(const struct sl_dkim_key *key)
{
	return key->type;
}

int sl_dkim_key_bits(const struct sl_dkim_key *key)
{
	return key->bits;
}

const char *sl_dkim_key_algorithm(const struct sl_dkim_key *key)
{
	return key->type == SL_DKIM_KEY_RSA ? "rsa-sha256" : "ed25519-sha256";
}

void sl_dkim_key_free(struct sl_dkim_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	sl_ed25519_wipe(&key->ed);
	free(key);
}
