/*
 * dataplane/auth.h - SMTP AUTH credentials and the PLAIN and LOGIN
 * mechanisms (RFC 4616, draft-murchison-sasl-login).
 *
 * The users file has one "user:password" line per account; "#" starts a
 * comment. It is read once at start into memory; the comparison takes the
 * same time whatever the password. Passwords are never logged.
 *
 * NOTE: passwords are stored in clear in the file (mode 0600 expected,
 * checked at load); hashed entries (crypt(3)) are not supported yet.
 */
#ifndef SLUICE_DATAPLANE_AUTH_H
#define SLUICE_DATAPLANE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct sl_auth_db;

int sl_auth_load(const char *path, struct sl_auth_db **out, char *err, size_t errlen);
void sl_auth_free(struct sl_auth_db *db);
bool sl_auth_check(const struct sl_auth_db *db, const char *user, const char *password);

/*
 * Decode base64 TEXT into OUT (NUL-terminated, at most outlen-1 bytes).
 * Returns the decoded length or -EINVAL.
 */
int sl_auth_base64_decode(const char *text, char *out, size_t outlen);

/*
 * Check a decoded PLAIN response "authzid\0user\0password". On success
 * copies the user name into USER. Returns 0, -EINVAL for a malformed
 * response, -EPERM for wrong credentials.
 */
int sl_auth_plain(const struct sl_auth_db *db, const char *resp, size_t len, char *user,
		  size_t userlen);

#endif
