/*
 * tests/unit/test_sluice_bench.c - sluice-bench's argument parsing,
 * report writers (JSON, Markdown, SVG), estimate, schema checks and
 * comparison, on reports built in the test (no measurement runs here).
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bench/sluice-bench/bench.h"

/* ---- helpers ---- */

static json_t *algorithm(const char *name, double scale)
{
	return json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "algorithm", name,
			 "sign_per_s_core", 1000.0 * scale, "sign_per_s_all", 1800.0 * scale,
			 "verify_per_s_core", 30000.0 * scale, "verify_per_s_all", 55000.0 * scale,
			 "dkim_per_s_core", 900.0 * scale, "dkim_batch_per_s_core", 950.0 * scale);
}

/* A complete report; scale multiplies every rate. */
static json_t *make_report(double scale, bool with_e2e)
{
	json_t *r = json_pack(
		"{s:s, s:i, s:s, s:s, s:{s:f, s:b}, "
		"s:{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s, s:s, s:[s,s]}}",
		"schema", SL_BENCH_SCHEMA, "schema_version", SL_BENCH_SCHEMA_VERSION,
		"label", "test<&>machine", "created", "2026-12-04T00:00:00Z",
		"options", "seconds", 1.0, "quick", 0,
		"machine", "cpu_model", "Test CPU", "product", "t1.test", "hostname", "h",
		"architecture", "x86_64", "cores", 2, "cpus_usable", 2,
		"memory_bytes", (json_int_t)8 << 30, "kernel", "6.1", "openssl", "OpenSSL 3.0",
		"simd_path", "avx2", "simd_features", "avx2", "sha_ni");
	json_t *algs = json_array();

	json_array_append_new(algs, algorithm("rsa2048", scale));
	json_array_append_new(algs, algorithm("ed25519", 10 * scale));
	json_object_set_new(r, "signing", json_pack("{s:i, s:i, s:i, s:o}", "threads_all", 2,
						    "dkim_message_bytes", 20480, "dkim_batch", 16,
						    "algorithms", algs));
	json_object_set_new(r, "sha256", json_pack("{s:i, s:[{s:s, s:i, s:i, s:f}, {s:s, s:i, s:i, s:f}]}",
						   "buffer_bytes", 20480, "paths",
						   "path", "openssl", "streams", 1, "lanes", 1,
						   "mb_per_s", 1500.0 * scale,
						   "path", "avx2", "streams", 16, "lanes", 8,
						   "mb_per_s", 3000.0 * scale));
	json_object_set_new(r, "spool", json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f}",
						  "path", "/var/tmp", "filesystem", "ext4",
						  "message_bytes", 20000, "in_flight", 64,
						  "appends_per_s", 5000.0 * scale,
						  "flushes_per_s", 200.0 * scale,
						  "mb_per_s", 100.0 * scale, "flush_p50_us", 900.0,
						  "flush_p99_us", 4000.0));
	if (with_e2e)
		json_object_set_new(r, "e2e", json_pack(
			"{s:s, s:i, s:s, s:[{s:i, s:i, s:i, s:f, s:f, s:f, s:i}]}",
			"status", "ok", "message_bytes", 20000, "signatures", "rsa2048",
			"runs", "workers", 1, "sessions", 20, "messages", 300, "seconds", 1.0,
			"messages_per_s", 300.0 * scale, "sluiced_cpu_ms_per_message", 0.5,
			"delivered", 300));
	else
		json_object_set_new(r, "e2e", json_pack("{s:s, s:s}", "status", "skipped",
							"reason", "--no-e2e was given"));
	sl_bench_add_estimate(r, 0.5);
	return r;
}

static char *render(int (*fn)(json_t *, FILE *), json_t *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(r, f), 0);
	fclose(f);
	return buf;
}

static char *render_compare(json_t *const *reports, const char *const *names, unsigned n,
			    bool svg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (svg)
		assert_int_equal(sl_bench_compare_svg(reports, names, n, f), 0);
	else
		assert_int_equal(sl_bench_compare_markdown(reports, names, n, f), 0);
	fclose(f);
	return buf;
}

static unsigned count(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- argument parsing ---- */

static int parse(const char *const *args, struct sl_bench_options *opt, char *err)
{
	char *argv[32];
	int argc = 0;
	FILE *devnull = fopen("/dev/null", "w");
	int rc;

	argv[argc++] = "run";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = '\0';
	rc = sl_bench_parse_run(argc, argv, opt, devnull, err, SL_BENCH_ERR_MAX);
	fclose(devnull);
	return rc;
}

static void args_defaults(void **state)
{
	const char *args[] = { NULL };
	struct sl_bench_options opt;
	char err[SL_BENCH_ERR_MAX];

	(void)state;
	assert_int_equal(parse(args, &opt, err), 0);
	assert_string_equal(opt.out_dir, "sluice-bench-report");
	assert_string_equal(opt.spool_path, "/var/tmp");
	assert_true(opt.price < 0);
	assert_true(opt.seconds == 2.0);
	assert_int_equal(opt.messages, 3000);
	assert_int_equal(opt.message_bytes, 20000);
	assert_int_equal(opt.worker_count, 0);
	assert_false(opt.quick);
}

static void args_quick_and_values(void **state)
{
	const char *args[] = { "--quick", "--out", "o", "--price=0.34", "--spool-path", "/tmp",
			       "--workers", "1,2,4", "--messages", "50", "--label", "c6g.large",
			       "--no-e2e", NULL };
	struct sl_bench_options opt;
	char err[SL_BENCH_ERR_MAX];

	(void)state;
	assert_int_equal(parse(args, &opt, err), 0);
	assert_true(opt.quick);
	assert_true(opt.seconds == 0.3);
	assert_string_equal(opt.out_dir, "o");
	assert_true(opt.price > 0.3399 && opt.price < 0.3401);
	assert_string_equal(opt.spool_path, "/tmp");
	assert_int_equal(opt.worker_count, 3);
	assert_int_equal(opt.workers[0], 1);
	assert_int_equal(opt.workers[2], 4);
	assert_int_equal(opt.messages, 50);
	assert_string_equal(opt.label, "c6g.large");
	assert_true(opt.skip_e2e);
}

static void args_help(void **state)
{
	const char *args[] = { "--seconds", "1", "--help", NULL };
	struct sl_bench_options opt;
	char err[SL_BENCH_ERR_MAX];

	(void)state;
	assert_int_equal(parse(args, &opt, err), 1);
}

static void args_rejected(void **state)
{
	static const struct {
		const char *args[4];
		const char *expect;
	} cases[] = {
		{ { "--price", "-1", NULL }, "invalid --price '-1'" },
		{ { "--price", "abc", NULL }, "invalid --price 'abc'" },
		{ { "--price", "nan", NULL }, "invalid --price 'nan'" },
		{ { "--seconds", "0", NULL }, "invalid --seconds '0'" },
		{ { "--seconds", "1s", NULL }, "invalid --seconds '1s'" },
		{ { "--workers", "0", NULL }, "invalid --workers '0'" },
		{ { "--workers", "1,,2", NULL }, "invalid --workers '1,,2'" },
		{ { "--workers", "2,", NULL }, "invalid --workers '2,'" },
		{ { "--workers", "x", NULL }, "invalid --workers 'x'" },
		{ { "--workers", "257", NULL }, "invalid --workers '257'" },
		{ { "--messages", "-5", NULL }, "invalid --messages '-5'" },
		{ { "--message-size", "10", NULL }, "invalid --message-size '10'" },
		{ { "--label", "", NULL }, "invalid --label ''" },
		{ { "--out", "", NULL }, "invalid --out ''" },
		{ { "--bogus", NULL }, "unknown option '--bogus'" },
		{ { "--price", NULL }, "missing value for --price" },
		{ { "--quick=1", NULL }, "option --quick takes no value" },
		{ { "extra", NULL }, "unexpected argument 'extra'" },
	};
	struct sl_bench_options opt;
	char err[SL_BENCH_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].args, &opt, err), -EINVAL);
		if (!strstr(err, cases[i].expect))
			fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].expect, err);
	}
}

/* ---- look-ups and estimate ---- */

static void get_paths(void **state)
{
	json_t *r = make_report(1, true);

	(void)state;
	assert_true(sl_bench_number(r, "signing.algorithms[algorithm=ed25519].sign_per_s_core") ==
		    10000.0);
	assert_true(sl_bench_number(r, "e2e.runs[workers=1].messages_per_s") == 300.0);
	assert_true(sl_bench_number(r, "e2e.runs[workers=2].messages_per_s") < 0);
	assert_true(sl_bench_number(r, "machine.cpu_model") < 0);
	assert_null(sl_bench_get(r, "signing.algorithms[algorithm=rsa2048"));
	assert_null(sl_bench_get(r, "nothing.here"));
	json_decref(r);
}

static void estimate_bounds(void **state)
{
	json_t *with = make_report(1, true);
	json_t *without = make_report(1, false);

	(void)state;
	/* Signing: 900 msg/s per core times 1800/1000 = 1620/s = 5,832,000/h.
	 * End to end: 300/s = 1,080,000/h, the lower one. */
	assert_string_equal(json_string_value(sl_bench_get(with, "estimate.bound_by")), "end-to-end");
	assert_true(sl_bench_number(with, "estimate.messages_per_hour") == 1080000.0);
	assert_true(sl_bench_number(with, "estimate.signing_messages_per_hour") == 5832000.0);
	/* 0.5 USD/h / 1.08 million per hour */
	assert_true(sl_bench_number(with, "estimate.usd_per_million") > 0.46296 &&
		    sl_bench_number(with, "estimate.usd_per_million") < 0.46297);

	assert_string_equal(json_string_value(sl_bench_get(without, "estimate.bound_by")), "signing");
	assert_true(sl_bench_number(without, "estimate.messages_per_hour") == 5832000.0);
	assert_true(json_is_null(sl_bench_get(without, "estimate.e2e_messages_per_hour")));

	sl_bench_add_estimate(without, -1);
	assert_true(json_is_null(sl_bench_get(without, "estimate.usd_per_million")));
	assert_true(json_is_null(sl_bench_get(without, "estimate.price_usd_per_hour")));
	json_decref(with);
	json_decref(without);
}

/* ---- writers ---- */

static void markdown_tables(void **state)
{
	json_t *r = make_report(1, true);
	char *md = render(sl_bench_write_markdown, r);

	(void)state;
	assert_non_null(strstr(md, "# sluice-bench report: test<&>machine\n"));
	assert_non_null(strstr(md, "| CPU | Test CPU |\n"));
	assert_non_null(strstr(md, "| SIMD path | avx2 (features: avx2 sha_ni) |\n"));
	assert_non_null(strstr(md, "| rsa2048 | 1000 | 1800 | 30000 | 55000 | 900 | 950 | 0.95 |\n"));
	assert_non_null(strstr(md, "| ed25519 | 10000 | 18000 | 300000 | 550000 | 9000 | 9500 | 0.95 |\n"));
	assert_non_null(strstr(md, "| avx2 | 16 | 8 | 3000 | 2.00 |\n"));
	assert_non_null(strstr(md, "| /var/tmp | ext4 | 5000 | 200 | 100.0 | 900 | 4000 |\n"));
	assert_non_null(strstr(md, "| 1 | 20 | 300 | 1.00 | 300 | 0.500 | 300 |\n"));
	assert_non_null(strstr(md, "| 1080000 | end-to-end | 5832000 | 1080000 | 0.5000 | 0.4630 |\n"));
	free(md);
	json_decref(r);
}

static void markdown_skipped_e2e(void **state)
{
	json_t *r = make_report(1, false);
	char *md;

	(void)state;
	sl_bench_add_estimate(r, -1);
	md = render(sl_bench_write_markdown, r);
	assert_non_null(strstr(md, "Not measured (skipped): --no-e2e was given\n"));
	assert_non_null(strstr(md, "| 5832000 | signing | 5832000 | - | - | - (give --price) |\n"));
	free(md);
	json_decref(r);
}

static void svg_chart(void **state)
{
	json_t *r = make_report(1, true);
	json_t *reports[1] = { r };
	const char *names[1] = { "a&b" };
	char *svg = render_compare(reports, names, 1, true);
	size_t len = strlen(svg);

	(void)state;
	assert_true(strncmp(svg, "<?xml version=\"1.0\"", 19) == 0);
	assert_string_equal(svg + len - 7, "</svg>\n");
	assert_non_null(strstr(svg, ">a&amp;b</text>"));
	assert_null(strstr(svg, "a&b"));
	/* Background, one legend box and one bar per value: 2 sign, 2 DKIM,
	 * 2 batch, 2 SHA-256, 2 spool, 1 e2e, 1 hourly, 1 cost. */
	assert_int_equal(count(svg, "<rect"), 2 + 13);
	assert_int_equal(count(svg, "<text"), count(svg, "</text>"));
	free(svg);
	json_decref(r);
}

static void svg_escape(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(sl_svg_escape("<a href=\"x\">&'</a>", buf, sizeof(buf)),
			    "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
	assert_string_equal(sl_svg_escape("tab\tctl\x01", buf, sizeof(buf)), "tab\tctl");
	/* Truncated before an entity that would not fit, never inside one. */
	assert_string_equal(sl_svg_escape("&&&&&&&&&&", buf, 16), "&amp;&amp;");
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void outputs_round_trip(void **state)
{
	char dir[] = "/tmp/test_sluice_bench.XXXXXX";
	char path[128], err[SL_BENCH_ERR_MAX];
	json_t *r = make_report(1, true);
	json_t *loaded;
	char *a, *b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sl_bench_write_outputs(r, dir, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/report.json", dir);
	loaded = sl_bench_load_report(path, err, sizeof(err));
	assert_non_null(loaded);
	/* The file keeps 10 significant digits of each real. */
	a = json_dumps(r, JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	b = json_dumps(loaded, JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	assert_string_equal(a, b);
	free(a);
	free(b);
	snprintf(path, sizeof(path), "%s/report.md", dir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/report.svg", dir);
	assert_int_equal(access(path, R_OK), 0);

	snprintf(path, sizeof(path), "%s/report.json/sub", dir);
	assert_true(sl_bench_write_outputs(r, path, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "report.json/sub"));
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	json_decref(loaded);
	json_decref(r);
}

/* ---- schema checks ---- */

static void expect_invalid(json_t *r, const char *expect)
{
	char err[SL_BENCH_ERR_MAX];

	assert_int_equal(sl_bench_validate(r, "b.json", err, sizeof(err)), -EINVAL);
	if (!strstr(err, expect))
		fail_msg("expected '%s' in '%s'", expect, err);
	json_decref(r);
}

static void validate_cases(void **state)
{
	char err[SL_BENCH_ERR_MAX];
	json_t *r = make_report(1, true);

	(void)state;
	assert_int_equal(sl_bench_validate(r, "a.json", err, sizeof(err)), 0);
	json_decref(r);
	r = make_report(1, false);
	assert_int_equal(sl_bench_validate(r, "a.json", err, sizeof(err)), 0);
	json_decref(r);

	r = make_report(1, true);
	json_object_set_new(r, "schema_version", json_integer(2));
	expect_invalid(r, "b.json: field 'schema_version' must be 1");

	r = make_report(1, true);
	json_object_set_new(r, "schema", json_string("other"));
	expect_invalid(r, "b.json: field 'schema' must be \"sluice-bench-report\"");

	r = make_report(1, true);
	json_object_del(json_array_get(sl_bench_get(r, "signing.algorithms"), 1), "dkim_per_s_core");
	expect_invalid(r, "b.json: field 'signing.algorithms[1].dkim_per_s_core' is missing");

	r = make_report(1, true);
	json_object_set_new(json_object_get(r, "spool"), "mb_per_s", json_string("fast"));
	expect_invalid(r, "b.json: field 'spool.mb_per_s' must be a number >= 0");

	r = make_report(1, true);
	json_object_set_new(json_object_get(r, "machine"), "cores", json_real(2.5));
	expect_invalid(r, "b.json: field 'machine.cores' must be an integer");

	r = make_report(1, true);
	json_object_del(r, "estimate");
	expect_invalid(r, "b.json: field 'estimate' is missing");

	r = make_report(1, true);
	json_array_clear(sl_bench_get(r, "sha256.paths"));
	expect_invalid(r, "b.json: field 'sha256.paths' must not be empty");

	r = make_report(1, true);
	json_object_del(json_object_get(r, "e2e"), "runs");
	expect_invalid(r, "b.json: field 'e2e.runs' must be an array");

	r = make_report(1, true);
	json_object_set_new(json_object_get(r, "e2e"), "status", json_string("maybe"));
	expect_invalid(r, "b.json: field 'e2e.status' must be \"ok\", \"skipped\" or \"failed\"");

	expect_invalid(json_array(), "b.json: the report must be a JSON object");
}

static void load_bad_files(void **state)
{
	char path[] = "/tmp/test_sluice_bench_bad.XXXXXX";
	char err[SL_BENCH_ERR_MAX];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"schema\": ", 11), 11);
	close(fd);
	assert_null(sl_bench_load_report(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a readable JSON file"));
	unlink(path);

	assert_null(sl_bench_load_report("/nonexistent/report.json", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/report.json: not a readable JSON file"));
}

/* ---- compare ---- */

static void compare_same_report(void **state)
{
	json_t *r = make_report(1, true);
	json_t *reports[2] = { r, r };
	const char *names[2] = { "a.json", "b.json" };
	char *md = render_compare(reports, names, 2, false);
	unsigned rows = count(md, "\n| OpenSSL") + count(md, "\n| sluice") + count(md, "\n| SHA") +
			count(md, "\n| spool") + count(md, "\n| end-to-end") +
			count(md, "\n| estimated") + count(md, "\n| USD");

	(void)state;
	assert_non_null(strstr(md, "| metric | a.json | b.json |\n"));
	assert_non_null(strstr(md, "| seconds per measurement | 1 | 1 |\n"));
	assert_non_null(strstr(md, "| OpenSSL signs/s per core: rsa2048 | 1000 (1.00) | 1000 (1.00) |\n"));
	assert_non_null(strstr(md, "| USD per million messages: estimate | 0.463 (1.00) | 0.463 (1.00) |\n"));
	/* 12 signing rows, 2 SHA-256, 3 spool, 1 e2e, hourly and cost. */
	assert_int_equal(rows, 20);
	assert_int_equal(count(md, "(1.00)"), 2 * rows);
	free(md);
	json_decref(r);
}

static void compare_ratios_and_gaps(void **state)
{
	json_t *a = make_report(1, true);
	json_t *b = make_report(2, false);
	json_t *reports[2] = { a, b };
	const char *names[2] = { "x86.json", "arm.json" };
	char *md;

	(void)state;
	json_array_append_new(sl_bench_get(b, "sha256.paths"),
			      json_pack("{s:s, s:i, s:i, s:f}", "path", "neon", "streams", 16,
					"lanes", 4, "mb_per_s", 800.0));
	md = render_compare(reports, names, 2, false);
	assert_non_null(strstr(md, "| OpenSSL signs/s per core: rsa2048 | 1000 (1.00) | 2000 (2.00) |\n"));
	assert_non_null(strstr(md, "| SHA-256 MB/s per core: avx2 | 3000 (1.00) | 6000 (2.00) |\n"));
	assert_non_null(strstr(md, "| SHA-256 MB/s per core: neon | - | 800 |\n"));
	assert_non_null(strstr(md, "| end-to-end messages/s: workers=1 | 300 (1.00) | - |\n"));
	/* a: 1.08 M/h bound by e2e; b: signing 11.664 M/h: ratio 10.80 */
	assert_non_null(strstr(md, "| estimated messages/hour: estimate | 1080000 (1.00) | 11664000 (10.80) |\n"));
	assert_non_null(strstr(md, "| bound by | end-to-end | signing |\n"));
	free(md);
	json_decref(a);
	json_decref(b);
}

static void compare_command_errors(void **state)
{
	char *none[] = { "compare", NULL };
	char *unknown[] = { "compare", "--bogus", NULL };
	char *missing[] = { "compare", "/nonexistent/a.json", NULL };
	char *svg_missing[] = { "compare", "a.json", "--svg", NULL };
	FILE *saved = stderr;

	(void)state;
	stderr = fopen("/dev/null", "w");
	assert_int_equal(sl_bench_compare_main(1, none), SL_BENCH_EXIT_USAGE);
	assert_int_equal(sl_bench_compare_main(2, unknown), SL_BENCH_EXIT_USAGE);
	assert_int_equal(sl_bench_compare_main(2, missing), SL_BENCH_EXIT_BAD_REPORT);
	assert_int_equal(sl_bench_compare_main(3, svg_missing), SL_BENCH_EXIT_USAGE);
	fclose(stderr);
	stderr = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(args_defaults),
		cmocka_unit_test(args_quick_and_values),
		cmocka_unit_test(args_help),
		cmocka_unit_test(args_rejected),
		cmocka_unit_test(get_paths),
		cmocka_unit_test(estimate_bounds),
		cmocka_unit_test(markdown_tables),
		cmocka_unit_test(markdown_skipped_e2e),
		cmocka_unit_test(svg_chart),
		cmocka_unit_test(svg_escape),
		cmocka_unit_test(outputs_round_trip),
		cmocka_unit_test(validate_cases),
		cmocka_unit_test(load_bad_files),
		cmocka_unit_test(compare_same_report),
		cmocka_unit_test(compare_ratios_and_gaps),
		cmocka_unit_test(compare_command_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
