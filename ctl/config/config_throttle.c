/*
 * ctl/config/config_throttle.c - keys of the "throttle" section: the
 * files that hold the throttle and backoff rules. sluice-ctld reads and
 * validates the rules themselves (field names and values are in
 * docs/ctl-protocol.md) and sends them to sluiced in its snapshots.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/config/config_ctld.h"

#ifndef SL_PROVIDERS_PATH
#define SL_PROVIDERS_PATH "/usr/share/sluice/providers.yaml"
#endif

#define KEY(name, type) { #name, type, offsetof(struct sl_config_throttle, name), 0, 0 }

static const struct sl_config_key throttle_keys[] = {
	KEY(providers, SL_CONFIG_STRING),
	KEY(rules_file, SL_CONFIG_STRING),
	{ NULL, 0, 0, 0, 0 },
};

static void throttle_defaults(void *data)
{
	struct sl_config_throttle *c = data;

	c->providers = strdup(SL_PROVIDERS_PATH);
}

static int throttle_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_throttle *c = data;

	if (!c->providers || (strcmp(c->providers, "none") != 0 && access(c->providers, R_OK) != 0))
		return sl_config_fail(ctx, "providers", "cannot read '%s': give a readable rules file or \"none\"",
				      c->providers ? c->providers : "");
	if (c->rules_file && access(c->rules_file, R_OK) != 0)
		return sl_config_fail(ctx, "rules_file", "cannot read '%s': expected a readable YAML rules file",
				      c->rules_file);
	return 0;
}

const struct sl_config_section sl_config_section_throttle = {
	.name = "throttle",
	.size = sizeof(struct sl_config_throttle),
	.keys = throttle_keys,
	.set_defaults = throttle_defaults,
	.validate = throttle_validate,
};
