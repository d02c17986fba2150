/*
 * dataplane/ctl_link.c - the snapshot link and shared
 * counters inside sluiced. See ctl_link.h.
 */
#include "dataplane/ctl_link.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "crypto/dkim.h"
#include "ctl/config/config_ctld.h"
#include "dataplane/worker.h"

static _Atomic(struct sl_ctl_link *) link_ptr;
static _Atomic(struct sl_shm *) shm_ptr;
static char shm_name[64];

static int ctl_poll(struct sl_worker *worker, void *state)
{
	struct sl_ctl_link *link = atomic_load_explicit(&link_ptr, memory_order_acquire);

	(void)state;
	if (link)
		sl_ctl_link_quiescent(link, sl_worker_index(worker));
	return 0;
}

static const struct sl_worker_module ctl_module = {
	.name = "ctl",
	.poll = ctl_poll,
};

int sl_sluiced_ctl_register(void)
{
	return sl_worker_module_register(&ctl_module);
}

static void log_snapshot(const struct sl_snapshot *snap, void *arg)
{
	(void)arg;
	sl_info("ctl: using snapshot generation=%llu keys=%zu signers=%zu rules=%zu suspensions=%zu",
		(unsigned long long)snap->generation, snap->nkeys, snap->nsigners,
		snap->policy ? snap->policy->nrules : 0, snap->nsuspensions);
}

/* Loads a snapshot key on the link thread, so that workers get keys
 * ready for signing. */
static void *key_load(const char *path, char *err, size_t errlen)
{
	struct sl_dkim_err derr = { "" };
	struct sl_dkim_key *key = NULL;

	if (sl_dkim_key_load_file(path, &key, &derr) != 0) {
		snprintf(err, errlen, "loading key %s failed: %s", path, derr.msg);
		return NULL;
	}
	return key;
}

static void key_free(void *key)
{
	sl_dkim_key_free(key);
}

int sl_sluiced_ctl_start(const struct sl_config *cfg, unsigned nworkers)
{
	const struct sl_config_ctl *ctl = sl_config_ctl(cfg);
	const struct sl_config_metrics *metrics = sl_config_metrics(cfg);
	struct sl_ctl_link_config lc = { 0 };
	struct sl_ctl_link *link;
	struct sl_shm *shm;
	int error;

	snprintf(shm_name, sizeof(shm_name), "%s", metrics->shm);
	shm = sl_shm_create(shm_name, nworkers, &error);
	if (!shm) {
		sl_err("ctl: creating shared counters %s failed: %s", shm_name, strerror(-error));
		return error;
	}
	atomic_store_explicit(&shm_ptr, shm, memory_order_release);

	lc.socket_path = ctl->link_socket;
	lc.nworkers = nworkers;
	lc.on_snapshot = log_snapshot;
	lc.keys.load = key_load;
	lc.keys.free = key_free;
	/* The delivery engine signs with these keys for the senders the
	 * snapshot lists (dataplane/deliver_ctlsign.c). */
	error = sl_ctl_link_start(&lc, &link);
	if (error) {
		sl_err("ctl: starting the link to %s failed: %s", ctl->link_socket, strerror(-error));
		return error;
	}
	atomic_store_explicit(&link_ptr, link, memory_order_release);
	sl_info("ctl: counters in %s, snapshots from %s", shm_name, ctl->link_socket);
	return 0;
}

void sl_sluiced_ctl_stop(void)
{
	struct sl_ctl_link *link = atomic_exchange(&link_ptr, NULL);
	struct sl_shm *shm = atomic_exchange(&shm_ptr, NULL);

	/* Called after the workers joined, so no worker has a snapshot pointer. */
	sl_ctl_link_stop(link);
	if (shm) {
		/* Another sluiced may have replaced the name since; remove it
		 * only while it still names this process's segment. */
		int error;
		const struct sl_shm *named = sl_shm_open(shm_name, &error);

		if (named && atomic_load(&named->pid) == (int64_t)getpid())
			sl_shm_unlink(shm_name);
		sl_shm_close(named);
		sl_shm_close(shm);
	}
}

struct sl_shm_worker *sl_sluiced_counters(const struct sl_worker *worker)
{
	struct sl_shm *shm = atomic_load_explicit(&shm_ptr, memory_order_acquire);
	unsigned i = sl_worker_index(worker);

	return shm && i < SL_SHM_WORKERS_MAX ? &shm->workers[i] : NULL;
}

struct sl_shm *sl_sluiced_shm(void)
{
	return atomic_load_explicit(&shm_ptr, memory_order_acquire);
}

const struct sl_snapshot *sl_sluiced_snapshot(void)
{
	struct sl_ctl_link *link = atomic_load_explicit(&link_ptr, memory_order_acquire);

	return link ? sl_ctl_link_current(link) : NULL;
}
