/*
 * Unit tests for dataplane/http_parse: request heads (found and parsed
 * with the input split at every byte), a table of invalid requests with
 * their status, header limits, the chunked decoder (edge cases and every
 * split point) and media type parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http_parse.h"

static const char request[] =
	"POST /v1/messages HTTP/1.1\r\n"
	"Host: 127.0.0.1:8025\r\n"
	"Authorization:   Bearer abc \r\n"
	"Content-Type: multipart/form-data; boundary=xyz\r\n"
	"Content-Length: 5\r\n"
	"Expect: 100-continue\r\n"
	"\r\n"
	"hello";

static void test_head_parse(void **state)
{
	struct sl_http_request req;
	struct sl_http_error err;
	size_t head = sl_http_head_end((const uint8_t *)request, strlen(request));

	(void)state;
	assert_int_equal(head, strlen(request) - 5);
	assert_int_equal(sl_http_parse_head((const uint8_t *)request, head, &req, &err), 0);
	assert_int_equal(req.method, SL_HTTP_POST);
	assert_string_equal(req.target, "/v1/messages");
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.content_length, 5);
	assert_true(req.expect_continue);
	assert_true(req.keep_alive);
	assert_false(req.chunked);
	assert_string_equal(req.authorization, "Bearer abc");
	assert_string_equal(req.content_type, "multipart/form-data; boundary=xyz");
}

/* The head is found only once its last byte has arrived, whatever the split. */
static void test_head_every_split(void **state)
{
	size_t head = strlen(request) - 5;

	(void)state;
	for (size_t k = 0; k <= strlen(request); k++) {
		size_t found = sl_http_head_end((const uint8_t *)request, k);

		if (k < head)
			assert_int_equal(found, 0);
		else
			assert_int_equal(found, head);
	}
}

static void test_leading_empty_lines(void **state)
{
	static const char in[] = "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
	struct sl_http_request req;
	struct sl_http_error err;

	(void)state;
	assert_int_equal(sl_http_head_end((const uint8_t *)in, 4), 0);
	assert_int_equal(sl_http_head_end((const uint8_t *)in, strlen(in)), strlen(in));
	assert_int_equal(sl_http_parse_head((const uint8_t *)in, strlen(in), &req, &err), 0);
	assert_int_equal(req.method, SL_HTTP_GET);
}

static void test_keep_alive(void **state)
{
	static const char v10[] = "POST /a HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
	static const char v10ka[] = "POST /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
	static const char close[] = "POST /a HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n";
	struct sl_http_request req;
	struct sl_http_error err;

	(void)state;
	assert_int_equal(sl_http_parse_head((const uint8_t *)v10, strlen(v10), &req, &err), 0);
	assert_false(req.keep_alive);
	assert_int_equal(sl_http_parse_head((const uint8_t *)v10ka, strlen(v10ka), &req, &err), 0);
	assert_true(req.keep_alive);
	assert_int_equal(sl_http_parse_head((const uint8_t *)close, strlen(close), &req, &err), 0);
	assert_false(req.keep_alive);
}

struct bad_case {
	const char *name;
	const char *head;
	int status;
};

static const struct bad_case bad_cases[] = {
	{ "no version", "POST /v1/send\r\n\r\n", 400 },
	{ "HTTP/2.0", "POST / HTTP/2.0\r\nHost: a\r\n\r\n", 505 },
	{ "HTTP/1.2", "POST / HTTP/1.2\r\nHost: a\r\n\r\n", 505 },
	{ "lower-case version", "POST / http/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "empty target", "POST  HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "missing Host", "POST / HTTP/1.1\r\n\r\n", 400 },
	{ "two Hosts", "POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "bare LF line", "POST / HTTP/1.1\nHost: a\r\n\r\n", 400 },
	{ "bare CR in value", "POST / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400 },
	{ "space before colon", "POST / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },
	{ "folded line", "POST / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400 },
	{ "no colon", "POST / HTTP/1.1\r\nHost a\r\n\r\n", 400 },
	{ "CL letters", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n", 400 },
	{ "CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400 },
	{ "CL conflict", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400 },
	{ "CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 413 },
	{ "CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	{ "TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
	{ "TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
	{ "TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	{ "Expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417 },
	{ "control in target", "POST /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "bad method char", "PO(ST / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "control in value", "POST / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400 },
};

static void test_bad_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct sl_http_request req;
		struct sl_http_error err = { 0 };
		int rc = sl_http_parse_head((const uint8_t *)c->head, strlen(c->head), &req, &err);

		if (rc != -1 || err.status != c->status)
			fail_msg("%s: rc %d status %d, expected status %d", c->name, rc, err.status,
				 c->status);
		assert_true(err.message[0] != '\0');
	}
}

static void test_header_limits(void **state)
{
	char *head = malloc(64 * 1024);
	struct sl_http_request req;
	struct sl_http_error err;
	size_t n;

	(void)state;
	n = (size_t)sprintf(head, "POST / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < SL_HTTP_MAX_FIELDS; i++)
		n += (size_t)sprintf(head + n, "X-%d: v\r\n", i);
	strcpy(head + n, "\r\n");
	assert_int_equal(sl_http_parse_head((const uint8_t *)head, n + 2, &req, &err), -1);
	assert_int_equal(err.status, 431);

	n = (size_t)sprintf(head, "POST / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ");
	memset(head + n, 'k', SL_HTTP_MAX_AUTH);
	n += SL_HTTP_MAX_AUTH;
	strcpy(head + n, "\r\n\r\n");
	assert_int_equal(sl_http_parse_head((const uint8_t *)head, n + 4, &req, &err), -1);
	assert_int_equal(err.status, 431);

	n = (size_t)sprintf(head, "POST /");
	memset(head + n, 'a', SL_HTTP_MAX_TARGET);
	n += SL_HTTP_MAX_TARGET;
	n += (size_t)sprintf(head + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(sl_http_parse_head((const uint8_t *)head, n, &req, &err), -1);
	assert_int_equal(err.status, 414);
	free(head);
}

/* Decode IN whole; returns 0 with the body in OUT, or the error status. */
static int decode(const char *in, size_t len, uint64_t max, struct sl_buf *out, size_t *used)
{
	struct sl_http_chunked c;
	struct sl_http_error err;
	bool done;
	long n;

	sl_http_chunked_begin(&c, max);
	n = sl_http_chunked_decode(&c, (const uint8_t *)in, len, out, &done, &err);
	if (n < 0)
		return err.status;
	*used = (size_t)n;
	return done ? 0 : -1;
}

struct chunk_case {
	const char *name;
	const char *in;
	const char *body;	/* NULL: error */
	int status;
};

static const struct chunk_case chunk_cases[] = {
	{ "two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0 },
	{ "upper hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0 },
	{ "leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 0 },
	{ "extension", "5;name=\"v\"\r\nhello\r\n0;x\r\n\r\n", "hello", 0 },
	{ "trailer", "5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", "hello", 0 },
	{ "empty body", "0\r\n\r\n", "", 0 },
	{ "no digits", "\r\nhello\r\n0\r\n\r\n", NULL, 400 },
	{ "bad digit", "5g\r\nhello\r\n0\r\n\r\n", NULL, 400 },
	{ "data too long", "5\r\nhello!\r\n0\r\n\r\n", NULL, 400 },
	{ "bare LF size", "5\nhello\r\n0\r\n\r\n", NULL, 400 },
	{ "bare LF after data", "5\r\nhello\n0\r\n\r\n", NULL, 400 },
	{ "bare LF trailer", "0\r\nX: 1\n\r\n", NULL, 400 },
	{ "overflow", "fffffffffffffffff\r\n", NULL, 413 },
	{ "over max", "1000\r\n", NULL, 413 },
};

static void test_chunked_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		const struct chunk_case *c = &chunk_cases[i];
		struct sl_buf out = { 0 };
		size_t used = 0;
		int rc = decode(c->in, strlen(c->in), 1024, &out, &used);

		if (c->body) {
			if (rc != 0)
				fail_msg("%s: status %d", c->name, rc);
			assert_int_equal(used, strlen(c->in));
			assert_int_equal(out.len, strlen(c->body));
			assert_memory_equal(out.p, c->body, out.len);
		} else if (rc != c->status) {
			fail_msg("%s: status %d, expected %d", c->name, rc, c->status);
		}
		sl_buf_free(&out);
	}
}

/* Split a chunked body (and the next request after it) at every byte. */
static void test_chunked_every_split(void **state)
{
	static const char in[] = "3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: x\r\n\r\nNEXT";
	size_t total = strlen(in) - 4;

	(void)state;
	for (size_t k = 0; k <= strlen(in); k++) {
		struct sl_http_chunked c;
		struct sl_http_error err;
		struct sl_buf out = { 0 };
		bool done = false;
		long a, b = 0;

		sl_http_chunked_begin(&c, 1024);
		a = sl_http_chunked_decode(&c, (const uint8_t *)in, k, &out, &done, &err);
		assert_true(a >= 0);
		if (!done) {
			assert_int_equal((size_t)a, k);
			b = sl_http_chunked_decode(&c, (const uint8_t *)in + k, strlen(in) - k, &out,
						   &done, &err);
			assert_true(b >= 0);
		}
		assert_true(done);
		assert_int_equal((size_t)(a + b), total);
		assert_int_equal(out.len, 19);
		assert_memory_equal(out.p, "abc0123456789abcdef", 19);
		sl_buf_free(&out);
	}
}

static void test_media_type(void **state)
{
	char type[64], value[128];

	(void)state;
	assert_int_equal(sl_http_media_type(" Multipart/Form-Data; boundary=abc", type, sizeof(type)), 0);
	assert_string_equal(type, "multipart/form-data");
	assert_int_equal(sl_http_media_param("multipart/form-data; charset=x; boundary=abc", "boundary",
					     value, sizeof(value)), 0);
	assert_string_equal(value, "abc");
	assert_int_equal(sl_http_media_param("multipart/mixed; BOUNDARY=\"a \\\"b; c\"", "boundary",
					     value, sizeof(value)), 0);
	assert_string_equal(value, "a \"b; c");
	assert_int_equal(sl_http_media_param("form-data; name=\"envelope\"; filename=\"e.json\"",
					     "name", value, sizeof(value)), 0);
	assert_string_equal(value, "envelope");
	assert_int_equal(sl_http_media_param("text/plain", "boundary", value, sizeof(value)), -1);
	assert_int_equal(sl_http_media_type("text", type, sizeof(type)), -1);
	assert_int_equal(sl_http_media_type("text/", type, sizeof(type)), -1);
	assert_int_equal(sl_http_media_type("te(xt/plain", type, sizeof(type)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_parse),
		cmocka_unit_test(test_head_every_split),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_chunked_cases),
		cmocka_unit_test(test_chunked_every_split),
		cmocka_unit_test(test_media_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
