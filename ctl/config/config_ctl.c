/*
 * ctl/config/config_ctl.c - keys of the "ctl" section (sluice-ctld's
 * sockets and state file).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ctl/config/config_ctld.h"

#define KEY(name, type) { #name, type, offsetof(struct sl_config_ctl, name), 0, 0 }

static const struct sl_config_key ctl_keys[] = {
	KEY(socket, SL_CONFIG_STRING),
	KEY(socket_mode, SL_CONFIG_STRING),
	KEY(socket_owner, SL_CONFIG_STRING),
	KEY(socket_group, SL_CONFIG_STRING),
	KEY(link_socket, SL_CONFIG_STRING),
	KEY(sluiced_user, SL_CONFIG_STRING),
	KEY(state, SL_CONFIG_STRING),
	KEY(log_level, SL_CONFIG_STRING),
	{ NULL, 0, 0, 0, 0 },
};

static void ctl_defaults(void *data)
{
	struct sl_config_ctl *c = data;

	c->socket = strdup("/run/sluice/ctl.sock");
	c->socket_mode = strdup("0660");
	c->link_socket = strdup("/run/sluice/link.sock");
	c->state = strdup("/var/lib/sluice/ctld-state.json");
	c->log_level = strdup("info");
}

static int ctl_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_ctl *c = data;
	enum sl_log_level level;
	char *end;
	long mode = c->socket_mode ? strtol(c->socket_mode, &end, 8) : -1;

	if (mode < 0 || mode > 0777 || *end)
		return sl_config_fail(ctx, "socket_mode", "invalid mode '%s': expected octal digits such as \"0660\"",
				      c->socket_mode ? c->socket_mode : "");
	if (!c->socket || !*c->socket || strlen(c->socket) >= 108)
		return sl_config_fail(ctx, "socket", "expected a path of 1 to 107 bytes (a Unix socket address)");
	if (!c->link_socket || !*c->link_socket || strlen(c->link_socket) >= 108)
		return sl_config_fail(ctx, "link_socket", "expected a path of 1 to 107 bytes (a Unix socket address)");
	if (!c->state || !*c->state)
		return sl_config_fail(ctx, "state", "expected a file path");
	if (!c->log_level || sl_log_level_parse(c->log_level, &level) < 0)
		return sl_config_fail(ctx, "log_level", "invalid level '%s': expected error, warning, info or debug",
				      c->log_level ? c->log_level : "");
	return 0;
}

const struct sl_config_section sl_config_section_ctl = {
	.name = "ctl",
	.size = sizeof(struct sl_config_ctl),
	.keys = ctl_keys,
	.set_defaults = ctl_defaults,
	.validate = ctl_validate,
};
