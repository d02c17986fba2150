/*
 * crypto/ed25519.h - Ed25519 signing (RFC 8032, pure Ed25519), one message
 * or a batch of messages under one key.
 *
 * sluice signs with its own code instead of OpenSSL's EVP_DigestSign
 * because a batch can share work that one-shot calls repeat. The key is
 * expanded (SHA-512 of the seed) once, when it is loaded. The field
 * inversion that encodes each point R is done once per batch
 * (Montgomery's trick) instead of once per message. The field arithmetic
 * uses 64-bit limbs with 128-bit products; docs/benchmarks.md compares
 * its speed with OpenSSL's in the same run.
 *
 * Signatures are deterministic, so every one must equal OpenSSL's byte
 * for byte. The unit tests check exactly that, and loading a key checks
 * the public key derived here against OpenSSL's before the key is used.
 *
 * Secret material (the scalar, the prefix, every nonce) is handled in
 * constant time and wiped after use; struct sl_ed25519_key is wiped by
 * sl_ed25519_wipe().
 */
#ifndef SLUICE_CRYPTO_ED25519_H
#define SLUICE_CRYPTO_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define SL_ED25519_SIG_LEN 64

struct sl_ed25519_key {
	uint8_t scalar[32];     /* clamped secret scalar, reduced mod L */
	uint8_t prefix[32];     /* second half of SHA-512(seed), for nonces */
	uint8_t pub[32];        /* encoded public key A */
	int ready;
};

/*
 * Expand a 32-byte private key (the seed) into k. Returns 0, or -EPROTO
 * when SHA-512 fails.
 */
int sl_ed25519_expand(struct sl_ed25519_key *k, const uint8_t seed[32]);

/*
 * Sign msgs[i] (lens[i] bytes) into sigs[i] for i < n. Returns 0, -EINVAL
 * if k is not expanded, or -EPROTO when SHA-512 fails (then no signature
 * is valid).
 */
int sl_ed25519_sign_batch(const struct sl_ed25519_key *k, const uint8_t *const *msgs,
			  const size_t *lens, size_t n, uint8_t (*sigs)[SL_ED25519_SIG_LEN]);

void sl_ed25519_wipe(struct sl_ed25519_key *k);

/* Free this thread's SHA-512 context; sl_dkim_thread_cleanup() calls it. */
void sl_ed25519_thread_cleanup(void);

#endif
