/*
 * dataplane/http_keys.c - API keys of the HTTP injection API. Contract in
 * http_keys.h.
 */
#include "dataplane/http_keys.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct entry {
	char name[SL_HTTP_KEY_NAME_MAX + 1];
	unsigned char digest[32];
};

struct sl_http_keys {
	struct entry *v;
	size_t n;
};

static int sha256(const char *text, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	return EVP_Digest(text, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

void sl_http_keys_free(struct sl_http_keys *keys)
{
	if (!keys)
		return;
	if (keys->v)
		OPENSSL_cleanse(keys->v, keys->n * sizeof(*keys->v));
	free(keys->v);
	free(keys);
}

static bool name_valid(const char *name, size_t len)
{
	if (len == 0 || len > SL_HTTP_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return false;
	return true;
}

static bool key_valid(const char *key)
{
	size_t len = strlen(key);

	if (len < SL_HTTP_KEY_MIN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)key[i]))
			return false;
	return true;
}

/* Add "NAME:KEY"; returns 0 or a message for the line's error. */
static const char *add_line(struct sl_http_keys *keys, const char *line)
{
	const char *colon = strchr(line, ':');
	struct entry *v;

	if (!colon || !name_valid(line, (size_t)(colon - line)))
		return "expected NAME:KEY with NAME of letters, digits, '-', '_', '.'";
	if (!key_valid(colon + 1))
		return "KEY must be at least 16 characters without white space";
	v = realloc(keys->v, (keys->n + 1) * sizeof(*v));
	if (!v)
		abort();
	keys->v = v;
	memset(&v[keys->n], 0, sizeof(v[keys->n]));
	memcpy(v[keys->n].name, line, (size_t)(colon - line));
	for (size_t i = 0; i < keys->n; i++)
		if (strcmp(v[i].name, v[keys->n].name) == 0)
			return "duplicate NAME: give each key its own name";
	if (sha256(colon + 1, strlen(colon + 1), v[keys->n].digest) < 0)
		return "SHA-256 failed";
	keys->n++;
	return NULL;
}

static int read_keys(FILE *f, const char *path, struct sl_http_keys *keys, char *err,
		     size_t errlen)
{
	char line[1024];
	unsigned lineno = 0;
	int rc = 0;

	while (rc == 0 && fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");
		const char *why;

		lineno++;
		line[len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		why = add_line(keys, line);
		if (why) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			rc = -EINVAL;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (rc == 0 && keys->n == 0) {
		snprintf(err, errlen, "%s: no keys: add a NAME:KEY line", path);
		rc = -EINVAL;
	}
	return rc;
}

int sl_http_keys_load(const char *path, struct sl_http_keys **out, char *err, size_t errlen)
{
	struct sl_http_keys *keys = calloc(1, sizeof(*keys));
	struct stat st;
	FILE *f;
	int rc;

	*out = NULL;
	if (!keys)
		abort();
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		free(keys);
		return rc;
	}
	setvbuf(f, NULL, _IONBF, 0);	/* no stdio copy of the keys to wipe */
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s is readable by group or others: run chmod 600 %s", path,
			 path);
		rc = -EPERM;
	} else {
		rc = read_keys(f, path, keys, err, errlen);
	}
	fclose(f);
	if (rc < 0) {
		sl_http_keys_free(keys);
		return rc;
	}
	*out = keys;
	return 0;
}

const char *sl_http_keys_check(const struct sl_http_keys *keys, const char *authorization)
{
	unsigned char digest[32];
	const char *token = authorization, *found = NULL;

	if (strncasecmp(token, "Bearer ", 7) != 0)
		return NULL;
	token += 7;
	while (*token == ' ')
		token++;
	if (!*token || sha256(token, strlen(token), digest) < 0)
		return NULL;
	for (size_t i = 0; i < keys->n; i++)
		if (CRYPTO_memcmp(digest, keys->v[i].digest, sizeof(digest)) == 0)
			found = keys->v[i].name;
	OPENSSL_cleanse(digest, sizeof(digest));
	return found;
}
