/*
 * Unit tests for crypto/canon.c and crypto/body.c: the body and header
 * canonicalization tables, chunk-split independence (whole input, every
 * two-way split, byte by byte, random splits), a comparison with a plain
 * line-by-line reference, and the streaming body hash API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/canon.h"
#include "crypto/dkim.h"

/* ---- helpers ---- */

struct canon_out {
	uint8_t *data;
	size_t len;
};

/* Canonicalize in chunks of the given sizes (0-terminated list, rest last). */
static struct canon_out canon_body_chunks(enum sl_dkim_canon mode, const uint8_t *in,
					  size_t len, const size_t *chunks)
{
	struct sl_canon_body st;
	struct sl_sink sink;
	struct canon_out out;
	size_t off = 0;

	sl_canon_body_init(&st);
	sl_sink_init(&sink, NULL);
	for (; chunks && *chunks && off < len; chunks++) {
		size_t n = *chunks < len - off ? *chunks : len - off;

		if (mode == SL_DKIM_RELAXED)
			sl_canon_body_relaxed_scalar(&st, &sink, in + off, n);
		else
			sl_canon_body_simple_scalar(&st, &sink, in + off, n);
		off += n;
	}
	if (mode == SL_DKIM_RELAXED) {
		sl_canon_body_relaxed_scalar(&st, &sink, in + off, len - off);
		sl_canon_body_relaxed_end(&st, &sink);
	} else {
		sl_canon_body_simple_scalar(&st, &sink, in + off, len - off);
		sl_canon_body_simple_end(&st, &sink);
	}
	assert_int_equal(sl_sink_flush(&sink), 0);
	out.data = sink.mem;
	out.len = sink.mem_len;
	return out;
}

static struct canon_out canon_body(enum sl_dkim_canon mode, const char *in, size_t len)
{
	return canon_body_chunks(mode, (const uint8_t *)in, len, NULL);
}

static struct canon_out canon_body_bytewise(enum sl_dkim_canon mode, const uint8_t *in,
					    size_t len)
{
	struct sl_canon_body st;
	struct sl_sink sink;
	struct canon_out out;
	size_t i;

	sl_canon_body_init(&st);
	sl_sink_init(&sink, NULL);
	for (i = 0; i < len; i++) {
		if (mode == SL_DKIM_RELAXED)
			sl_canon_body_relaxed_scalar(&st, &sink, in + i, 1);
		else
			sl_canon_body_simple_scalar(&st, &sink, in + i, 1);
	}
	if (mode == SL_DKIM_RELAXED)
		sl_canon_body_relaxed_end(&st, &sink);
	else
		sl_canon_body_simple_end(&st, &sink);
	assert_int_equal(sl_sink_flush(&sink), 0);
	out.data = sink.mem;
	out.len = sink.mem_len;
	return out;
}

static void expect_bytes(const struct canon_out *got, const char *want, size_t want_len,
			 const char *what)
{
	if (got->len != want_len || (want_len && memcmp(got->data, want, want_len) != 0)) {
		print_error("%s: expected %zu bytes \"%.*s\", got %zu bytes \"%.*s\"\n", what,
			    want_len, (int)want_len, want, got->len, (int)got->len,
			    got->data ? (const char *)got->data : "");
		fail();
	}
}

/* ---- body table ---- */

struct body_case {
	const char *name;
	const char *in;
	const char *simple;
	const char *relaxed;
};

static const struct body_case body_cases[] = {
	{ "empty body", "", "\r\n", "" },
	{ "only empty lines", "\r\n\r\n\r\n", "\r\n", "" },
	{ "whitespace-only last lines", "abc\r\n  \r\n\t\r\n", "abc\r\n  \r\n\t\r\n",
	  "abc\r\n" },
	{ "whitespace-only body", "  \r\n", "  \r\n", "" },
	{ "whitespace without line end", " \t ", " \t \r\n", "" },
	{ "trailing whitespace", "abc  \t\r\ndef \r\n", "abc  \t\r\ndef \r\n",
	  "abc\r\ndef\r\n" },
	{ "missing final CRLF", "abc", "abc\r\n", "abc\r\n" },
	{ "missing final CRLF after whitespace", "abc\r\nd  ", "abc\r\nd  \r\n",
	  "abc\r\nd\r\n" },
	{ "bare LF", "a\nb\n", "a\r\nb\r\n", "a\r\nb\r\n" },
	{ "bare CR", "a\rb\r", "a\r\nb\r\n", "a\r\nb\r\n" },
	{ "CR CR LF", "a\r\r\nb", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "LF CR", "a\n\rb", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "trailing bare LFs", "a\n\n\n", "a\r\n", "a\r\n" },
	{ "whitespace runs", "a  \t b\r\n", "a  \t b\r\n", "a b\r\n" },
	{ "leading whitespace", "  a\r\n\tb\r\n", "  a\r\n\tb\r\n", " a\r\n b\r\n" },
	{ "inner empty lines kept", "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n",
	  "a\r\n\r\n\r\nb\r\n" },
	{ "inner whitespace line", "a\r\n \r\nb\r\n", "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "leading empty lines", "\r\n\r\nabc", "\r\n\r\nabc\r\n", "\r\n\r\nabc\r\n" },
	{ "raw UTF-8", "h\xc3\xa9llo  w\xc3\xb6rld \r\n", "h\xc3\xa9llo  w\xc3\xb6rld \r\n",
	  "h\xc3\xa9llo w\xc3\xb6rld\r\n" },
	{ "RFC 6376 section 3.4.5 body", " C \r\nD \t E\r\n\r\n\r\n",
	  " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
};

static void body_table(enum sl_dkim_canon mode)
{
	size_t i;

	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		const char *want = mode == SL_DKIM_RELAXED ? c->relaxed : c->simple;
		struct canon_out got = canon_body(mode, c->in, strlen(c->in));
		char what[160];

		snprintf(what, sizeof(what), "%s (%s)", c->name,
			 mode == SL_DKIM_RELAXED ? "relaxed" : "simple");
		expect_bytes(&got, want, strlen(want), what);
		free(got.data);
	}
}

static void body_table_simple(void **state)
{
	(void)state;
	body_table(SL_DKIM_SIMPLE);
}

static void body_table_relaxed(void **state)
{
	(void)state;
	body_table(SL_DKIM_RELAXED);
}

/* Each named hard case as its own check, so a failure names the case. */
static void check_case(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		struct canon_out s, r;

		if (strcmp(c->name, name) != 0)
			continue;
		s = canon_body(SL_DKIM_SIMPLE, c->in, strlen(c->in));
		r = canon_body(SL_DKIM_RELAXED, c->in, strlen(c->in));
		expect_bytes(&s, c->simple, strlen(c->simple), name);
		expect_bytes(&r, c->relaxed, strlen(c->relaxed), name);
		free(s.data);
		free(r.data);
		return;
	}
	fail_msg("no case named %s", name);
}

static void empty_body_each_mode(void **state)
{
	(void)state;
	check_case("empty body");
}

static void whitespace_only_last_lines(void **state)
{
	(void)state;
	check_case("whitespace-only last lines");
}

static void trailing_whitespace(void **state)
{
	(void)state;
	check_case("trailing whitespace");
}

static void missing_final_crlf(void **state)
{
	(void)state;
	check_case("missing final CRLF");
}

static void bare_cr_and_bare_lf(void **state)
{
	(void)state;
	check_case("bare LF");
	check_case("bare CR");
	check_case("CR CR LF");
}

static void raw_utf8_body(void **state)
{
	(void)state;
	check_case("raw UTF-8");
}

/* "a\r" then "\nb" is one line end, not two. */
static void crlf_split_across_chunks(void **state)
{
	static const size_t split[] = { 2, 0 };
	const char *in = "a\r\nb\r\n";
	struct canon_out s = canon_body_chunks(SL_DKIM_SIMPLE, (const uint8_t *)in, 6, split);
	struct canon_out r = canon_body_chunks(SL_DKIM_RELAXED, (const uint8_t *)in, 6, split);

	(void)state;
	expect_bytes(&s, "a\r\nb\r\n", 6, "simple");
	expect_bytes(&r, "a\r\nb\r\n", 6, "relaxed");
	free(s.data);
	free(r.data);
}

/* A CR at the very end of the body, alone in its chunk. */
static void cr_alone_at_end(void **state)
{
	static const size_t split[] = { 3, 0 };
	const char *in = "abc\r";
	struct canon_out s = canon_body_chunks(SL_DKIM_SIMPLE, (const uint8_t *)in, 4, split);
	struct canon_out r = canon_body_chunks(SL_DKIM_RELAXED, (const uint8_t *)in, 4, split);

	(void)state;
	expect_bytes(&s, "abc\r\n", 5, "simple");
	expect_bytes(&r, "abc\r\n", 5, "relaxed");
	free(s.data);
	free(r.data);
}

/* ---- split independence ---- */

static void check_splits(const uint8_t *in, size_t len)
{
	int m;

	for (m = 0; m < 2; m++) {
		enum sl_dkim_canon mode = m ? SL_DKIM_RELAXED : SL_DKIM_SIMPLE;
		struct canon_out whole = canon_body_chunks(mode, in, len, NULL);
		struct canon_out bytes = canon_body_bytewise(mode, in, len);
		size_t cut;

		expect_bytes(&bytes, (const char *)whole.data, whole.len, "byte by byte");
		free(bytes.data);
		for (cut = 1; cut < len; cut++) {
			size_t split[] = { cut, 0 };
			struct canon_out two = canon_body_chunks(mode, in, len, split);

			expect_bytes(&two, (const char *)whole.data, whole.len, "two chunks");
			free(two.data);
		}
		free(whole.data);
	}
}

static void split_independence_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++)
		check_splits((const uint8_t *)body_cases[i].in, strlen(body_cases[i].in));
}

/* Plain line-by-line reference of both body canonicalizations. */
static struct canon_out reference_body(enum sl_dkim_canon mode, const uint8_t *in,
				       size_t len)
{
	uint8_t *norm = malloc(2 * len + 4), *out = malloc(2 * len + 4);
	size_t n = 0, i, o = 0, start, last_content = 0;
	struct canon_out r;

	for (i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			norm[n++] = '\r';
			norm[n++] = '\n';
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
		} else {
			norm[n++] = in[i];
		}
	}
	if (n == 0 || norm[n - 1] != '\n') {
		norm[n++] = '\r';
		norm[n++] = '\n';
	}
	for (start = 0; start < n;) {
		size_t end = start, line_start = o;

		while (norm[end] != '\r')
			end++;
		for (i = start; i < end; i++) {
			int wsp = norm[i] == ' ' || norm[i] == '\t';

			if (mode == SL_DKIM_RELAXED && wsp) {
				if (o == line_start || out[o - 1] != ' ')
					out[o++] = ' ';
			} else {
				out[o++] = norm[i];
			}
		}
		if (mode == SL_DKIM_RELAXED && o > line_start && out[o - 1] == ' ')
			o--;
		if (o > line_start)
			last_content = o + 2;
		out[o++] = '\r';
		out[o++] = '\n';
		start = end + 2;
	}
	o = last_content;
	if (o == 0 && mode == SL_DKIM_SIMPLE) {
		out[0] = '\r';
		out[1] = '\n';
		o = 2;
	}
	free(norm);
	r.data = out;
	r.len = o;
	return r;
}

static void random_input_matches_reference(void **state)
{
	static const uint8_t alphabet[] = { 'a', 'b', ' ', '\t', '\r', '\n', 0xc3, 0xa9 };
	uint8_t in[300];
	unsigned seed = 12345;
	int round, m;

	(void)state;
	for (round = 0; round < 3000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 120), i, chunks[8];

		for (i = 0; i < len; i++)
			in[i] = alphabet[rand_r(&seed) % sizeof(alphabet)];
		for (i = 0; i < 7; i++)
			chunks[i] = 1 + (size_t)(rand_r(&seed) % 17);
		chunks[7] = 0;
		for (m = 0; m < 2; m++) {
			enum sl_dkim_canon mode = m ? SL_DKIM_RELAXED : SL_DKIM_SIMPLE;
			struct canon_out ref = reference_body(mode, in, len);
			struct canon_out got = canon_body_chunks(mode, in, len, chunks);

			expect_bytes(&got, (const char *)ref.data, ref.len, "random vs reference");
			free(ref.data);
			free(got.data);
		}
	}
}

/* A body far larger than the sink buffer, in odd chunk sizes. */
static void large_body_streams(void **state)
{
	size_t len = 200000, i, off;
	uint8_t *in = malloc(len);
	struct sl_dkim_body b;
	struct sl_dkim_bodyhash whole, chunked;
	struct sl_dkim_err err;

	(void)state;
	for (i = 0; i < len; i++)
		in[i] = (i % 71 == 70) ? '\n' : (i % 13 == 0 ? ' ' : (uint8_t)('a' + i % 26));
	assert_int_equal(sl_dkim_body_hash(in, len, SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED,
					   &whole, &err), 0);
	memset(&b, 0, sizeof(b));
	assert_int_equal(sl_dkim_body_init(&b, SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &err),
			 0);
	for (off = 0; off < len; off += 4099)
		sl_dkim_body_update(&b, in + off, len - off < 4099 ? len - off : 4099);
	assert_int_equal(sl_dkim_body_final(&b, &chunked, &err), 0);
	assert_memory_equal(whole.simple, chunked.simple, 32);
	assert_memory_equal(whole.relaxed, chunked.relaxed, 32);

	/* The same hasher, reused for a second message, gives the same result. */
	assert_int_equal(sl_dkim_body_init(&b, SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &err),
			 0);
	sl_dkim_body_update(&b, in, len);
	assert_int_equal(sl_dkim_body_final(&b, &chunked, &err), 0);
	assert_memory_equal(whole.simple, chunked.simple, 32);
	assert_memory_equal(whole.relaxed, chunked.relaxed, 32);
	sl_dkim_body_free(&b);
	free(in);
}

/* ---- body hash API ---- */

static void sha256_of(const uint8_t *p, size_t n, uint8_t out[32])
{
	assert_int_equal(EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL), 1);
}

static void empty_body_hashes(void **state)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	uint8_t want[32];

	(void)state;
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED,
					   &bh, &err), 0);
	assert_int_equal(bh.mask, SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED);
	sha256_of((const uint8_t *)"\r\n", 2, want);
	assert_memory_equal(bh.simple, want, 32);
	sha256_of((const uint8_t *)"", 0, want);
	assert_memory_equal(bh.relaxed, want, 32);
}

static void body_mask_selects_hashes(void **state)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	static const uint8_t zero[32];

	(void)state;
	assert_int_equal(sl_dkim_body_hash("x\r\n", 3, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(bh.mask, SL_DKIM_BODY_RELAXED);
	assert_memory_equal(bh.simple, zero, 32);
	assert_int_not_equal(memcmp(bh.relaxed, zero, 32), 0);
	assert_int_equal(sl_dkim_body_hash("x", 1, 0, &bh, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "canonicalization"));
}

static void bodyhash_is_plain_bytes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct sl_dkim_bodyhash), 65);
}

/* ---- header fields ---- */

struct header_case {
	const char *name;
	const char *field;
	const char *simple;
	const char *relaxed;
};

static const struct header_case header_cases[] = {
	{ "folded right after colon", "Subject:\r\n folded value",
	  "Subject:\r\n folded value\r\n", "subject:folded value\r\n" },
	{ "empty value", "X-Empty:", "X-Empty:\r\n", "x-empty:\r\n" },
	{ "whitespace-only value", "X-Empty:  \t", "X-Empty:  \t\r\n", "x-empty:\r\n" },
	{ "space before colon", "SUBJECT \t: hi", "SUBJECT \t: hi\r\n", "subject:hi\r\n" },
	{ "runs and folds", "To: a  \t b \r\n\t c ", "To: a  \t b \r\n\t c \r\n",
	  "to:a b c\r\n" },
	{ "bare LF fold", "To: a\n b", "To: a\r\n b\r\n", "to:a b\r\n" },
	{ "raw UTF-8", "Subject: Gr\xc3\xbc\xc3\x9f" "e  aus K\xc3\xb6ln ",
	  "Subject: Gr\xc3\xbc\xc3\x9f" "e  aus K\xc3\xb6ln \r\n",
	  "subject:Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\r\n" },
	{ "RFC 6376 section 3.4.5 header A", "A: X", "A: X\r\n", "a:X\r\n" },
	{ "RFC 6376 section 3.4.5 header B", "B : Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  \r\n",
	  "b:Y Z\r\n" },
};

static void header_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		const struct header_case *c = &header_cases[i];
		struct sl_sink s, r;
		struct canon_out so, ro;

		sl_sink_init(&s, NULL);
		sl_sink_init(&r, NULL);
		sl_canon_header_simple(&s, (const uint8_t *)c->field, strlen(c->field), 1);
		sl_canon_header_relaxed(&r, (const uint8_t *)c->field, strlen(c->field), 1);
		assert_int_equal(sl_sink_flush(&s), 0);
		assert_int_equal(sl_sink_flush(&r), 0);
		so.data = s.mem;
		so.len = s.mem_len;
		ro.data = r.mem;
		ro.len = r.mem_len;
		expect_bytes(&so, c->simple, strlen(c->simple), c->name);
		expect_bytes(&ro, c->relaxed, strlen(c->relaxed), c->name);
		sl_sink_free(&s);
		sl_sink_free(&r);
	}
}

static void header_folded_after_colon(void **state)
{
	struct sl_sink r;

	(void)state;
	sl_sink_init(&r, NULL);
	sl_canon_header_relaxed(&r, (const uint8_t *)"Subject:\r\n\tHello", 16, 1);
	assert_int_equal(sl_sink_flush(&r), 0);
	assert_int_equal(r.mem_len, 15);
	assert_memory_equal(r.mem, "subject:Hello\r\n", 15);
	sl_sink_free(&r);
}

static void header_empty_value(void **state)
{
	struct sl_sink r;

	(void)state;
	sl_sink_init(&r, NULL);
	sl_canon_header_relaxed(&r, (const uint8_t *)"Cc:", 3, 1);
	assert_int_equal(sl_sink_flush(&r), 0);
	assert_int_equal(r.mem_len, 5);
	assert_memory_equal(r.mem, "cc:\r\n", 5);
	sl_sink_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(body_table_simple),
		cmocka_unit_test(body_table_relaxed),
		cmocka_unit_test(empty_body_each_mode),
		cmocka_unit_test(whitespace_only_last_lines),
		cmocka_unit_test(trailing_whitespace),
		cmocka_unit_test(missing_final_crlf),
		cmocka_unit_test(bare_cr_and_bare_lf),
		cmocka_unit_test(raw_utf8_body),
		cmocka_unit_test(crlf_split_across_chunks),
		cmocka_unit_test(cr_alone_at_end),
		cmocka_unit_test(split_independence_table),
		cmocka_unit_test(random_input_matches_reference),
		cmocka_unit_test(large_body_streams),
		cmocka_unit_test(empty_body_hashes),
		cmocka_unit_test(body_mask_selects_hashes),
		cmocka_unit_test(bodyhash_is_plain_bytes),
		cmocka_unit_test(header_table),
		cmocka_unit_test(header_folded_after_colon),
		cmocka_unit_test(header_empty_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
