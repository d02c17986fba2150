/*
 * dataplane/mta_sts.h - MTA-STS (RFC 8461): policy and TXT record
 * parsing, MX pattern matching and the policy cache.
 *
 *   sl_sts_txt_parse()       the id of one "v=STSv1; id=..." TXT record
 *   sl_sts_txt_select()      the id from all TXT strings of _mta-sts.DOMAIN
 *   sl_sts_policy_parse()    the policy file (RFC 8461 section 3.2)
 *   sl_sts_pattern_match()   one "mx:" pattern against an MX host name
 *   sl_sts_policy_mx_match() any pattern of a policy
 *   sl_sts_cache_*()         policies by recipient domain, in memory only
 *
 * This module does no I/O: dns.c queries the TXT record, mta_sts_fetch.c
 * fetches the policy file, deliver_sts.c applies the policy.
 *
 * Cache: an entry contains the last policy fetched for a domain with the TXT
 * id it was fetched for, and expires max_age seconds after that fetch.
 * A failed fetch is remembered with the id it was tried for, so that the
 * same id is not fetched again before retry_ms has passed. The cache is
 * shared by all workers behind one mutex; it is used once per MX answer
 * and once per outbound connection, never per message. It lives in
 * memory only, so a restart of sluiced fetches every policy again. When
 * max_entries are held, the entry that expires soonest is dropped, found
 * by a scan of the table (only on inserting a new domain into a full table).
 */
#ifndef SLUICE_DATAPLANE_MTA_STS_H
#define SLUICE_DATAPLANE_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_STS_ID_MAX 33          /* 1 to 32 letters and digits, and the NUL */
#define SL_STS_MX_MAX 64          /* "mx:" patterns accepted per policy */
#define SL_STS_MX_TEXT_MAX 2048   /* bytes of all patterns, NUL-separated */
#define SL_STS_NAME_MAX 256
#define SL_STS_MAX_AGE_MAX 31557600u   /* one year: RFC 8461 section 3.2 */
#define SL_STS_POLICY_SIZE_MAX 65536   /* bytes of a policy file accepted */

enum sl_sts_mode {
	SL_STS_NONE,
	SL_STS_TESTING,
	SL_STS_ENFORCE,
};

struct sl_sts_policy {
	enum sl_sts_mode mode;
	uint32_t max_age_s;
	unsigned mx_count;
	char mx[SL_STS_MX_TEXT_MAX];   /* mx_count patterns, each NUL-terminated, lowercase */
};

const char *sl_sts_mode_name(enum sl_sts_mode mode);

/* Parse one TXT record (its strings joined). Returns 0 and the id, or
 * -EINVAL when the record is not a valid STSv1 record. */
int sl_sts_txt_parse(const char *txt, char id[SL_STS_ID_MAX]);

/* Choose among the TXT records of _mta-sts.DOMAIN: records that do not
 * start with "v=STSv1;" are ignored; exactly one must remain and parse.
 * Returns 0 with the id, or -ENOENT (no usable record). */
int sl_sts_txt_select(const char *const *records, size_t count, char id[SL_STS_ID_MAX]);

/* Parse a policy file of len bytes. Returns 0, or -EINVAL with the reason
 * in err. Unknown keys are ignored; for keys other than mx the first
 * occurrence counts. max_age above one year is cut to one year. A policy
 * with more than SL_STS_MX_MAX patterns, or more than SL_STS_MX_TEXT_MAX
 * bytes of them, is rejected. */
int sl_sts_policy_parse(const char *text, size_t len, struct sl_sts_policy *policy,
			char *err, size_t errlen);

/* "mx.example.com" matches that host; "*.example.com" matches one more
 * label on the left ("a.example.com", not "example.com" nor
 * "a.b.example.com"). Case-insensitive; a trailing dot of host is ignored. */
bool sl_sts_pattern_match(const char *pattern, const char *host);
bool sl_sts_policy_mx_match(const struct sl_sts_policy *policy, const char *host);

/* The cache. */

struct sl_sts_cache;

struct sl_sts_cached {
	char id[SL_STS_ID_MAX];          /* TXT id of the policy */
	struct sl_sts_policy policy;
	bool have_policy;                /* false: only a failed fetch is recorded */
	uint64_t expires_ms;             /* of the policy */
	char failed_id[SL_STS_ID_MAX];   /* id whose fetch failed last, or "" */
	uint64_t retry_ms;               /* when failed_id may be fetched again */
	char failure[200];               /* why that fetch failed */
};

/* What to do with an MX answer, from the TXT lookup and the cache. */
enum sl_sts_action {
	SL_STS_ACTION_NO_POLICY,   /* deliver as if the domain had no policy */
	SL_STS_ACTION_USE_CACHED,  /* apply the cached policy */
	SL_STS_ACTION_FETCH,       /* fetch the policy first */
};

struct sl_sts_cache *sl_sts_cache_new(size_t max_entries, uint64_t retry_ms);
void sl_sts_cache_free(struct sl_sts_cache *cache);

/* Copy the entry of domain into out. Returns true when one exists; its
 * policy may have expired (compare expires_ms). */
bool sl_sts_cache_get(struct sl_sts_cache *cache, const char *domain, struct sl_sts_cached *out);

/* Decide for domain, whose TXT id is txt_id ("" when it has no usable
 * record); fills out when the action is SL_STS_ACTION_USE_CACHED. A
 * cached policy that has not expired is used when the TXT record is
 * missing or has the same id (RFC 8461 section 5.1). A new id is fetched
 * unless its fetch failed less than retry_ms ago. */
enum sl_sts_action sl_sts_cache_decide(struct sl_sts_cache *cache, const char *domain,
				       const char *txt_id, uint64_t now_ms,
				       struct sl_sts_cached *out);

/* Store a fetched policy for domain and id, valid for its max_age. */
void sl_sts_cache_put(struct sl_sts_cache *cache, const char *domain, const char *id,
		      const struct sl_sts_policy *policy, uint64_t now_ms);

/* Record that fetching id for domain failed at now_ms; a cached policy
 * stays and is used until it expires. */
void sl_sts_cache_failed(struct sl_sts_cache *cache, const char *domain, const char *id,
			 const char *why, uint64_t now_ms);

size_t sl_sts_cache_count(struct sl_sts_cache *cache);

#endif
