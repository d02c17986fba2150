/*
 * dataplane/deliver_sts.c - MTA-STS (RFC 8461) in the delivery engine.
 *
 * delivery.mta_sts selects how published policies apply:
 *   enforce (default)  a policy in mode enforce is enforced, one in mode
 *                      testing is checked and its failures recorded;
 *   report             every policy is checked as if in mode testing;
 *   off                no TXT lookups and no policies.
 *
 * An MX answer carries the TXT id (dns.c). Its domain's policy comes
 * from the cache, or from a fetch first (deliver_sts_hold(), on the
 * fetcher's threads). Under mode enforce only MX hosts that match the
 * policy's mx patterns become targets, every session must do STARTTLS
 * with a certificate that verifies for the MX host name, and there is no
 * plaintext retry. Failures defer with 4.7.5 and a reason that starts
 * with "MTA-STS policy of DOMAIN". Under mode testing the session goes
 * on as usual and the failure is only recorded and counted.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ctl/config/config_delivery.h"
#include "dataplane/ctl_link.h"
#include "dataplane/deliver_int.h"
#include "dataplane/dns.h"
#include "dataplane/mta_sts_fetch.h"
#include "dataplane/tls.h"

#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define FETCH_THREADS 2
#define REASON_PREFIX "MTA-STS policy of "

struct sl_sts_cache *sl_deliver_sts_cache;
struct sl_sts_fetcher *sl_deliver_sts_fetcher;
struct sl_tls_ctx *sl_deliver_sts_tls_ctx;

static bool report_only;

static const char *setting(const struct sl_config_delivery *cfg)
{
	return cfg->mta_sts ? cfg->mta_sts : "enforce";
}

/* Called with the shared lock held, after the resolver has started. */
int deliver_sts_start(const struct sl_config_delivery *cfg)
{
	const char *ca_file = cfg->mta_sts_ca_file ? cfg->mta_sts_ca_file : DEFAULT_CA_FILE;
	struct sl_sts_fetch_config fc = {
		.ca_file = ca_file,
		.timeout_ms = (uint32_t)cfg->mta_sts_fetch_timeout,
		.threads = FETCH_THREADS,
	};
	char err[512];

	if (strcmp(setting(cfg), "off") == 0 || !sl_deliver_dns)
		return 0;
	report_only = strcmp(setting(cfg), "report") == 0;
	sl_deliver_sts_tls_ctx = sl_tls_client_verify_ctx(ca_file, err, sizeof(err));
	if (!sl_deliver_sts_tls_ctx) {
		sl_err("delivery: delivery.mta_sts_ca_file: %s", err);
		return -1;
	}
	sl_deliver_sts_cache = sl_sts_cache_new((size_t)cfg->mta_sts_policies,
						cfg->mta_sts_fetch_retry);
	if (!sl_deliver_sts_cache)
		abort();
	sl_deliver_sts_fetcher = sl_sts_fetcher_start(&fc, sl_deliver_dns, sl_deliver_sts_cache);
	if (!sl_deliver_sts_fetcher)
		return -1;
	sl_info("delivery: MTA-STS %s ca_file=%s policies=%llu", setting(cfg), ca_file,
		(unsigned long long)cfg->mta_sts_policies);
	return 0;
}

/* Called by the last worker to stop, before the resolver stops, because
 * a fetch may wait for the resolver. */
void deliver_sts_stop(void)
{
	sl_sts_fetcher_stop(sl_deliver_sts_fetcher);
	sl_deliver_sts_fetcher = NULL;
	sl_sts_cache_free(sl_deliver_sts_cache);
	sl_deliver_sts_cache = NULL;
	if (sl_deliver_sts_tls_ctx)
		sl_tls_ctx_free(sl_deliver_sts_tls_ctx);
	sl_deliver_sts_tls_ctx = NULL;
}

void deliver_sts_count_failure(struct deliver *d)
{
	struct sl_shm_worker *shm = sl_sluiced_counters(d->w);

	if (shm)
		atomic_fetch_add_explicit(&shm->mta_sts_failures, 1, memory_order_relaxed);
}

bool deliver_sts_hold(struct deliver *d, struct sl_dns_answer *a)
{
	struct sl_sts_cached cached;

	if (!sl_deliver_sts_fetcher || a->kind != SL_DNS_MX || a->status != SL_DNS_OK ||
	    a->sts_done || a->sts_id[0] == '\0')
		return false;
	if (sl_sts_cache_decide(sl_deliver_sts_cache, a->name, a->sts_id, deliver_now_ms(),
				&cached) != SL_STS_ACTION_FETCH)
		return false;
	return sl_sts_fetch_submit(sl_deliver_sts_fetcher, a, d->inbox) == 0;
}

enum sl_sts_mode deliver_sts_policy(struct deliver *d, const struct sl_dns_answer *a,
				    struct sl_sts_policy *p)
{
	struct sl_sts_cached cached;

	(void)d;
	if (!sl_deliver_sts_cache)
		return SL_STS_NONE;
	/* After a fetch the cache contains its result, so this never fetches. */
	if (sl_sts_cache_decide(sl_deliver_sts_cache, a->name, a->sts_id, deliver_now_ms(),
				&cached) != SL_STS_ACTION_USE_CACHED)
		return SL_STS_NONE;
	*p = cached.policy;
	if (p->mode == SL_STS_ENFORCE && report_only)
		return SL_STS_TESTING;
	return p->mode;
}

const char *deliver_sts_key_suffix(enum sl_sts_mode mode)
{
	switch (mode) {
	case SL_STS_ENFORCE:
		return "|mta-sts-enforce";
	case SL_STS_TESTING:
		return "|mta-sts-testing";
	default:
		return "";
	}
}

void deliver_sts_conn_failed(struct dconn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->sts_mode == SL_STS_NONE || c->sts_failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->sts_failure, sizeof(c->sts_failure), fmt, ap);
	va_end(ap);
	sl_warn("delivery: MTA-STS policy of %s (%s) failed with %s (%s): %s", c->domain,
		sl_sts_mode_name(c->sts_mode), c->host, c->address, c->sts_failure);
	deliver_sts_count_failure(c->d);
}

void deliver_sts_conn_setup(struct dconn *c)
{
	struct sl_sts_cached cached;

	if (strstr(c->dest->key, deliver_sts_key_suffix(SL_STS_ENFORCE)))
		c->sts_mode = SL_STS_ENFORCE;
	else if (strstr(c->dest->key, deliver_sts_key_suffix(SL_STS_TESTING)))
		c->sts_mode = SL_STS_TESTING;
	else
		return;
	/* Enforce: no plaintext, no plaintext retry, TLS on every session. */
	if (c->sts_mode == SL_STS_ENFORCE)
		c->tls_required = true;
	/* Enforce mode took non-matching hosts out of the targets already;
	 * testing mode records them here. */
	if (sl_deliver_sts_cache && sl_sts_cache_get(sl_deliver_sts_cache, c->domain, &cached) &&
	    cached.have_policy && !sl_sts_policy_mx_match(&cached.policy, c->host))
		deliver_sts_conn_failed(c, "MX host %s does not match the policy's mx patterns",
					c->host);
}

struct sl_tls *deliver_sts_tls_new(struct dconn *c)
{
	struct sl_tls *tls;

	if (c->sts_mode == SL_STS_NONE || !sl_deliver_sts_tls_ctx)
		return sl_deliver_tls_ctx ? sl_tls_new_client(sl_deliver_tls_ctx, c->host) : NULL;
	tls = sl_tls_new_client(sl_deliver_sts_tls_ctx, c->host);
	if (tls && sl_tls_expect_host(tls, c->host) < 0) {
		sl_tls_free(tls);
		return NULL;
	}
	return tls;
}

bool deliver_sts_check_peer(struct dconn *c)
{
	char why[160];

	if (c->sts_mode == SL_STS_NONE || sl_tls_verify_peer(c->tls, why, sizeof(why)) == 0)
		return true;
	deliver_sts_conn_failed(c, "certificate verification failed for %s: %s", c->host, why);
	if (c->sts_mode != SL_STS_ENFORCE)
		return true;
	snprintf(c->tls_failure, sizeof(c->tls_failure), "certificate verification failed: %.120s",
		 why);
	return false;
}

void deliver_sts_acct(const struct dconn *c, const char *reply_text, const char **mode,
		      const char **failure)
{
	*mode = NULL;
	*failure = NULL;
	if (!c) {
		/* Deferred without a session: by a failed destination or an
		 * MX list that the policy left empty. */
		if (reply_text && strncmp(reply_text, REASON_PREFIX, strlen(REASON_PREFIX)) == 0) {
			*mode = sl_sts_mode_name(SL_STS_ENFORCE);
			*failure = reply_text;
		}
		return;
	}
	if (c->sts_mode == SL_STS_NONE)
		return;
	*mode = sl_sts_mode_name(c->sts_mode);
	if (c->sts_failure[0])
		*failure = c->sts_failure;
}
