/*
 * ctl/config/config_sluiced.h - the "sluiced" section: process, workers
 * and logging of the dataplane daemon.
 */
#ifndef SLUICE_CTL_CONFIG_SLUICED_H
#define SLUICE_CTL_CONFIG_SLUICED_H

#include "ctl/config/config.h"

struct sl_config_sluiced {
	uint64_t workers;                /* 0: one per CPU in "cpus" */
	struct sl_config_cpus cpus;      /* empty: every online CPU but the first */
	char *log_file;                  /* NULL: standard error */
	char *log_level;
	uint64_t recv_buffers;           /* provided receive buffers per worker */
	uint64_t recv_buffer_size;
	char *pid_file;
};

extern const struct sl_config_section sl_config_section_sluiced;

static inline const struct sl_config_sluiced *sl_config_sluiced(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_sluiced);
}

#endif
