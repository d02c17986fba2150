/*
 * dataplane/mta_sts.c - MTA-STS parsing, MX matching and the policy
 * cache. The contract is in mta_sts.h.
 */
#include "dataplane/mta_sts.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CACHE_BUCKETS 1024

const char *sl_sts_mode_name(enum sl_sts_mode mode)
{
	static const char *names[] = {
		[SL_STS_NONE] = "none",
		[SL_STS_TESTING] = "testing",
		[SL_STS_ENFORCE] = "enforce",
	};
	return mode <= SL_STS_ENFORCE ? names[mode] : "?";
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* TXT record: "v=STSv1" 1*(*WSP ";" *WSP field) [*WSP ";" *WSP], where a
 * field is "id=" 1*32(ALPHA / DIGIT) or an extension NAME=VALUE. */

static bool ext_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* An extension value: printable characters except "=", ";" and space. */
static bool ext_value_char(char c)
{
	return c > 0x20 && c < 0x7f && c != '=' && c != ';';
}

int sl_sts_txt_parse(const char *txt, char id[SL_STS_ID_MAX])
{
	const char *p = txt;
	bool have_id = false;
	int fields = 0;

	if (strncmp(p, "v=STSv1", 7) != 0)
		return -EINVAL;
	p += 7;
	for (;;) {
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ';')
			return -EINVAL;
		p++;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;   /* a trailing delimiter */

		const char *name = p;

		while (ext_name_char(*p))
			p++;
		if (p == name || *p != '=' || p - name > 32)
			return -EINVAL;
		size_t name_len = (size_t)(p - name);
		const char *value = ++p;

		if (name_len == 2 && strncmp(name, "id", 2) == 0) {
			while (isalnum((unsigned char)*p))
				p++;
			if (p == value || p - value > 32)
				return -EINVAL;
			if (!have_id) {
				memcpy(id, value, (size_t)(p - value));
				id[p - value] = '\0';
				have_id = true;
			}
		} else {
			while (ext_value_char(*p))
				p++;
			if (p == value)
				return -EINVAL;
		}
		fields++;
	}
	return fields > 0 && have_id ? 0 : -EINVAL;
}

int sl_sts_txt_select(const char *const *records, size_t count, char id[SL_STS_ID_MAX])
{
	const char *chosen = NULL;
	size_t found = 0;

	for (size_t i = 0; i < count; i++) {
		if (strncmp(records[i], "v=STSv1;", 8) != 0)
			continue;
		chosen = records[i];
		found++;
	}
	if (found != 1 || sl_sts_txt_parse(chosen, id) < 0)
		return -ENOENT;
	return 0;
}

/* Policy file. */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A host name: labels of letters, digits and hyphens, 1 to 63 bytes each
 * and not starting or ending with a hyphen, 253 bytes in all. */
static bool valid_domain(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

static int add_mx(struct sl_sts_policy *p, const char *v, size_t len, char *err, size_t errlen)
{
	size_t used = 0, host_len = len;
	const char *host = v;

	if (len >= 2 && v[0] == '*' && v[1] == '.') {
		host += 2;
		host_len -= 2;
	}
	if (host_len > 0 && host[host_len - 1] == '.')
		len--, host_len--;
	if (!valid_domain(host, host_len))
		return fail(err, errlen, "invalid mx pattern '%.*s'", (int)(len > 80 ? 80 : len), v);
	if (p->mx_count >= SL_STS_MX_MAX)
		return fail(err, errlen, "more than %d mx patterns", SL_STS_MX_MAX);
	for (unsigned i = 0; i < p->mx_count; i++)
		used += strlen(p->mx + used) + 1;
	if (used + len + 1 > sizeof(p->mx))
		return fail(err, errlen, "mx patterns longer than %d bytes in all", SL_STS_MX_TEXT_MAX);
	for (size_t i = 0; i < len; i++)
		p->mx[used + i] = (char)tolower((unsigned char)v[i]);
	p->mx[used + len] = '\0';
	p->mx_count++;
	return 0;
}

enum policy_key { KEY_VERSION, KEY_MODE, KEY_MAX_AGE, KEY_MX, KEY_OTHER };

struct parse_state {
	struct sl_sts_policy *p;
	bool seen[KEY_OTHER];
};

static int take_field(struct parse_state *st, enum policy_key key, const char *v, size_t len,
		      char *err, size_t errlen)
{
	struct sl_sts_policy *p = st->p;

	if (key == KEY_MX)
		return add_mx(p, v, len, err, errlen);
	if (key == KEY_OTHER || st->seen[key])
		return 0;
	st->seen[key] = true;
	switch (key) {
	case KEY_VERSION:
		if (len != 5 || strncmp(v, "STSv1", 5) != 0)
			return fail(err, errlen, "unsupported version '%.*s'", (int)(len > 40 ? 40 : len), v);
		return 0;
	case KEY_MODE:
		if (len == 7 && strncmp(v, "enforce", 7) == 0)
			p->mode = SL_STS_ENFORCE;
		else if (len == 7 && strncmp(v, "testing", 7) == 0)
			p->mode = SL_STS_TESTING;
		else if (len == 4 && strncmp(v, "none", 4) == 0)
			p->mode = SL_STS_NONE;
		else
			return fail(err, errlen, "invalid mode '%.*s'", (int)(len > 40 ? 40 : len), v);
		return 0;
	case KEY_MAX_AGE: {
		uint64_t n = 0;

		if (len == 0 || len > 10)
			return fail(err, errlen, "invalid max_age '%.*s'", (int)(len > 40 ? 40 : len), v);
		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)v[i]))
				return fail(err, errlen, "invalid max_age '%.*s'", (int)len, v);
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		p->max_age_s = n > SL_STS_MAX_AGE_MAX ? SL_STS_MAX_AGE_MAX : (uint32_t)n;
		return 0;
	}
	default:
		return 0;
	}
}

static enum policy_key key_of(const char *name, size_t len)
{
	static const struct { const char *name; enum policy_key key; } keys[] = {
		{ "version", KEY_VERSION },
		{ "mode", KEY_MODE },
		{ "max_age", KEY_MAX_AGE },
		{ "mx", KEY_MX },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].name) == len && strncmp(keys[i].name, name, len) == 0)
			return keys[i].key;
	return KEY_OTHER;
}

/* One line without its line end: NAME ":" *WSP VALUE *WSP. */
static int parse_line(struct parse_state *st, const char *s, size_t len, unsigned lineno,
		      char *err, size_t errlen)
{
	size_t i = 0, name_len;

	while (i < len && is_wsp(s[i]))
		i++;
	if (i == len)
		return 0;   /* blank line */
	const char *name = s + i;

	while (i < len && ext_name_char(s[i]))
		i++;
	name_len = (size_t)(s + i - name);
	if (name_len == 0 || name_len > 32 || !isalnum((unsigned char)name[0]) || i == len ||
	    s[i] != ':')
		return fail(err, errlen, "line %u: expected NAME: VALUE", lineno);
	i++;
	while (i < len && is_wsp(s[i]))
		i++;
	while (len > i && is_wsp(s[len - 1]))
		len--;
	for (size_t j = i; j < len; j++)
		if (!ext_value_char(s[j]) && s[j] != '=' && s[j] != ';')
			return fail(err, errlen, "line %u: invalid character in value", lineno);
	if (i == len)
		return fail(err, errlen, "line %u: empty value", lineno);
	return take_field(st, key_of(name, name_len), s + i, len - i, err, errlen);
}

int sl_sts_policy_parse(const char *text, size_t len, struct sl_sts_policy *policy,
			char *err, size_t errlen)
{
	struct parse_state st = { .p = policy };
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	memset(policy, 0, sizeof(*policy));
	if (len > SL_STS_POLICY_SIZE_MAX)
		return fail(err, errlen, "policy larger than %d bytes", SL_STS_POLICY_SIZE_MAX);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t n = (size_t)(line_end - p);

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n) || memchr(p, '\r', n))
			return fail(err, errlen, "line %u: invalid character", lineno);
		if (parse_line(&st, p, n, lineno, err, errlen) < 0)
			return -EINVAL;
		p = nl ? nl + 1 : end;
	}
	if (!st.seen[KEY_VERSION])
		return fail(err, errlen, "missing version");
	if (!st.seen[KEY_MODE])
		return fail(err, errlen, "missing mode");
	if (!st.seen[KEY_MAX_AGE])
		return fail(err, errlen, "missing max_age");
	if (policy->mode != SL_STS_NONE && policy->mx_count == 0)
		return fail(err, errlen, "mode %s without mx patterns", sl_sts_mode_name(policy->mode));
	return 0;
}

/* MX matching. */

bool sl_sts_pattern_match(const char *pattern, const char *host)
{
	size_t hl = strlen(host), pl = strlen(pattern);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);

		/* The wildcard covers exactly the leftmost label. */
		if (!dot || dot == host)
			return false;
		size_t rest = hl - (size_t)(dot + 1 - host);

		return rest == pl - 2 && strncasecmp(dot + 1, pattern + 2, rest) == 0;
	}
	return hl == pl && strncasecmp(host, pattern, hl) == 0;
}

bool sl_sts_policy_mx_match(const struct sl_sts_policy *policy, const char *host)
{
	const char *p = policy->mx;

	for (unsigned i = 0; i < policy->mx_count; i++) {
		if (sl_sts_pattern_match(p, host))
			return true;
		p += strlen(p) + 1;
	}
	return false;
}

/* Cache. */

struct cache_entry {
	struct cache_entry *next;
	char domain[SL_STS_NAME_MAX];
	struct sl_sts_cached c;
};

struct sl_sts_cache {
	pthread_mutex_t lock;
	size_t max_entries;
	size_t count;
	uint64_t retry_ms;
	struct cache_entry *bucket[CACHE_BUCKETS];
};

struct sl_sts_cache *sl_sts_cache_new(size_t max_entries, uint64_t retry_ms)
{
	struct sl_sts_cache *cache;

	if (max_entries == 0)
		return NULL;
	cache = calloc(1, sizeof(*cache));
	if (!cache)
		return NULL;
	pthread_mutex_init(&cache->lock, NULL);
	cache->max_entries = max_entries;
	cache->retry_ms = retry_ms;
	return cache;
}

void sl_sts_cache_free(struct sl_sts_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry *e = cache->bucket[i];

		while (e) {
			struct cache_entry *next = e->next;

			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&cache->lock);
	free(cache);
}

static unsigned bucket_of(const char *domain)
{
	unsigned h = 2166136261u;

	for (const char *p = domain; *p; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
	return h % CACHE_BUCKETS;
}

static struct cache_entry **find_slot(struct sl_sts_cache *cache, const char *domain)
{
	struct cache_entry **e = &cache->bucket[bucket_of(domain)];

	while (*e && strcasecmp((*e)->domain, domain) != 0)
		e = &(*e)->next;
	return e;
}

/* The time after which an entry is of no use: its policy expired and its
 * failed fetch may be retried. */
static uint64_t entry_end(const struct cache_entry *e)
{
	uint64_t end = e->c.have_policy ? e->c.expires_ms : 0;

	return e->c.retry_ms > end ? e->c.retry_ms : end;
}

static void drop_soonest(struct sl_sts_cache *cache)
{
	struct cache_entry **victim = NULL;

	for (size_t i = 0; i < CACHE_BUCKETS; i++)
		for (struct cache_entry **e = &cache->bucket[i]; *e; e = &(*e)->next)
			if (!victim || entry_end(*e) < entry_end(*victim))
				victim = e;
	if (victim) {
		struct cache_entry *gone = *victim;

		*victim = gone->next;
		free(gone);
		cache->count--;
	}
}

/* The entry of domain, created when missing. Called with the lock held. */
static struct cache_entry *entry_for(struct sl_sts_cache *cache, const char *domain)
{
	struct cache_entry **slot = find_slot(cache, domain);

	if (*slot)
		return *slot;
	if (cache->count >= cache->max_entries) {
		drop_soonest(cache);
		slot = find_slot(cache, domain);
	}
	*slot = calloc(1, sizeof(**slot));
	if (!*slot)
		return NULL;
	snprintf((*slot)->domain, sizeof((*slot)->domain), "%s", domain);
	cache->count++;
	return *slot;
}

bool sl_sts_cache_get(struct sl_sts_cache *cache, const char *domain, struct sl_sts_cached *out)
{
	struct cache_entry *e;

	pthread_mutex_lock(&cache->lock);
	e = *find_slot(cache, domain);
	if (e)
		*out = e->c;
	pthread_mutex_unlock(&cache->lock);
	return e != NULL;
}

enum sl_sts_action sl_sts_cache_decide(struct sl_sts_cache *cache, const char *domain,
				       const char *txt_id, uint64_t now_ms,
				       struct sl_sts_cached *out)
{
	struct sl_sts_cached c;
	bool found = sl_sts_cache_get(cache, domain, &c);
	bool fresh = found && c.have_policy && now_ms < c.expires_ms;

	if (txt_id[0] == '\0')
		goto cached_or_none;
	if (fresh && strcmp(c.id, txt_id) == 0)
		goto cached_or_none;
	if (found && strcmp(c.failed_id, txt_id) == 0 && now_ms < c.retry_ms)
		goto cached_or_none;
	return SL_STS_ACTION_FETCH;

cached_or_none:
	if (!fresh)
		return SL_STS_ACTION_NO_POLICY;
	*out = c;
	return SL_STS_ACTION_USE_CACHED;
}

void sl_sts_cache_put(struct sl_sts_cache *cache, const char *domain, const char *id,
		      const struct sl_sts_policy *policy, uint64_t now_ms)
{
	struct cache_entry *e;

	pthread_mutex_lock(&cache->lock);
	e = entry_for(cache, domain);
	if (e) {
		snprintf(e->c.id, sizeof(e->c.id), "%s", id);
		e->c.policy = *policy;
		e->c.have_policy = true;
		e->c.expires_ms = now_ms + (uint64_t)policy->max_age_s * 1000;
		e->c.failed_id[0] = '\0';
		e->c.retry_ms = 0;
		e->c.failure[0] = '\0';
	}
	pthread_mutex_unlock(&cache->lock);
}

void sl_sts_cache_failed(struct sl_sts_cache *cache, const char *domain, const char *id,
			 const char *why, uint64_t now_ms)
{
	struct cache_entry *e;

	pthread_mutex_lock(&cache->lock);
	e = entry_for(cache, domain);
	if (e) {
		snprintf(e->c.failed_id, sizeof(e->c.failed_id), "%s", id);
		e->c.retry_ms = now_ms + cache->retry_ms;
		snprintf(e->c.failure, sizeof(e->c.failure), "%s", why);
	}
	pthread_mutex_unlock(&cache->lock);
}

size_t sl_sts_cache_count(struct sl_sts_cache *cache)
{
	size_t n;

	pthread_mutex_lock(&cache->lock);
	n = cache->count;
	pthread_mutex_unlock(&cache->lock);
	return n;
}
