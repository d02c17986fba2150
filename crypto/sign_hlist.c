/*
 * crypto/sign_hlist.c - h= plans and header field selection for batch
 * signing; contract in crypto/sign_hlist.h.
 */
#include "crypto/sign_hlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_NAME UINT32_MAX

/*
 * Maximum entries in one plan. An explicit list has one h= name per entry,
 * so by this many entries its h= value is over SL_SIGN_HLIST_MAX bytes
 * and the list walk fails before it needs another one.
 */
#define PLAN_MAX (SL_SIGN_HLIST_MAX / 2)

/* Grow a uint32_t array to n entries. Returns 0 or -ENOMEM. */
static int grow_u32(uint32_t **array, size_t n)
{
	uint32_t *p = realloc(*array, n * sizeof(*p));

	if (!p)
		return -ENOMEM;
	*array = p;
	return 0;
}

/* Make room for n plan entries in names and the per-entry arrays. */
static int entries_reserve(struct sl_hselect *hs, size_t n)
{
	if (n > hs->names_cap) {
		struct sl_hname *p = realloc(hs->names, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		hs->names = p;
		hs->names_cap = n;
	}
	if (n <= hs->entry_cap)
		return 0;
	if (grow_u32(&hs->count, n) < 0 || grow_u32(&hs->begin, n) < 0 ||
	    grow_u32(&hs->selected, n) < 0)
		return -ENOMEM;
	hs->entry_cap = n;
	return 0;
}

static int fields_reserve(struct sl_hselect *hs, size_t n)
{
	if (n <= hs->field_cap)
		return 0;
	if (grow_u32(&hs->fhash, n) < 0 || grow_u32(&hs->fname, n) < 0 ||
	    grow_u32(&hs->order, n) < 0 || grow_u32(&hs->sel, n) < 0)
		return -ENOMEM;
	hs->field_cap = n;
	return 0;
}

/* FNV-1a of a header name with ASCII letters in lowercase. */
static uint32_t name_hash(const void *name, size_t len)
{
	const uint8_t *p = name;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		h = (h ^ c) * 16777619u;
	}
	return h;
}

/* ---- plans ---- */

/* Fill the plan's hash table with its distinct names. */
static int plan_index(struct sl_hselect *hs, struct sl_hplan *pl)
{
	const struct sl_hname *names = &hs->names[pl->start];
	size_t slots = 16;

	while (slots < 2 * pl->n)
		slots *= 2;
	if (hs->ntable + slots > hs->table_cap) {
		if (grow_u32(&hs->table, hs->ntable + slots) < 0)
			return -ENOMEM;
		hs->table_cap = hs->ntable + slots;
	}
	pl->table = hs->ntable;
	pl->mask = (uint32_t)(slots - 1);
	hs->ntable += slots;
	memset(&hs->table[pl->table], 0xff, slots * sizeof(*hs->table));
	for (uint32_t e = 0; e < pl->n; e++) {
		uint32_t i = names[e].hash & pl->mask;

		if (names[e].first != e)
			continue;
		while (hs->table[pl->table + i] != NO_NAME)
			i = (i + 1) & pl->mask;
		hs->table[pl->table + i] = e;
	}
	return 0;
}

/* Add one trimmed, valid name to the plan. */
static int plan_add(struct sl_hselect *hs, struct sl_hplan *pl, const char *p, size_t n)
{
	struct sl_hname *e;

	if (entries_reserve(hs, hs->nnames + 1) < 0)
		return -ENOMEM;
	e = &hs->names[hs->nnames++];
	e->p = p;
	e->len = n;
	e->hash = name_hash(p, n);
	e->oversign = !pl->listed && sl_sign_name_in_list(SL_DKIM_OVERSIGN_HEADERS, p, n);
	e->first = (uint32_t)pl->n;
	for (size_t k = 0; k < pl->n; k++) {
		const struct sl_hname *o = &hs->names[pl->start + k];

		if (o->first == k && o->hash == e->hash && o->len == n &&
		    strncasecmp(o->p, p, n) == 0) {
			e->first = (uint32_t)k;
			break;
		}
	}
	if (n == 4 && strncasecmp(p, "from", 4) == 0 && !pl->has_from) {
		pl->has_from = 1;
		pl->from_entry = e->first;
	}
	pl->n++;
	return 0;
}

/*
 * Parse the list at p with the splitting and trimming of
 * sl_sign_resolve_hlist. An invalid name ends the plan and becomes its
 * bad_rc, raised per message when the walk reaches it. Returns 0 or
 * -ENOMEM.
 */
static int plan_list(struct sl_hselect *hs, struct sl_hplan *pl, const char *p)
{
	pl->start = hs->nnames;
	while (*p) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (!sl_sign_valid_hname(p, n)) {
			pl->bad_rc = sl_crypto_fail(&pl->bad_err, -EINVAL,
						    "invalid header name \"%.*s\" in h= list",
						    (int)(n > 60 ? 60 : n), p);
			break;
		}
		if (pl->n == PLAN_MAX) {
			pl->bad_rc = sl_crypto_fail(&pl->bad_err, -E2BIG,
						    "h= list is over %d characters", SL_SIGN_HLIST_MAX);
			break;
		}
		if (plan_add(hs, pl, p, n) < 0)
			return -ENOMEM;
		p = c ? c + 1 : p + strlen(p);
	}
	return plan_index(hs, pl);
}

/* 1 when the plans were made for lists equal to those of signers[0..n). */
static int plans_current(const struct sl_hselect *hs, const struct sl_dkim_signer *signers,
			 size_t n)
{
	if (hs->nplans != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct sl_hplan *pl = &hs->plans[i];

		if (pl->listed != (signers[i].headers != NULL))
			return 0;
		if (pl->listed && strcmp(hs->lists + pl->copy, signers[i].headers) != 0)
			return 0;
	}
	return 1;
}

/* Copy the given lists, so that the plans outlive the signers' strings. */
static int copy_lists(struct sl_hselect *hs, const struct sl_dkim_signer *signers, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += signers[i].headers ? strlen(signers[i].headers) + 1 : 0;
	if (total > hs->lists_cap) {
		char *p = realloc(hs->lists, total);

		if (!p)
			return -ENOMEM;
		hs->lists = p;
		hs->lists_cap = total;
	}
	total = 0;
	for (size_t i = 0; i < n; i++) {
		struct sl_hplan *pl = &hs->plans[i];
		size_t len = signers[i].headers ? strlen(signers[i].headers) + 1 : 0;

		memset(pl, 0, sizeof(*pl));
		pl->listed = signers[i].headers != NULL;
		pl->copy = total;
		if (len)
			memcpy(hs->lists + total, signers[i].headers, len);
		total += len;
	}
	return 0;
}

int sl_hselect_plan(struct sl_hselect *hs, const struct sl_dkim_signer *signers, size_t n)
{
	size_t max_entries = 0;

	if (plans_current(hs, signers, n))
		return 0;
	hs->nplans = 0;
	hs->nnames = 0;
	hs->ntable = 0;
	if (copy_lists(hs, signers, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sl_hplan *pl = &hs->plans[i];
		const char *list = pl->listed ? hs->lists + pl->copy : SL_DKIM_DEFAULT_HEADERS;

		if (plan_list(hs, pl, list) < 0)
			return -ENOMEM;
		if (pl->n > max_entries)
			max_entries = pl->n;
	}
	if (entries_reserve(hs, max_entries) < 0)
		return -ENOMEM;
	hs->nplans = n;
	return 0;
}

/* ---- per message ---- */

int sl_hselect_message(struct sl_hselect *hs, const struct sl_hlist *h)
{
	if (fields_reserve(hs, h->n) < 0)
		return -ENOMEM;
	hs->h = h;
	for (size_t i = 0; i < h->n; i++)
		hs->fhash[i] = name_hash(h->f[i].p, h->f[i].name_len);
	return 0;
}

/* Plan index of the first entry named like f, or NO_NAME. */
static uint32_t plan_lookup(const struct sl_hselect *hs, const struct sl_hplan *pl,
			    const struct sl_hfield *f, uint32_t hash)
{
	const struct sl_hname *names = &hs->names[pl->start];

	for (uint32_t i = hash & pl->mask;; i = (i + 1) & pl->mask) {
		uint32_t e = hs->table[pl->table + i];

		if (e == NO_NAME)
			return NO_NAME;
		if (names[e].hash == hash && sl_hname_eq(f, names[e].p, names[e].len))
			return e;
	}
}

/* Group the message's fields by the plan's names, each group bottom-up. */
static void group_fields(struct sl_hselect *hs, const struct sl_hplan *pl)
{
	const struct sl_hlist *h = hs->h;
	uint32_t next = 0;

	memset(hs->count, 0, pl->n * sizeof(*hs->count));
	for (size_t i = 0; i < h->n; i++) {
		hs->fname[i] = plan_lookup(hs, pl, &h->f[i], hs->fhash[i]);
		if (hs->fname[i] != NO_NAME)
			hs->count[hs->fname[i]]++;
	}
	for (size_t e = 0; e < pl->n; e++) {
		hs->begin[e] = next;
		hs->selected[e] = 0;
		next += hs->count[e];
	}
	for (size_t i = h->n; i-- > 0;) {
		uint32_t e = hs->fname[i];

		if (e != NO_NAME)
			hs->order[hs->begin[e] + hs->selected[e]++] = (uint32_t)i;
	}
	memset(hs->selected, 0, pl->n * sizeof(*hs->selected));
}

int sl_hselect_resolve(struct sl_hselect *hs, size_t i, char *hv, size_t *nsel,
		       struct sl_dkim_err *err)
{
	const struct sl_hplan *pl = &hs->plans[i];
	const struct sl_hname *names = &hs->names[pl->start];
	size_t used = 0;

	group_fields(hs, pl);

	/* The list walk: each name k times, each time taking the next field up. */
	*nsel = 0;
	hv[0] = '\0';
	for (size_t e = 0; e < pl->n; e++) {
		const struct sl_hname *x = &names[e];
		uint32_t d = x->first;
		size_t k = pl->listed ? 1 : hs->count[d] + x->oversign;

		for (size_t r = 0; r < k; r++) {
			if (sl_sign_hv_append(hv, &used, x->p, x->len) < 0)
				return sl_crypto_fail(err, -E2BIG, "h= list is over %d characters",
						      SL_SIGN_HLIST_MAX);
			if (hs->selected[d] < hs->count[d])
				hs->sel[(*nsel)++] = hs->order[hs->begin[d] + hs->selected[d]++];
		}
	}
	if (pl->bad_rc) {
		if (err)
			*err = pl->bad_err;
		return pl->bad_rc;
	}
	if (!pl->has_from)
		return sl_crypto_fail(err, -EINVAL, "h= list must include From");
	if (hs->count[pl->from_entry] == 0)
		return sl_crypto_fail(err, -EINVAL, "message has no From header field");
	return 0;
}

void sl_hselect_free(struct sl_hselect *hs)
{
	free(hs->lists);
	free(hs->names);
	free(hs->table);
	free(hs->count);
	free(hs->begin);
	free(hs->selected);
	free(hs->fhash);
	free(hs->fname);
	free(hs->order);
	free(hs->sel);
	memset(hs, 0, sizeof(*hs));
}
