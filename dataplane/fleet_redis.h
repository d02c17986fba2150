/*
 * dataplane/fleet_redis.h - sluiced's fleet throttle service: one
 * unpinned thread that leases fleet-wide message slots from Redis
 * (hiredis, blocking calls with timeouts) for the workers.
 *
 *   sl_fleet_service_start()  before the workers start, so that no
 *                             worker applies a fleet rule without it:
 *                             reads the "fleet" section; does nothing
 *                             when fleet.redis is not set
 *   sl_fleet_service_stop()   after the workers stopped
 *
 * Only this thread talks to Redis; workers spend leases through
 * dataplane/throttle/fleet.h and never wait for it. The thread publishes
 * the link state and lease counters in the shared-memory counters
 * (struct sl_shm_fleet) for sluice-ctld's status and metrics.
 *
 * Secrets: the password is read from fleet.password_file on each
 * connect, sent with AUTH, and wiped; it is never logged.
 */
#ifndef SLUICE_DATAPLANE_FLEET_REDIS_H
#define SLUICE_DATAPLANE_FLEET_REDIS_H

struct sl_config;

/* The Lua script: GCRA over Redis TIME granting up to N slots a call.
 * Exposed for tests. */
extern const char sl_fleet_script[];

int sl_fleet_service_start(const struct sl_config *cfg);
void sl_fleet_service_stop(void);

#endif
