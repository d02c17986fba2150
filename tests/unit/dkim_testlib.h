/*
 * Helpers shared by the DKIM unit tests: a DNS TXT table for the
 * verifier's lookup callback, and verification of a whole message.
 */
#ifndef SLUICE_TESTS_DKIM_TESTLIB_H
#define SLUICE_TESTS_DKIM_TESTLIB_H

#include <errno.h>
#include <string.h>

#include "crypto/dkim.h"

struct dns_entry {
	const char *name;
	const char *txt;      /* NULL: temporary failure */
};

/* dns_arg is a NULL-terminated array of struct dns_entry. */
static inline int dns_table(void *arg, const char *name, char *txt, size_t cap)
{
	const struct dns_entry *e = arg;

	for (; e->name; e++) {
		size_t n;

		if (strcmp(e->name, name) != 0)
			continue;
		if (!e->txt)
			return -EAGAIN;
		n = strlen(e->txt);
		if (n >= cap)
			return -EMSGSIZE;
		memcpy(txt, e->txt, n);
		return (int)n;
	}
	return -ENOENT;
}

/* Verify msg and return the first signature's result. */
static inline struct sl_dkim_result verify_first(const char *msg,
						 const struct dns_entry *dns,
						 int64_t now, size_t *count)
{
	struct sl_dkim_result r[8];
	struct sl_dkim_err err;
	size_t n = 0;

	memset(r, 0, sizeof(r));
	if (sl_dkim_verify(msg, strlen(msg), dns_table, (void *)dns, now, r, 8, &n, &err) < 0)
		r[0].status = (enum sl_dkim_status)-1;
	if (count)
		*count = n;
	return r[0];
}

#endif
