/*
 * dataplane/mta_sts_fetch.h - fetches MTA-STS policy files on service
 * threads, so that a worker never waits for HTTPS.
 *
 *   sl_sts_fetcher_start()  start the threads
 *   sl_sts_fetch_submit()   hand over an MX answer whose domain needs its
 *                           policy fetched; the answer comes back to the
 *                           inbox, with sts_done set, once the cache holds
 *                           the result (a policy or a failure)
 *   sl_sts_fetcher_stop()   stop; answers still waiting are posted back
 *
 * A fetch (RFC 8461 section 3.3): the policy host mta-sts.DOMAIN is
 * resolved through the delivery resolver (dns.h), then libcurl GETs
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt with the certificate
 * verified against ca_file and the policy host name, HTTPS only, no
 * redirects, no proxy, at most SL_STS_POLICY_SIZE_MAX bytes, within
 * timeout_ms. Only status 200 with media type text/plain is accepted.
 *
 * Answers for a domain whose fetch is queued or running wait for that
 * fetch, so each domain is fetched once at a time.
 *
 * Ownership: submitted answers belong to the fetcher until they are
 * posted back. Stop the fetcher before the resolver and the inboxes.
 */
#ifndef SLUICE_DATAPLANE_MTA_STS_FETCH_H
#define SLUICE_DATAPLANE_MTA_STS_FETCH_H

#include <stdint.h>

#include "dataplane/dns.h"
#include "dataplane/mta_sts.h"

struct sl_sts_fetch_config {
	const char *ca_file;      /* PEM bundle of trusted CAs */
	uint32_t timeout_ms;      /* whole fetch: connect, TLS, transfer */
	unsigned threads;
};

struct sl_sts_fetcher;

/* Returns NULL and logs the cause when libcurl or a thread cannot start.
 * dns and cache must outlive the fetcher. */
struct sl_sts_fetcher *sl_sts_fetcher_start(const struct sl_sts_fetch_config *cfg,
					    struct sl_dns *dns, struct sl_sts_cache *cache);
void sl_sts_fetcher_stop(struct sl_sts_fetcher *f);

/* Queue the fetch of answer->name's policy with id answer->sts_id.
 * Returns 0, or -ENOMEM (then the caller keeps the answer). */
int sl_sts_fetch_submit(struct sl_sts_fetcher *f, struct sl_dns_answer *answer,
			struct sl_dns_inbox *inbox);

#endif
