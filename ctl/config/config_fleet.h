/*
 * ctl/config/config_fleet.h - the "fleet" section: the Redis server that
 * several appliances share for fleet-wide rate limits, and how sluiced
 * leases from it. Without "redis" the section is off and rules marked
 * fleet are enforced locally at their full rate.
 */
#ifndef SLUICE_CTL_CONFIG_FLEET_H
#define SLUICE_CTL_CONFIG_FLEET_H

#include "ctl/config/config.h"

struct sl_config_fleet {
	char *redis;			/* loopback "ADDR:PORT" or an absolute Unix socket path; NULL: off */
	char *password_file;		/* file whose first line is the Redis password; NULL: no AUTH */
	char *key_prefix;		/* prepended to every Redis key, "sluice:" */
	uint64_t fleet_size;		/* appliances sharing the limits; divides the rate in fallback */
	uint64_t lease_size;		/* most slots one lease holds */
	uint64_t lease_time;		/* ms a lease's slots stay usable */
	uint64_t connect_timeout;	/* ms */
	uint64_t command_timeout;	/* ms; a slower answer counts as a failure */
	uint64_t reconnect_min;		/* ms before the first reconnect */
	uint64_t reconnect_max;		/* ms, cap of the doubling */
};

extern const struct sl_config_section sl_config_section_fleet;

static inline const struct sl_config_fleet *sl_config_fleet(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_fleet);
}

#endif
