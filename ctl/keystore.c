/*
 * ctl/keystore.c - the DKIM key store: files, states and transitions.
 * See keystore.h for the contract.
 */
#include "ctl/keystore.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const state_names[] = {
	[SL_KEY_PENDING] = "pending",
	[SL_KEY_ACTIVE] = "active",
	[SL_KEY_RETIRING] = "retiring",
	[SL_KEY_RETIRED] = "retired",
};

const char *sl_key_state_name(enum sl_key_state state)
{
	return state_names[state];
}

static int parse_state(const char *text, enum sl_key_state *state)
{
	size_t i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(text, state_names[i]) == 0) {
			*state = (enum sl_key_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool sl_dns_name_valid(const char *name, size_t max)
{
	size_t len = strlen(name), label = 0, i;

	if (len == 0 || len >= max || name[0] == '.' || name[0] == '-' ||
	    name[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static int check_names(const char *domain, const char *selector, char *err,
		       size_t errlen)
{
	if (!domain || !sl_dns_name_valid(domain, SL_DOMAIN_MAX)) {
		snprintf(err, errlen,
			 "domain \"%s\": invalid: expected a DNS name of letters, digits, '-' and '.'",
			 domain ? domain : "");
		return -EINVAL;
	}
	if (selector && !sl_dns_name_valid(selector, SL_SELECTOR_MAX)) {
		snprintf(err, errlen,
			 "selector \"%s\": invalid: expected up to %d letters, digits, '-' and '.'",
			 selector, SL_SELECTOR_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static int make_private_dir(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		int rc = -errno;

		snprintf(err, errlen, "mkdir(%s) failed: %s", path, strerror(errno));
		return rc;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -ENOTDIR;
	}
	if ((st.st_mode & 077) && chmod(path, 0700) != 0) {
		int rc = -errno;

		snprintf(err, errlen, "chmod(%s, 0700) failed: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

int sl_keystore_open(struct sl_keystore *ks, const char *dir, char *err, size_t errlen)
{
	if (strlen(dir) >= sizeof(ks->dir)) {
		snprintf(err, errlen, "keys.dir: path too long (maximum %zu bytes)", sizeof(ks->dir) - 1);
		return -ENAMETOOLONG;
	}
	snprintf(ks->dir, sizeof(ks->dir), "%s", dir);
	return make_private_dir(ks->dir, err, errlen);
}

int sl_keystore_key_path(const struct sl_keystore *ks, const char *domain,
			 const char *selector, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s.pem", ks->dir, domain, selector);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void meta_path(const struct sl_keystore *ks, const char *domain,
		      const char *selector, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s.meta", ks->dir, domain, selector);
}

static int write_meta(const struct sl_keystore *ks, const struct sl_key_entry *k,
		      char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int fd, rc = 0;

	meta_path(ks, k->domain, k->selector, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		snprintf(err, errlen, "open(%s) failed: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	fprintf(f, "algorithm=%s\nbits=%d\ncreated=%" PRId64 "\nstate=%s\n"
		   "activate_at=%" PRId64 "\nretire_at=%" PRId64 "\n",
		k->algorithm, k->bits, k->created, sl_key_state_name(k->state),
		k->activate_at, k->retire_at);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "writing %s failed: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

static int read_meta(const struct sl_keystore *ks, const char *domain,
		     const char *selector, struct sl_key_entry *k)
{
	char path[PATH_MAX], line[128], *eq;
	FILE *f;

	meta_path(ks, domain, selector, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(k, 0, sizeof(*k));
	snprintf(k->domain, sizeof(k->domain), "%s", domain);
	snprintf(k->selector, sizeof(k->selector), "%s", selector);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "algorithm") == 0)
			snprintf(k->algorithm, sizeof(k->algorithm), "%s", eq);
		else if (strcmp(line, "bits") == 0)
			k->bits = atoi(eq);
		else if (strcmp(line, "created") == 0)
			k->created = strtoll(eq, NULL, 10);
		else if (strcmp(line, "activate_at") == 0)
			k->activate_at = strtoll(eq, NULL, 10);
		else if (strcmp(line, "retire_at") == 0)
			k->retire_at = strtoll(eq, NULL, 10);
		else if (strcmp(line, "state") == 0 && parse_state(eq, &k->state) != 0) {
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	return 0;
}

/* Overwrites the private key file with zeros before removing it.
 * NOTE: on flash storage and copy-on-write file systems the old blocks
 * may survive the overwrite. */
static int wipe_file(const char *path)
{
	char zeros[4096] = { 0 };
	struct stat st;
	off_t left;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) == 0) {
		for (left = st.st_size; left > 0;) {
			ssize_t n = write(fd, zeros, left < (off_t)sizeof(zeros) ? (size_t)left : sizeof(zeros));

			if (n <= 0)
				break;
			left -= n;
		}
		fsync(fd);
	}
	close(fd);
	return unlink(path) == 0 ? 0 : -errno;
}

static int key_exists(const struct sl_keystore *ks, const char *domain,
		      const char *selector, char *err, size_t errlen)
{
	char path[PATH_MAX];

	meta_path(ks, domain, selector, path, sizeof(path));
	if (access(path, F_OK) == 0) {
		snprintf(err, errlen, "selector \"%s\" already exists for domain %s: choose another selector",
			 selector, domain);
		return -EEXIST;
	}
	return 0;
}

/* Creates the key file and its metadata. PEM is NULL to generate. */
static int create_key(struct sl_keystore *ks, const char *domain,
		      const char *selector, struct sl_key_spec spec,
		      const char *pem, size_t pemlen, enum sl_key_state state,
		      int64_t now, struct sl_key_entry *out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct sl_keyinfo info;
	struct sl_key_entry k;
	int rc;

	if ((rc = check_names(domain, selector, err, errlen)))
		return rc;
	if ((rc = key_exists(ks, domain, selector, err, errlen)))
		return rc;
	snprintf(path, sizeof(path), "%s/%s", ks->dir, domain);
	if ((rc = make_private_dir(path, err, errlen)))
		return rc;
	if ((rc = sl_keystore_key_path(ks, domain, selector, path, sizeof(path)))) {
		snprintf(err, errlen, "keys.dir: path too long for %s/%s", domain, selector);
		return rc;
	}
	if (pem)
		rc = sl_keycrypto_import(pem, pemlen, path, &info, err, errlen);
	else if ((rc = sl_keycrypto_generate(spec.algorithm, spec.bits, path, err, errlen)) == 0)
		rc = sl_keycrypto_inspect(path, &info, err, errlen);
	if (rc)
		return rc;

	memset(&k, 0, sizeof(k));
	snprintf(k.domain, sizeof(k.domain), "%s", domain);
	snprintf(k.selector, sizeof(k.selector), "%s", selector);
	snprintf(k.algorithm, sizeof(k.algorithm), "%s", info.algorithm);
	k.bits = info.bits;
	k.created = now;
	k.state = state;
	if (state == SL_KEY_PENDING)
		k.activate_at = now + ks->overlap_s;
	if ((rc = write_meta(ks, &k, err, errlen))) {
		wipe_file(path);
		return rc;
	}
	if (out)
		*out = k;
	return 0;
}

static void default_spec(struct sl_key_spec *spec)
{
	if (!spec->algorithm)
		spec->algorithm = "rsa";
	if (spec->bits == 0)
		spec->bits = strcmp(spec->algorithm, "ed25519") == 0 ? 256 : 2048;
}

int sl_keystore_generate(struct sl_keystore *ks, const char *domain,
			 const char *selector, struct sl_key_spec spec,
			 int64_t now, struct sl_key_entry *out, char *err, size_t errlen)
{
	default_spec(&spec);
	return create_key(ks, domain, selector, spec, NULL, 0, SL_KEY_ACTIVE, now, out, err, errlen);
}

int sl_keystore_import(struct sl_keystore *ks, const char *domain,
		       const char *selector, const char *pem, size_t len,
		       int64_t now, struct sl_key_entry *out, char *err, size_t errlen)
{
	struct sl_key_spec none = { NULL, 0 };

	return create_key(ks, domain, selector, none, pem, len, SL_KEY_ACTIVE, now, out, err, errlen);
}

static int cmp_entries(const void *a, const void *b)
{
	const struct sl_key_entry *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c ? c : strcmp(x->selector, y->selector);
}

/* Appends the keys of one domain directory to *keys. */
static int list_domain(struct sl_keystore *ks, const char *domain,
		       struct sl_key_entry **keys, size_t *count, size_t *cap)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", ks->dir, domain);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char selector[SL_SELECTOR_MAX];
		size_t n = strlen(de->d_name);

		if (n <= 5 || n - 5 >= sizeof(selector) || strcmp(de->d_name + n - 5, ".meta") != 0)
			continue;
		memcpy(selector, de->d_name, n - 5);
		selector[n - 5] = '\0';
		if (*count == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct sl_key_entry *grown = realloc(*keys, ncap * sizeof(**keys));

			if (!grown) {
				closedir(d);
				return -ENOMEM;
			}
			*keys = grown;
			*cap = ncap;
		}
		if (read_meta(ks, domain, selector, &(*keys)[*count]) == 0)
			(*count)++;
	}
	closedir(d);
	return 0;
}

int sl_keystore_list(struct sl_keystore *ks, struct sl_key_entry **keys,
		     size_t *count, char *err, size_t errlen)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d = opendir(ks->dir);
	int rc = 0;

	*keys = NULL;
	*count = 0;
	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "opendir(%s) failed: %s", ks->dir, strerror(errno));
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !sl_dns_name_valid(de->d_name, SL_DOMAIN_MAX))
			continue;
		rc = list_domain(ks, de->d_name, keys, count, &cap);
	}
	closedir(d);
	if (rc) {
		free(*keys);
		*keys = NULL;
		*count = 0;
		snprintf(err, errlen, "listing %s failed: out of memory", ks->dir);
		return rc;
	}
	if (*count)
		qsort(*keys, *count, sizeof(**keys), cmp_entries);
	return 0;
}

int sl_keystore_find(struct sl_keystore *ks, const char *domain,
		     const char *selector, struct sl_key_entry *out, char *err,
		     size_t errlen)
{
	int rc = check_names(domain, selector, err, errlen);

	if (rc)
		return rc;
	if (read_meta(ks, domain, selector, out) != 0) {
		snprintf(err, errlen, "key %s/%s not found: see \"sluicectl keys list\"", domain, selector);
		return -ENOENT;
	}
	return 0;
}

/* Activates K and moves the domain's other active keys of the same
 * algorithm to retiring. */
static int activate(struct sl_keystore *ks, struct sl_key_entry *k, int64_t now,
		    char *err, size_t errlen)
{
	struct sl_key_entry *keys;
	size_t n, i;
	int rc;

	if ((rc = sl_keystore_list(ks, &keys, &n, err, errlen)))
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		struct sl_key_entry *o = &keys[i];

		if (strcmp(o->domain, k->domain) != 0 || strcmp(o->selector, k->selector) == 0 ||
		    o->state != SL_KEY_ACTIVE || strcmp(o->algorithm, k->algorithm) != 0)
			continue;
		o->state = SL_KEY_RETIRING;
		o->retire_at = now + ks->retire_after_s;
		rc = write_meta(ks, o, err, errlen);
	}
	free(keys);
	if (rc)
		return rc;
	k->state = SL_KEY_ACTIVE;
	k->activate_at = now;
	return write_meta(ks, k, err, errlen);
}

/* The newest active key of DOMAIN, to copy its algorithm and size.
 * Returns -ENOENT without active keys, -EINVAL when they use several
 * algorithms (dual signing), because then the caller must choose. */
static int newest_active(struct sl_keystore *ks, const char *domain,
			 struct sl_key_entry *out)
{
	struct sl_key_entry *keys;
	char err[8];
	size_t n, i;
	int found = -ENOENT;

	if (sl_keystore_list(ks, &keys, &n, err, sizeof(err)))
		return -ENOENT;
	for (i = 0; i < n; i++) {
		if (strcmp(keys[i].domain, domain) != 0 || keys[i].state != SL_KEY_ACTIVE)
			continue;
		if (found == 0 && strcmp(keys[i].algorithm, out->algorithm) != 0) {
			found = -EINVAL;
			break;
		}
		if (found != 0 || keys[i].created >= out->created) {
			*out = keys[i];
			found = 0;
		}
	}
	free(keys);
	return found;
}

/* The size of DOMAIN's newest active RSA key, or 0 without one. */
static int active_rsa_bits(struct sl_keystore *ks, const char *domain)
{
	struct sl_key_entry *keys;
	char err[8];
	size_t n, i;
	int64_t newest = -1;
	int bits = 0;

	if (sl_keystore_list(ks, &keys, &n, err, sizeof(err)))
		return 0;
	for (i = 0; i < n; i++) {
		if (strcmp(keys[i].domain, domain) == 0 && keys[i].state == SL_KEY_ACTIVE &&
		    strcmp(keys[i].algorithm, "rsa") == 0 && keys[i].created >= newest) {
			newest = keys[i].created;
			bits = keys[i].bits;
		}
	}
	free(keys);
	return bits;
}

int sl_keystore_rotate(struct sl_keystore *ks, const char *domain,
		       const char *selector, struct sl_key_spec spec,
		       bool switch_now, int64_t now, struct sl_key_entry *out,
		       char *err, size_t errlen)
{
	char name[SL_SELECTOR_MAX];
	struct sl_key_entry k, old;
	int rc;

	if ((rc = check_names(domain, selector, err, errlen)))
		return rc;
	if (!spec.algorithm) {
		memset(&old, 0, sizeof(old));
		rc = newest_active(ks, domain, &old);
		if (rc == -EINVAL) {
			snprintf(err, errlen,
				 "algorithm: missing: domain %s has active keys of several algorithms: give rsa or ed25519",
				 domain);
			return rc;
		}
		if (rc != 0) {
			snprintf(err, errlen,
				 "domain %s has no active key to rotate: give algorithm (rsa or ed25519) or use \"keys generate\"",
				 domain);
			return -ENOENT;
		}
		spec.algorithm = strcmp(old.algorithm, "ed25519") == 0 ? "ed25519" : "rsa";
		if (spec.bits == 0)
			spec.bits = old.bits;
	}
	if (spec.bits == 0 && strcmp(spec.algorithm, "rsa") == 0)
		spec.bits = active_rsa_bits(ks, domain);
	default_spec(&spec);
	if (!selector) {
		/* A selector named after the creation time, "s202612042130". */
		struct tm tm;
		time_t t = (time_t)now;
		int i;

		gmtime_r(&t, &tm);
		strftime(name, sizeof(name), "s%Y%m%d%H%M", &tm);
		for (i = 0; i < 26 && key_exists(ks, domain, name, err, errlen) != 0; i++)
			snprintf(name + 13, sizeof(name) - 13, "%c", 'a' + i);
		selector = name;
	}
	rc = create_key(ks, domain, selector, spec, NULL, 0, SL_KEY_PENDING, now, &k, err, errlen);
	if (rc == 0 && switch_now)
		rc = activate(ks, &k, now, err, errlen);
	if (rc == 0 && out)
		*out = k;
	return rc;
}

int sl_keystore_switch(struct sl_keystore *ks, const char *domain, int64_t now,
		       char *err, size_t errlen)
{
	struct sl_key_entry *keys;
	size_t n, i;
	int rc, switched = 0;

	if ((rc = check_names(domain, NULL, err, errlen)))
		return rc;
	if ((rc = sl_keystore_list(ks, &keys, &n, err, errlen)))
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if (strcmp(keys[i].domain, domain) != 0 || keys[i].state != SL_KEY_PENDING)
			continue;
		rc = activate(ks, &keys[i], now, err, errlen);
		switched++;
	}
	free(keys);
	if (rc == 0 && switched == 0) {
		snprintf(err, errlen, "domain %s has no pending key: run \"keys rotate %s\" first",
			 domain, domain);
		return -ENOENT;
	}
	return rc;
}

int sl_keystore_retire(struct sl_keystore *ks, const char *domain,
		       const char *selector, int64_t now, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct sl_key_entry k;
	int rc;

	if (!selector) {
		snprintf(err, errlen, "selector: missing: give the selector to retire");
		return -EINVAL;
	}
	if ((rc = sl_keystore_find(ks, domain, selector, &k, err, errlen)))
		return rc;
	if (k.state == SL_KEY_RETIRED) {
		snprintf(err, errlen, "key %s/%s is already retired", domain, selector);
		return -EALREADY;
	}
	k.state = SL_KEY_RETIRED;
	k.retire_at = now;
	if ((rc = write_meta(ks, &k, err, errlen)))
		return rc;
	sl_keystore_key_path(ks, domain, selector, path, sizeof(path));
	if ((rc = wipe_file(path))) {
		snprintf(err, errlen, "removing %s failed: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

int sl_keystore_tick(struct sl_keystore *ks, int64_t now)
{
	struct sl_key_entry *keys;
	char err[256];
	size_t n, i;
	int changed = 0;

	if (sl_keystore_list(ks, &keys, &n, err, sizeof(err)))
		return 0;
	for (i = 0; i < n; i++) {
		struct sl_key_entry *k = &keys[i];

		if (k->state == SL_KEY_PENDING && k->activate_at <= now &&
		    activate(ks, k, now, err, sizeof(err)) == 0)
			changed++;
		else if (k->state == SL_KEY_RETIRING && k->retire_at <= now &&
			 sl_keystore_retire(ks, k->domain, k->selector, now, err, sizeof(err)) == 0)
			changed++;
	}
	free(keys);
	return changed;
}

int sl_keystore_dns(struct sl_keystore *ks, const struct sl_key_entry *key,
		    char *buf, size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct sl_keyinfo info;
	int rc;

	if (key->state == SL_KEY_RETIRED) {
		/* RFC 6376 section 3.6.1: an empty p= means the key is revoked. */
		snprintf(buf, len, "v=DKIM1; k=%s; p=", key->algorithm);
		return 0;
	}
	sl_keystore_key_path(ks, key->domain, key->selector, path, sizeof(path));
	if ((rc = sl_keycrypto_inspect(path, &info, err, errlen)))
		return rc;
	snprintf(buf, len, "%s", info.dns);
	return 0;
}
