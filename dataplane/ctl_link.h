/*
 * dataplane/ctl_link.h - sluiced's side of sluice-ctld: the
 * snapshot link thread and the shared-memory counters, wired into the
 * worker loop.
 *
 * sl_sluiced_ctl_register() adds a worker module (before the workers
 * start) whose poll marks each loop iteration as a quiescent point of
 * the snapshot link. sl_sluiced_ctl_start() (after the workers started,
 * when their number is known) creates the counters segment
 * metrics.shm and starts the link to ctl.link_socket. Both are optional
 * for sluiced: without sluice-ctld the link keeps retrying and logs the
 * outage once.
 *
 * Workers count events with sl_sluiced_counters(worker), which returns
 * that worker's own block (or NULL before start), written only by that
 * worker.
 */
#ifndef SLUICE_DATAPLANE_CTL_LINK_H
#define SLUICE_DATAPLANE_CTL_LINK_H

#include "dataplane/ctllink/ctl_link.h"
#include "dataplane/ctllink/metrics_shm.h"

struct sl_config;
struct sl_worker;

int sl_sluiced_ctl_register(void);
int sl_sluiced_ctl_start(const struct sl_config *cfg, unsigned nworkers);
void sl_sluiced_ctl_stop(void);

struct sl_shm_worker *sl_sluiced_counters(const struct sl_worker *worker);
/* The whole segment, or NULL before start; for its one writer of the
 * destination entries. */
struct sl_shm *sl_sluiced_shm(void);
/* The current snapshot, or NULL; valid until this worker's next loop
 * iteration. */
const struct sl_snapshot *sl_sluiced_snapshot(void);

#endif
