/*
 * Unit tests for common/log: level parsing and the level filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static void level_parse_names(void **state)
{
	enum sl_log_level level;

	(void)state;
	assert_int_equal(sl_log_level_parse("debug", &level), 0);
	assert_int_equal(level, SL_LOG_DEBUG);
	assert_int_equal(sl_log_level_parse("warning", &level), 0);
	assert_int_equal(level, SL_LOG_WARN);
	assert_int_not_equal(sl_log_level_parse("verbose", &level), 0);
}

static void level_filter_drops_debug(void **state)
{
	char path[] = "/tmp/sluice-log-test.XXXXXX";
	char text[4096] = { 0 };
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	sl_log_init("test", SL_LOG_INFO);
	assert_int_equal(sl_log_open(path), 0);
	sl_debug("hidden=%d", 1);
	sl_info("shown=%d", 2);
	assert_true(read(fd, text, sizeof(text) - 1) > 0);
	assert_null(strstr(text, "hidden=1"));
	assert_non_null(strstr(text, "info test["));
	assert_non_null(strstr(text, "shown=2\n"));
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(level_parse_names),
		cmocka_unit_test(level_filter_drops_debug),
	};

	return cmocka_run_group_tests_name("common_log", tests, NULL, NULL);
}
