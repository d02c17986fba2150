/*
 * dataplane/tls.c - see tls.h for the contract.
 */
#include <arpa/inet.h>
#include "dataplane/tls.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>

struct sl_tls {
	SSL *ssl;
	BIO *rbio;	/* ciphertext from the peer, read by OpenSSL */
	BIO *wbio;	/* ciphertext for the peer, written by OpenSSL */
};

const char *sl_tls_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (!e)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

struct sl_tls_ctx *sl_tls_server_ctx(const char *cert_file, const char *key_file, char *err,
				     size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];

	if (!ctx) {
		snprintf(err, errlen, "SSL_CTX_new failed: %s", sl_tls_error(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "loading certificate %s failed: %s", cert_file,
			 sl_tls_error(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "loading key %s failed: %s", key_file,
			 sl_tls_error(why, sizeof(why)));
		goto fail;
	}
	return (struct sl_tls_ctx *)ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct sl_tls_ctx *sl_tls_client_ctx(char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char why[256];

	if (!ctx) {
		snprintf(err, errlen, "SSL_CTX_new failed: %s", sl_tls_error(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Opportunistic: an unverified certificate still beats plaintext. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return (struct sl_tls_ctx *)ctx;
}

struct sl_tls_ctx *sl_tls_client_verify_ctx(const char *ca_file, char *err, size_t errlen)
{
	struct sl_tls_ctx *ctx = sl_tls_client_ctx(err, errlen);
	char why[256];

	if (!ctx)
		return NULL;
	if (SSL_CTX_load_verify_locations((SSL_CTX *)ctx, ca_file, NULL) != 1) {
		snprintf(err, errlen, "loading CA bundle %s failed: %s", ca_file,
			 sl_tls_error(why, sizeof(why)));
		SSL_CTX_free((SSL_CTX *)ctx);
		return NULL;
	}
	return ctx;
}

void sl_tls_ctx_free(struct sl_tls_ctx *ctx)
{
	SSL_CTX_free((SSL_CTX *)ctx);
}

struct sl_tls *sl_tls_new(struct sl_tls_ctx *ctx)
{
	struct sl_tls *tls = calloc(1, sizeof(*tls));

	if (!tls)
		return NULL;
	tls->ssl = SSL_new((SSL_CTX *)ctx);
	tls->rbio = BIO_new(BIO_s_mem());
	tls->wbio = BIO_new(BIO_s_mem());
	if (!tls->ssl || !tls->rbio || !tls->wbio) {
		BIO_free(tls->rbio);
		BIO_free(tls->wbio);
		SSL_free(tls->ssl);
		free(tls);
		return NULL;
	}
	/* EOF on the memory BIO means "no data yet", not end of stream. */
	BIO_set_mem_eof_return(tls->rbio, -1);
	SSL_set_bio(tls->ssl, tls->rbio, tls->wbio);
	SSL_set_accept_state(tls->ssl);
	return tls;
}

struct sl_tls *sl_tls_new_client(struct sl_tls_ctx *ctx, const char *server_name)
{
	struct sl_tls *tls = sl_tls_new(ctx);
	struct in6_addr ip;

	if (!tls)
		return NULL;
	SSL_set_connect_state(tls->ssl);
	/* SNI carries host names only, never address literals (RFC 6066). */
	if (server_name && inet_pton(AF_INET, server_name, &ip) != 1 &&
	    inet_pton(AF_INET6, server_name, &ip) != 1)
		SSL_set_tlsext_host_name(tls->ssl, server_name);
	return tls;
}

void sl_tls_free(struct sl_tls *tls)
{
	if (!tls)
		return;
	SSL_free(tls->ssl);	/* frees both BIOs */
	free(tls);
}

int sl_tls_expect_host(struct sl_tls *tls, const char *host)
{
	SSL_set_hostflags(tls->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(tls->ssl, host) == 1 ? 0 : -ENOMEM;
}

int sl_tls_verify_peer(const struct sl_tls *tls, char *buf, size_t len)
{
	X509 *cert = SSL_get0_peer_certificate(tls->ssl);
	long result;

	if (!cert) {
		snprintf(buf, len, "no server certificate");
		return -EPROTO;
	}
	result = SSL_get_verify_result(tls->ssl);
	if (result != X509_V_OK) {
		snprintf(buf, len, "%s", X509_verify_cert_error_string(result));
		return -EPROTO;
	}
	return 0;
}

int sl_tls_feed(struct sl_tls *tls, const uint8_t *data, size_t len)
{
	while (len) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		int n = BIO_write(tls->rbio, data, chunk);

		if (n <= 0)
			return -ENOMEM;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Translate an OpenSSL result of 0 or less into -errno. */
static int ssl_result(struct sl_tls *tls, int rc)
{
	switch (SSL_get_error(tls->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return -EPROTO;
	}
}

int sl_tls_handshake(struct sl_tls *tls)
{
	int rc = SSL_do_handshake(tls->ssl);

	if (rc == 1)
		return 0;
	rc = ssl_result(tls, rc);
	return rc == 0 ? -EPROTO : rc;
}

int sl_tls_read(struct sl_tls *tls, uint8_t *buf, size_t len)
{
	int n = SSL_read(tls->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);

	return n > 0 ? n : ssl_result(tls, n);
}

int sl_tls_write(struct sl_tls *tls, const uint8_t *data, size_t len)
{
	while (len) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		int n = SSL_write(tls->ssl, data, chunk);

		if (n <= 0)
			return ssl_result(tls, n) == -EAGAIN ? -EAGAIN : -EPROTO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t sl_tls_output(struct sl_tls *tls, struct sl_buf *out)
{
	size_t pending = BIO_ctrl_pending(tls->wbio), total = 0;

	while (pending) {
		int n;

		sl_buf_reserve(out, pending);
		n = BIO_read(tls->wbio, out->p + out->len, (int)pending);
		if (n <= 0)
			break;
		out->len += (size_t)n;
		total += (size_t)n;
		pending = BIO_ctrl_pending(tls->wbio);
	}
	return total;
}

const char *sl_tls_version(const struct sl_tls *tls)
{
	return SSL_get_version(tls->ssl);
}

const char *sl_tls_cipher(const struct sl_tls *tls)
{
	return SSL_get_cipher_name(tls->ssl);
}
