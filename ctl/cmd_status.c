/*
 * ctl/cmd_status.c - "sluicectl status" and "sluicectl config reload":
 * the daemons' state, and re-reading the configuration file.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl_client.h"
#include "ctl/sluicectl.h"

/* The Redis link of fleet-wide throttles; "off" without a fleet section. */
static void print_fleet(json_t *f)
{
	const char *state = json_string_value(json_object_get(f, "state"));

	if (!state || strcmp(state, "off") == 0) {
		printf("fleet        off (no fleet.redis configured)\n");
		return;
	}
	printf("fleet        %s since %lld, fleet size %lld, %lld keys, leases %lld, slots granted %lld, "
	       "spent %lld, expired %lld, Redis errors %lld\n", state,
	       json_integer_value(json_object_get(f, "since")), json_integer_value(json_object_get(f, "fleet_size")),
	       json_integer_value(json_object_get(f, "keys")), json_integer_value(json_object_get(f, "leases")),
	       json_integer_value(json_object_get(f, "slots_granted")),
	       json_integer_value(json_object_get(f, "slots_spent")),
	       json_integer_value(json_object_get(f, "slots_expired")),
	       json_integer_value(json_object_get(f, "redis_errors")));
}

static void print_status(json_t *r)
{
	json_t *s = json_object_get(r, "sluiced"), *k = json_object_get(r, "keys");
	json_t *c = json_object_get(r, "counters");

	printf("sluice-ctld  version %s, pid %lld, up %llds, snapshot generation %lld\n",
	       json_string_value(json_object_get(r, "version")),
	       json_integer_value(json_object_get(r, "pid")),
	       json_integer_value(json_object_get(r, "uptime")),
	       json_integer_value(json_object_get(r, "generation")));
	if (json_is_true(json_object_get(s, "connected")))
		printf("sluiced      connected, pid %lld, acknowledged generation %lld\n",
		       json_integer_value(json_object_get(s, "pid")),
		       json_integer_value(json_object_get(s, "acked_generation")));
	else
		printf("sluiced      not connected\n");
	printf("keys         %lld active, %lld pending, %lld retiring, %lld retired\n",
	       json_integer_value(json_object_get(k, "active")), json_integer_value(json_object_get(k, "pending")),
	       json_integer_value(json_object_get(k, "retiring")), json_integer_value(json_object_get(k, "retired")));
	printf("suspensions  %lld by operator\n", json_integer_value(json_object_get(r, "suspensions")));
	if (!c) {
		printf("counters     unavailable (sluiced's shared memory not found)\n");
		return;
	}
	printf("counters     injected %lld, delivered %lld, deferred %lld, bounced %lld, throttled %lld, "
	       "connections %lld\n",
	       json_integer_value(json_object_get(c, "injected")), json_integer_value(json_object_get(c, "delivered")),
	       json_integer_value(json_object_get(c, "deferred")), json_integer_value(json_object_get(c, "bounced")),
	       json_integer_value(json_object_get(c, "throttled")),
	       json_integer_value(json_object_get(c, "connections")));
	print_fleet(json_object_get(r, "fleet"));
}

int sl_ctl_cmd_status(int argc, char **argv)
{
	struct sl_ctl_opts opts = { 0 };
	json_t *result;
	int rc = sl_ctl_options(&argc, argv, &opts);

	if (rc)
		return rc;
	if (opts.help || argc != 1) {
		fprintf(opts.help ? stdout : stderr, "usage: sluicectl status [--json]\n" SL_CTL_COMMON_HELP);
		return opts.help ? SL_CTL_EXIT_OK : SL_CTL_EXIT_USAGE;
	}
	if ((rc = sl_ctl_call(&opts, "status", NULL, &result)))
		return rc;
	if (opts.json)
		sl_ctl_print_json(result);
	else
		print_status(result);
	json_decref(result);
	return SL_CTL_EXIT_OK;
}

int sl_ctl_cmd_config(int argc, char **argv)
{
	struct sl_ctl_opts opts = { 0 };
	json_t *result;
	int rc = sl_ctl_options(&argc, argv, &opts);

	if (rc)
		return rc;
	if (opts.help || argc != 2 || strcmp(argv[1], "reload") != 0) {
		fprintf(opts.help ? stdout : stderr,
			"usage: sluicectl config reload [--json]\n"
			"  re-read the configuration file: throttle rules, signing policy, key timings\n"
			SL_CTL_COMMON_HELP);
		return opts.help ? SL_CTL_EXIT_OK : SL_CTL_EXIT_USAGE;
	}
	if ((rc = sl_ctl_call(&opts, "config.reload", NULL, &result)))
		return rc;
	if (opts.json)
		sl_ctl_print_json(result);
	else
		printf("reloaded %s, snapshot generation %lld\n",
		       json_string_value(json_object_get(result, "config")),
		       json_integer_value(json_object_get(result, "generation")));
	json_decref(result);
	return SL_CTL_EXIT_OK;
}
