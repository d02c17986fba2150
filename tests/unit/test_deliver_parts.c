/*
 * Unit tests for the delivery helpers: static routes, the accounting log
 * and RFC 3464 notifications.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/acct.h"
#include "dataplane/dsn.h"
#include "dataplane/route.h"

static void route_most_specific_wins(void **s)
{
	struct sl_route_table t = { 0 };
	char err[256];
	const struct sl_route *r;

	(void)s;
	assert_int_equal(sl_route_add(&t, "* 127.0.0.1:2500", err, sizeof(err)), 0);
	assert_int_equal(sl_route_add(&t, "*.example.com 127.0.0.1:2501,[::1]:2502", err, sizeof(err)), 0);
	assert_int_equal(sl_route_add(&t, "*.b.example.com relay.test:2503", err, sizeof(err)), 0);
	assert_int_equal(sl_route_add(&t, "Example.com 127.0.0.2:2504", err, sizeof(err)), 0);

	r = sl_route_find(&t, "example.com");
	assert_string_equal(r->pattern, "example.com");
	assert_int_equal(r->host[0].port, 2504);
	r = sl_route_find(&t, "a.example.com");
	assert_int_equal(r->host_count, 2);
	assert_true(r->host[1].is_address);
	assert_int_equal(r->host[1].addr.ss_family, AF_INET6);
	r = sl_route_find(&t, "x.b.EXAMPLE.com");
	assert_string_equal(r->pattern, "*.b.example.com");
	assert_false(r->host[0].is_address);
	assert_string_equal(r->host[0].name, "relay.test");
	r = sl_route_find(&t, "other.org");
	assert_string_equal(r->pattern, "*");
	sl_route_table_free(&t);
}

static void route_invalid_lines(void **s)
{
	struct sl_route_table t = { 0 };
	char err[256];

	(void)s;
	assert_int_equal(sl_route_add(&t, "example.com", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no host"));
	assert_int_equal(sl_route_add(&t, "example.com 127.0.0.1", err, sizeof(err)), -EINVAL);
	assert_int_equal(sl_route_add(&t, "example.com 127.0.0.1:0", err, sizeof(err)), -EINVAL);
	assert_int_equal(sl_route_add(&t, "*x.com 127.0.0.1:25", err, sizeof(err)), -EINVAL);
	assert_null(sl_route_find(&t, "example.com"));
	sl_route_table_free(&t);
}

/* Domain patterns without hosts, as delivery.tls_required uses them. */
static void route_pattern_match(void **s)
{
	(void)s;
	assert_true(sl_route_pattern_valid("bank.example"));
	assert_true(sl_route_pattern_valid("*.bank.example"));
	assert_true(sl_route_pattern_valid("*"));
	assert_false(sl_route_pattern_valid("*bank.example"));
	assert_false(sl_route_pattern_valid("bank example"));
	assert_true(sl_route_pattern_match("bank.example", "BANK.example"));
	assert_false(sl_route_pattern_match("bank.example", "a.bank.example"));
	assert_true(sl_route_pattern_match("*.bank.example", "a.bank.example"));
	assert_false(sl_route_pattern_match("*.bank.example", "bank.example"));
	assert_false(sl_route_pattern_match("*.bank.example", "xbank.example"));
	assert_true(sl_route_pattern_match("*", "any.test"));
}

static void acct_writes_json_lines(void **s)
{
	char path[] = "/tmp/sluice-acct-test.XXXXXX";
	char text[4096] = { 0 };
	const char *dkim[] = { "s=sel1 d=a.test", "s=sel2 d=a.test" };
	struct sl_acct_record r = {
		.queue_id = "Q1", .message_id = "<m@x>", .sender = "s@a.test",
		.recipient = "r@b.test", .status = "delivered", .attempt = 2,
		.mx = "mx.b.test", .address = "127.0.0.1:25", .tls_version = "TLSv1.3",
		.tls_cipher = "TLS_AES_256_GCM_SHA384", .dkim = dkim, .dkim_count = 2,
		.code = 250, .enhanced = "2.0.0", .reply = "ok \"quoted\"\x01", .delay_ms = 5,
		.transfer = "bdat",
	};
	int fd = mkstemp(path);

	(void)s;
	assert_true(fd >= 0);
	assert_int_equal(sl_acct_open(path), 0);
	sl_acct_record(&r);
	r.status = "deferred";
	r.tls_version = NULL;
	r.tls_cipher = NULL;
	r.tls_fallback = "retry";
	r.tls_failure = "TLS handshake failed: protocol version";
	r.transfer = NULL;
	sl_acct_record(&r);
	sl_acct_flush();
	assert_true(read(fd, text, sizeof(text) - 1) > 0);
	assert_non_null(strstr(text, "\"queue_id\":\"Q1\""));
	assert_non_null(strstr(text, "\"status\":\"delivered\",\"attempt\":2"));
	assert_non_null(strstr(text, "\"tls\":\"TLSv1.3\""));
	assert_non_null(strstr(text, "\"tls\":\"none\""));
	assert_non_null(strstr(text, "\"tls_fallback\":null,\"tls_failure\":null"));
	assert_non_null(strstr(text, "\"tls_fallback\":\"retry\","
				     "\"tls_failure\":\"TLS handshake failed: protocol version\""));
	assert_non_null(strstr(text, "\"dkim\":[\"s=sel1 d=a.test\",\"s=sel2 d=a.test\"]"));
	assert_non_null(strstr(text, "\"transfer\":\"bdat\""));
	assert_non_null(strstr(text, "\"transfer\":null"));
	assert_non_null(strstr(text, "\"reply\":\"ok \\\"quoted\\\"\\u0001\""));
	/* Two records, two lines. */
	assert_non_null(strchr(text, '\n'));
	assert_non_null(strchr(strchr(text, '\n') + 1, '\n'));

	/* Reopen after the file was moved away, as log rotation does. */
	char moved[64];

	snprintf(moved, sizeof(moved), "%s.1", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(sl_acct_reopen(), 0);
	sl_acct_record(&r);
	sl_acct_flush();
	assert_int_equal(access(path, F_OK), 0);
	sl_acct_close();
	close(fd);
	unlink(path);
	unlink(moved);
}

static const char original[] =
	"From: a@a.test\r\nTo: r@b.test\r\nSubject: hi\r\n\r\nbody must not be copied\r\n";

static void dsn_report_content(void **s)
{
	struct sl_dsn_recipient rcpt = {
		.address = "r@b.test", .status = "5.1.1", .remote_mta = "mx.b.test",
		.diagnostic = "550 5.1.1 user unknown",
	};
	struct sl_dsn d = {
		.reporting_mta = "mta.a.test", .queue_id = "Q9", .sender = "a@a.test",
		.arrival = 0, .original_header = original,
		.original_header_len = sl_dsn_header_length(original, strlen(original)),
		.rcpt = &rcpt, .rcpt_count = 1,
	};
	char *msg;
	size_t len;

	(void)s;
	assert_int_equal(d.original_header_len, strlen(original) - strlen("body must not be copied\r\n"));
	assert_int_equal(sl_dsn_build(&d, &msg, &len), 0);
	assert_int_equal(strlen(msg), len);
	assert_non_null(strstr(msg, "To: <a@a.test>\r\n"));
	assert_non_null(strstr(msg, "multipart/report; report-type=delivery-status;"));
	assert_non_null(strstr(msg, "Reporting-MTA: dns; mta.a.test\r\n"));
	assert_non_null(strstr(msg, "Final-Recipient: rfc822; r@b.test\r\n"));
	assert_non_null(strstr(msg, "Action: failed\r\n"));
	assert_non_null(strstr(msg, "Status: 5.1.1\r\n"));
	assert_non_null(strstr(msg, "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/rfc822-headers\r\n\r\nFrom: a@a.test\r\n"));
	assert_null(strstr(msg, "body must not be copied"));
	/* Never a bare LF. */
	for (size_t i = 1; i < len; i++)
		if (msg[i] == '\n')
			assert_int_equal(msg[i - 1], '\r');
	free(msg);
}

static void dsn_never_for_null_sender(void **s)
{
	struct sl_dsn_recipient rcpt = { .address = "r@b.test", .status = "5.0.0" };
	struct sl_dsn d = {
		.reporting_mta = "mta.a.test", .sender = "", .original_header = "",
		.rcpt = &rcpt, .rcpt_count = 1,
	};
	char *msg = NULL;
	size_t len;

	(void)s;
	assert_int_equal(sl_dsn_build(&d, &msg, &len), -EINVAL);
	assert_null(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_most_specific_wins),
		cmocka_unit_test(route_invalid_lines),
		cmocka_unit_test(route_pattern_match),
		cmocka_unit_test(acct_writes_json_lines),
		cmocka_unit_test(dsn_report_content),
		cmocka_unit_test(dsn_never_for_null_sender),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
