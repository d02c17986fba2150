/*
 * ctl/cmd_throttle.c - "sluicectl throttle": show the resolved policy of
 * a destination, or set an operator rule (kept by sluice-ctld across
 * restarts, replacing any rule of the same name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_client.h"
#include "ctl/sluicectl.h"

static int usage(bool help)
{
	fprintf(help ? stdout : stderr,
		"usage: sluicectl throttle show [DOMAIN [--mx HOST] [--source ADDRESS]]\n"
		"       sluicectl throttle set NAME (--default | --provider SUFFIX | --mx HOST | --domain DOMAIN)\n"
		"             [--source ADDRESS] [--rate N/s|N/m|N/h] [--burst N] [--connections N]\n"
		"             [--messages-per-connection N] [--recipients-per-transaction N]\n"
		"             [--retry D,D,...] [--max-age D] [--fleet true|false]\n"
		"       sluicectl throttle set --rule JSON\n"
		"  show without DOMAIN lists every rule; with DOMAIN it prints the limits that\n"
		"  apply, merged from general to specific rules. Durations: 30s, 15m, 2h, 5d.\n"
		"  --fleet true makes the rate hold for all appliances together (docs/throttle-fleet.md).\n"
		"  --rule takes a whole rule as JSON, for backoff rules (see docs/ctl-protocol.md).\n"
		SL_CTL_COMMON_HELP);
	return help ? SL_CTL_EXIT_OK : SL_CTL_EXIT_USAGE;
}

static void print_resolved(json_t *r)
{
	json_t *v, *b;
	size_t i;

	printf("destination   %s", json_string_value(json_object_get(r, "domain")));
	if ((v = json_object_get(r, "mx")))
		printf(" via %s", json_string_value(v));
	if ((v = json_object_get(r, "source")))
		printf(" from %s", json_string_value(v));
	printf("\nrules         ");
	json_array_foreach(json_object_get(r, "rules"), i, v)
		printf("%s%s", i ? " > " : "", json_string_value(v));
	printf("\nlimiter key   %s\n", json_string_value(json_object_get(r, "key")));
	if ((v = json_object_get(r, "rate")))
		printf("rate          %s, burst %lld%s%s%s\n", json_string_value(v),
		       json_integer_value(json_object_get(r, "burst")),
		       json_is_true(json_object_get(r, "fleet")) ? ", fleet-wide (key " : "",
		       json_string_value(json_object_get(r, "fleet_key")) ?: "",
		       json_is_true(json_object_get(r, "fleet")) ? ")" : "");
	if ((v = json_object_get(r, "connections")))
		printf("connections   %lld\n", json_integer_value(v));
	if ((v = json_object_get(r, "messages_per_connection")))
		printf("msgs/conn     %lld\n", json_integer_value(v));
	if ((v = json_object_get(r, "recipients_per_transaction")))
		printf("rcpts/txn     %lld\n", json_integer_value(v));
	if ((v = json_object_get(r, "retry"))) {
		printf("retry (s)     ");
		json_array_foreach(v, i, b)
			printf("%s%lld", i ? ", " : "", json_integer_value(b));
		printf("\n");
	}
	if ((v = json_object_get(r, "max_age")))
		printf("max age (s)   %lld\n", json_integer_value(v));
	json_array_foreach(json_object_get(r, "backoff"), i, b) {
		printf("backoff       %s (rule %s): %s %s%s%s -> %s for %llds%s%s\n",
		       json_string_value(json_object_get(b, "name")), json_string_value(json_object_get(b, "rule")),
		       json_string_value(json_object_get(b, "code")),
		       json_string_value(json_object_get(b, "enhanced")) ?: "",
		       json_object_get(b, "pattern") ? " /" : "",
		       json_object_get(b, "pattern") ? json_string_value(json_object_get(b, "pattern")) : "",
		       json_string_value(json_object_get(b, "action")),
		       json_integer_value(json_object_get(b, "duration")),
		       json_object_get(b, "rate") ? " at " : "",
		       json_object_get(b, "rate") ? json_string_value(json_object_get(b, "rate")) : "");
	}
}

static void print_rules(json_t *r)
{
	json_t *rule;
	size_t i;

	printf("%-20s %-10s %-40s %-10s %s\n", "rule", "level", "match", "rate", "connections");
	json_array_foreach(json_object_get(r, "rules"), i, rule) {
		static const char *const levels[] = { "default", "provider", "mx", "domain" };
		const char *level = "?";
		char match[256] = "";
		json_t *m = NULL;
		size_t k;

		for (k = 0; k < 4 && !m; k++)
			if ((m = json_object_get(rule, levels[k])))
				level = levels[k];
		if (json_is_string(m))
			snprintf(match, sizeof(match), "%s", json_string_value(m));
		else if (json_is_array(m))
			snprintf(match, sizeof(match), "%s%s", json_string_value(json_array_get(m, 0)),
				 json_array_size(m) > 1 ? ", ..." : "");
		char conns[16] = "-";

		if (json_object_get(rule, "connections"))
			snprintf(conns, sizeof(conns), "%lld", json_integer_value(json_object_get(rule, "connections")));
		printf("%-20s %-10s %-40s %-10s %s\n", json_string_value(json_object_get(rule, "name")), level,
		       match, json_string_value(json_object_get(rule, "rate")) ?: "-", conns);
	}
}

static int show(const struct sl_ctl_opts *opts, int argc, char **argv)
{
	json_t *args = json_object(), *result;
	bool bad = false;
	int i, rc;

	for (i = 2; i < argc && !bad; i++) {
		const char *v;

		if (i == 2 && argv[i][0] != '-')
			json_object_set_new(args, "domain", json_string(argv[i]));
		else if ((v = sl_ctl_flag(argc, argv, &i, "--mx", &bad)))
			json_object_set_new(args, "mx", json_string(v));
		else if (!bad && (v = sl_ctl_flag(argc, argv, &i, "--source", &bad)))
			json_object_set_new(args, "source", json_string(v));
		else {
			if (!bad)
				fprintf(stderr, "sluicectl: unexpected argument \"%s\"\n", argv[i]);
			bad = true;
		}
	}
	if (bad) {
		json_decref(args);
		return usage(false);
	}
	if ((rc = sl_ctl_call(opts, "throttle.show", args, &result)))
		return rc;
	if (opts->json)
		sl_ctl_print_json(result);
	else if (json_object_get(result, "domain"))
		print_resolved(result);
	else
		print_rules(result);
	json_decref(result);
	return SL_CTL_EXIT_OK;
}

/* Maps one "--flag VALUE" of "throttle set" to a rule field. */
static int set_flag(json_t *rule, const char *flag, const char *value)
{
	static const struct {
		const char *flag, *field;
		int kind;	/* 0 string, 1 integer, 2 list of strings, 3 boolean */
	} map[] = {
		{ "--provider", "provider", 2 }, { "--mx", "mx", 0 }, { "--domain", "domain", 0 },
		{ "--source", "source", 0 }, { "--rate", "rate", 0 }, { "--burst", "burst", 1 },
		{ "--connections", "connections", 1 },
		{ "--messages-per-connection", "messages_per_connection", 1 },
		{ "--recipients-per-transaction", "recipients_per_transaction", 1 },
		{ "--retry", "retry", 2 }, { "--max-age", "max_age", 0 },
		{ "--fleet", "fleet", 3 },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		char *end, *copy, *tok, *save = NULL;
		json_t *list;

		if (strcmp(flag, map[i].flag) != 0)
			continue;
		switch (map[i].kind) {
		case 0:
			json_object_set_new(rule, map[i].field, json_string(value));
			return 0;
		case 1:
			/* Non-numbers go through as strings, so that sluice-ctld
			 * names the field in its error. */
			if (strtol(value, &end, 10), *end == '\0' && *value)
				json_object_set_new(rule, map[i].field, json_integer(strtol(value, NULL, 10)));
			else
				json_object_set_new(rule, map[i].field, json_string(value));
			return 0;
		case 2:
			list = json_array();
			copy = strdup(value);
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				json_array_append_new(list, json_string(tok));
			free(copy);
			json_object_set_new(rule, map[i].field, list);
			return 0;
		case 3:
			/* Other words go through as strings, so that sluice-ctld
			 * names the field and the allowed values. */
			if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
				json_object_set_new(rule, map[i].field, json_boolean(value[0] == 't'));
			else
				json_object_set_new(rule, map[i].field, json_string(value));
			return 0;
		}
	}
	return -1;
}

static int set(const struct sl_ctl_opts *opts, int argc, char **argv)
{
	json_t *rule = NULL, *result;
	json_error_t jerr;
	int i, rc;

	if (argc == 4 && strcmp(argv[2], "--rule") == 0) {
		rule = json_loads(argv[3], 0, &jerr);
		if (!json_is_object(rule)) {
			fprintf(stderr, "sluicectl: --rule: expected a JSON object: %s\n", jerr.text);
			json_decref(rule);
			return SL_CTL_EXIT_USAGE;
		}
	} else {
		if (argc < 4 || argv[2][0] == '-')
			return usage(false);
		rule = json_pack("{s:s}", "name", argv[2]);
		for (i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--default") == 0) {
				json_object_set_new(rule, "default", json_true());
				continue;
			}
			if (i + 1 >= argc || set_flag(rule, argv[i], argv[i + 1]) != 0) {
				fprintf(stderr, "sluicectl: unexpected argument \"%s\"%s\n", argv[i],
					i + 1 >= argc ? " or missing value" : "");
				json_decref(rule);
				return usage(false);
			}
			i++;
		}
	}
	if ((rc = sl_ctl_call(opts, "throttle.set", json_pack("{s:o}", "rule", rule), &result)))
		return rc;
	if (opts->json)
		sl_ctl_print_json(result);
	else
		printf("rule %s set\n", json_string_value(json_object_get(result, "name")));
	json_decref(result);
	return SL_CTL_EXIT_OK;
}

int sl_ctl_cmd_throttle(int argc, char **argv)
{
	struct sl_ctl_opts opts = { 0 };
	int rc = sl_ctl_options(&argc, argv, &opts);

	if (rc)
		return rc;
	if (opts.help || argc < 2)
		return usage(opts.help);
	if (strcmp(argv[1], "show") == 0)
		return show(&opts, argc, argv);
	if (strcmp(argv[1], "set") == 0)
		return set(&opts, argc, argv);
	fprintf(stderr, "sluicectl: unknown throttle command \"%s\": allowed are show, set\n", argv[1]);
	return SL_CTL_EXIT_USAGE;
}
