/*
 * dataplane/tls.h - TLS for SMTP sessions: OpenSSL over memory BIOs.
 *
 * The connection layer moves ciphertext; this module turns it into
 * plaintext and back, so TLS code never touches a socket:
 *
 *   sl_tls_feed()      give received ciphertext to OpenSSL
 *   sl_tls_handshake() advance the handshake: 0 done, -EAGAIN needs more
 *                      input, -EPROTO failed (sl_tls_error() returns the reason)
 *   sl_tls_read()      plaintext out: bytes, -EAGAIN, or 0 at close_notify
 *   sl_tls_write()     plaintext in (all of it is taken)
 *   sl_tls_output()    move pending ciphertext into a buffer to send
 *
 * This file is the one place where OpenSSL's 1/0 and SSL_get_error()
 * results become -errno values for the dataplane. Server contexts accept
 * TLS 1.2 and later only.
 */
#ifndef SLUICE_DATAPLANE_TLS_H
#define SLUICE_DATAPLANE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/buf.h"

struct sl_tls_ctx;
struct sl_tls;

/* Load a certificate chain and key (PEM); err gets the reason on failure. */
struct sl_tls_ctx *sl_tls_server_ctx(const char *cert_file, const char *key_file, char *err,
				     size_t errlen);
/* A client context for outbound STARTTLS: TLS 1.2 and later, no
 * certificate verification (opportunistic TLS, RFC 7435). */
struct sl_tls_ctx *sl_tls_client_ctx(char *err, size_t errlen);
/* A client context that loads the CAs of ca_file (PEM) for
 * sl_tls_verify_peer(). The handshake itself never fails on the
 * certificate, so that a policy in testing mode can still deliver. */
struct sl_tls_ctx *sl_tls_client_verify_ctx(const char *ca_file, char *err, size_t errlen);
void sl_tls_ctx_free(struct sl_tls_ctx *ctx);

struct sl_tls *sl_tls_new(struct sl_tls_ctx *ctx);
/* A client session; server_name goes in SNI when it is a host name. */
struct sl_tls *sl_tls_new_client(struct sl_tls_ctx *ctx, const char *server_name);
void sl_tls_free(struct sl_tls *tls);
/* Check the peer's certificate against host during the handshake
 * (PKIX, RFC 6125 names, a wildcard only as the whole leftmost label). */
int sl_tls_expect_host(struct sl_tls *tls, const char *host);
/* After the handshake: 0 when the peer's certificate verified against
 * the context's CAs and the expected host, else -EPROTO with the reason
 * in buf (for example "hostname mismatch"). */
int sl_tls_verify_peer(const struct sl_tls *tls, char *buf, size_t len);

int sl_tls_feed(struct sl_tls *tls, const uint8_t *data, size_t len);
int sl_tls_handshake(struct sl_tls *tls);
int sl_tls_read(struct sl_tls *tls, uint8_t *buf, size_t len);
int sl_tls_write(struct sl_tls *tls, const uint8_t *data, size_t len);
size_t sl_tls_output(struct sl_tls *tls, struct sl_buf *out);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs and the Received header. */
const char *sl_tls_version(const struct sl_tls *tls);
const char *sl_tls_cipher(const struct sl_tls *tls);
const char *sl_tls_error(char *buf, size_t len);

#endif
