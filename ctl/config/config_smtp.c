/*
 * ctl/config/config_smtp.c - keys of the "smtp" section.
 */
#include "ctl/config/config_smtp.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_smtp, name), min, max }

static const struct sl_config_key smtp_keys[] = {
	KEY(listen, SL_CONFIG_ENDPOINT_LIST, 0, 0),
	KEY(hostname, SL_CONFIG_STRING, 0, 0),
	KEY(max_message_size, SL_CONFIG_SIZE, 1024, 1024ull * 1024 * 1024),
	KEY(max_recipients, SL_CONFIG_UINT, 1, 65535),
	/* RFC 5321 4.5.3.1.4: a command line is at least 512 octets with CRLF. */
	KEY(max_command_line, SL_CONFIG_SIZE, 512, 65536),
	KEY(max_errors, SL_CONFIG_UINT, 1, 1000),
	KEY(idle_timeout, SL_CONFIG_DURATION, 1000, 3600000),
	KEY(max_sessions, SL_CONFIG_UINT, 1, 1000000),
	KEY(max_sessions_per_client, SL_CONFIG_UINT, 1, 1000000),
	KEY(relay_networks, SL_CONFIG_NETWORK_LIST, 0, 0),
	KEY(tls_certificate, SL_CONFIG_STRING, 0, 0),
	KEY(tls_key, SL_CONFIG_STRING, 0, 0),
	KEY(auth_users_file, SL_CONFIG_STRING, 0, 0),
	KEY(dkim_body_hashes, SL_CONFIG_STRING_LIST, 0, 0),
	{ NULL, 0, 0, 0, 0 },
};

static void smtp_defaults(void *data)
{
	struct sl_config_smtp *c = data;

	c->listen.v = calloc(1, sizeof(*c->listen.v));
	if (c->listen.v) {
		c->listen.n = 1;
		sl_config_parse_endpoint("127.0.0.1:25", &c->listen.v[0]);
	}
	c->max_message_size = 10 * 1024 * 1024;
	c->max_recipients = 1000;
	c->max_command_line = 2048;
	c->max_errors = 10;
	c->idle_timeout = 300000;
	c->max_sessions = 1024;
	c->max_sessions_per_client = 256;
	c->dkim_body_hashes.v = calloc(1, sizeof(char *));
	if (c->dkim_body_hashes.v) {
		c->dkim_body_hashes.v[0] = strdup("relaxed");
		c->dkim_body_hashes.n = c->dkim_body_hashes.v[0] ? 1 : 0;
	}
}

static int smtp_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_smtp *c = data;

	if (c->listen.n == 0)
		return sl_config_fail(ctx, "listen", "empty: list at least one ADDRESS:PORT");
	if (!c->tls_certificate != !c->tls_key)
		return sl_config_fail(ctx, c->tls_key ? "tls_key" : "tls_certificate",
				      "tls_certificate and tls_key must be set together");
	if (c->auth_users_file && !c->tls_certificate)
		return sl_config_fail(ctx, "auth_users_file",
				      "AUTH is offered only over TLS: set tls_certificate and tls_key");
	for (size_t i = 0; i < c->dkim_body_hashes.n; i++)
		if (strcmp(c->dkim_body_hashes.v[i], "relaxed") && strcmp(c->dkim_body_hashes.v[i], "simple"))
			return sl_config_fail(ctx, "dkim_body_hashes",
					      "invalid form '%s': expected relaxed or simple",
					      c->dkim_body_hashes.v[i]);
	if (c->max_sessions_per_client > c->max_sessions)
		return sl_config_fail(ctx, "max_sessions_per_client",
				      "larger than max_sessions (%llu)",
				      (unsigned long long)c->max_sessions);
	return 0;
}

const struct sl_config_section sl_config_section_smtp = {
	.name = "smtp",
	.size = sizeof(struct sl_config_smtp),
	.keys = smtp_keys,
	.set_defaults = smtp_defaults,
	.validate = smtp_validate,
};
