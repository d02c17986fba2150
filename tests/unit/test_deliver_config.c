/*
 * Unit tests for the "delivery" and "signing" configuration sections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/config/config.h"
#include "ctl/config/config_delivery.h"
#include "ctl/config/config_signing.h"

static char path[] = "/tmp/sluice-delivery-config.XXXXXX";

static int load(const char *text, struct sl_config **cfg, char *err, size_t len)
{
	int fd = mkstemp(path);
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = sl_config_load(path, cfg, err, len);
	unlink(path);
	strcpy(path + strlen(path) - 6, "XXXXXX");
	return rc;
}

static void defaults_follow_rfc5321(void **s)
{
	struct sl_config *cfg = sl_config_defaults();
	const struct sl_config_delivery *d;

	(void)s;
	assert_non_null(cfg);
	d = sl_config_delivery(cfg);
	assert_false(d->enabled);
	assert_int_equal(d->mx_port, 25);
	assert_int_equal(d->greeting_timeout, 5 * 60 * 1000);
	assert_int_equal(d->data_init_timeout, 2 * 60 * 1000);
	assert_int_equal(d->data_end_timeout, 10 * 60 * 1000);
	assert_int_equal(d->max_age, 96ull * 3600 * 1000);
	assert_true(d->chunking);
	assert_int_equal(sl_config_signing(cfg)->expiry, 4ull * 3600 * 1000);
	sl_config_free(cfg);
}

static void sections_parse(void **s)
{
	struct sl_config *cfg = NULL;
	char err[512];

	(void)s;
	assert_int_equal(load("delivery:\n"
			      "  routes:\n"
			      "    - \"*.demo.test 127.0.0.1:2525,127.0.0.1:2526\"\n"
			      "  resolver: 127.0.0.1:5353\n"
			      "  retry_initial: 2s\n"
			      "  retry_max: 10s\n"
			      "  max_age: 1m\n"
			      "  chunking: false\n"
			      "signing:\n"
			      "  keys: [\"a.test rsa /k/a.pem\", \"a.test ed /k/e.pem\"]\n"
			      "  expiry: 2h\n", &cfg, err, sizeof(err)), 0);
	const struct sl_config_delivery *d = sl_config_delivery(cfg);

	assert_int_equal(d->routes.n, 1);
	assert_string_equal(d->resolver, "127.0.0.1:5353");
	assert_int_equal(d->retry_initial, 2000);
	assert_int_equal(d->max_age, 60000);
	assert_false(d->chunking);
	assert_int_equal(sl_config_signing(cfg)->keys.n, 2);
	assert_int_equal(sl_config_signing(cfg)->expiry, 7200000);
	sl_config_free(cfg);
}

static void invalid_values_named(void **s)
{
	struct sl_config *cfg = NULL;
	char err[512];

	(void)s;
	assert_int_not_equal(load("delivery:\n  retry_initial: 1h\n  retry_max: 1m\n", &cfg, err,
				  sizeof(err)), 0);
	assert_non_null(strstr(err, "retry_max"));
	assert_int_not_equal(load("delivery:\n  routes: [\"example.com\"]\n", &cfg, err,
				  sizeof(err)), 0);
	assert_non_null(strstr(err, "routes"));
	assert_int_not_equal(load("signing:\n  keys: [\"a.test only-selector\"]\n", &cfg, err,
				  sizeof(err)), 0);
	assert_non_null(strstr(err, "signing.keys"));
}

static void mta_sts_keys(void **s)
{
	struct sl_config *cfg = sl_config_defaults();
	const struct sl_config_delivery *d = sl_config_delivery(cfg);
	char err[512];

	(void)s;
	assert_null(d->mta_sts);          /* enforce published policies */
	assert_null(d->mta_sts_ca_file);  /* the system bundle */
	assert_int_equal(d->mta_sts_policies, 4096);
	assert_int_equal(d->mta_sts_fetch_timeout, 10000);
	sl_config_free(cfg);

	cfg = NULL;
	assert_int_equal(load("delivery:\n  mta_sts: report\n  mta_sts_ca_file: /tmp/ca.pem\n"
			      "  mta_sts_policies: 10\n  mta_sts_fetch_timeout: 2s\n"
			      "  mta_sts_fetch_retry: 1m\n", &cfg, err, sizeof(err)), 0);
	d = sl_config_delivery(cfg);
	assert_string_equal(d->mta_sts, "report");
	assert_string_equal(d->mta_sts_ca_file, "/tmp/ca.pem");
	assert_int_equal(d->mta_sts_policies, 10);
	assert_int_equal(d->mta_sts_fetch_timeout, 2000);
	assert_int_equal(d->mta_sts_fetch_retry, 60000);
	sl_config_free(cfg);

	cfg = NULL;
	assert_int_not_equal(load("delivery:\n  mta_sts: always\n", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "mta_sts"));
	assert_non_null(strstr(err, "expected enforce, report or off"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_follow_rfc5321),
		cmocka_unit_test(sections_parse),
		cmocka_unit_test(invalid_values_named),
		cmocka_unit_test(mta_sts_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
