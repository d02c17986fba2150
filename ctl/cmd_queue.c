/*
 * ctl/cmd_queue.c - "sluicectl queue": the queue by destination, and
 * operator actions on one destination domain.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl_client.h"
#include "ctl/sluicectl.h"

static int usage(bool help)
{
	fprintf(help ? stdout : stderr,
		"usage: sluicectl queue summary [--json]\n"
		"       sluicectl queue suspend DOMAIN [--duration D]\n"
		"       sluicectl queue resume|bounce|retry DOMAIN\n"
		"  suspend  stop delivery to DOMAIN until resumed or for D (\"30m\", \"2h\")\n"
		"  resume   end an operator suspension or an automatic backoff\n"
		"  bounce   bounce every queued message to DOMAIN\n"
		"  retry    retry every deferred message to DOMAIN now\n" SL_CTL_COMMON_HELP);
	return help ? SL_CTL_EXIT_OK : SL_CTL_EXIT_USAGE;
}

static void print_summary(json_t *r)
{
	json_t *d;
	size_t i;

	if (!json_is_true(json_object_get(r, "sluiced")))
		printf("note: sluiced's counters are not available; showing operator suspensions only\n");
	printf("%-40s %10s %-10s %-22s %s\n", "destination", "queued", "state", "until", "reason");
	json_array_foreach(json_object_get(r, "destinations"), i, d) {
		char when[32];

		printf("%-40s %10lld %-10s %-22s %s\n", json_string_value(json_object_get(d, "domain")),
		       json_integer_value(json_object_get(d, "depth")),
		       json_string_value(json_object_get(d, "state")),
		       sl_ctl_time(json_integer_value(json_object_get(d, "until")), when, sizeof(when)),
		       json_string_value(json_object_get(d, "reason")));
	}
}

int sl_ctl_cmd_queue(int argc, char **argv)
{
	static const char *const actions[] = { "suspend", "resume", "bounce", "retry" };
	struct sl_ctl_opts opts = { 0 };
	const char *duration = NULL;
	json_t *result, *args;
	char command[32];
	int i, rc = sl_ctl_options(&argc, argv, &opts);
	bool bad = false, known = false;

	if (rc)
		return rc;
	if (opts.help || argc < 2)
		return usage(opts.help);
	if (strcmp(argv[1], "summary") == 0) {
		if (argc != 2)
			return usage(false);
		if ((rc = sl_ctl_call(&opts, "queue.summary", NULL, &result)))
			return rc;
		if (opts.json)
			sl_ctl_print_json(result);
		else
			print_summary(result);
		json_decref(result);
		return SL_CTL_EXIT_OK;
	}
	for (i = 0; i < 4; i++)
		known |= strcmp(argv[1], actions[i]) == 0;
	if (!known) {
		fprintf(stderr, "sluicectl: unknown queue action \"%s\": allowed are summary, suspend, resume, bounce, retry\n",
			argv[1]);
		return SL_CTL_EXIT_USAGE;
	}
	for (i = 3; i < argc && !bad; i++) {
		if (strcmp(argv[1], "suspend") == 0 && (duration = sl_ctl_flag(argc, argv, &i, "--duration", &bad)))
			continue;
		if (!bad)
			fprintf(stderr, "sluicectl: unexpected argument \"%s\"\n", argv[i]);
		bad = true;
	}
	if (bad || argc < 3 || argv[2][0] == '-')
		return usage(false);
	args = json_pack("{s:s}", "domain", argv[2]);
	if (duration)
		json_object_set_new(args, "duration", json_string(duration));
	snprintf(command, sizeof(command), "queue.%s", argv[1]);
	if ((rc = sl_ctl_call(&opts, command, args, &result)))
		return rc;
	if (opts.json)
		sl_ctl_print_json(result);
	else if (strcmp(argv[1], "suspend") == 0)
		printf("suspended %s%s\n", argv[2], duration ? "" : " until resumed");
	else if (strcmp(argv[1], "resume") == 0)
		printf("resumed %s\n", argv[2]);
	else
		printf("%s %s requested (action %lld)\n", argv[1], argv[2],
		       json_integer_value(json_object_get(result, "seq")));
	json_decref(result);
	return SL_CTL_EXIT_OK;
}
