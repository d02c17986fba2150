/*
 * ctl/config/config_fleet.c - keys of the "fleet" section (see
 * config_fleet.h). Redis carries no TLS here, so only a loopback address
 * or a Unix socket is accepted; a remote Redis is reached through a
 * local tunnel or proxy.
 */
#include "ctl/config/config_fleet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define KEY(name, type, min, max) \
	{ #name, type, offsetof(struct sl_config_fleet, name), min, max }

static const struct sl_config_key fleet_keys[] = {
	KEY(redis, SL_CONFIG_STRING, 0, 0),
	KEY(password_file, SL_CONFIG_STRING, 0, 0),
	KEY(key_prefix, SL_CONFIG_STRING, 0, 0),
	KEY(fleet_size, SL_CONFIG_UINT, 1, 10000),
	KEY(lease_size, SL_CONFIG_UINT, 1, 100000),
	KEY(lease_time, SL_CONFIG_DURATION, 100, 600000),
	KEY(connect_timeout, SL_CONFIG_DURATION, 10, 60000),
	KEY(command_timeout, SL_CONFIG_DURATION, 10, 60000),
	KEY(reconnect_min, SL_CONFIG_DURATION, 10, 600000),
	KEY(reconnect_max, SL_CONFIG_DURATION, 10, 3600000),
	{ NULL, 0, 0, 0, 0 },
};

static void fleet_defaults(void *data)
{
	struct sl_config_fleet *c = data;

	c->key_prefix = strdup("sluice:");
	c->lease_size = 50;
	c->lease_time = 2000;
	c->connect_timeout = 500;
	c->command_timeout = 250;
	c->reconnect_min = 250;
	c->reconnect_max = 10000;
}

static bool is_loopback(const struct sl_config_endpoint *ep)
{
	if (ep->addr.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&ep->addr)->sin_addr.s_addr) >> 24) == 127;
	return ep->addr.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&ep->addr)->sin6_addr);
}

static int validate_redis(struct sl_config_ctx *ctx, const char *redis)
{
	struct sl_config_endpoint ep;

	if (redis[0] == '/') {
		if (strlen(redis) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return sl_config_fail(ctx, "redis", "Unix socket path '%s' is longer than %zu bytes",
					      redis, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return 0;
	}
	if (sl_config_parse_endpoint(redis, &ep) < 0)
		return sl_config_fail(ctx, "redis",
				      "invalid address '%s': expected ADDR:PORT such as \"127.0.0.1:6379\" or a Unix socket path",
				      redis);
	if (!is_loopback(&ep))
		return sl_config_fail(ctx, "redis",
				      "'%s' is not a loopback address: allowed are 127.0.0.0/8, [::1] and Unix sockets",
				      redis);
	return 0;
}

static int fleet_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_fleet *c = data;
	int rc;

	if (!c->redis) {
		if (c->password_file || c->fleet_size)
			return sl_config_fail(ctx, "redis", "missing: fleet settings need a Redis address");
		return 0;
	}
	if ((rc = validate_redis(ctx, c->redis)))
		return rc;
	if (c->fleet_size == 0)
		return sl_config_fail(ctx, "fleet_size",
				      "missing: give the number of appliances that share the limits (the fallback rate is the fleet rate divided by it)");
	if (c->password_file && access(c->password_file, R_OK) != 0)
		return sl_config_fail(ctx, "password_file", "cannot read '%s': expected a readable file",
				      c->password_file);
	if (!c->key_prefix || strlen(c->key_prefix) > 64 || strpbrk(c->key_prefix, " \t\r\n"))
		return sl_config_fail(ctx, "key_prefix", "invalid prefix: expected up to 64 characters without spaces");
	if (c->reconnect_max < c->reconnect_min)
		return sl_config_fail(ctx, "reconnect_max", "smaller than reconnect_min (%llu ms)",
				      (unsigned long long)c->reconnect_min);
	return 0;
}

const struct sl_config_section sl_config_section_fleet = {
	.name = "fleet",
	.size = sizeof(struct sl_config_fleet),
	.keys = fleet_keys,
	.set_defaults = fleet_defaults,
	.validate = fleet_validate,
};
