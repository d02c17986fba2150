/*
 * ctl/config/config_spool.c - keys of the "spool" section.
 */
#include "ctl/config/config_spool.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_spool, name), min, max }

static const struct sl_config_key spool_keys[] = {
	KEY(paths, SL_CONFIG_STRING_LIST, 0, 0),
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
	return 0;
}

const struct sl_config_section sl_config_section_spool = {
	.name = "spool",
	.size = sizeof(struct sl_config_spool),
	.keys = spool_keys,
	.set_defaults = spool_defaults,
	.validate = spool_validate,
};
