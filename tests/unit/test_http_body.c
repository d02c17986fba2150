/*
 * Unit tests for dataplane/http_body and http_keys: multipart splitting,
 * the JSON envelope and send form with the field named in each error,
 * template substitution and escaping, the built MIME message, LF to CRLF
 * conversion and the API keys file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "dataplane/http_body.h"
#include "dataplane/http_keys.h"

#define U(s) (const uint8_t *)(s), strlen(s)

static const char form[] =
	"preamble\r\n"
	"--xyz\r\n"
	"Content-Disposition: form-data; name=\"envelope\"\r\n"
	"Content-Type: application/json\r\n"
	"\r\n"
	"{\"from\":\"a@b.test\",\"to\":[\"c@d.test\"]}\r\n"
	"--xyz\r\n"
	"Content-Disposition: form-data; name=\"message\"; filename=\"m.eml\"\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Transfer-Encoding: Binary\r\n"
	"\r\n"
	"Subject: x\r\n\r\nbody\r\n\r\n"
	"--xyz--\r\n"
	"epilogue";

static void test_multipart(void **state)
{
	struct sl_http_part parts[SL_HTTP_MAX_PARTS];
	struct sl_http_error err;
	int n;

	(void)state;
	n = sl_http_multipart_split(U(form), "xyz", parts, &err);
	assert_int_equal(n, 2);
	assert_string_equal(parts[0].name, "envelope");
	assert_string_equal(parts[0].type, "application/json");
	assert_int_equal(parts[0].len, strlen("{\"from\":\"a@b.test\",\"to\":[\"c@d.test\"]}"));
	assert_string_equal(parts[1].name, "message");
	assert_string_equal(parts[1].type, "message/rfc822");
	assert_string_equal(parts[1].encoding, "binary");
	assert_string_equal(parts[0].encoding, "");
	/* The part keeps its own last CRLF; the delimiter's CRLF is not part of it. */
	assert_int_equal(parts[1].len, strlen("Subject: x\r\n\r\nbody\r\n"));
	assert_memory_equal(parts[1].data, "Subject: x\r\n\r\nbody\r\n", parts[1].len);
}

static void test_multipart_errors(void **state)
{
	static const char *const bad[] = {
		"--xyz\r\nContent-Type: text/plain\r\n\r\nno close delimiter",
		"no boundary at all",
		"--xyz\r\nContent-Type: text/plain\r\nno empty line",
		"--xyzgarbage\r\n\r\nx\r\n--xyz--",
	};
	struct sl_http_part parts[SL_HTTP_MAX_PARTS];
	struct sl_http_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.status = 0;
		assert_int_equal(sl_http_multipart_split(U(bad[i]), "xyz", parts, &err), -1);
		assert_int_equal(err.status, 400);
	}
	assert_int_equal(sl_http_multipart_split(U(form), "", parts, &err), -1);
}

struct envelope_case {
	const char *json;
	const char *field;	/* NULL: valid */
};

static const struct envelope_case envelope_cases[] = {
	{ "{\"from\":\"a@b.test\",\"to\":[\"c@d.test\",{\"address\":\"e@f.test\","
	  "\"notify\":[\"failure\",\"delay\"],\"orcpt\":\"rfc822;e@f.test\"}],"
	  "\"envid\":\"x1\",\"ret\":\"headers\"}", NULL },
	{ "{\"from\":\"\",\"to\":[\"c@d.test\"]}", NULL },
	{ "{\"from\":\"a@b.test\",\"to\":\"c@d.test\"}", "to" },
	{ "{\"from\":\"a@b.test\",\"to\":[]}", "to" },
	{ "{\"from\":\"a@b.test\",\"to\":[\"c@d.test\",\"bad address\"]}", "to[1]" },
	{ "{\"from\":\"a@b.test\",\"to\":[{\"addr\":\"c@d.test\"}]}", "addr" },
	{ "{\"from\":\"a@b.test\",\"to\":[{\"address\":\"c@d.test\",\"notify\":[\"never\",\"delay\"]}]}", "to[0]" },
	{ "{\"from\":\"no-at-sign\",\"to\":[\"c@d.test\"]}", "from" },
	{ "{\"to\":[\"c@d.test\"]}", "from" },
	{ "{\"from\":\"a@b.test\",\"to\":[\"c@d.test\"],\"ret\":\"all\"}", "ret" },
	{ "{\"from\":\"a@b.test\",\"to\":[\"c@d.test\"],\"envid\":\"a b\"}", "envid" },
	{ "{\"from\":\"a@b.test\",\"to\":[\"c@d.test\"],\"tag\":1}", "tag" },
	{ "{\"from\":\"a@b.test\",\"from\":\"x@y.test\",\"to\":[\"c@d.test\"]}", "envelope" },
	{ "{\"from\":\"a@b.test\",", "envelope" },
	{ "[1,2]", "envelope" },
};

static void test_envelope(void **state)
{
	struct sl_http_envelope env;
	struct sl_http_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(envelope_cases) / sizeof(envelope_cases[0]); i++) {
		const struct envelope_case *c = &envelope_cases[i];
		int rc = sl_http_envelope_parse(U(c->json), 10, &env, &err);

		if (!c->field) {
			if (rc != 0)
				fail_msg("case %zu: %s: %s", i, err.field, err.message);
			sl_http_envelope_free(&env);
			continue;
		}
		if (rc != -1 || err.status != 400 || strcmp(err.field, c->field) != 0)
			fail_msg("case %zu: rc %d status %d field '%s', expected '%s'", i, rc,
				 err.status, err.field, c->field);
	}
	assert_int_equal(sl_http_envelope_parse(U(envelope_cases[0].json), 10, &env, &err), 0);
	assert_int_equal(env.rcpt_count, 2);
	assert_string_equal(env.rcpts[1].addr, "e@f.test");
	assert_string_equal(env.rcpts[1].orcpt, "rfc822;e@f.test");
	assert_int_equal(env.rcpts[1].notify, SL_SMTP_NOTIFY_FAILURE | SL_SMTP_NOTIFY_DELAY);
	assert_string_equal(env.envid, "x1");
	assert_int_equal(env.flags, SL_STORE_F_RET_HDRS);
	sl_http_envelope_free(&env);
	assert_int_equal(sl_http_envelope_parse(U("{\"from\":\"a@b.test\",\"to\":[\"c@d.test\","
						 "\"e@f.test\"]}"), 1, &env, &err), -1);
	assert_string_equal(err.field, "to");
}

static const struct sl_http_send_rcpt *rcpt_with(json_t **doc, const char *json)
{
	static struct sl_http_send_rcpt r;

	*doc = json_loads(json, 0, NULL);
	r.to = "ann@b.test";
	r.name = "Ann";
	r.vars = *doc;
	return &r;
}

static void test_template(void **state)
{
	struct sl_http_error err;
	struct sl_buf out = { 0 };
	json_t *doc;
	const struct sl_http_send_rcpt *r = rcpt_with(&doc, "{\"code\":\"<A&1>\",\"n\":42,"
							    "\"bad\":[1],\"ctl\":\"a\\nb\"}");

	(void)state;
	assert_int_equal(sl_http_template_expand("Hi {{name}} {{ email }} {{code}} {{n}} \\{{x}}",
						 r, SL_HTTP_ESCAPE_NONE, "text", 0, &out, &err), 0);
	sl_buf_append(&out, "", 1);
	assert_string_equal((char *)out.p, "Hi Ann ann@b.test <A&1> 42 {{x}}");
	out.len = 0;
	assert_int_equal(sl_http_template_expand("<p>{{code}}</p>", r, SL_HTTP_ESCAPE_HTML, "html",
						 0, &out, &err), 0);
	sl_buf_append(&out, "", 1);
	assert_string_equal((char *)out.p, "<p>&lt;A&amp;1&gt;</p>");

	out.len = 0;
	assert_int_equal(sl_http_template_expand("{{missing}}", r, SL_HTTP_ESCAPE_NONE, "text", 3,
						 &out, &err), -1);
	assert_string_equal(err.field, "recipients[3]");
	assert_non_null(strstr(err.message, "missing"));
	assert_int_equal(sl_http_template_expand("{{bad}}", r, SL_HTTP_ESCAPE_NONE, "text", 0,
						 &out, &err), -1);
	assert_int_equal(sl_http_template_expand("{{ctl}}", r, SL_HTTP_ESCAPE_HEADER, "subject", 0,
						 &out, &err), -1);
	assert_int_equal(sl_http_template_expand("{{ctl}}", r, SL_HTTP_ESCAPE_NONE, "text", 0,
						 &out, &err), 0);
	assert_int_equal(sl_http_template_expand("open {{name", r, SL_HTTP_ESCAPE_NONE, "text", 0,
						 &out, &err), -1);
	assert_string_equal(err.field, "text");
	assert_int_equal(sl_http_template_expand("{{}}", r, SL_HTTP_ESCAPE_NONE, "text", 0, &out,
						 &err), -1);
	assert_int_equal(sl_http_template_expand("{{a b}}", r, SL_HTTP_ESCAPE_NONE, "text", 0, &out,
						 &err), -1);
	json_decref(doc);
	sl_buf_free(&out);
}

static void test_send_parse(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"from\":\"a@b.test\",\"text\":\"x\",\"recipients\":[\"c@d.test\"]}", "subject" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s\",\"recipients\":[\"c@d.test\"]}", "text" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"x\",\"recipients\":[]}", "recipients" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s {{\",\"text\":\"x\",\"recipients\":[\"c@d.test\"]}", "subject" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"x\",\"recipients\":[\"c@d.test\",\"bad\"]}", "recipients[1]" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"x\",\"recipients\":[{\"to\":\"c@d.test\",\"vars\":1}]}", "recipients[0]" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"x\",\"recipients\":[{\"to\":\"c@d.test\",\"name\":\"a\\r\\nBcc: x\"}]}", "recipients[0].name" },
		{ "{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"x\",\"cc\":\"x\",\"recipients\":[\"c@d.test\"]}", "cc" },
	};
	struct sl_http_send send;
	struct sl_http_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sl_http_send_parse(U(bad[i][0]), 10, &send, &err);

		if (rc != -1 || strcmp(err.field, bad[i][1]) != 0)
			fail_msg("case %zu: rc %d field '%s', expected '%s'", i, rc, err.field, bad[i][1]);
	}
	assert_int_equal(sl_http_send_parse(U("{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"x\","
					      "\"recipients\":[\"c@d.test\",\"e@f.test\"]}"), 1,
					    &send, &err), -1);
	assert_string_equal(err.field, "recipients");
}

static void test_send_build(void **state)
{
	static const char json[] =
		"{\"from\":\"news@a.test\",\"from_name\":\"A \\\"News\\\"\",\"subject\":\"Gr\\u00fc\\u00dfe {{name}}\","
		"\"text\":\"Line one = {{name}}\\n.dot line\\ntrailing space \\n\","
		"\"html\":\"<p>{{name}}</p>\",\"recipients\":[{\"to\":\"ann@b.test\",\"name\":\"Ann\"}]}";
	struct sl_http_send send;
	struct sl_http_error err;
	struct sl_buf out = { 0 };
	const char *msg;

	(void)state;
	assert_int_equal(sl_http_send_parse(U(json), 10, &send, &err), 0);
	assert_int_equal(sl_http_send_build(&send, 0, 0x1234, &out, &err), 0);
	sl_buf_append(&out, "", 1);
	msg = (const char *)out.p;
	assert_non_null(strstr(msg, "From: \"A \\\"News\\\"\" <news@a.test>\r\n"));
	assert_non_null(strstr(msg, "To: \"Ann\" <ann@b.test>\r\n"));
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?R3LDvMOfZSBBbm4=?=\r\n"));
	assert_non_null(strstr(msg, "boundary=\"=_sluice_0000000000001234\""));
	assert_non_null(strstr(msg, "Line one =3D Ann\r\n=2Edot line\r\ntrailing space=20\r\n"));
	assert_non_null(strstr(msg, "<p>Ann</p>\r\n"));
	assert_non_null(strstr(msg, "--=_sluice_0000000000001234--\r\n"));
	/* Every line is CRLF-terminated and at most 76 characters. */
	for (const char *p = msg, *e; (e = strstr(p, "\r\n")); p = e + 2)
		assert_true(e - p <= 76);
	assert_null(strstr(msg, "\n\n"));
	sl_buf_free(&out);
	sl_http_send_free(&send);
}

static void test_quoted_printable_long_line(void **state)
{
	char json[2048];
	struct sl_http_send send;
	struct sl_http_error err;
	struct sl_buf out = { 0 };
	char line[1001];

	(void)state;
	memset(line, 'x', 1000);
	line[1000] = '\0';
	snprintf(json, sizeof(json), "{\"from\":\"a@b.test\",\"subject\":\"s\",\"text\":\"%s\","
		 "\"recipients\":[\"c@d.test\"]}", line);
	assert_int_equal(sl_http_send_parse(U(json), 10, &send, &err), 0);
	assert_int_equal(sl_http_send_build(&send, 0, 1, &out, &err), 0);
	sl_buf_append(&out, "", 1);
	for (const char *p = (const char *)out.p, *e; (e = strstr(p, "\r\n")); p = e + 2)
		assert_true(e - p <= 76);
	assert_non_null(strstr((const char *)out.p, "=\r\n"));
	sl_buf_free(&out);
	sl_http_send_free(&send);
}

static void test_crlf(void **state)
{
	struct sl_buf out = { 0 };

	(void)state;
	assert_true(sl_http_lf_only(U("a\nb\n")));
	assert_false(sl_http_lf_only(U("a\r\nb\n")));
	assert_false(sl_http_lf_only(U("no line end")));
	sl_http_crlf(U("a\nb\n\nc"), &out);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.p, "a\r\nb\r\n\r\nc", 9);
	sl_buf_free(&out);
}

static void test_keys(void **state)
{
	char path[] = "/tmp/test_http_keys.XXXXXX", err[256];
	struct sl_http_keys *keys;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	fprintf(f, "# comment\n\nalpha:0123456789abcdef-alpha\nbeta:0123456789abcdef-beta\n");
	fclose(f);
	assert_int_equal(sl_http_keys_load(path, &keys, err, sizeof(err)), 0);
	assert_string_equal(sl_http_keys_check(keys, "Bearer 0123456789abcdef-beta"), "beta");
	assert_string_equal(sl_http_keys_check(keys, "bearer 0123456789abcdef-alpha"), "alpha");
	assert_null(sl_http_keys_check(keys, "Bearer 0123456789abcdef-gamma"));
	assert_null(sl_http_keys_check(keys, "Basic 0123456789abcdef-beta"));
	assert_null(sl_http_keys_check(keys, "Bearer "));
	sl_http_keys_free(keys);

	chmod(path, 0644);
	assert_true(sl_http_keys_load(path, &keys, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "chmod 600"));
	chmod(path, 0600);
	f = fopen(path, "w");
	fprintf(f, "short:abc\n");
	fclose(f);
	assert_true(sl_http_keys_load(path, &keys, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":1:"));
	/* The error names the line, never the key. */
	assert_null(strstr(err, "abc"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_multipart_errors),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_send_parse),
		cmocka_unit_test(test_send_build),
		cmocka_unit_test(test_quoted_printable_long_line),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
