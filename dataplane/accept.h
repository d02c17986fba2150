/*
 * dataplane/accept.h - the steps of accepting a message that every
 * injection path (SMTP, HTTP) shares, between its own parsing and the
 * store's commit:
 *
 *   sl_accept_prefix()     the header fields sluice puts in front of the
 *                          message: Received, then Message-ID and Date
 *                          when the message has none
 *   sl_accept_body_hash()  the DKIM body hashes stored with the message
 *   sl_accept_body_mask()  which body hash forms the configuration asks for
 *
 * Content checks (bare CR or LF, line length, size) are the scanner of
 * smtp_parse.h and the header block check is sl_smtp_headers_scan(); both
 * paths run them before calling these functions. Nothing here allocates
 * or keeps a pointer to its arguments.
 */
#ifndef SLUICE_DATAPLANE_ACCEPT_H
#define SLUICE_DATAPLANE_ACCEPT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/dkim.h"
#include "dataplane/smtp_parse.h"

struct sl_config_smtp;

/* Room for the added header fields; every field is bounded well below it. */
#define SL_ACCEPT_PREFIX_MAX 1024

/* Where the message came from, for the Received field. */
struct sl_accept_source {
	const char *host;	/* sluice's host name */
	const char *helo;	/* HELO/EHLO name, or NULL */
	const char *client;	/* client address text */
	const char *protocol;	/* "ESMTPSA", "HTTP" ... (RFC 3848 names for SMTP) */
	const char *tls_version;/* NULL without TLS */
	const char *tls_cipher;
	const char *for_rcpt;	/* the only recipient, or NULL */
};

/*
 * Write the added header fields (CRLF lines) into buf (at least
 * SL_ACCEPT_PREFIX_MAX bytes) and return their length.
 */
size_t sl_accept_prefix(char *buf, const struct sl_accept_source *src,
			const struct sl_smtp_headers *h);

/*
 * Compute the body hash forms in mask (SL_DKIM_BODY_*) of body into out
 * (the packed layout of bodyhash.h, zero bytes for forms not computed).
 * hasher is reused between calls. Returns 0, or -1 with err set, and then
 * out is all zero bytes, so delivery hashes the body itself.
 */
int sl_accept_body_hash(struct sl_dkim_body *hasher, unsigned mask, const uint8_t *body,
			size_t len, uint8_t out[64], struct sl_dkim_err *err);

/* SL_DKIM_BODY_* bits of smtp.dkim_body_hashes. */
unsigned sl_accept_body_mask(const struct sl_config_smtp *c);

/* A 64-bit value for unique-looking Message-ID and boundary parts (not a secret). */
uint64_t sl_accept_random(void);

/* The RFC 5322 date of t in UTC into buf (at least 40 bytes). */
void sl_accept_date(int64_t t, char *buf, size_t len);

#endif
