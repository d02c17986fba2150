/*
 * ctl/keycrypto.c - the key store's key operations, as a thin adapter
 * over crypto/dkim.h (which does all OpenSSL calls). See keycrypto.h.
 */
#include "ctl/keycrypto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/dkim.h"

static int describe(const struct sl_dkim_key *key, const char *path,
		    struct sl_keyinfo *info, char *err, size_t errlen)
{
	struct sl_dkim_err derr = { "" };
	int rc;

	memset(info, 0, sizeof(*info));
	if (sl_dkim_key_type(key) == SL_DKIM_KEY_ED25519) {
		snprintf(info->algorithm, sizeof(info->algorithm), "ed25519");
		info->bits = 256;
	} else {
		snprintf(info->algorithm, sizeof(info->algorithm), "rsa");
		info->bits = sl_dkim_key_bits(key);
	}
	rc = sl_dkim_key_dns_record(key, info->dns, sizeof(info->dns), &derr);
	if (rc < 0) {
		snprintf(err, errlen, "%s: DNS record failed: %s", path, derr.msg);
		return rc;
	}
	return 0;
}

int sl_keycrypto_generate(const char *algorithm, int bits, const char *path,
			  char *err, size_t errlen)
{
	struct sl_dkim_err derr = { "" };
	struct sl_dkim_key *key = NULL;
	enum sl_dkim_keytype type;
	int rc;

	if (strcmp(algorithm, "rsa") == 0) {
		type = SL_DKIM_KEY_RSA;
		if (bits < SL_DKIM_RSA_MIN_BITS || bits > SL_DKIM_RSA_MAX_BITS) {
			snprintf(err, errlen, "bits %d: allowed RSA sizes are %d to %d", bits,
				 SL_DKIM_RSA_MIN_BITS, SL_DKIM_RSA_MAX_BITS);
			return -ERANGE;
		}
	} else if (strcmp(algorithm, "ed25519") == 0) {
		type = SL_DKIM_KEY_ED25519;
	} else {
		snprintf(err, errlen, "algorithm \"%s\": allowed values are rsa, ed25519", algorithm);
		return -EINVAL;
	}
	rc = sl_dkim_key_generate(type, bits, &key, &derr);
	if (rc == 0)
		rc = sl_dkim_key_write_pem(key, path, &derr);
	if (rc)
		snprintf(err, errlen, "generating %s failed: %s", path, derr.msg);
	sl_dkim_key_free(key);
	return rc;
}

int sl_keycrypto_import(const char *pem, size_t len, const char *path,
			struct sl_keyinfo *info, char *err, size_t errlen)
{
	struct sl_dkim_err derr = { "" };
	struct sl_dkim_key *key = NULL;
	int rc = sl_dkim_key_load_mem(pem, len, &key, &derr);

	if (rc) {
		snprintf(err, errlen, "pem: not a usable private key (PKCS#1 or PKCS#8 PEM, RSA 1024 to 4096 bits or Ed25519): %s",
			 derr.msg);
		return rc == -ERANGE || rc == -ENOTSUP ? rc : -EINVAL;
	}
	rc = describe(key, path, info, err, errlen);
	if (rc == 0 && (rc = sl_dkim_key_write_pem(key, path, &derr)) != 0)
		snprintf(err, errlen, "writing %s failed: %s", path, derr.msg);
	sl_dkim_key_free(key);
	return rc;
}

int sl_keycrypto_inspect(const char *path, struct sl_keyinfo *info,
			 char *err, size_t errlen)
{
	struct sl_dkim_err derr = { "" };
	struct sl_dkim_key *key = NULL;
	int rc = sl_dkim_key_load_file(path, &key, &derr);

	if (rc) {
		snprintf(err, errlen, "loading %s failed: %s", path, derr.msg);
		return rc;
	}
	rc = describe(key, path, info, err, errlen);
	sl_dkim_key_free(key);
	return rc;
}
