/*
 * crypto/sign_hlist.h - h= lists and header field selection for batch
 * signing (crypto/sign_batch.c).
 *
 * sl_sign_resolve_hlist (crypto/sign.c) walks a signer's h= list text for
 * every message and scans the header fields once per name. For a batch,
 * struct sl_hselect parses each signer's list once into a table of names
 * (a plan). Per message, each header field is looked up in that table by
 * a hash of its lowercase name, and one pass groups the fields by name,
 * bottom-up. Resolving a signer then gives the same h= value, the same
 * errors in the same order, and the fields that sl_sign_canon_fields
 * would canonicalize, in the same order.
 *
 * Use, per thread: zero the struct, then sl_hselect_plan() once per batch
 * (it keeps the plans when the signers' lists are unchanged since the
 * previous call), sl_hselect_message() once per message, and
 * sl_hselect_resolve() per signer. sl_hselect_free() releases the memory.
 * The arrays grow to the largest list and header block seen and are
 * reused, so steady-state calls allocate nothing.
 */
#ifndef SLUICE_CRYPTO_SIGN_HLIST_H
#define SLUICE_CRYPTO_SIGN_HLIST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/internal.h"

/* One entry of a signer's h= list, trimmed as sl_sign_resolve_hlist trims it. */
struct sl_hname {
	const char *p;         /* in the plan's copy of the list, or the default list */
	size_t len;
	uint32_t hash;         /* hash of the name in lowercase */
	uint32_t first;        /* plan index of the first entry with this name */
	uint8_t oversign;      /* default list: listed once more than it occurs */
};

/* A signer's parsed h= list. Indices are into the sl_hselect arrays. */
struct sl_hplan {
	size_t start;          /* first entry in names */
	size_t n;              /* entries */
	size_t table;          /* first slot in table */
	uint32_t mask;         /* table slots - 1 (a power of two minus one) */
	size_t copy;           /* offset of the list text in lists */
	int listed;            /* the signer gave the list (else the default) */
	int has_from;
	uint32_t from_entry;   /* plan index of the first From entry */
	int bad_rc;            /* error after the n entries, or 0 */
	struct sl_dkim_err bad_err;
};

struct sl_hselect {
	/* Plans of the current signers, with copies of their list texts. */
	struct sl_hplan plans[SL_SIGN_MAX_SIGNERS];
	size_t nplans;         /* 0: no valid plans */
	char *lists;
	size_t lists_cap;
	struct sl_hname *names;
	size_t nnames, names_cap;
	uint32_t *table;       /* plan index per slot, or UINT32_MAX */
	size_t ntable, table_cap;

	/* Per plan entry, for the current message and signer. */
	uint32_t *count;       /* fields with its name */
	uint32_t *begin;       /* its first field in order */
	uint32_t *selected;    /* fields selected so far */
	size_t entry_cap;

	/* Per header field of the current message. */
	const struct sl_hlist *h;
	uint32_t *fhash;       /* hash of each field's name */
	uint32_t *fname;       /* plan index of each field's name, or UINT32_MAX */
	uint32_t *order;       /* fields grouped by name, bottom-up */
	uint32_t *sel;         /* output: fields selected by one signer, in h= order */
	size_t field_cap;
};

/* Parse the h= lists of signers[0..n). Returns 0 or -ENOMEM. */
int sl_hselect_plan(struct sl_hselect *hs, const struct sl_dkim_signer *signers, size_t n);

/* Take the fields of h (kept until the next call). Returns 0 or -ENOMEM. */
int sl_hselect_message(struct sl_hselect *hs, const struct sl_hlist *h);

/*
 * Resolve signer i's h= value into hv (SL_SIGN_HLIST_MAX bytes) and its
 * selected fields, as indices into h, into hs->sel[0..*nsel). Returns 0
 * or the negative errno and err of sl_sign_resolve_hlist.
 */
int sl_hselect_resolve(struct sl_hselect *hs, size_t i, char *hv, size_t *nsel,
		       struct sl_dkim_err *err);

void sl_hselect_free(struct sl_hselect *hs);

#endif
