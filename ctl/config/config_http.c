/*
 * ctl/config/config_http.c - keys of the "http" section.
 */
#include "ctl/config/config_http.h"

#include <stddef.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_http, name), min, max }

static const struct sl_config_key http_keys[] = {
	KEY(listen, SL_CONFIG_ENDPOINT_LIST, 0, 0),
	KEY(api_keys_file, SL_CONFIG_STRING, 0, 0),
	KEY(allow_networks, SL_CONFIG_NETWORK_LIST, 0, 0),
	KEY(max_message_size, SL_CONFIG_SIZE, 1024, 1024ull * 1024 * 1024),
	KEY(max_request_size, SL_CONFIG_SIZE, 1024, 2048ull * 1024 * 1024),
	KEY(max_header_size, SL_CONFIG_SIZE, 1024, 1024 * 1024),
	KEY(max_recipients, SL_CONFIG_UINT, 1, 65535),
	KEY(max_send_recipients, SL_CONFIG_UINT, 1, 100000),
	KEY(max_send_size, SL_CONFIG_SIZE, 1024, 16ull * 1024 * 1024 * 1024),
	KEY(idle_timeout, SL_CONFIG_DURATION, 1000, 3600000),
	KEY(request_timeout, SL_CONFIG_DURATION, 1000, 3600000),
	KEY(max_sessions, SL_CONFIG_UINT, 1, 1000000),
	{ NULL, 0, 0, 0, 0 },
};

static void http_defaults(void *data)
{
	struct sl_config_http *c = data;

	c->max_message_size = 10 * 1024 * 1024;
	c->max_request_size = 12 * 1024 * 1024;
	c->max_header_size = 16 * 1024;
	c->max_recipients = 1000;
	c->max_send_recipients = 1000;
	c->max_send_size = 64 * 1024 * 1024;
	c->idle_timeout = 60000;
	c->request_timeout = 300000;
	c->max_sessions = 1024;
}

static int http_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_http *c = data;

	if (c->listen.n && !c->api_keys_file)
		return sl_config_fail(ctx, "api_keys_file", "missing: the HTTP API accepts only "
				      "requests with an API key, so give a file of NAME:KEY lines");
	if (c->max_request_size < c->max_message_size)
		return sl_config_fail(ctx, "max_request_size", "smaller than max_message_size "
				      "(%llu): a request must be able to carry a whole message",
				      (unsigned long long)c->max_message_size);
	return 0;
}

const struct sl_config_section sl_config_section_http = {
	.name = "http",
	.size = sizeof(struct sl_config_http),
	.keys = http_keys,
	.set_defaults = http_defaults,
	.validate = http_validate,
};
