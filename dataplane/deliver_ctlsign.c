/*
 * dataplane/deliver_ctlsign.c - DKIM signing with the keys of the
 * current sluice-ctld snapshot.
 *
 * deliver_sign_from_snapshot() signs one transaction's message when the
 * snapshot has a signer for its From: domain, with every key that signer
 * lists (the active selectors of its signing domains), x= from the
 * signer's expiry and i= from its identity. It returns false when the
 * snapshot has no signer for the domain, so the caller falls back to the
 * keys of the "signing" configuration section.
 *
 * The key handles belong to the snapshot, which stays valid until this
 * worker's next loop iteration; signing happens within the iteration.
 *
 * NOTE: each message is signed on its own here, without the batch entry
 * point that the configured keys use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/ctl_link.h"
#include "dataplane/deliver_int.h"

#define SNAPSHOT_SIGNERS_MAX 8

bool deliver_sign_from_snapshot(struct sl_sign_item *item, int64_t now)
{
	const struct sl_snapshot *snap = sl_sluiced_snapshot();
	const struct sl_snap_signer *signer;
	struct sl_dkim_signer signers[SNAPSHOT_SIGNERS_MAX];
	struct sl_dkim_job job;
	char domain[256];
	size_t n = 0;

	if (!snap || snap->nsigners == 0)
		return false;
	if (sl_sign_from_domain(item->headers, item->hlen, domain, sizeof(domain)) < 0)
		return false;
	signer = sl_snapshot_signer(snap, domain);
	if (!signer || signer->nkeys == 0)
		return false;

	item->rc = 0;
	sl_sign_item_count(item, NULL, 0);
	item->error[0] = '\0';
	item->out->len = 0;
	for (size_t i = 0; i < signer->nkeys && n < SNAPSHOT_SIGNERS_MAX; i++) {
		const struct sl_snap_key *key = &snap->keys[signer->keys[i]];

		if (!key->handle) {
			item->rc = -EAGAIN;
			snprintf(item->error, sizeof(item->error),
				 "DKIM key for domain %s selector %s unavailable", key->domain, key->selector);
			return true;
		}
		signers[n++] = (struct sl_dkim_signer){
			.key = key->handle,
			.domain = key->domain,
			.selector = key->selector,
			.identity = signer->identity[0] ? signer->identity : NULL,
			.header_canon = SL_DKIM_RELAXED,
			.body_canon = SL_DKIM_RELAXED,
			.expire = signer->expire_s,
		};
	}
	memset(&job, 0, sizeof(job));
	job.headers = item->headers;
	job.hlen = item->hlen;
	job.bh = item->bh;
	job.out = item->out;
	sl_dkim_sign_batch(signers, n, &job, 1, now);
	item->rc = job.rc < 0 ? job.rc : 0;
	if (job.rc < 0) {
		snprintf(item->error, sizeof(item->error), "DKIM signing for domain %s failed: %s",
			 domain, job.err.msg);
		return true;
	}
	sl_sign_item_count(item, signers, n);
	for (size_t k = 0; k < n && k < 2; k++)
		snprintf(item->selectors[k], sizeof(item->selectors[k]), "s=%s d=%s",
			 signers[k].selector, signers[k].domain);
	return true;
}
