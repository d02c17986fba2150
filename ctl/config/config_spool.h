/*
 * ctl/config/config_spool.h - the "spool" section: where and how sluiced
 * keeps accepted messages (see queue/spool.h for the meaning of each
 * setting).
 */
#ifndef SLUICE_CTL_CONFIG_SPOOL_H
#define SLUICE_CTL_CONFIG_SPOOL_H

#include "ctl/config/config.h"

struct sl_config_spool {
	struct sl_config_strings paths;	/* folders, one per disk; shards spread over them */
	uint64_t segment_size;		/* bytes per segment file */
	char *flush_mode;		/* fdatasync, rwf_dsync or o_dsync */
	uint64_t free_floor_percent;	/* refuse new mail below this free space */
	uint64_t max_batch_records;	/* records per group commit */
	uint64_t ring_entries;		/* io_uring submission queue size per shard */
};

extern const struct sl_config_section sl_config_section_spool;

static inline const struct sl_config_spool *sl_config_spool(const struct sl_config *cfg)
{
	return sl_config_get(cfg, &sl_config_section_spool);
}

#endif
