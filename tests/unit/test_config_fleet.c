/*
 * Unit tests for the "fleet" configuration section: defaults, a full
 * section, and errors that name the file, line and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/config/config_fleet.h"

static char path[64];

static int load(const char *text, struct sl_config **cfg, char *err, size_t len)
{
	int fd, rc;

	snprintf(path, sizeof(path), "/tmp/test_config_fleet.%d.yaml", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = sl_config_load(path, cfg, err, len);
	unlink(path);
	return rc;
}

/* Expects TEXT to fail with an error that ends with WANT after the path. */
static void expect_error(const char *text, const char *want)
{
	struct sl_config *cfg = NULL;
	char err[512] = "", expected[600];

	assert_true(load(text, &cfg, err, sizeof(err)) < 0);
	snprintf(expected, sizeof(expected), "%s:%s", path, want);
	assert_string_equal(err, expected);
}

static void fleet_off_by_default(void **state)
{
	struct sl_config *cfg = sl_config_defaults();
	const struct sl_config_fleet *f;

	(void)state;
	assert_non_null(cfg);
	f = sl_config_fleet(cfg);
	assert_null(f->redis);
	assert_null(f->password_file);
	assert_string_equal(f->key_prefix, "sluice:");
	assert_int_equal(f->fleet_size, 0);
	assert_int_equal(f->lease_size, 50);
	assert_int_equal(f->lease_time, 2000);
	assert_int_equal(f->command_timeout, 250);
	assert_int_equal(f->reconnect_min, 250);
	assert_int_equal(f->reconnect_max, 10000);
	sl_config_free(cfg);
}

static void fleet_full_section(void **state)
{
	struct sl_config *cfg = NULL;
	const struct sl_config_fleet *f;
	char err[512];

	(void)state;
	assert_int_equal(load("fleet:\n"
			      "  redis: '[::1]:6380'\n"
			      "  key_prefix: 'eu:'\n"
			      "  fleet_size: 3\n"
			      "  lease_size: 20\n"
			      "  lease_time: 500ms\n"
			      "  connect_timeout: 1s\n"
			      "  command_timeout: 50ms\n"
			      "  reconnect_min: 100ms\n"
			      "  reconnect_max: 2s\n",
			      &cfg, err, sizeof(err)), 0);
	f = sl_config_fleet(cfg);
	assert_string_equal(f->redis, "[::1]:6380");
	assert_string_equal(f->key_prefix, "eu:");
	assert_int_equal(f->fleet_size, 3);
	assert_int_equal(f->lease_size, 20);
	assert_int_equal(f->lease_time, 500);
	assert_int_equal(f->connect_timeout, 1000);
	assert_int_equal(f->command_timeout, 50);
	assert_int_equal(f->reconnect_min, 100);
	assert_int_equal(f->reconnect_max, 2000);
	sl_config_free(cfg);
}

static void fleet_unix_socket_accepted(void **state)
{
	struct sl_config *cfg = NULL;
	char err[512];

	(void)state;
	assert_int_equal(load("fleet:\n  redis: /run/redis/redis.sock\n  fleet_size: 2\n",
			      &cfg, err, sizeof(err)), 0);
	assert_string_equal(sl_config_fleet(cfg)->redis, "/run/redis/redis.sock");
	sl_config_free(cfg);
}

static void fleet_rejects_remote_redis(void **state)
{
	(void)state;
	expect_error("fleet:\n  redis: 192.0.2.7:6379\n  fleet_size: 2\n",
		     "2: fleet.redis: '192.0.2.7:6379' is not a loopback address: "
		     "allowed are 127.0.0.0/8, [::1] and Unix sockets");
}

static void fleet_rejects_bad_address(void **state)
{
	(void)state;
	expect_error("fleet:\n  redis: localhost\n  fleet_size: 2\n",
		     "2: fleet.redis: invalid address 'localhost': expected ADDR:PORT such as "
		     "\"127.0.0.1:6379\" or a Unix socket path");
}

static void fleet_requires_fleet_size(void **state)
{
	struct sl_config *cfg = NULL;
	char err[512] = "";

	(void)state;
	assert_true(load("fleet:\n  redis: 127.0.0.1:6379\n", &cfg, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "fleet.fleet_size: missing: give the number of appliances"));
}

static void fleet_size_needs_redis(void **state)
{
	struct sl_config *cfg = NULL;
	char err[512] = "";

	(void)state;
	assert_true(load("fleet:\n  fleet_size: 2\n", &cfg, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "fleet.redis: missing: fleet settings need a Redis address"));
}

static void fleet_rejects_unreadable_password(void **state)
{
	(void)state;
	expect_error("fleet:\n  redis: 127.0.0.1:6379\n  fleet_size: 2\n"
		     "  password_file: /nonexistent/redis.password\n",
		     "4: fleet.password_file: cannot read '/nonexistent/redis.password': "
		     "expected a readable file");
}

static void fleet_rejects_reconnect_order(void **state)
{
	(void)state;
	expect_error("fleet:\n  redis: 127.0.0.1:6379\n  fleet_size: 2\n"
		     "  reconnect_min: 5s\n  reconnect_max: 1s\n",
		     "5: fleet.reconnect_max: smaller than reconnect_min (5000 ms)");
}

static void fleet_rejects_zero_lease(void **state)
{
	struct sl_config *cfg = NULL;
	char err[512] = "";

	(void)state;
	assert_true(load("fleet:\n  redis: 127.0.0.1:6379\n  fleet_size: 2\n  lease_size: 0\n",
			 &cfg, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":4: fleet.lease_size:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fleet_off_by_default),
		cmocka_unit_test(fleet_full_section),
		cmocka_unit_test(fleet_unix_socket_accepted),
		cmocka_unit_test(fleet_rejects_remote_redis),
		cmocka_unit_test(fleet_rejects_bad_address),
		cmocka_unit_test(fleet_requires_fleet_size),
		cmocka_unit_test(fleet_size_needs_redis),
		cmocka_unit_test(fleet_rejects_unreadable_password),
		cmocka_unit_test(fleet_rejects_reconnect_order),
		cmocka_unit_test(fleet_rejects_zero_lease),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
