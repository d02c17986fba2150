/*
 * dataplane/http_keys.h - API keys of the HTTP injection API.
 *
 * The keys file has one "NAME:KEY" line per key; "#" starts a comment.
 * NAME (letters, digits, '-', '_', '.') identifies the key in logs; KEY is
 * at least 16 characters without white space. The file must not be
 * readable by group or others. Only the SHA-256 digest of each key is
 * kept in memory, and the read buffers are wiped.
 *
 * sl_http_keys_check() hashes the presented key and compares it with every
 * stored digest (CRYPTO_memcmp, no early exit), so its time does not
 * depend on which key, or how much of one, matched. Keys are never logged.
 */
#ifndef SLUICE_DATAPLANE_HTTP_KEYS_H
#define SLUICE_DATAPLANE_HTTP_KEYS_H

#include <stddef.h>

#define SL_HTTP_KEY_MIN 16
#define SL_HTTP_KEY_NAME_MAX 63

struct sl_http_keys;

/* Returns 0, or -errno with err naming the file, the line and the fix. */
int sl_http_keys_load(const char *path, struct sl_http_keys **out, char *err, size_t errlen);
void sl_http_keys_free(struct sl_http_keys *keys);

/*
 * Check an Authorization field value ("Bearer KEY"). Returns the key's
 * NAME, or NULL when the value is not a Bearer credential or matches no
 * key.
 */
const char *sl_http_keys_check(const struct sl_http_keys *keys, const char *authorization);

#endif
