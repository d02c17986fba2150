/*
 * ctl/config/config_keys.c - keys of the "keys" section: sluice-ctld's
 * DKIM key store and signing policy.
 *
 * A signing entry is "SENDER [DOMAIN[,DOMAIN...]] [expire=DURATION]
 * [identity=ID]": mail from SENDER is signed with the active keys of
 * each listed domain (SENDER itself when none is listed), so two
 * domains or two algorithms give two signatures.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/config/config_ctld.h"

#define KEY(name, type, max) { #name, type, offsetof(struct sl_config_keys, name), 0, max }
#define HOUR_MS (3600ull * 1000)

static const struct sl_config_key keys_keys[] = {
	KEY(dir, SL_CONFIG_STRING, 0),
	KEY(overlap, SL_CONFIG_DURATION, 0),
	KEY(retire_after, SL_CONFIG_DURATION, 0),
	KEY(expire, SL_CONFIG_DURATION, 30 * 24 * HOUR_MS),
	KEY(signing, SL_CONFIG_STRING_LIST, 0),
	{ NULL, 0, 0, 0, 0 },
};

static void keys_defaults(void *data)
{
	struct sl_config_keys *c = data;

	c->dir = strdup("/var/lib/sluice/keys");
	/* Our choices: two days for the new DNS record to reach resolvers,
	 * a week for mail signed with the old key to be verified, and a
	 * short x= against DKIM replay. */
	c->overlap = 48 * HOUR_MS;
	c->retire_after = 7 * 24 * HOUR_MS;
	c->expire = 4 * HOUR_MS;
}

static int keys_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_keys *c = data;
	size_t i;

	if (!c->dir || !*c->dir)
		return sl_config_fail(ctx, "dir", "expected a directory path");
	for (i = 0; i < c->signing.n; i++) {
		char *copy = strdup(c->signing.v[i]), *tok, *save = NULL;
		int n = 0, bad = 0;

		for (tok = strtok_r(copy, " \t", &save); tok && !bad; tok = strtok_r(NULL, " \t", &save), n++) {
			if (n == 0)
				continue;
			if (strncmp(tok, "expire=", 7) == 0 || strncmp(tok, "identity=", 9) == 0)
				continue;
			if (n > 1 || strchr(tok, '='))
				bad = 1;
		}
		free(copy);
		if (n == 0 || bad)
			return sl_config_fail(ctx, "signing",
					      "entry '%s': expected \"SENDER [DOMAIN[,DOMAIN...]] [expire=DURATION] [identity=ID]\"",
					      c->signing.v[i]);
	}
	return 0;
}

const struct sl_config_section sl_config_section_keys = {
	.name = "keys",
	.size = sizeof(struct sl_config_keys),
	.keys = keys_keys,
	.set_defaults = keys_defaults,
	.validate = keys_validate,
};
