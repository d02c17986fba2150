/*
 * ctl/config/config_spool.c - keys of the "spool" section. Defaults match
 * sl_spool_config_default() in queue/spool.c.
 */
#include "ctl/config/config_spool.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_spool, name), min, max }

static const struct sl_config_key spool_keys[] = {
	KEY(paths, SL_CONFIG_STRING_LIST, 0, 0),
	KEY(segment_size, SL_CONFIG_SIZE, 64 * 1024, 1ull << 32),
	KEY(flush_mode, SL_CONFIG_STRING, 0, 0),
	KEY(free_floor_percent, SL_CONFIG_UINT, 0, 99),
	KEY(max_batch_records, SL_CONFIG_UINT, 1, 65536),
	KEY(ring_entries, SL_CONFIG_UINT, 8, 4096),
	{ NULL, 0, 0, 0, 0 },
};

static void spool_defaults(void *data)
{
	struct sl_config_spool *c = data;

	c->paths.v = calloc(1, sizeof(char *));
	if (c->paths.v) {
		c->paths.v[0] = strdup("/var/spool/sluice");
		c->paths.n = c->paths.v[0] ? 1 : 0;
	}
	c->segment_size = 64ull << 20;
	c->flush_mode = strdup("fdatasync");
	c->free_floor_percent = 10;
	c->max_batch_records = 1024;
	c->ring_entries = 256;
}

static int spool_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_spool *c = data;

	if (c->paths.n == 0)
		return sl_config_fail(ctx, "paths", "empty: list at least one folder");
	for (size_t i = 0; i < c->paths.n; i++)
		if (c->paths.v[i][0] != '/')
			return sl_config_fail(ctx, "paths", "'%s' is not an absolute path",
					      c->paths.v[i]);
	if (!c->flush_mode || (strcmp(c->flush_mode, "fdatasync") && strcmp(c->flush_mode, "rwf_dsync") &&
			       strcmp(c->flush_mode, "o_dsync")))
		return sl_config_fail(ctx, "flush_mode",
				      "invalid mode '%s': expected fdatasync, rwf_dsync or o_dsync",
				      c->flush_mode ? c->flush_mode : "");
	if (c->ring_entries & (c->ring_entries - 1))
		return sl_config_fail(ctx, "ring_entries", "%llu is not a power of two",
				      (unsigned long long)c->ring_entries);
	return 0;
}

const struct sl_config_section sl_config_section_spool = {
	.name = "spool",
	.size = sizeof(struct sl_config_spool),
	.keys = spool_keys,
	.set_defaults = spool_defaults,
	.validate = spool_validate,
};
