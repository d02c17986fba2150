/*
 * ctl/config/config_spool.h - the "spool" section: where sluiced keeps
 * accepted messages.
 */
#ifndef SLUICE_CTL_CONFIG_SPOOL_H
#define SLUICE_CTL_CONFIG_SPOOL_H

#include "ctl/config/config.h"

struct sl_config_spool {
	struct sl_config_strings paths;	/* folders, one per disk; shards spread over them */
};

extern const struct sl_config_section sl_config_section_spool;

static inline const struct sl_config_spool *sl_config_spool(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_spool);
}

#endif
