/*
 * dataplane/deliver_sign.h - DKIM signing at send time.
 *
 * Keys and selectors per signing domain come from the configuration as
 * lines "DOMAIN SELECTOR KEYFILE"; several lines for one domain make
 * several signatures (for example RSA plus Ed25519). A message is signed
 * for the domain of its From: header field. Every attempt signs anew
 * with t=now and x=now+expiry, from the header block and the body hash
 * stored at accept time, so a retried message gets a fresh signature.
 *
 * Batching: a worker queues every message that became ready in one loop
 * iteration with sl_sign_batch_add() and signs them with one
 * sl_sign_batch_run(), which calls the DKIM engine's batch entry point
 * once per signing domain.
 *
 * A domain whose key failed to load stays in the table as unavailable:
 * its messages get -EAGAIN (defer, with an error naming the domain and
 * selector) while every other domain signs normally. A From: domain
 * without any configured key is sent unsigned.
 *
 * Ownership: the table owns the keys; batch entries borrow the caller's
 * header bytes, body hash and output buffer until sl_sign_batch_run()
 * returns.
 */
#ifndef SLUICE_DATAPLANE_DELIVER_SIGN_H
#define SLUICE_DATAPLANE_DELIVER_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/dkim.h"

struct sl_sign_table;

/* Load every "DOMAIN SELECTOR KEYFILE" line. A key that fails to load is
 * logged with its domain, selector and file, and kept as unavailable.
 * Returns NULL only for a malformed line (err names it) or no memory. */
struct sl_sign_table *sl_sign_table_load(const char *const *lines, size_t n,
					 uint32_t expire_s, char *err, size_t errlen);
void sl_sign_table_free(struct sl_sign_table *t);

/* Domain of the first From: header field of a header block, lower case;
 * returns 0, or -ENOENT when there is none. */
int sl_sign_from_domain(const char *headers, size_t len, char *domain, size_t cap);

struct sl_sign_item {
	const char *headers;            /* header block, up to the empty line */
	size_t hlen;
	const struct sl_dkim_bodyhash *bh;
	struct sl_dkim_out *out;        /* receives the DKIM-Signature fields */
	/* Results. */
	int rc;                         /* 0 signed or unsigned, -EAGAIN defer, other: error */
	unsigned signatures;
	unsigned rsa_signatures;        /* of those, rsa-sha256 */
	unsigned ed25519_signatures;    /* of those, ed25519-sha256 */
	char selectors[2][340];         /* "s=SEL d=DOMAIN" of the first two */
	char error[640];
};

/* Set item->signatures and its counts by algorithm from the N signers
 * that signed it. */
void sl_sign_item_count(struct sl_sign_item *item, const struct sl_dkim_signer *signers,
			size_t n);

struct sl_sign_batch;

struct sl_sign_batch *sl_sign_batch_new(const struct sl_sign_table *t);
void sl_sign_batch_free(struct sl_sign_batch *b);
int sl_sign_batch_add(struct sl_sign_batch *b, struct sl_sign_item *item);
/* Sign every queued item with t=now; empties the batch. */
void sl_sign_batch_run(struct sl_sign_batch *b, int64_t now);
size_t sl_sign_batch_size(const struct sl_sign_batch *b);

#endif
