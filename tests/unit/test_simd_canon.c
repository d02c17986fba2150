/*
 * Unit tests for the crypto/simd canonicalization kernels: each block
 * kernel, driven with the byte-at-a-time reference as its scalar helper,
 * must give the same bytes and carry state as the reference alone, and
 * both must match a line-based model of RFC 6376 (simple and relaxed
 * body). Inputs: seeded random mixes of SP, HTAB, CR, LF, CRLF and empty
 * lines, lengths up to 1 MiB, every alignment, every two-chunk split of
 * short inputs, random chunk splits, and the Python email test messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dkim.h"
#include "crypto/simd/canon_simd.h"
#include "tests/unit/simd_testlib.h"

#define CORPUS_GLOB "/usr/lib/python3.11/test/test_email/data/msg_*.txt"

/* ---- line-based model of the RFC rules, whole body at once ---- */

static void model(const uint8_t *in, size_t len, int relaxed, struct sl_canon_buf *out)
{
	struct sl_canon_buf lines = { 0 };  /* canonical lines, each + CRLF */
	size_t keep_len = 0, i = 0;

	while (i < len) {
		size_t start = i, end, next;
		int wsp = 0;

		while (i < len && in[i] != '\r' && in[i] != '\n')
			i++;
		end = i;
		next = i;
		if (i < len)
			next = (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') ? i + 2 : i + 1;
		size_t line_start = lines.len;

		for (size_t k = start; k < end; k++) {
			uint8_t c = in[k];

			if (relaxed && (c == ' ' || c == '\t')) {
				wsp = 1;
				continue;
			}
			if (wsp)
				sl_canon_buf_put(&lines, (const uint8_t *)" ", 1);
			wsp = 0;
			sl_canon_buf_put(&lines, &c, 1);
		}
		int empty = lines.len == line_start;

		sl_canon_buf_put(&lines, (const uint8_t *)"\r\n", 2);
		/* Only a line with content moves the end of what is kept. */
		if (!empty)
			keep_len = lines.len;
		i = next;
	}
	out->len = 0;
	if (keep_len > 0)
		sl_canon_buf_put(out, lines.p, keep_len);
	if (keep_len == 0 && !relaxed)
		sl_canon_buf_put(out, (const uint8_t *)"\r\n", 2);
	free(lines.p);
}

/* ---- drivers ---- */

struct buf_ctx {
	struct sl_canon_buf *out;
	int relaxed;
};

static void ctx_put(void *ctx, const uint8_t *p, size_t n)
{
	sl_canon_buf_put(((struct buf_ctx *)ctx)->out, p, n);
}

static void ctx_crlf(void *ctx, uint64_t count)
{
	sl_canon_buf_crlf(((struct buf_ctx *)ctx)->out, count);
}

static void ctx_scalar(void *ctx, struct sl_canon_body *st, const uint8_t *p, size_t n)
{
	struct buf_ctx *c = ctx;

	if (c->relaxed)
		sl_canon_ref_relaxed(st, c->out, p, n);
	else
		sl_canon_ref_simple(st, c->out, p, n);
}

/*
 * Canonicalize IN in the chunks given by cuts[] (ncuts chunk ends) with the
 * kernel K (NULL: reference only) and compare bytes and state after each
 * chunk with the reference.
 */
static void check_chunks(const struct sl_canon_kernels *k, int relaxed, const uint8_t *in,
			 size_t len, const size_t *cuts, size_t ncuts, const char *what)
{
	struct sl_canon_buf got = { 0 }, want = { 0 }, whole = { 0 };
	struct sl_canon_body st_got = { 0 }, st_want = { 0 };
	struct buf_ctx ctx = { &got, relaxed };
	struct sl_canon_target t = { &ctx, ctx_put, ctx_crlf, ctx_scalar };
	size_t from = 0;

	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : len;

		if (k != NULL)
			sl_canon_drive(relaxed ? k->relaxed : k->simple, &st_got, &t, in + from, to - from);
		if (relaxed)
			sl_canon_ref_relaxed(&st_want, &want, in + from, to - from);
		else
			sl_canon_ref_simple(&st_want, &want, in + from, to - from);
		if (k != NULL && (st_got.cr != st_want.cr || st_got.wsp != st_want.wsp ||
				  st_got.any != st_want.any || st_got.crlf != st_want.crlf))
			fail_msg("%s %s %s: carry state differs after chunk %zu (cr %d/%d wsp %d/%d any %d/%d crlf %llu/%llu)",
				 k->name, relaxed ? "relaxed" : "simple", what, c, st_got.cr, st_want.cr,
				 st_got.wsp, st_want.wsp, st_got.any, st_want.any,
				 (unsigned long long)st_got.crlf, (unsigned long long)st_want.crlf);
		from = to;
	}
	sl_canon_ref_end(&st_want, &want, relaxed);
	if (k != NULL) {
		sl_canon_ref_end(&st_got, &got, relaxed);
		if (got.len != want.len || (got.len > 0 && memcmp(got.p, want.p, got.len) != 0))
			fail_msg("%s %s %s: output differs from the reference (%zu vs %zu bytes)", k->name,
				 relaxed ? "relaxed" : "simple", what, got.len, want.len);
	}
	model(in, len, relaxed, &whole);
	if (whole.len != want.len || (whole.len > 0 && memcmp(whole.p, want.p, whole.len) != 0))
		fail_msg("reference %s %s: output differs from the RFC model (%zu vs %zu bytes)",
			 relaxed ? "relaxed" : "simple", what, want.len, whole.len);
	free(got.p);
	free(want.p);
	free(whole.p);
}

static size_t kernels_under_test(const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1])
{
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths), n = 0;

	ks[n++] = &sl_canon_kernels_portable;
	for (size_t i = 0; i < npaths; i++) {
		const struct sl_canon_kernels *k = sl_canon_kernels_for(paths[i]);

		if (k != NULL && k != ks[n - 1])  /* neon and sha2 share kernels */
			ks[n++] = k;
	}
	return n;
}

/* Text made of words, SP/HTAB runs, CR, LF, CRLF and empty lines. */
static void random_text(struct test_rng *rng, uint8_t *p, size_t len, unsigned mix)
{
	static const char *const pieces[] = { "word", "x", " ", "\t", "  ", " \t ", "\r\n",
					      "\r\n\r\n", "\n", "\r", "Subject", "=3D", "\r\n \r\n",
					      "\t\r\n" };
	size_t i = 0, npieces = sizeof(pieces) / sizeof(pieces[0]);

	while (i < len) {
		size_t r = rng_below(rng, 100), pi;
		const char *s;

		if (mix == 0)  /* clean CRLF text: no bare CR or LF */
			pi = r < 60 ? (r % 2) : r < 80 ? 2 + r % 2 : r < 95 ? 6 : 7;
		else
			pi = rng_below(rng, npieces);
		s = pieces[pi];
		for (size_t k = 0; s[k] != '\0' && i < len; k++)
			p[i++] = (uint8_t)s[k];
	}
}

static void random_inputs_random_chunks(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	struct test_rng rng;
	uint8_t *buf = malloc(20000);
	size_t cuts[16];

	(void)state;
	assert_non_null(buf);
	rng_seed(&rng, 11);
	for (int round = 0; round < 300; round++) {
		size_t len = rng_below(&rng, round < 150 ? 300 : 20000);
		size_t ncuts = rng_below(&rng, 6);
		unsigned mix = (unsigned)(round % 3 == 0);

		random_text(&rng, buf, len, mix);
		for (size_t c = 0; c < ncuts; c++)
			cuts[c] = len ? rng_below(&rng, len + 1) : 0;
		for (size_t a = 0; a < ncuts; a++) {  /* sort the cuts */
			for (size_t b = a + 1; b < ncuts; b++) {
				if (cuts[b] < cuts[a]) {
					size_t t = cuts[a];
					cuts[a] = cuts[b];
					cuts[b] = t;
				}
			}
		}
		for (size_t ki = 0; ki < nk; ki++) {
			check_chunks(ks[ki], 0, buf, len, cuts, ncuts, "random");
			check_chunks(ks[ki], 1, buf, len, cuts, ncuts, "random");
		}
	}
	for (size_t ki = 0; ki < nk; ki++)
		print_message("canon kernel %s: random inputs match the reference\n", ks[ki]->name);
	free(buf);
}

static void every_split_short_input(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	struct test_rng rng;
	uint8_t buf[200];

	(void)state;
	rng_seed(&rng, 12);
	for (int round = 0; round < 6; round++) {
		random_text(&rng, buf, sizeof(buf), (unsigned)(round & 1));
		for (size_t cut = 0; cut <= sizeof(buf); cut++) {
			for (size_t ki = 0; ki < nk; ki++) {
				check_chunks(ks[ki], 0, buf, sizeof(buf), &cut, 1, "split");
				check_chunks(ks[ki], 1, buf, sizeof(buf), &cut, 1, "split");
			}
		}
	}
}

static void every_alignment(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	struct test_rng rng;
	uint8_t buf[64 + 700];

	(void)state;
	rng_seed(&rng, 13);
	random_text(&rng, buf, sizeof(buf), 0);
	for (size_t off = 0; off < 64; off++) {
		for (size_t ki = 0; ki < nk; ki++) {
			check_chunks(ks[ki], 0, buf + off, 700 - off % 7, NULL, 0, "aligned");
			check_chunks(ks[ki], 1, buf + off, 700 - off % 7, NULL, 0, "aligned");
		}
	}
}

/* Long runs of empty lines, of whitespace, and lines of only whitespace. */
static void adversarial_runs(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	size_t len = 0, cut = 3000;
	uint8_t *buf = malloc(8192);

	(void)state;
	assert_non_null(buf);
	buf[len++] = 'x';
	for (int i = 0; i < 500; i++) {
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	buf[len++] = 'y';
	for (int i = 0; i < 1000; i++)
		buf[len++] = (uint8_t)(i % 3 ? ' ' : '\t');
	buf[len++] = 'z';
	for (int i = 0; i < 300; i++) {
		memcpy(buf + len, " \t \r\n", 5);
		len += 5;
	}
	memcpy(buf + len, "end \t", 5);
	len += 5;
	for (int i = 0; i < 100; i++) {
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	for (size_t ki = 0; ki < nk; ki++) {
		check_chunks(ks[ki], 0, buf, len, NULL, 0, "runs");
		check_chunks(ks[ki], 1, buf, len, NULL, 0, "runs");
		check_chunks(ks[ki], 1, buf, len, &cut, 1, "runs split");
		check_chunks(ks[ki], 0, buf, 0, NULL, 0, "empty");
		check_chunks(ks[ki], 1, buf, 0, NULL, 0, "empty");
		check_chunks(ks[ki], 1, buf + 1, 1000, NULL, 0, "empty lines only");
	}
	free(buf);
}

static void one_mib_inputs(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	const size_t len = 1024 * 1024;
	struct test_rng rng;
	uint8_t *buf = malloc(len);
	size_t cuts[3] = { 4095, 65536, 700001 };

	(void)state;
	assert_non_null(buf);
	rng_seed(&rng, 14);
	for (unsigned mix = 0; mix < 2; mix++) {
		random_text(&rng, buf, len, mix);
		for (size_t ki = 1; ki < nk; ki++) {  /* skip the slow portable one */
			check_chunks(ks[ki], 0, buf, len, cuts, 3, "1 MiB");
			check_chunks(ks[ki], 1, buf, len, cuts, 3, "1 MiB");
		}
	}
	free(buf);
}

static void python_email_corpus(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	glob_t g;
	size_t files = 0;

	(void)state;
	if (glob(CORPUS_GLOB, 0, NULL, &g) != 0)
		fail_msg("no messages at %s (install libpython3.11-testsuite)", CORPUS_GLOB);
	for (size_t f = 0; f < g.gl_pathc; f++) {
		FILE *fp = fopen(g.gl_pathv[f], "rb");
		uint8_t *raw = malloc(1 << 20), *crlf = malloc(2 << 20);
		size_t n, m = 0, cut;

		assert_non_null(fp);
		assert_non_null(raw);
		assert_non_null(crlf);
		n = fread(raw, 1, 1 << 20, fp);
		fclose(fp);
		for (size_t i = 0; i < n; i++) {  /* the same text with CRLF line ends */
			if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
				crlf[m++] = '\r';
			crlf[m++] = raw[i];
		}
		cut = m / 3;
		for (size_t ki = 0; ki < nk; ki++) {
			check_chunks(ks[ki], 0, raw, n, NULL, 0, g.gl_pathv[f]);
			check_chunks(ks[ki], 1, raw, n, NULL, 0, g.gl_pathv[f]);
			check_chunks(ks[ki], 0, crlf, m, &cut, 1, g.gl_pathv[f]);
			check_chunks(ks[ki], 1, crlf, m, &cut, 1, g.gl_pathv[f]);
		}
		free(raw);
		free(crlf);
		files++;
	}
	globfree(&g);
	assert_true(files >= 10);
	print_message("canon: %zu corpus messages checked with %zu kernels\n", files, nk);
}

/* Run OPS over IN in chunks into a memory sink; returns the state. */
static struct sl_canon_body run_engine(const struct sl_canon_ops *ops, int relaxed,
				       const uint8_t *in, size_t len, const size_t *cuts,
				       size_t ncuts, struct sl_sink *sink)
{
	struct sl_canon_body st;
	size_t from = 0;

	sl_canon_body_init(&st);
	sl_sink_init(sink, NULL);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : len;

		(relaxed ? ops->body_relaxed : ops->body_simple)(&st, sink, in + from, to - from);
		from = to;
	}
	if (relaxed)
		sl_canon_body_relaxed_end(&st, sink);
	else
		sl_canon_body_simple_end(&st, sink);
	assert_int_equal(sl_sink_flush(sink), 0);
	return st;
}

/* The engine's tables for each path against its scalar table. */
static void engine_tables_match_scalar(void **state)
{
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	struct test_rng rng;
	uint8_t *buf = malloc(70000);

	(void)state;
	assert_non_null(buf);
	rng_seed(&rng, 15);
	for (int round = 0; round < 60; round++) {
		size_t len = rng_below(&rng, 70000), cuts[2];

		random_text(&rng, buf, len, (unsigned)(round % 4 == 0));
		cuts[0] = rng_below(&rng, len + 1);
		cuts[1] = cuts[0] + rng_below(&rng, len - cuts[0] + 1);
		for (size_t pi = 0; pi < npaths; pi++) {
			const struct sl_canon_ops *ops = sl_canon_ops_for(paths[pi]);

			assert_non_null(ops);
			for (int relaxed = 0; relaxed < 2; relaxed++) {
				struct sl_sink got, want;

				run_engine(ops, relaxed, buf, len, cuts, 2, &got);
				run_engine(&sl_canon_ops_scalar, relaxed, buf, len, cuts, 2, &want);
				assert_int_equal(got.mem_len, want.mem_len);
				assert_int_equal(got.total, want.total);
				if (got.mem_len > 0)
					assert_memory_equal(got.mem, want.mem, got.mem_len);
				sl_sink_free(&got);
				sl_sink_free(&want);
			}
		}
	}
	free(buf);
}

/* sl_dkim_body_hash gives the same hashes whichever path is forced. */
static void body_hash_same_on_every_path(void **state)
{
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	enum sl_simd_path before = sl_simd_current();
	struct sl_dkim_bodyhash want, got;
	struct test_rng rng;
	uint8_t *buf = malloc(100000);

	(void)state;
	assert_non_null(buf);
	rng_seed(&rng, 16);
	for (int round = 0; round < 8; round++) {
		size_t len = rng_below(&rng, 100000);

		random_text(&rng, buf, len, (unsigned)(round & 1));
		assert_int_equal(sl_simd_force(SL_SIMD_SCALAR), 0);
		assert_ptr_equal(sl_canon_active, &sl_canon_ops_scalar);
		assert_int_equal(sl_dkim_body_hash(buf, len, SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED,
						   &want, NULL), 0);
		for (size_t pi = 0; pi < npaths; pi++) {
			assert_int_equal(sl_simd_force(paths[pi]), 0);
			assert_ptr_equal(sl_canon_active, sl_canon_ops_for(paths[pi]));
			assert_int_equal(sl_dkim_body_hash(buf, len,
							   SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED,
							   &got, NULL), 0);
			assert_memory_equal(got.simple, want.simple, 32);
			assert_memory_equal(got.relaxed, want.relaxed, 32);
		}
	}
	sl_simd_force(before);
	free(buf);
}

/* Header fields: names, colons, words, SP/HTAB runs, folds, bare CR/LF. */
static size_t random_field(struct test_rng *rng, uint8_t *p, size_t cap)
{
	static const char *const names[] = { "Subject", "FROM", "x-Test-Header", "Sub ject", "",
					     "To \t", "DKIM-Signature" };
	static const char *const pieces[] = { "word", "A", "=?utf-8?q?x?=", " ", "\t", "  \t ",
					      "\r\n ", "\r\n\t", "\r\n", "\n", "\r", ":", ";",
					      "Mixed Case" };
	size_t len = 0, want = rng_below(rng, 12) == 0 ? rng_below(rng, cap) : rng_below(rng, 200);
	const char *name = names[rng_below(rng, sizeof(names) / sizeof(names[0]))];

	for (size_t k = 0; name[k] != '\0' && len < cap; k++)
		p[len++] = (uint8_t)name[k];
	if (rng_below(rng, 10) != 0 && len < cap)
		p[len++] = ':';
	while (len < want) {
		const char *s = pieces[rng_below(rng, sizeof(pieces) / sizeof(pieces[0]))];

		for (size_t k = 0; s[k] != '\0' && len < want; k++)
			p[len++] = (uint8_t)s[k];
	}
	return len;
}

/* Every relaxed header kernel against the engine's scalar function. */
static void header_relaxed_matches_scalar(void **state)
{
	const struct sl_canon_kernels *ks[SL_SIMD_COUNT + 1];
	size_t nk = kernels_under_test(ks);
	struct test_rng rng;
	uint8_t field[1200];

	(void)state;
	rng_seed(&rng, 17);
	for (int round = 0; round < 3000; round++) {
		size_t len = random_field(&rng, field, sizeof(field));
		int crlf = round & 1;
		struct sl_sink want;

		sl_sink_init(&want, NULL);
		sl_canon_header_relaxed_scalar(&want, field, len, crlf);
		assert_int_equal(sl_sink_flush(&want), 0);
		for (size_t ki = 0; ki < nk; ki++) {
			struct sl_sink got;

			sl_sink_init(&got, NULL);
			ks[ki]->header_relaxed(&got, field, len, crlf);
			assert_int_equal(sl_sink_flush(&got), 0);
			if (got.mem_len != want.mem_len ||
			    (got.mem_len > 0 && memcmp(got.mem, want.mem, got.mem_len) != 0))
				fail_msg("%s header: field of %zu bytes gives %zu bytes, scalar %zu (round %d)",
					 ks[ki]->name, len, got.mem_len, want.mem_len, round);
			sl_sink_free(&got);
		}
		sl_sink_free(&want);
	}
	for (size_t ki = 0; ki < nk; ki++)
		print_message("canon kernel %s: relaxed header fields match the scalar code\n",
			      ks[ki]->name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_inputs_random_chunks),
		cmocka_unit_test(every_split_short_input),
		cmocka_unit_test(every_alignment),
		cmocka_unit_test(adversarial_runs),
		cmocka_unit_test(one_mib_inputs),
		cmocka_unit_test(python_email_corpus),
		cmocka_unit_test(engine_tables_match_scalar),
		cmocka_unit_test(header_relaxed_matches_scalar),
		cmocka_unit_test(body_hash_same_on_every_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
