/*
 * ctl/config/config_delivery.c - keys of the "delivery" section.
 */
#include "ctl/config/config_delivery.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_delivery, name), min, max }

#define MINUTE (60ull * 1000)
#define HOUR (60 * MINUTE)

static const struct sl_config_key delivery_keys[] = {
	KEY(enabled, SL_CONFIG_BOOL, 0, 0),
	KEY(helo_name, SL_CONFIG_STRING, 0, 0),
	KEY(routes, SL_CONFIG_STRING_LIST, 0, 0),
	KEY(resolver, SL_CONFIG_STRING, 0, 0),
	KEY(resolver_timeout, SL_CONFIG_DURATION, 10, 60000),
	KEY(resolver_tries, SL_CONFIG_UINT, 1, 10),
	KEY(negative_cache_ttl, SL_CONFIG_DURATION, 0, 24 * HOUR),
	KEY(mx_port, SL_CONFIG_UINT, 1, 65535),
	KEY(source_addresses, SL_CONFIG_STRING_LIST, 0, 0),
	KEY(starttls, SL_CONFIG_BOOL, 0, 0),
	KEY(starttls_failure_ttl, SL_CONFIG_DURATION, 0, 7 * 24 * HOUR),
	KEY(starttls_failure_hosts, SL_CONFIG_UINT, 1, 1000000),
	KEY(tls_required, SL_CONFIG_STRING_LIST, 0, 0),
	KEY(mta_sts, SL_CONFIG_STRING, 0, 0),
	KEY(mta_sts_ca_file, SL_CONFIG_STRING, 0, 0),
	KEY(mta_sts_policies, SL_CONFIG_UINT, 1, 1000000),
	KEY(mta_sts_fetch_timeout, SL_CONFIG_DURATION, 100, 5 * MINUTE),
	KEY(mta_sts_fetch_retry, SL_CONFIG_DURATION, 0, 24 * HOUR),
	KEY(max_connections, SL_CONFIG_UINT, 1, 10000),
	KEY(messages_per_connection, SL_CONFIG_UINT, 1, 1000000),
	KEY(recipients_per_transaction, SL_CONFIG_UINT, 1, 1000),
	KEY(chunking, SL_CONFIG_BOOL, 0, 0),
	KEY(idle_timeout, SL_CONFIG_DURATION, 0, HOUR),
	KEY(connect_timeout, SL_CONFIG_DURATION, 100, 10 * MINUTE),
	KEY(greeting_timeout, SL_CONFIG_DURATION, 100, HOUR),
	KEY(command_timeout, SL_CONFIG_DURATION, 100, HOUR),
	KEY(data_init_timeout, SL_CONFIG_DURATION, 100, HOUR),
	KEY(data_block_timeout, SL_CONFIG_DURATION, 100, HOUR),
	KEY(data_end_timeout, SL_CONFIG_DURATION, 100, HOUR),
	KEY(retry_initial, SL_CONFIG_DURATION, 100, 24 * HOUR),
	KEY(retry_max, SL_CONFIG_DURATION, 100, 7 * 24 * HOUR),
	KEY(retry_jitter_percent, SL_CONFIG_UINT, 0, 100),
	KEY(max_age, SL_CONFIG_DURATION, 1000, 30 * 24 * HOUR),
	KEY(destination_pause, SL_CONFIG_DURATION, 0, 24 * HOUR),
	KEY(accounting_log, SL_CONFIG_STRING, 0, 0),
	{ NULL, 0, 0, 0, 0 },
};

static void delivery_defaults(void *data)
{
	struct sl_config_delivery *c = data;

	c->enabled = false;
	c->resolver_timeout = 5000;
	c->resolver_tries = 2;
	c->negative_cache_ttl = 5 * MINUTE;
	c->mx_port = 25;
	c->starttls = true;
	c->starttls_failure_ttl = HOUR;
	c->starttls_failure_hosts = 4096;
	c->mta_sts_policies = 4096;
	c->mta_sts_fetch_timeout = 10000;
	c->mta_sts_fetch_retry = 5 * MINUTE;
	c->max_connections = 20;
	c->messages_per_connection = 100;
	c->recipients_per_transaction = 100;
	c->chunking = true;
	c->idle_timeout = 10000;
	c->connect_timeout = 30000;
	/* RFC 5321 section 4.5.3.2 minimums. */
	c->greeting_timeout = 5 * MINUTE;
	c->command_timeout = 5 * MINUTE;
	c->data_init_timeout = 2 * MINUTE;
	c->data_block_timeout = 3 * MINUTE;
	c->data_end_timeout = 10 * MINUTE;
	c->retry_initial = 5 * MINUTE;
	c->retry_max = 4 * HOUR;
	c->retry_jitter_percent = 20;
	c->max_age = 96 * HOUR;
	c->destination_pause = MINUTE;
}

static int delivery_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_delivery *c = data;

	if (c->retry_max < c->retry_initial)
		return sl_config_fail(ctx, "retry_max", "shorter than retry_initial (%llu ms)",
				      (unsigned long long)c->retry_initial);
	if (c->mta_sts && strcmp(c->mta_sts, "enforce") != 0 && strcmp(c->mta_sts, "report") != 0 &&
	    strcmp(c->mta_sts, "off") != 0)
		return sl_config_fail(ctx, "mta_sts", "invalid value '%s': expected enforce, report "
				      "or off", c->mta_sts);
	for (size_t i = 0; i < c->routes.n; i++) {
		const char *r = c->routes.v[i];

		if (!strchr(r, ' ') && !strchr(r, '\t'))
			return sl_config_fail(ctx, "routes",
					      "entry '%s' lists no host: expected "
					      "\"DOMAIN HOST:PORT[,HOST:PORT...]\"", r);
	}
	return 0;
}

const struct sl_config_section sl_config_section_delivery = {
	.name = "delivery",
	.size = sizeof(struct sl_config_delivery),
	.keys = delivery_keys,
	.set_defaults = delivery_defaults,
	.validate = delivery_validate,
};
