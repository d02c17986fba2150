/*
 * ctl/config/config_signing.c - keys of the "signing" section.
 */
#include "ctl/config/config_signing.h"

#include <stddef.h>
#include <stdio.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_signing, name), min, max }

static const struct sl_config_key signing_keys[] = {
	KEY(keys, SL_CONFIG_STRING_LIST, 0, 0),
	KEY(expiry, SL_CONFIG_DURATION, 0, 30ull * 24 * 3600 * 1000),
	{ NULL, 0, 0, 0, 0 },
};

static void signing_defaults(void *data)
{
	struct sl_config_signing *c = data;

	/* A short x= limits DKIM replay; retries are re-signed anyway. */
	c->expiry = 4ull * 3600 * 1000;
}

static int signing_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_signing *c = data;

	for (size_t i = 0; i < c->keys.n; i++) {
		char domain[256], selector[64], path[1024];

		if (sscanf(c->keys.v[i], "%255s %63s %1023s", domain, selector, path) != 3)
			return sl_config_fail(ctx, "keys",
					      "entry '%s': expected \"DOMAIN SELECTOR KEYFILE\"",
					      c->keys.v[i]);
	}
	if (c->expiry > 0 && c->expiry < 1000)
		return sl_config_fail(ctx, "expiry", "below one second: x= has a resolution of 1 s");
	return 0;
}

const struct sl_config_section sl_config_section_signing = {
	.name = "signing",
	.size = sizeof(struct sl_config_signing),
	.keys = signing_keys,
	.set_defaults = signing_defaults,
	.validate = signing_validate,
};
