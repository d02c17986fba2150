/*
 * tests/unit/test_mta_sts.c - MTA-STS policy and TXT parsing, MX
 * pattern matching and the policy cache (dataplane/mta_sts.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/mta_sts.h"

static int parse(const char *text, struct sl_sts_policy *p, char *err, size_t errlen)
{
	return sl_sts_policy_parse(text, strlen(text), p, err, errlen);
}

static const char *mx_at(const struct sl_sts_policy *p, unsigned i)
{
	const char *s = p->mx;

	while (i--)
		s += strlen(s) + 1;
	return s;
}

static void policy_rfc_example(void **state)
{
	struct sl_sts_policy p;
	char err[200] = "";

	(void)state;
	assert_int_equal(parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
			       "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
			       &p, err, sizeof(err)), 0);
	assert_int_equal(p.mode, SL_STS_ENFORCE);
	assert_int_equal(p.max_age_s, 604800);
	assert_int_equal(p.mx_count, 3);
	assert_string_equal(mx_at(&p, 0), "mail.example.com");
	assert_string_equal(mx_at(&p, 1), "*.example.net");
	assert_string_equal(mx_at(&p, 2), "backupmx.example.com");
}

static void policy_lf_no_final_newline(void **state)
{
	struct sl_sts_policy p;
	char err[200] = "";

	(void)state;
	assert_int_equal(parse("version: STSv1\nmode: testing\nmx: MX.Example.COM.\nmax_age:86400",
			       &p, err, sizeof(err)), 0);
	assert_int_equal(p.mode, SL_STS_TESTING);
	assert_int_equal(p.max_age_s, 86400);
	assert_string_equal(mx_at(&p, 0), "mx.example.com");
}

static void policy_lenient_parts(void **state)
{
	struct sl_sts_policy p;
	char err[200] = "";

	(void)state;
	/* Unknown keys are ignored, the first mode counts, trailing spaces
	 * are dropped, max_age is cut to one year, mode none needs no mx. */
	assert_int_equal(parse("version: STSv1  \nfoo-bar: x=1;y\nmode: none\nmode: enforce\n"
			       "max_age: 9999999999\n", &p, err, sizeof(err)), 0);
	assert_int_equal(p.mode, SL_STS_NONE);
	assert_int_equal(p.max_age_s, SL_STS_MAX_AGE_MAX);
	assert_int_equal(p.mx_count, 0);
}

static void policy_bad_inputs(void **state)
{
	static const struct { const char *text; const char *reason; } cases[] = {
		{ "", "missing version" },
		{ "mode: enforce\nmx: a.example\nmax_age: 1\n", "missing version" },
		{ "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "unsupported version" },
		{ "version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", "unsupported version" },
		{ "version: STSv1\nmx: a.example\nmax_age: 1\n", "missing mode" },
		{ "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", "invalid mode" },
		{ "version: STSv1\nmode: enforce\nmx: a.example\n", "missing max_age" },
		{ "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "invalid max_age" },
		{ "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
		  "invalid max_age" },
		{ "version: STSv1\nmode: enforce\nmax_age: 1\n", "without mx" },
		{ "version: STSv1\nmode: testing\nmax_age: 1\n", "without mx" },
		{ "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", "invalid mx" },
		{ "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", "invalid mx" },
		{ "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", "invalid mx" },
		{ "version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n", "invalid mx" },
		{ "version: STSv1\nmode: enforce\nmx: a_b.example\nmax_age: 1\n", "invalid mx" },
		{ "version STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", "expected NAME" },
		{ "version: STSv1\n: enforce\n", "expected NAME" },
		{ "version: STSv1\nmode:\n", "empty value" },
		{ "version: STSv1\nmode: enf orce\n", "invalid character" },
		{ "version: STSv1\rmode: enforce\n", "invalid character" },
		{ "<html><body>Not Found</body></html>\n", "expected NAME" },
	};
	struct sl_sts_policy p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[200] = "";

		if (parse(cases[i].text, &p, err, sizeof(err)) != -22 ||
		    !strstr(err, cases[i].reason))
			fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].reason, err);
	}
}

static void policy_too_many_mx(void **state)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof(text), "version: STSv1\nmode: enforce\nmax_age: 1\n");
	struct sl_sts_policy p;
	char err[200] = "";

	(void)state;
	for (int i = 0; i <= SL_STS_MX_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "mx: m%d.example\n", i);
	assert_int_equal(parse(text, &p, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "more than"));
}

static void policy_too_large(void **state)
{
	static char text[SL_STS_POLICY_SIZE_MAX + 2];
	struct sl_sts_policy p;
	char err[200] = "";

	(void)state;
	memset(text, '\n', sizeof(text) - 1);
	assert_int_equal(sl_sts_policy_parse(text, sizeof(text) - 1, &p, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "larger than"));
}

static void txt_records(void **state)
{
	static const struct { const char *txt; int rc; const char *id; } cases[] = {
		{ "v=STSv1; id=20160831085700Z;", 0, "20160831085700Z" },
		{ "v=STSv1;id=abc", 0, "abc" },
		{ "v=STSv1; ext=1; id=A1 ;", 0, "A1" },
		{ "v=STSv1; id=12345678901234567890123456789012", 0, "12345678901234567890123456789012" },
		{ "v=STSv1; id=123456789012345678901234567890123", -22, NULL },
		{ "v=STSv1;", -22, NULL },
		{ "v=STSv1", -22, NULL },
		{ "v=STSv1; id=", -22, NULL },
		{ "v=STSv1; id=a-b", -22, NULL },
		{ "v=STSv2; id=1", -22, NULL },
		{ "V=STSv1; id=1", -22, NULL },
		{ "v=STSv1; ext=1", -22, NULL },
		{ "v=STSv1; id=1 x", -22, NULL },
		{ "v=spf1 -all", -22, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char id[SL_STS_ID_MAX] = "";
		int rc = sl_sts_txt_parse(cases[i].txt, id);

		if (rc != cases[i].rc)
			fail_msg("case %zu '%s': rc %d, expected %d", i, cases[i].txt, rc, cases[i].rc);
		if (cases[i].id)
			assert_string_equal(id, cases[i].id);
	}
}

static void txt_select(void **state)
{
	const char *one[] = { "v=spf1 -all", "v=STSv1; id=7" };
	const char *two[] = { "v=STSv1; id=7", "v=STSv1; id=8" };
	const char *bad[] = { "v=STSv1; id=" };
	char id[SL_STS_ID_MAX] = "";

	(void)state;
	assert_int_equal(sl_sts_txt_select(one, 2, id), 0);
	assert_string_equal(id, "7");
	assert_int_equal(sl_sts_txt_select(two, 2, id), -2);
	assert_int_equal(sl_sts_txt_select(bad, 1, id), -2);
	assert_int_equal(sl_sts_txt_select(NULL, 0, id), -2);
}

static void mx_patterns(void **state)
{
	static const struct { const char *pattern, *host; bool match; } cases[] = {
		{ "mail.example.com", "mail.example.com", true },
		{ "mail.example.com", "MAIL.Example.com.", true },
		{ "mail.example.com", "mail.example.com.evil", false },
		{ "mail.example.com", "xmail.example.com", false },
		{ "*.example.com", "mx1.example.com", true },
		{ "*.example.com", "MX1.EXAMPLE.COM.", true },
		{ "*.example.com", "example.com", false },
		{ "*.example.com", "a.b.example.com", false },
		{ "*.example.com", ".example.com", false },
		{ "*.example.com", "mx1.example.org", false },
		{ "*.example.com", "mx1.xexample.com", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sl_sts_pattern_match(cases[i].pattern, cases[i].host) != cases[i].match)
			fail_msg("case %zu: %s against %s", i, cases[i].pattern, cases[i].host);
}

static void policy_mx_match(void **state)
{
	struct sl_sts_policy p;
	char err[200];

	(void)state;
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmx: a.example\nmx: *.b.example\n"
			       "max_age: 60\n", &p, err, sizeof(err)), 0);
	assert_true(sl_sts_policy_mx_match(&p, "a.example"));
	assert_true(sl_sts_policy_mx_match(&p, "mx.b.example"));
	assert_false(sl_sts_policy_mx_match(&p, "c.example"));
}

static struct sl_sts_policy policy_with_age(uint32_t max_age_s)
{
	struct sl_sts_policy p;
	char text[200], err[200];

	snprintf(text, sizeof(text), "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: %u\n",
		 max_age_s);
	assert_int_equal(parse(text, &p, err, sizeof(err)), 0);
	return p;
}

static void cache_decisions(void **state)
{
	struct sl_sts_cache *c = sl_sts_cache_new(16, 300000);
	struct sl_sts_policy p = policy_with_age(60);
	struct sl_sts_cached out;

	(void)state;
	assert_non_null(c);
	/* Nothing cached: no TXT means no policy, a TXT id means fetch. */
	assert_int_equal(sl_sts_cache_decide(c, "x.test", "", 1000, &out), SL_STS_ACTION_NO_POLICY);
	assert_int_equal(sl_sts_cache_decide(c, "x.test", "1", 1000, &out), SL_STS_ACTION_FETCH);

	sl_sts_cache_put(c, "x.test", "1", &p, 1000);
	assert_int_equal(sl_sts_cache_decide(c, "X.Test", "1", 2000, &out),
			 SL_STS_ACTION_USE_CACHED);
	assert_string_equal(out.id, "1");
	assert_int_equal(out.expires_ms, 61000);
	/* The TXT record went away: the cached policy still applies. */
	assert_int_equal(sl_sts_cache_decide(c, "x.test", "", 2000, &out),
			 SL_STS_ACTION_USE_CACHED);
	/* A new id is fetched. */
	assert_int_equal(sl_sts_cache_decide(c, "x.test", "2", 2000, &out), SL_STS_ACTION_FETCH);
	/* Expired: fetched again, or no policy without a TXT record. */
	assert_int_equal(sl_sts_cache_decide(c, "x.test", "1", 61000, &out), SL_STS_ACTION_FETCH);
	assert_int_equal(sl_sts_cache_decide(c, "x.test", "", 61000, &out),
			 SL_STS_ACTION_NO_POLICY);
	sl_sts_cache_free(c);
}

static void cache_failed_fetch(void **state)
{
	struct sl_sts_cache *c = sl_sts_cache_new(16, 300000);
	struct sl_sts_policy p = policy_with_age(3600);
	struct sl_sts_cached out;

	(void)state;
	sl_sts_cache_failed(c, "y.test", "9", "connect failed", 1000);
	assert_int_equal(sl_sts_cache_decide(c, "y.test", "9", 2000, &out),
			 SL_STS_ACTION_NO_POLICY);
	assert_int_equal(sl_sts_cache_decide(c, "y.test", "9", 301000, &out), SL_STS_ACTION_FETCH);
	assert_true(sl_sts_cache_get(c, "y.test", &out));
	assert_false(out.have_policy);
	assert_string_equal(out.failure, "connect failed");

	/* A refresh that fails keeps the old policy in use. */
	sl_sts_cache_put(c, "y.test", "1", &p, 1000);
	sl_sts_cache_failed(c, "y.test", "2", "HTTP status 404", 2000);
	assert_int_equal(sl_sts_cache_decide(c, "y.test", "2", 3000, &out),
			 SL_STS_ACTION_USE_CACHED);
	assert_string_equal(out.id, "1");
	/* A successful fetch clears the failure. */
	sl_sts_cache_put(c, "y.test", "2", &p, 4000);
	assert_true(sl_sts_cache_get(c, "y.test", &out));
	assert_string_equal(out.failed_id, "");
	assert_string_equal(out.id, "2");
	sl_sts_cache_free(c);
}

static void cache_bound(void **state)
{
	struct sl_sts_cache *c = sl_sts_cache_new(3, 1000);
	struct sl_sts_cached out;

	(void)state;
	assert_null(sl_sts_cache_new(0, 1000));
	for (uint32_t i = 0; i < 3; i++) {
		struct sl_sts_policy p = policy_with_age(100 + i);
		char name[32];

		snprintf(name, sizeof(name), "d%u.test", i);
		sl_sts_cache_put(c, name, "1", &p, 0);
	}
	assert_int_equal(sl_sts_cache_count(c), 3);
	struct sl_sts_policy p = policy_with_age(500);

	sl_sts_cache_put(c, "new.test", "1", &p, 0);
	assert_int_equal(sl_sts_cache_count(c), 3);
	/* d0 expired soonest, so it went. */
	assert_false(sl_sts_cache_get(c, "d0.test", &out));
	assert_true(sl_sts_cache_get(c, "d1.test", &out));
	assert_true(sl_sts_cache_get(c, "new.test", &out));
	/* Updating a held domain drops nothing. */
	sl_sts_cache_put(c, "d1.test", "2", &p, 0);
	assert_int_equal(sl_sts_cache_count(c), 3);
	assert_true(sl_sts_cache_get(c, "d2.test", &out));
	sl_sts_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_rfc_example),
		cmocka_unit_test(policy_lf_no_final_newline),
		cmocka_unit_test(policy_lenient_parts),
		cmocka_unit_test(policy_bad_inputs),
		cmocka_unit_test(policy_too_many_mx),
		cmocka_unit_test(policy_too_large),
		cmocka_unit_test(txt_records),
		cmocka_unit_test(txt_select),
		cmocka_unit_test(mx_patterns),
		cmocka_unit_test(policy_mx_match),
		cmocka_unit_test(cache_decisions),
		cmocka_unit_test(cache_failed_fetch),
		cmocka_unit_test(cache_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
