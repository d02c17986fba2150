/*
 * ctl/config/config_sluiced.c - keys of the "sluiced" section.
 */
#include "ctl/config/config_sluiced.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_sluiced, name), min, max }

static const struct sl_config_key sluiced_keys[] = {
	KEY(workers, SL_CONFIG_UINT, 0, 256),
	KEY(cpus, SL_CONFIG_CPU_LIST, 0, 0),
	KEY(log_file, SL_CONFIG_STRING, 0, 0),
	KEY(log_level, SL_CONFIG_STRING, 0, 0),
	KEY(recv_buffers, SL_CONFIG_UINT, 16, 32768),
	KEY(recv_buffer_size, SL_CONFIG_SIZE, 1024, 1024 * 1024),
	KEY(pid_file, SL_CONFIG_STRING, 0, 0),
	{ NULL, 0, 0, 0, 0 },
};

static void sluiced_defaults(void *data)
{
	struct sl_config_sluiced *c = data;

	c->log_level = strdup("info");
	c->recv_buffers = 1024;
	c->recv_buffer_size = 16384;
}

static int sluiced_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_sluiced *c = data;
	enum sl_log_level level;

	if (!c->log_level || sl_log_level_parse(c->log_level, &level) < 0)
		return sl_config_fail(ctx, "log_level", "invalid level '%s': expected error, warning, info or debug",
				      c->log_level ? c->log_level : "");
	if (c->recv_buffers & (c->recv_buffers - 1))
		return sl_config_fail(ctx, "recv_buffers", "%llu is not a power of two",
				      (unsigned long long)c->recv_buffers);
	if (c->workers && c->cpus.n && c->workers > c->cpus.n)
		return sl_config_fail(ctx, "workers", "%llu workers but only %zu CPUs listed in cpus",
				      (unsigned long long)c->workers, c->cpus.n);
	return 0;
}

const struct sl_config_section sl_config_section_sluiced = {
	.name = "sluiced",
	.size = sizeof(struct sl_config_sluiced),
	.keys = sluiced_keys,
	.set_defaults = sluiced_defaults,
	.validate = sluiced_validate,
};
