/*
 * ctl/config/config_metrics.c - keys of the "metrics" section: where
 * sluice-ctld serves Prometheus metrics and which shared memory segment
 * sluiced keeps its counters in.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/config/config_ctld.h"

#define KEY(name, type) { #name, type, offsetof(struct sl_config_metrics, name), 0, 0 }

static const struct sl_config_key metrics_keys[] = {
	KEY(listen, SL_CONFIG_STRING),
	KEY(shm, SL_CONFIG_STRING),
	{ NULL, 0, 0, 0, 0 },
};

static void metrics_defaults(void *data)
{
	struct sl_config_metrics *c = data;

	c->listen = strdup("127.0.0.1:9187");
	c->shm = strdup("/sluice-metrics");
}

static int metrics_validate(struct sl_config_ctx *ctx, void *data)
{
	struct sl_config_metrics *c = data;
	struct sl_config_endpoint ep;

	if (!c->listen || sl_config_parse_endpoint(c->listen, &ep) < 0)
		return sl_config_fail(ctx, "listen", "invalid address '%s': expected ADDR:PORT such as \"127.0.0.1:9187\"",
				      c->listen ? c->listen : "");
	/* Metrics carry no authentication, so only loopback is allowed. */
	if (!(ep.addr.ss_family == AF_INET &&
	      (ntohl(((struct sockaddr_in *)&ep.addr)->sin_addr.s_addr) >> 24) == 127) &&
	    !(ep.addr.ss_family == AF_INET6 &&
	      IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ep.addr)->sin6_addr)))
		return sl_config_fail(ctx, "listen", "'%s' is not a loopback address: allowed are 127.0.0.0/8 and [::1]",
				      c->listen);
	if (!c->shm || c->shm[0] != '/' || strchr(c->shm + 1, '/') || strlen(c->shm) >= 64)
		return sl_config_fail(ctx, "shm", "invalid name '%s': expected one '/' then up to 62 characters, such as \"/sluice-metrics\"",
				      c->shm ? c->shm : "");
	return 0;
}

const struct sl_config_section sl_config_section_metrics = {
	.name = "metrics",
	.size = sizeof(struct sl_config_metrics),
	.keys = metrics_keys,
	.set_defaults = metrics_defaults,
	.validate = metrics_validate,
};
