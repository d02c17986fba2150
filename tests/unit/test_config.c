/*
 * Unit tests for ctl/config: defaults, every value type, and error
 * messages that name the file, line and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

#include "ctl/config/config.h"
#include "ctl/config/config_sluiced.h"
#include "ctl/config/config_smtp.h"

static char path[64];

static const char *write_yaml(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_config.%d.yaml", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(const char *text, struct sl_config **cfg, char *err, size_t len)
{
	int rc = sl_config_load(write_yaml(text), cfg, err, len);

	unlink(path);
	return rc;
}

static void test_full_file(void **state)
{
	struct sl_config *cfg;
	char err[512];

	(void)state;
	assert_int_equal(load("sluiced:\n"
			      "  workers: 2\n"
			      "  cpus: [0, 2-3]\n"
			      "  log_level: debug\n"
			      "smtp:\n"
			      "  listen: ['127.0.0.1:2525', '[::1]:2526']\n"
			      "  max_message_size: 20M\n"
			      "  idle_timeout: 90s\n"
			      "  relay_networks: [10.0.0.0/8, '::1']\n",
			      &cfg, err, sizeof(err)), 0);

	const struct sl_config_sluiced *d = sl_config_sluiced(cfg);
	const struct sl_config_smtp *s = sl_config_smtp(cfg);

	assert_int_equal(d->workers, 2);
	assert_int_equal(d->cpus.n, 3);
	assert_int_equal(d->cpus.v[0], 0);
	assert_int_equal(d->cpus.v[1], 2);
	assert_int_equal(d->cpus.v[2], 3);
	assert_string_equal(d->log_level, "debug");
	assert_int_equal(s->listen.n, 2);
	assert_int_equal(s->listen.v[1].addr.ss_family, AF_INET6);
	assert_int_equal(s->max_message_size, 20 * 1024 * 1024);
	assert_int_equal(s->idle_timeout, 90000);
	assert_int_equal(s->max_recipients, 1000);	/* default kept */
	assert_int_equal(s->relay_networks.n, 2);

	struct sockaddr_in in = { .sin_family = AF_INET };

	inet_pton(AF_INET, "10.9.8.7", &in.sin_addr);
	assert_true(sl_config_network_contains(&s->relay_networks, (struct sockaddr *)&in));
	inet_pton(AF_INET, "11.0.0.1", &in.sin_addr);
	assert_false(sl_config_network_contains(&s->relay_networks, (struct sockaddr *)&in));
	sl_config_free(cfg);
}

struct bad_case {
	const char *yaml;
	const char *expect;	/* text after "FILE:" */
};

static void test_errors_name_line_and_key(void **state)
{
	static const struct bad_case cases[] = {
		{ "smtp:\n  listen: ['127.0.0.1:25']\n  max_recipients: 0\n",
		  "3: smtp.max_recipients: value 0 is out of range" },
		{ "smtp:\n  listen: ['127.0.0.1:25']\n  max_message_size: 10X\n",
		  "3: smtp.max_message_size: invalid value '10X'" },
		{ "smtp:\n  listen: ['127.0.0.1:25']\n  bogus: 1\n",
		  "3: unknown key 'smtp.bogus'" },
		{ "smtp:\n  listen: ['localhost:25']\n", "2: smtp.listen: invalid address" },
		{ "sluiced:\n  log_level: loud\nsmtp:\n  listen: ['127.0.0.1:25']\n",
		  "2: sluiced.log_level: invalid level 'loud'" },
		{ "nosuch: {}\n", "1: unknown section 'nosuch'" },
		{ "smtp:\n  listen: ['127.0.0.1:25']\n  tls_key: /k.pem\n",
		  "3: smtp.tls_key: tls_certificate and tls_key must be set together" },
		{ "smtp:\n  listen: []\n", "2: smtp.listen: empty" },
		{ "sluiced:\n  cpus: [1, x]\n", "2: sluiced.cpus: invalid CPU 'x'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_config *cfg = NULL;
		char err[512], expect[512];

		assert_int_equal(load(cases[i].yaml, &cfg, err, sizeof(err)), -EINVAL);
		assert_null(cfg);
		snprintf(expect, sizeof(expect), "%s:%s", path, cases[i].expect);
		if (strncmp(err, expect, strlen(expect)) != 0)
			fail_msg("case %zu: got '%s', expected prefix '%s'", i, err, expect);
	}
}

static void test_missing_file(void **state)
{
	struct sl_config *cfg;
	char err[512];

	(void)state;
	assert_int_equal(sl_config_load("/nonexistent/sluice.yaml", &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/sluice.yaml:0: cannot open"));
}

static void test_defaults(void **state)
{
	struct sl_config *cfg = sl_config_defaults();

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(sl_config_smtp(cfg)->max_message_size, 10 * 1024 * 1024);
	assert_string_equal(sl_config_sluiced(cfg)->log_level, "info");
	sl_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors_name_line_and_key),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
