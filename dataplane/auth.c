/*
 * dataplane/auth.c - see auth.h for the contract.
 */
#include "dataplane/auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct entry {
	char *user;
	char *password;
};

struct sl_auth_db {
	struct entry *v;
	size_t n;
};

void sl_auth_free(struct sl_auth_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++) {
		OPENSSL_cleanse(db->v[i].password, strlen(db->v[i].password));
		free(db->v[i].user);
		free(db->v[i].password);
	}
	free(db->v);
	free(db);
}

static int add_line(struct sl_auth_db *db, char *line)
{
	char *colon = strchr(line, ':');
	struct entry *v;

	if (!colon || colon == line || !colon[1])
		return -EINVAL;
	*colon = '\0';
	v = realloc(db->v, (db->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	db->v = v;
	v[db->n].user = strdup(line);
	v[db->n].password = strdup(colon + 1);
	if (!v[db->n].user || !v[db->n].password)
		return -ENOMEM;
	db->n++;
	return 0;
}

int sl_auth_load(const char *path, struct sl_auth_db **out, char *err, size_t errlen)
{
	struct sl_auth_db *db = calloc(1, sizeof(*db));
	char line[1024];
	struct stat st;
	unsigned lineno = 0;
	FILE *f;
	int rc = 0;

	*out = NULL;
	if (!db)
		return -ENOMEM;
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		free(db);
		return rc;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s is readable by group or others: run chmod 600 %s", path, path);
		rc = -EPERM;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");

		lineno++;
		line[len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		rc = add_line(db, line);
		if (rc < 0)
			snprintf(err, errlen, "%s:%u: expected user:password", path, lineno);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (rc < 0) {
		sl_auth_free(db);
		return rc;
	}
	*out = db;
	return 0;
}

bool sl_auth_check(const struct sl_auth_db *db, const char *user, const char *password)
{
	size_t plen = strlen(password);
	bool found = false;

	for (size_t i = 0; i < db->n; i++) {
		const struct entry *e = &db->v[i];
		size_t elen = strlen(e->password);

		/* Compare every entry in full so timing does not reveal matches. */
		bool same_user = strcmp(e->user, user) == 0;
		bool same_pass = elen == plen && CRYPTO_memcmp(e->password, password, plen) == 0;

		found |= same_user && same_pass;
	}
	return found;
}

int sl_auth_base64_decode(const char *text, char *out, size_t outlen)
{
	size_t len = strlen(text);
	unsigned char *tmp;
	int n, pad = 0;

	if (len % 4 || len / 4 * 3 + 1 > outlen)
		return -EINVAL;
	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	tmp = malloc(len / 4 * 3 + 1);
	if (!tmp)
		return -ENOMEM;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)len);
	if (n < 0) {
		free(tmp);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts padding bytes as data. */
	if (text[len - 1] == '=')
		pad++;
	if (text[len - 2] == '=')
		pad++;
	n -= pad;
	memcpy(out, tmp, (size_t)n);
	out[n] = '\0';
	OPENSSL_cleanse(tmp, len / 4 * 3 + 1);
	free(tmp);
	return n;
}

int sl_auth_plain(const struct sl_auth_db *db, const char *resp, size_t len, char *user,
		  size_t userlen)
{
	const char *authcid, *password, *nul1, *nul2;

	nul1 = memchr(resp, '\0', len);
	if (!nul1)
		return -EINVAL;
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', len - (size_t)(authcid - resp));
	if (!nul2)
		return -EINVAL;
	password = nul2 + 1;
	if ((size_t)(nul2 - authcid) >= userlen || memchr(password, '\0', len - (size_t)(password - resp)))
		return -EINVAL;
	/* An authzid other than the user itself is not supported. */
	if (nul1 != resp && strcmp(resp, authcid) != 0)
		return -EPERM;
	if (!sl_auth_check(db, authcid, password))
		return -EPERM;
	snprintf(user, userlen, "%s", authcid);
	return 0;
}
