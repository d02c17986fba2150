/*
 * ctl/config/config_ctld.h - the sections read by sluice-ctld: "ctl"
 * (sockets and state), "metrics" (Prometheus listener and the counters'
 * shared memory), "keys" (key store and signing policy) and "throttle"
 * (rule files). sluiced links the same sections, so that one file
 * validates for both daemons, and reads ctl.link_socket and metrics.shm
 * from them.
 */
#ifndef SLUICE_CTL_CONFIG_CTLD_H
#define SLUICE_CTL_CONFIG_CTLD_H

#include "ctl/config/config.h"

struct sl_config_ctl {
	char *socket;		/* ctl socket path */
	char *socket_mode;	/* octal, "0660" */
	char *socket_owner;	/* user name or uid; default: sluice-ctld's user */
	char *socket_group;	/* group name or gid; default: sluice-ctld's group */
	char *link_socket;	/* private snapshot socket to sluiced */
	char *sluiced_user;	/* expected peer of the link; default: sluice-ctld's user */
	char *state;		/* operator state file */
	char *log_level;
};

struct sl_config_metrics {
	char *listen;		/* loopback "ADDR:PORT" */
	char *shm;		/* shared memory name, "/sluice-metrics" */
};

struct sl_config_keys {
	char *dir;
	uint64_t overlap;	/* ms from rotate to signing with the new key */
	uint64_t retire_after;	/* ms from the switch to retiring the old key */
	uint64_t expire;	/* ms added to t= for x= */
	/* "SENDER [DOMAIN[,DOMAIN...]] [expire=DURATION] [identity=ID]" */
	struct sl_config_strings signing;
};

struct sl_config_throttle {
	char *providers;	/* provider rules file, or "none" */
	char *rules_file;	/* operator rules file; NULL for none */
};

extern const struct sl_config_section sl_config_section_ctl;
extern const struct sl_config_section sl_config_section_metrics;
extern const struct sl_config_section sl_config_section_keys;
extern const struct sl_config_section sl_config_section_throttle;

static inline const struct sl_config_ctl *sl_config_ctl(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_ctl);
}

static inline const struct sl_config_metrics *sl_config_metrics(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_metrics);
}

static inline const struct sl_config_keys *sl_config_keys(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_keys);
}

static inline const struct sl_config_throttle *sl_config_throttle(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_throttle);
}

#endif
