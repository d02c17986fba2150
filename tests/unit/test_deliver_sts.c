/*
 * tests/unit/test_deliver_sts.c - how delivery.mta_sts turns a cached
 * policy into the mode applied (dataplane/deliver_sts.c), and the
 * accounting fields of attempts without a session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/config/config.h"
#include "ctl/config/config_delivery.h"
#include "dataplane/deliver_int.h"
#include "dataplane/dns.h"

#define CA_FILE "/etc/ssl/certs/ca-certificates.crt"

static struct sl_sts_policy enforce_policy(void)
{
	static const char text[] = "version: STSv1\nmode: enforce\nmx: mx.x.test\nmax_age: 600\n";
	struct sl_sts_policy p;
	char err[200];

	assert_int_equal(sl_sts_policy_parse(text, strlen(text), &p, err, sizeof(err)), 0);
	return p;
}

/* Starts the MTA-STS parts with delivery.mta_sts set to setting, caches
 * an enforce policy for x.test with id 1, and returns the mode applied
 * to an MX answer for x.test with TXT id 1. */
static enum sl_sts_mode mode_applied(const char *setting)
{
	struct sl_config *cfg = sl_config_defaults();
	struct sl_config_delivery dc = *sl_config_delivery(cfg);
	struct sl_dns_config dns_cfg;
	struct sl_dns_answer answer;
	struct sl_sts_policy p = enforce_policy(), applied;
	enum sl_sts_mode mode;

	dc.mta_sts = (char *)setting;
	dc.mta_sts_ca_file = (char *)CA_FILE;
	sl_dns_default_config(&dns_cfg);
	snprintf(dns_cfg.server, sizeof(dns_cfg.server), "127.0.0.1:9");
	sl_deliver_dns = sl_dns_start(&dns_cfg);
	assert_non_null(sl_deliver_dns);
	assert_int_equal(deliver_sts_start(&dc), 0);

	memset(&answer, 0, sizeof(answer));
	snprintf(answer.name, sizeof(answer.name), "x.test");
	snprintf(answer.sts_id, sizeof(answer.sts_id), "1");
	answer.kind = SL_DNS_MX;
	if (sl_deliver_sts_cache)
		sl_sts_cache_put(sl_deliver_sts_cache, "x.test", "1", &p, deliver_now_ms());
	mode = deliver_sts_policy(NULL, &answer, &applied);
	if (mode != SL_STS_NONE)
		assert_int_equal(applied.mx_count, 1);

	deliver_sts_stop();
	sl_dns_stop(sl_deliver_dns);
	sl_deliver_dns = NULL;
	sl_config_free(cfg);
	return mode;
}

static void setting_enforce(void **state)
{
	(void)state;
	assert_int_equal(mode_applied("enforce"), SL_STS_ENFORCE);
	assert_int_equal(mode_applied(NULL), SL_STS_ENFORCE);
}

static void setting_report(void **state)
{
	(void)state;
	assert_int_equal(mode_applied("report"), SL_STS_TESTING);
}

static void setting_off(void **state)
{
	(void)state;
	assert_int_equal(mode_applied("off"), SL_STS_NONE);
	assert_null(sl_deliver_sts_cache);
}

static void acct_without_session(void **state)
{
	const char *mode, *failure;

	(void)state;
	deliver_sts_acct(NULL, "MTA-STS policy of x.test (enforce): no MX host matches", &mode,
			 &failure);
	assert_string_equal(mode, "enforce");
	assert_string_equal(failure, "MTA-STS policy of x.test (enforce): no MX host matches");
	deliver_sts_acct(NULL, "connect() to 192.0.2.1:25 failed", &mode, &failure);
	assert_null(mode);
	assert_null(failure);
	deliver_sts_acct(NULL, NULL, &mode, &failure);
	assert_null(mode);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(setting_enforce),
		cmocka_unit_test(setting_report),
		cmocka_unit_test(setting_off),
		cmocka_unit_test(acct_without_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
