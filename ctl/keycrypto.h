/*
 * ctl/keycrypto.h - the key operations the key store needs: generate a
 * private key into a PEM file, check and store an imported PEM key, and
 * describe a key file (algorithm, size, DNS TXT record).
 *
 * Every function returns 0 or a negative errno value and writes a message
 * naming the file and the cause into err. PEM files are created with mode
 * 0600; no function logs or returns private key bytes.
 */
#ifndef SLUICE_CTL_KEYCRYPTO_H
#define SLUICE_CTL_KEYCRYPTO_H

#include <stddef.h>

#define SL_KEY_DNS_MAX 1024

struct sl_keyinfo {
	char algorithm[8];	/* "rsa" or "ed25519", as in the DNS k= tag */
	int bits;		/* RSA modulus size; 256 for Ed25519 */
	char dns[SL_KEY_DNS_MAX];	/* "v=DKIM1; k=rsa; p=..." */
};

int sl_keycrypto_generate(const char *algorithm, int bits, const char *path,
			  char *err, size_t errlen);
int sl_keycrypto_import(const char *pem, size_t len, const char *path,
			struct sl_keyinfo *info, char *err, size_t errlen);
int sl_keycrypto_inspect(const char *path, struct sl_keyinfo *info,
			 char *err, size_t errlen);

#endif
