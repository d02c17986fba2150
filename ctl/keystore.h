/*
 * ctl/keystore.h - the DKIM signing key store of sluice-ctld.
 *
 * Layout: DIR (mode 0700) / DOMAIN (0700) / SELECTOR.pem (0600, the
 * private key) and SELECTOR.meta (0600, "name=value" lines: algorithm,
 * bits, created, state, activate_at, retire_at). Times are seconds since
 * the epoch.
 *
 * A key moves through these states:
 *   pending   created by rotate; its DNS record should be published now,
 *             and it starts signing at activate_at (or on command)
 *   active    signs mail; several active keys of one domain (for
 *             example RSA and Ed25519) all sign, which is dual signing
 *   retiring  replaced by a newer key of the same algorithm; no longer
 *             signs, but its DNS record stays published until retire_at
 *             so that mail signed before the switch still verifies
 *   retired   the private key file is overwritten and removed; the DNS
 *             record should be replaced by an empty p= (revoked)
 * sl_keystore_tick() applies the timed transitions; sluice-ctld calls it
 * every second.
 *
 * Domains and selectors are checked as DNS names (letters, digits, '-'
 * and '.'), which also keeps them from naming paths outside DIR.
 *
 * Functions return 0 or a negative errno value and write a message that
 * names the field and the allowed values into err. The store is not
 * thread-safe; sluice-ctld uses it from one thread.
 */
#ifndef SLUICE_CTL_KEYSTORE_H
#define SLUICE_CTL_KEYSTORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/keycrypto.h"

#define SL_DOMAIN_MAX 254
#define SL_SELECTOR_MAX 64

enum sl_key_state {
	SL_KEY_PENDING = 0,
	SL_KEY_ACTIVE,
	SL_KEY_RETIRING,
	SL_KEY_RETIRED,
};

struct sl_key_entry {
	char domain[SL_DOMAIN_MAX];
	char selector[SL_SELECTOR_MAX];
	char algorithm[8];
	int bits;
	int64_t created;
	int64_t activate_at;	/* pending: when it starts signing */
	int64_t retire_at;	/* retiring: when it is retired */
	enum sl_key_state state;
};

struct sl_keystore {
	char dir[PATH_MAX - 2 * SL_DOMAIN_MAX];
	uint32_t overlap_s;	/* pending to active, seconds */
	uint32_t retire_after_s;	/* retiring to retired, seconds */
};

/* Requested parameters of a new key; zero values are filled from the
 * domain's newest active key by rotate, or rsa/2048 by generate. */
struct sl_key_spec {
	const char *algorithm;
	int bits;
};

int sl_keystore_open(struct sl_keystore *ks, const char *dir, char *err, size_t errlen);

int sl_keystore_generate(struct sl_keystore *ks, const char *domain,
			 const char *selector, struct sl_key_spec spec,
			 int64_t now, struct sl_key_entry *out, char *err, size_t errlen);
int sl_keystore_import(struct sl_keystore *ks, const char *domain,
		       const char *selector, const char *pem, size_t len,
		       int64_t now, struct sl_key_entry *out, char *err, size_t errlen);

/* Creates a pending key; SELECTOR may be NULL for a generated name. With
 * SWITCH_NOW it becomes active at once. */
int sl_keystore_rotate(struct sl_keystore *ks, const char *domain,
		       const char *selector, struct sl_key_spec spec,
		       bool switch_now, int64_t now, struct sl_key_entry *out,
		       char *err, size_t errlen);
/* Activates the domain's pending keys now. */
int sl_keystore_switch(struct sl_keystore *ks, const char *domain, int64_t now,
		       char *err, size_t errlen);
int sl_keystore_retire(struct sl_keystore *ks, const char *domain,
		       const char *selector, int64_t now, char *err, size_t errlen);

/* Applies due transitions; returns how many keys changed state. */
int sl_keystore_tick(struct sl_keystore *ks, int64_t now);

/* All keys sorted by domain and selector; free *keys with free(). */
int sl_keystore_list(struct sl_keystore *ks, struct sl_key_entry **keys,
		     size_t *count, char *err, size_t errlen);
int sl_keystore_find(struct sl_keystore *ks, const char *domain,
		     const char *selector, struct sl_key_entry *out, char *err,
		     size_t errlen);

/* The TXT record text to publish at SELECTOR._domainkey.DOMAIN. */
int sl_keystore_dns(struct sl_keystore *ks, const struct sl_key_entry *key,
		    char *buf, size_t len, char *err, size_t errlen);

int sl_keystore_key_path(const struct sl_keystore *ks, const char *domain,
			 const char *selector, char *buf, size_t len);

const char *sl_key_state_name(enum sl_key_state state);
bool sl_dns_name_valid(const char *name, size_t max);

#endif
