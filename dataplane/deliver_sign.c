/*
 * dataplane/deliver_sign.c - DKIM signing at send time. Contract in
 * deliver_sign.h.
 */
#include "dataplane/deliver_sign.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

#define MAX_SIGNERS 4

struct sign_domain {
	char name[256];
	size_t count;
	struct sl_dkim_signer signer[MAX_SIGNERS];
	char selector[MAX_SIGNERS][64];
	struct sl_dkim_key *key[MAX_SIGNERS];
	int unavailable;                 /* a key of this domain failed to load */
	char unavailable_why[400];
};

struct sl_sign_table {
	struct sign_domain *v;
	size_t n;
};

struct sl_sign_batch {
	const struct sl_sign_table *table;
	struct sl_sign_item **items;
	size_t n, cap;
	struct sl_dkim_job *jobs;
	size_t jobs_cap;
};

static struct sign_domain *find_domain(const struct sl_sign_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcasecmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

static struct sign_domain *add_domain(struct sl_sign_table *t, const char *name)
{
	struct sign_domain *v = realloc(t->v, (t->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	t->v = v;
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	snprintf(t->v[t->n].name, sizeof(t->v[t->n].name), "%s", name);
	for (char *p = t->v[t->n].name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return &t->v[t->n++];
}

static int add_line(struct sl_sign_table *t, const char *line, uint32_t expire_s,
		    char *err, size_t errlen)
{
	char domain[256], selector[64], path[1024];
	struct sl_dkim_err derr = { { 0 } };
	struct sign_domain *d;
	struct sl_dkim_key *key = NULL;

	if (sscanf(line, "%255s %63s %1023s", domain, selector, path) != 3) {
		snprintf(err, errlen, "invalid signing key line '%s': expected DOMAIN SELECTOR KEYFILE",
			 line);
		return -EINVAL;
	}
	d = find_domain(t, domain);
	if (!d && !(d = add_domain(t, domain)))
		return -ENOMEM;
	if (d->count == MAX_SIGNERS) {
		snprintf(err, errlen, "signing domain %s has more than %d keys", domain, MAX_SIGNERS);
		return -EINVAL;
	}
	if (sl_dkim_key_load_file(path, &key, &derr) < 0) {
		sl_err("signing: key for domain=%s selector=%s file=%s unavailable: %s; "
		       "mail from this domain is deferred", domain, selector, path, derr.msg);
		d->unavailable = 1;
		snprintf(d->unavailable_why, sizeof(d->unavailable_why),
			 "DKIM key for domain %s selector %s unavailable", domain, selector);
		return 0;
	}

	size_t i = d->count++;

	snprintf(d->selector[i], sizeof(d->selector[i]), "%s", selector);
	d->key[i] = key;
	d->signer[i] = (struct sl_dkim_signer){
		.key = key,
		.domain = d->name,
		.selector = d->selector[i],
		.header_canon = SL_DKIM_RELAXED,
		.body_canon = SL_DKIM_RELAXED,
		.expire = expire_s,
	};
	return 0;
}

struct sl_sign_table *sl_sign_table_load(const char *const *lines, size_t n,
					 uint32_t expire_s, char *err, size_t errlen)
{
	struct sl_sign_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (add_line(t, lines[i], expire_s, err, errlen) < 0) {
			sl_sign_table_free(t);
			return NULL;
		}
	}
	/* Stable addresses now: the signers point at the domain names. */
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < t->v[i].count; k++) {
			t->v[i].signer[k].domain = t->v[i].name;
			t->v[i].signer[k].selector = t->v[i].selector[k];
		}
	return t;
}

void sl_sign_table_free(struct sl_sign_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < t->v[i].count; k++)
			sl_dkim_key_free(t->v[i].key[k]);
	free(t->v);
	free(t);
}

/* From: parsing: the address in <>, or else the first token with '@'. */
int sl_sign_from_domain(const char *h, size_t len, char *domain, size_t cap)
{
	size_t i = 0;

	while (i < len) {
		size_t eol = i;

		while (eol < len && h[eol] != '\n')
			eol++;
		if (eol - i > 5 && strncasecmp(h + i, "from:", 5) == 0) {
			/* The field value, with folded continuation lines. */
			size_t end = eol;

			while (end + 1 < len && (h[end + 1] == ' ' || h[end + 1] == '\t')) {
				end++;
				while (end < len && h[end] != '\n')
					end++;
			}
			const char *v = h + i + 5, *stop = h + end;
			const char *lt = memchr(v, '<', (size_t)(stop - v));
			const char *at;

			if (lt)
				v = lt + 1;
			at = memchr(v, '@', (size_t)(stop - v));
			if (!at)
				return -ENOENT;
			size_t n = 0;

			for (const char *p = at + 1; p < stop && n + 1 < cap; p++) {
				if (*p == '>' || *p == ' ' || *p == '\t' || *p == '\r' ||
				    *p == '\n' || *p == ',' || *p == ';' || *p == ')')
					break;
				domain[n++] = (char)tolower((unsigned char)*p);
			}
			domain[n] = '\0';
			return n ? 0 : -ENOENT;
		}
		i = eol + 1;
	}
	return -ENOENT;
}

struct sl_sign_batch *sl_sign_batch_new(const struct sl_sign_table *t)
{
	struct sl_sign_batch *b = calloc(1, sizeof(*b));

	if (b)
		b->table = t;
	return b;
}

void sl_sign_batch_free(struct sl_sign_batch *b)
{
	if (!b)
		return;
	free(b->items);
	free(b->jobs);
	free(b);
}

size_t sl_sign_batch_size(const struct sl_sign_batch *b)
{
	return b->n;
}

int sl_sign_batch_add(struct sl_sign_batch *b, struct sl_sign_item *item)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct sl_sign_item **v = realloc(b->items, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->items = v;
		b->cap = cap;
	}
	b->items[b->n++] = item;
	return 0;
}

/* Sign the items of one domain with one batch call. */
static void sign_domain_items(struct sl_sign_batch *b, const struct sign_domain *d,
			      struct sl_sign_item **items, size_t n, int64_t now)
{
	if (b->jobs_cap < n) {
		struct sl_dkim_job *j = realloc(b->jobs, n * sizeof(*j));

		if (!j) {
			for (size_t i = 0; i < n; i++) {
				items[i]->rc = -EAGAIN;
				snprintf(items[i]->error, sizeof(items[i]->error), "out of memory signing");
			}
			return;
		}
		b->jobs = j;
		b->jobs_cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&b->jobs[i], 0, sizeof(b->jobs[i]));
		b->jobs[i].headers = items[i]->headers;
		b->jobs[i].hlen = items[i]->hlen;
		b->jobs[i].bh = items[i]->bh;
		b->jobs[i].out = items[i]->out;
	}
	sl_dkim_sign_batch(d->signer, d->count, b->jobs, n, now);
	for (size_t i = 0; i < n; i++) {
		struct sl_sign_item *it = items[i];

		it->rc = b->jobs[i].rc;
		if (it->rc < 0) {
			snprintf(it->error, sizeof(it->error), "DKIM signing for domain %s failed: %s",
				 d->name, b->jobs[i].err.msg);
			continue;
		}
		sl_sign_item_count(it, d->signer, d->count);
		for (size_t k = 0; k < d->count && k < 2; k++)
			snprintf(it->selectors[k], sizeof(it->selectors[k]), "s=%s d=%s",
				 d->selector[k], d->name);
	}
}

void sl_sign_item_count(struct sl_sign_item *item, const struct sl_dkim_signer *signers,
			size_t n)
{
	item->signatures = (unsigned)n;
	item->rsa_signatures = 0;
	item->ed25519_signatures = 0;
	for (size_t i = 0; i < n; i++) {
		if (sl_dkim_key_type(signers[i].key) == SL_DKIM_KEY_ED25519)
			item->ed25519_signatures++;
		else
			item->rsa_signatures++;
	}
}

void sl_sign_batch_run(struct sl_sign_batch *b, int64_t now)
{
	size_t done = 0;

	/* Resolve each item's domain; items are regrouped in place by domain. */
	for (size_t i = 0; i < b->n; i++) {
		struct sl_sign_item *it = b->items[i];
		char domain[256];

		it->rc = 0;
		sl_sign_item_count(it, NULL, 0);
		it->error[0] = '\0';
		it->out->len = 0;
		if (sl_sign_from_domain(it->headers, it->hlen, domain, sizeof(domain)) < 0) {
			it->rc = 1;   /* no From: domain: sent unsigned */
			continue;
		}
		const struct sign_domain *d = find_domain(b->table, domain);

		if (!d) {
			it->rc = 1;
			continue;
		}
		if (d->unavailable) {
			it->rc = -EAGAIN;
			snprintf(it->error, sizeof(it->error), "%s", d->unavailable_why);
			continue;
		}
		it->rc = 2 + (int)(d - b->table->v);   /* domain index, grouped below */
	}
	for (size_t di = 0; di < b->table->n; di++) {
		size_t k = done;

		for (size_t i = done; i < b->n; i++) {
			if (b->items[i]->rc != 2 + (int)di)
				continue;
			struct sl_sign_item *tmp = b->items[k];

			b->items[k++] = b->items[i];
			b->items[i] = tmp;
		}
		if (k > done)
			sign_domain_items(b, &b->table->v[di], b->items + done, k - done, now);
		done = k;
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i]->rc > 0)
			b->items[i]->rc = 0;
	b->n = 0;
}
