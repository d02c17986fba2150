/*
 * Unit tests for dataplane/smtp_parse: the DATA/BDAT content scanner
 * (end marker, dot-unstuffing, bare CR/LF, line and size limits, input
 * split at every byte), MAIL/RCPT parsing and the header block check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/smtp_parse.h"

struct data_case {
	const char *name;
	const char *in;
	const char *kept;	/* content kept, when valid */
	unsigned flags;
	size_t rest;		/* bytes left after the end marker */
};

static const struct data_case data_cases[] = {
	{ "plain", "a\r\nb\r\n.\r\n", "a\r\nb\r\n", 0, 0 },
	{ "unstuff", "..x\r\n.\r\n", ".x\r\n", 0, 0 },
	{ "only dot line", "..\r\n.\r\n", ".\r\n", 0, 0 },
	{ "pipelined rest", "x\r\n.\r\nQUIT\r\n", "x\r\n", 0, 6 },
	{ "empty message", ".\r\n", "", 0, 0 },
	{ "bare LF dot CRLF", "x\n.\r\ny\r\n.\r\n", NULL, SL_SMTP_DATA_BARE_LF, 0 },
	{ "bare LF dot LF", "x\n.\ny\r\n.\r\n", NULL, SL_SMTP_DATA_BARE_LF, 0 },
	{ "CRLF dot CR", "x\r\n.\ry\r\n.\r\n", NULL, SL_SMTP_DATA_BARE_CR, 0 },
	{ "bare CR", "x\ry\r\n.\r\n", NULL, SL_SMTP_DATA_BARE_CR, 0 },
};

/* Feed IN in pieces of STEP bytes; returns bytes left unconsumed. */
static size_t scan_in_steps(struct sl_smtp_data *d, const char *in, size_t step, struct sl_buf *out,
			    bool *done)
{
	size_t len = strlen(in), pos = 0;

	*done = false;
	while (pos < len && !*done) {
		size_t n = len - pos < step ? len - pos : step;

		pos += sl_smtp_data_scan(d, (const uint8_t *)in + pos, n, out, done);
	}
	return len - pos;
}

static void test_data_scanner(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		const struct data_case *c = &data_cases[i];

		for (size_t step = 1; step <= strlen(c->in); step++) {
			struct sl_smtp_data d;
			struct sl_buf out = { 0 };
			bool done;
			size_t rest;

			sl_smtp_data_begin(&d, 1000, true);
			rest = scan_in_steps(&d, c->in, step, &out, &done);
			if (!done || d.flags != c->flags || rest != c->rest)
				fail_msg("%s step %zu: done=%d flags=%u rest=%zu", c->name, step, done,
					 d.flags, rest);
			if (c->kept && (out.len != strlen(c->kept) || memcmp(out.p, c->kept, out.len)))
				fail_msg("%s step %zu: kept '%.*s'", c->name, step, (int)out.len,
					 (const char *)out.p);
			sl_buf_free(&out);
		}
	}
}

static void test_data_limits(void **state)
{
	struct sl_smtp_data d;
	struct sl_buf out = { 0 };
	char line[1100];
	bool done;

	(void)state;
	/* 998 characters is the longest valid line, 999 is too long. */
	memset(line, 'x', 998);
	strcpy(line + 998, "\r\n.\r\n");
	sl_smtp_data_begin(&d, 100000, true);
	sl_smtp_data_scan(&d, (const uint8_t *)line, strlen(line), &out, &done);
	assert_true(done);
	assert_int_equal(d.flags, 0);

	memset(line, 'x', 999);
	strcpy(line + 999, "\r\n.\r\n");
	sl_smtp_data_begin(&d, 100000, true);
	out.len = 0;
	sl_smtp_data_scan(&d, (const uint8_t *)line, strlen(line), &out, &done);
	assert_int_equal(d.flags, SL_SMTP_DATA_LONG_LINE);

	/* Over the size limit: scanning goes on to the end, nothing more kept. */
	sl_smtp_data_begin(&d, 10, true);
	out.len = 0;
	sl_smtp_data_scan(&d, (const uint8_t *)"0123456789ab\r\n.\r\n", 17, &out, &done);
	assert_true(done);
	assert_int_equal(d.flags, SL_SMTP_DATA_TOO_BIG);
	assert_true(out.len <= 10);
	sl_buf_free(&out);
}

static void test_bdat_mode(void **state)
{
	struct sl_smtp_data d;
	struct sl_buf out = { 0 };
	bool done;

	(void)state;
	sl_smtp_data_begin(&d, 1000, false);
	assert_int_equal(sl_smtp_data_scan(&d, (const uint8_t *)".x\r\n.\r\n", 7, &out, &done), 7);
	assert_false(done);
	sl_smtp_data_end(&d);
	assert_int_equal(d.flags, 0);
	assert_memory_equal(out.p, ".x\r\n.\r\n", 7);	/* no unstuffing in BDAT */

	sl_smtp_data_begin(&d, 1000, false);
	out.len = 0;
	sl_smtp_data_scan(&d, (const uint8_t *)"x\r", 2, &out, &done);
	sl_smtp_data_end(&d);
	assert_int_equal(d.flags, SL_SMTP_DATA_BARE_CR);
	sl_buf_free(&out);
}

static void test_mail_rcpt(void **state)
{
	struct sl_smtp_mail mail;
	struct sl_smtp_rcpt rcpt;
	struct sl_smtp_error err;

	(void)state;
	assert_int_equal(sl_smtp_parse_mail("FROM:<a@b.example> SIZE=10 BODY=8BITMIME RET=FULL ENVID=x+2By",
					    true, &mail, &err), 0);
	assert_string_equal(mail.addr, "a@b.example");
	assert_int_equal(mail.size, 10);
	assert_int_equal(mail.body, SL_SMTP_BODY_8BITMIME);
	assert_int_equal(mail.ret, SL_SMTP_RET_FULL);
	assert_string_equal(mail.envid, "x+2By");
	assert_int_equal(sl_smtp_parse_mail("FROM:<>", true, &mail, &err), 0);
	assert_string_equal(mail.addr, "");
	assert_int_equal(sl_smtp_parse_mail("FROM: <@relay.example:a@b.example>", true, &mail, &err), 0);
	assert_string_equal(mail.addr, "a@b.example");
	assert_int_equal(sl_smtp_parse_mail("FROM:<a b@c>", true, &mail, &err), -EINVAL);
	assert_int_equal(sl_smtp_parse_mail("FROM:<a@b.example> SIZE=x", true, &mail, &err), -EINVAL);
	assert_int_equal(strncmp(err.reply, "555", 3), 0);

	assert_int_equal(sl_smtp_parse_rcpt("TO:<\"q>x\"@b.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;q@b",
					    false, &rcpt, &err), 0);
	assert_string_equal(rcpt.addr, "\"q>x\"@b.example");
	assert_int_equal(rcpt.notify, SL_SMTP_NOTIFY_FAILURE | SL_SMTP_NOTIFY_DELAY);
	assert_string_equal(rcpt.orcpt, "rfc822;q@b");
	assert_int_equal(sl_smtp_parse_rcpt("TO:<Postmaster>", false, &rcpt, &err), 0);
	assert_int_equal(sl_smtp_parse_rcpt("TO:<ü@b.example>", false, &rcpt, &err), -EINVAL);
	assert_int_equal(sl_smtp_parse_rcpt("TO:<ü@b.example>", true, &rcpt, &err), 0);
}

static void test_headers(void **state)
{
	struct sl_smtp_headers h;
	const char *ok = "From: a@b\r\nDate: x\r\nSubject: s\r\n folded\r\n\r\nbody\r\n";
	const char *bad = "From: a@b\r\nno colon here\r\n\r\nbody\r\n";
	const char *fold_first = " x: y\r\n\r\n";

	(void)state;
	assert_int_equal(sl_smtp_headers_scan((const uint8_t *)ok, strlen(ok), &h), 0);
	assert_true(h.has_from);
	assert_true(h.has_date);
	assert_false(h.has_message_id);
	assert_int_equal(h.header_len, strlen(ok) - strlen("body\r\n"));
	assert_int_equal(sl_smtp_headers_scan((const uint8_t *)bad, strlen(bad), &h), -EBADMSG);
	assert_int_equal(h.bad_line, 2);
	assert_int_equal(sl_smtp_headers_scan((const uint8_t *)fold_first, strlen(fold_first), &h),
			 -EBADMSG);
}

static void test_split(void **state)
{
	char verb[16];
	const char *args;

	(void)state;
	assert_int_equal(sl_smtp_split("mail FROM:<a@b>", 15, verb, sizeof(verb), &args), 0);
	assert_string_equal(verb, "MAIL");
	assert_string_equal(args, "FROM:<a@b>");
	assert_int_equal(sl_smtp_split("NO\rOP", 5, verb, sizeof(verb), &args), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_scanner),
		cmocka_unit_test(test_data_limits),
		cmocka_unit_test(test_bdat_mode),
		cmocka_unit_test(test_mail_rcpt),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
