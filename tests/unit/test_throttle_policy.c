/*
 * Unit tests for dataplane/throttle/policy: parsing, error messages that
 * name the field, resolution from general to specific, and backoff rule
 * matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dataplane/throttle/policy.h"

static const char *const rules_json =
	"{\"rules\": ["
	" {\"name\": \"default\", \"default\": true, \"connections\": 10,"
	"  \"rate\": \"100/s\", \"retry\": [\"5m\", \"1h\"], \"max_age\": \"5d\"},"
	" {\"name\": \"gmail\", \"provider\": [\"google.com\"],"
	"  \"domains\": [\"gmail.com\"], \"connections\": 20, \"rate\": \"50/s\","
	"  \"backoff\": [{\"name\": \"g-rl\", \"code\": 421, \"enhanced\": \"4.7.28\","
	"   \"pattern\": \"rate limited\", \"duration\": \"30m\", \"end_on_success\": true}]},"
	" {\"name\": \"gmail-ip2\", \"provider\": \"google.com\", \"source\": \"192.0.2.2\","
	"  \"rate\": \"5/s\"},"
	" {\"name\": \"example\", \"domain\": \"Example.COM\", \"messages_per_connection\": 7,"
	"  \"backoff\": [{\"code\": \"4xx\", \"pattern\": \"try later\", \"action\": \"slow\","
	"   \"rate\": \"1/s\", \"duration\": 60}]},"
	" {\"name\": \"mx1\", \"mx\": \"mx1.example.net\", \"recipients_per_transaction\": 3}"
	"]}";

static struct sl_policy *load(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	struct sl_policy *p;

	assert_non_null(root);
	p = sl_policy_from_json(root, err, errlen);
	json_decref(root);
	return p;
}

static void durations_and_rates(void **state)
{
	uint32_t s;
	struct sl_rate r = { 0 };

	(void)state;
	assert_int_equal(sl_parse_duration("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(sl_parse_duration("15m", &s), 0);
	assert_int_equal(s, 900);
	assert_int_equal(sl_parse_duration("2d", &s), 0);
	assert_int_equal(s, 172800);
	assert_int_not_equal(sl_parse_duration("15x", &s), 0);
	assert_int_not_equal(sl_parse_duration("m", &s), 0);
	assert_int_not_equal(sl_parse_duration("1mm", &s), 0);
	assert_int_equal(sl_parse_rate("10/s", &r), 0);
	assert_int_equal(r.count, 10);
	assert_int_equal(r.period_s, 1);
	assert_int_equal(sl_parse_rate("600/h", &r), 0);
	assert_int_equal(r.period_s, 3600);
	assert_int_not_equal(sl_parse_rate("0/s", &r), 0);
	assert_int_not_equal(sl_parse_rate("10/d", &r), 0);
	assert_int_not_equal(sl_parse_rate("10", &r), 0);
}

static void resolve_general_to_specific(void **state)
{
	char err[SL_POLICY_ERR_MAX] = "";
	struct sl_policy *p = load(rules_json, err, sizeof(err));
	struct sl_resolved r;

	(void)state;
	assert_non_null(p);

	/* An unknown domain gets the default, keyed by its own name. */
	sl_policy_resolve(p, "unknown.test", NULL, NULL, &r);
	assert_int_equal(r.nrules, 1);
	assert_int_equal(r.limits.connections, 10);
	assert_int_equal(r.limits.rate.count, 100);
	assert_int_equal(r.limits.nretry, 2);
	assert_int_equal(r.limits.retry_s[1], 3600);
	assert_string_equal(r.rate_key, "domain:unknown.test");

	/* A Google Workspace domain found by its MX suffix. */
	sl_policy_resolve(p, "corp.test", "aspmx.l.google.com", NULL, &r);
	assert_int_equal(r.nrules, 2);
	assert_string_equal(r.rules[1]->name, "gmail");
	assert_int_equal(r.limits.connections, 20);
	assert_int_equal(r.limits.rate.count, 50);
	assert_int_equal(r.limits.max_age_s, 5 * 86400);
	assert_string_equal(r.rate_key, "provider:gmail");

	/* gmail.com by its domain list, without knowing the MX. */
	sl_policy_resolve(p, "gmail.com", NULL, NULL, &r);
	assert_string_equal(r.rate_key, "provider:gmail");

	/* A suffix must match whole labels. */
	sl_policy_resolve(p, "x.test", "notgoogle.com", NULL, &r);
	assert_int_equal(r.nrules, 1);

	/* The source-specific provider rule comes after the general one. */
	sl_policy_resolve(p, "gmail.com", "gmail-smtp-in.l.google.com", "192.0.2.2", &r);
	assert_int_equal(r.nrules, 3);
	assert_string_equal(r.rules[2]->name, "gmail-ip2");
	assert_int_equal(r.limits.rate.count, 5);
	assert_int_equal(r.limits.connections, 20);
	assert_string_equal(r.rate_key, "provider:gmail-ip2|192.0.2.2");

	/* Domain beats MX, MX beats default; names compare without case. */
	sl_policy_resolve(p, "example.com", "MX1.example.net", NULL, &r);
	assert_int_equal(r.nrules, 3);
	assert_string_equal(r.rules[1]->name, "mx1");
	assert_string_equal(r.rules[2]->name, "example");
	assert_int_equal(r.limits.msgs_per_conn, 7);
	assert_int_equal(r.limits.rcpts_per_txn, 3);
	sl_policy_free(p);
}

static void backoff_matching(void **state)
{
	char err[SL_POLICY_ERR_MAX] = "";
	struct sl_policy *p = load(rules_json, err, sizeof(err));
	const struct sl_policy_rule *owner = NULL;
	const struct sl_backoff_rule *b;
	struct sl_resolved r;

	(void)state;
	assert_non_null(p);
	sl_policy_resolve(p, "gmail.com", NULL, NULL, &r);
	b = sl_policy_match_backoff(&r, 421,
				    "421 4.7.28 Mail from your IP has been temporarily rate limited", &owner);
	assert_non_null(b);
	assert_string_equal(b->name, "g-rl");
	assert_string_equal(owner->name, "gmail");
	assert_int_equal(b->duration_s, 1800);
	assert_true(b->end_on_success);
	/* Wrong enhanced code, wrong text, wrong code. */
	assert_null(sl_policy_match_backoff(&r, 421, "421 4.7.280 rate limited", NULL));
	assert_null(sl_policy_match_backoff(&r, 421, "421 4.7.28 mailbox busy", NULL));
	assert_null(sl_policy_match_backoff(&r, 450, "450 4.7.28 rate limited", NULL));

	/* The wildcard code "4xx" and the slow action. */
	sl_policy_resolve(p, "example.com", NULL, NULL, &r);
	b = sl_policy_match_backoff(&r, 452, "452 Please TRY LATER", NULL);
	assert_non_null(b);
	assert_int_equal(b->action, SL_BACKOFF_SLOW);
	assert_int_equal(b->slow_rate.count, 1);
	assert_string_equal(b->name, "example#0");
	assert_null(sl_policy_match_backoff(&r, 550, "550 try later", NULL));
	sl_policy_free(p);
}

struct bad_case {
	const char *json;
	const char *error;	/* expected start of the message */
};

static void errors_name_the_field(void **state)
{
	static const struct bad_case cases[] = {
		{ "[{\"default\": true}]", "rules[0].name: missing" },
		{ "[{\"name\": \"a\"}]", "rules[0]: missing match: give one of default, provider, mx, domain" },
		{ "[{\"name\": \"a\", \"default\": true, \"domain\": \"x\"}]", "rules[0]: both default and domain given" },
		{ "[{\"name\": \"a\", \"default\": true, \"rate\": \"10/d\"}]", "rules[0].rate: invalid rate: expected COUNT/s, COUNT/m or COUNT/h" },
		{ "[{\"name\": \"a\", \"default\": true, \"connections\": 0}]", "rules[0].connections: invalid value: expected an integer from 1" },
		{ "[{\"name\": \"a\", \"default\": true, \"colour\": 1}]", "rules[0].colour: unknown field: allowed fields are name, default" },
		{ "[{\"name\": \"a\", \"default\": true, \"burst\": 3}]", "rules[0].burst: only allowed together with rate" },
		{ "[{\"name\": \"a\", \"domain\": \"x\", \"domains\": [\"y\"]}]", "rules[0].domains: only allowed in a provider rule" },
		{ "[{\"name\": \"a\", \"default\": true, \"backoff\": [{\"code\": 250, \"duration\": 1}]}]", "rules[0].backoff[0].code: invalid value: expected a 4xx or 5xx reply code" },
		{ "[{\"name\": \"a\", \"default\": true, \"backoff\": [{\"code\": 421, \"duration\": 1, \"action\": \"stop\"}]}]", "rules[0].backoff[0].action: invalid value: allowed values are suspend, slow" },
		{ "[{\"name\": \"a\", \"default\": true, \"backoff\": [{\"code\": 421}]}]", "rules[0].backoff[0].duration: missing" },
		{ "[{\"name\": \"a\", \"default\": true, \"backoff\": [{\"code\": 421, \"duration\": 5, \"action\": \"slow\"}]}]", "rules[0].backoff[0].rate: missing: action slow needs a rate" },
		{ "[{\"name\": \"a\", \"default\": true, \"backoff\": [{\"code\": 421, \"duration\": 5, \"pattern\": \"(\"}]}]", "rules[0].backoff[0].pattern: invalid regular expression" },
		{ "[{\"name\": \"a\", \"default\": true}, {\"name\": \"a\", \"mx\": \"m\"}]", "rules[1].name: duplicate name \"a\"" },
		{ "{\"rules\": 5}", "rules: invalid value: expected a list of rules" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[SL_POLICY_ERR_MAX] = "";
		struct sl_policy *p = load(cases[i].json, err, sizeof(err));

		if (p || strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
			fail_msg("case %zu: expected error \"%s\", got \"%s\"", i, cases[i].error, err);
	}
}

static void resolved_json_shows_rules(void **state)
{
	char err[SL_POLICY_ERR_MAX] = "";
	struct sl_policy *p = load(rules_json, err, sizeof(err));
	struct sl_resolved r;
	json_t *o;

	(void)state;
	sl_policy_resolve(p, "gmail.com", NULL, NULL, &r);
	o = sl_resolved_to_json(&r);
	assert_string_equal(json_string_value(json_object_get(o, "rate")), "50/s");
	assert_int_equal(json_integer_value(json_object_get(o, "connections")), 20);
	assert_int_equal(json_array_size(json_object_get(o, "rules")), 2);
	assert_int_equal(json_array_size(json_object_get(o, "backoff")), 1);
	json_decref(o);
	sl_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations_and_rates),
		cmocka_unit_test(resolve_general_to_specific),
		cmocka_unit_test(backoff_matching),
		cmocka_unit_test(errors_name_the_field),
		cmocka_unit_test(resolved_json_shows_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
