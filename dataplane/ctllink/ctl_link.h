/*
 * dataplane/ctllink/ctl_link.h - sluiced's end of the snapshot link to
 * sluice-ctld.
 *
 * A service thread connects to sluice-ctld's private Unix socket, checks
 * the peer's credentials (SO_PEERCRED: uid 0 or sluiced's own uid),
 * announces the generation it already has, and receives snapshots. Each
 * snapshot is parsed and its keys loaded on the service thread, then
 * published with one atomic pointer store; workers read it with
 * sl_ctl_link_current() and never wait. When the connection drops,
 * sluiced keeps the last snapshot and the thread reconnects every
 * retry_ms until stopped; sluice-ctld resends the current snapshot on
 * every new connection, which is how both sides resynchronize after
 * either restarts.
 *
 * Reclamation (quiescent-state based): worker W calls
 * sl_ctl_link_quiescent(link, W) at the top of each loop iteration,
 * where it holds no snapshot pointer. A replaced snapshot is freed once
 * every worker has passed such a point after the replacement, so a
 * pointer from sl_ctl_link_current() stays valid until the same worker's
 * next sl_ctl_link_quiescent() call.
 */
#ifndef SLUICE_DATAPLANE_CTLLINK_CTL_LINK_H
#define SLUICE_DATAPLANE_CTLLINK_CTL_LINK_H

#include <stdint.h>

#include "dataplane/ctllink/snapshot.h"

#define SL_CTL_LINK_WORKERS_MAX 64

struct sl_ctl_link_config {
	const char *socket_path;
	uint32_t nworkers;
	uint32_t retry_ms;		/* reconnect interval; 0: 500 */
	struct sl_key_hooks keys;
	/* Called on the service thread after each publication. */
	void (*on_snapshot)(const struct sl_snapshot *snap, void *arg);
	void *arg;
};

struct sl_ctl_link;

int sl_ctl_link_start(const struct sl_ctl_link_config *config, struct sl_ctl_link **out);
void sl_ctl_link_stop(struct sl_ctl_link *link);

/* The current snapshot, or NULL before the first one arrives. */
const struct sl_snapshot *sl_ctl_link_current(struct sl_ctl_link *link);
void sl_ctl_link_quiescent(struct sl_ctl_link *link, uint32_t worker);

/* Counters for status output. */
uint64_t sl_ctl_link_generation(struct sl_ctl_link *link);
int sl_ctl_link_connected(struct sl_ctl_link *link);

#endif
