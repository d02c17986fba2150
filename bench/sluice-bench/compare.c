/*
 * bench/sluice-bench/compare.c - "sluice-bench compare": reports of
 * several machines side by side.
 *
 * Every report is checked against schema version SL_BENCH_SCHEMA_VERSION
 * first. The first problem found is reported with the file name and the
 * field path ("b.json: field 'signing.algorithms[1].sign_per_s_core' is
 * missing"). The table has one row per metric and one column per report,
 * with the ratio of each value to the first report's value. For USD per
 * million messages a ratio below 1.00 means cheaper.
 */
#include <errno.h>
#include <string.h>

#include "bench/sluice-bench/bench.h"
#include "bench/sluice-bench/metrics.h"

#define MAX_REPORTS SL_SVG_MAX_SERIES

enum kind { K_STRING, K_INTEGER, K_NUMBER, K_OBJECT, K_ARRAY, K_NUMBER_OR_NULL };

struct field {
	const char *name;
	enum kind kind;
};

static const struct field top_fields[] = {
	{ "schema", K_STRING },  { "schema_version", K_INTEGER }, { "label", K_STRING },
	{ "created", K_STRING }, { "options", K_OBJECT },         { "machine", K_OBJECT },
	{ "signing", K_OBJECT }, { "sha256", K_OBJECT },          { "spool", K_OBJECT },
	{ "e2e", K_OBJECT },     { "estimate", K_OBJECT },        { NULL, 0 },
};
static const struct field machine_fields[] = {
	{ "cpu_model", K_STRING }, { "architecture", K_STRING }, { "cores", K_INTEGER },
	{ "kernel", K_STRING },    { "openssl", K_STRING },      { NULL, 0 },
};
static const struct field signing_fields[] = {
	{ "algorithms", K_ARRAY }, { NULL, 0 },
};
static const struct field algorithm_fields[] = {
	{ "algorithm", K_STRING },        { "sign_per_s_core", K_NUMBER },
	{ "sign_per_s_all", K_NUMBER },   { "verify_per_s_core", K_NUMBER },
	{ "verify_per_s_all", K_NUMBER }, { "dkim_per_s_core", K_NUMBER },
	{ "dkim_batch_per_s_core", K_NUMBER }, { NULL, 0 },
};
static const struct field sha_fields[] = {
	{ "paths", K_ARRAY }, { NULL, 0 },
};
static const struct field sha_path_fields[] = {
	{ "path", K_STRING }, { "streams", K_INTEGER }, { "mb_per_s", K_NUMBER }, { NULL, 0 },
};
static const struct field spool_fields[] = {
	{ "path", K_STRING },          { "appends_per_s", K_NUMBER }, { "flushes_per_s", K_NUMBER },
	{ "mb_per_s", K_NUMBER },      { NULL, 0 },
};
static const struct field e2e_fields[] = {
	{ "status", K_STRING }, { NULL, 0 },
};
static const struct field e2e_run_fields[] = {
	{ "workers", K_INTEGER }, { "messages", K_INTEGER }, { "messages_per_s", K_NUMBER },
	{ NULL, 0 },
};
static const struct field estimate_fields[] = {
	{ "messages_per_hour", K_NUMBER }, { "bound_by", K_STRING },
	{ "price_usd_per_hour", K_NUMBER_OR_NULL }, { "usd_per_million", K_NUMBER_OR_NULL },
	{ NULL, 0 },
};

static const char *const kind_names[] = {
	[K_STRING] = "a string",   [K_INTEGER] = "an integer", [K_NUMBER] = "a number >= 0",
	[K_OBJECT] = "an object",  [K_ARRAY] = "an array",     [K_NUMBER_OR_NULL] = "a number or null",
};

static bool kind_ok(json_t *v, enum kind k)
{
	switch (k) {
	case K_STRING: return json_is_string(v);
	case K_INTEGER: return json_is_integer(v);
	case K_NUMBER: return json_is_number(v) && json_number_value(v) >= 0;
	case K_OBJECT: return json_is_object(v);
	case K_ARRAY: return json_is_array(v);
	case K_NUMBER_OR_NULL: return json_is_null(v) || json_is_number(v);
	}
	return false;
}

/* Check the fields of obj; prefix is its path ("" for the top). */
static int check_fields(json_t *obj, const char *prefix, const struct field *fields,
			const char *name, char *err, size_t errlen)
{
	for (const struct field *f = fields; f->name; f++) {
		json_t *v = json_object_get(obj, f->name);

		if (!v) {
			snprintf(err, errlen, "%s: field '%s%s' is missing", name, prefix, f->name);
			return -EINVAL;
		}
		if (!kind_ok(v, f->kind)) {
			snprintf(err, errlen, "%s: field '%s%s' must be %s", name, prefix, f->name,
				 kind_names[f->kind]);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_array(json_t *report, const char *array, const struct field *fields,
		       bool nonempty, const char *name, char *err, size_t errlen)
{
	json_t *list = sl_bench_get(report, array);
	json_t *item;
	size_t i;
	char prefix[200];

	if (nonempty && json_array_size(list) == 0) {
		snprintf(err, errlen, "%s: field '%s' must not be empty", name, array);
		return -EINVAL;
	}
	json_array_foreach(list, i, item) {
		snprintf(prefix, sizeof(prefix), "%s[%zu].", array, i);
		if (!json_is_object(item)) {
			snprintf(err, errlen, "%s: field '%s[%zu]' must be an object", name, array, i);
			return -EINVAL;
		}
		if (check_fields(item, prefix, fields, name, err, errlen))
			return -EINVAL;
	}
	return 0;
}

int sl_bench_validate(json_t *r, const char *name, char *err, size_t errlen)
{
	json_t *schema = json_object_get(r, "schema");
	json_t *version = json_object_get(r, "schema_version");
	const char *status;

	if (!json_is_object(r)) {
		snprintf(err, errlen, "%s: the report must be a JSON object", name);
		return -EINVAL;
	}
	if (!json_is_string(schema) || strcmp(json_string_value(schema), SL_BENCH_SCHEMA) != 0) {
		snprintf(err, errlen, "%s: field 'schema' must be \"%s\"; is this a sluice-bench "
			 "report.json?", name, SL_BENCH_SCHEMA);
		return -EINVAL;
	}
	if (!json_is_integer(version) || json_integer_value(version) != SL_BENCH_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: field 'schema_version' must be %d, the version this "
			 "sluice-bench reads; measure again with this version", name,
			 SL_BENCH_SCHEMA_VERSION);
		return -EINVAL;
	}
	if (check_fields(r, "", top_fields, name, err, errlen) ||
	    check_fields(json_object_get(r, "machine"), "machine.", machine_fields, name, err,
			 errlen) ||
	    check_fields(json_object_get(r, "signing"), "signing.", signing_fields, name, err,
			 errlen) ||
	    check_array(r, "signing.algorithms", algorithm_fields, true, name, err, errlen) ||
	    check_fields(json_object_get(r, "sha256"), "sha256.", sha_fields, name, err, errlen) ||
	    check_array(r, "sha256.paths", sha_path_fields, true, name, err, errlen) ||
	    check_fields(json_object_get(r, "spool"), "spool.", spool_fields, name, err, errlen) ||
	    check_fields(json_object_get(r, "e2e"), "e2e.", e2e_fields, name, err, errlen) ||
	    check_fields(json_object_get(r, "estimate"), "estimate.", estimate_fields, name, err,
			 errlen))
		return -EINVAL;

	status = json_string_value(json_object_get(json_object_get(r, "e2e"), "status"));
	if (strcmp(status, "ok") == 0) {
		if (!json_is_array(sl_bench_get(r, "e2e.runs"))) {
			snprintf(err, errlen, "%s: field 'e2e.runs' must be an array when e2e.status "
				 "is \"ok\"", name);
			return -EINVAL;
		}
		return check_array(r, "e2e.runs", e2e_run_fields, true, name, err, errlen);
	}
	if (strcmp(status, "skipped") != 0 && strcmp(status, "failed") != 0) {
		snprintf(err, errlen, "%s: field 'e2e.status' must be \"ok\", \"skipped\" or "
			 "\"failed\", got \"%s\"", name, status);
		return -EINVAL;
	}
	return 0;
}

json_t *sl_bench_load_report(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *r = json_load_file(path, 0, &je);

	if (!r) {
		snprintf(err, errlen, "%s: not a readable JSON file: %s (line %d)", path, je.text,
			 je.line);
		return NULL;
	}
	if (sl_bench_validate(r, path, err, errlen) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* ---- the table ---- */

static void print_value(FILE *out, double v, double base)
{
	if (v < 0) {
		fprintf(out, " - |");
		return;
	}
	fprintf(out, v >= 100 ? " %.0f" : " %.4g", v);
	if (base > 0)
		fprintf(out, " (%.2f) |", v / base);
	else
		fprintf(out, " |");
}

static void print_text_row(FILE *out, const char *label, json_t *const *reports, unsigned n,
			   const char *path)
{
	fprintf(out, "| %s |", label);
	for (unsigned r = 0; r < n; r++) {
		json_t *v = sl_bench_get(reports[r], path);

		if (json_is_string(v))
			fprintf(out, " %s |", json_string_value(v));
		else if (json_is_number(v))
			fprintf(out, " %g |", json_number_value(v));
		else
			fprintf(out, " - |");
	}
	fprintf(out, "\n");
}

int sl_bench_compare_markdown(json_t *const *reports, const char *const *names, unsigned n,
			      FILE *out)
{
	static struct sl_metric metrics[SL_METRIC_MAX];
	unsigned count = sl_bench_metrics(reports, n, metrics, SL_METRIC_MAX);

	fprintf(out, "# sluice-bench comparison\n\nValues with their ratio to the first "
		"report in brackets. For USD per million messages, a ratio below 1.00 is "
		"cheaper.\n\n| metric |");
	for (unsigned r = 0; r < n; r++)
		fprintf(out, " %s |", names[r]);
	fprintf(out, "\n| --- |");
	for (unsigned r = 0; r < n; r++)
		fprintf(out, " ---: |");
	fprintf(out, "\n");
	print_text_row(out, "label", reports, n, "label");
	print_text_row(out, "measured", reports, n, "created");
	print_text_row(out, "seconds per measurement", reports, n, "options.seconds");
	print_text_row(out, "CPU", reports, n, "machine.cpu_model");
	print_text_row(out, "architecture", reports, n, "machine.architecture");
	print_text_row(out, "CPUs", reports, n, "machine.cores");
	print_text_row(out, "price USD/hour", reports, n, "estimate.price_usd_per_hour");
	print_text_row(out, "bound by", reports, n, "estimate.bound_by");
	for (unsigned i = 0; i < count; i++) {
		double base = sl_bench_number(reports[0], metrics[i].path);

		fprintf(out, "| %s: %s |", sl_bench_metric_group_title(metrics[i].group),
			metrics[i].label);
		for (unsigned r = 0; r < n; r++)
			print_value(out, sl_bench_number(reports[r], metrics[i].path), base);
		fprintf(out, "\n");
	}
	return ferror(out) ? -EIO : 0;
}

int sl_bench_compare_svg(json_t *const *reports, const char *const *names, unsigned n,
			 FILE *out)
{
	return sl_bench_metrics_svg(reports, names, n, out);
}

/* ---- the command ---- */

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sluice-bench compare: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return SL_BENCH_EXIT_USAGE;
}

int sl_bench_compare_main(int argc, char **argv)
{
	json_t *reports[MAX_REPORTS];
	const char *names[MAX_REPORTS];
	const char *svg = NULL;
	char err[SL_BENCH_ERR_MAX];
	unsigned n = 0;
	int rc = SL_BENCH_EXIT_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			sl_bench_usage(stdout);
			return SL_BENCH_EXIT_OK;
		}
		if (strcmp(argv[i], "--svg") == 0) {
			if (i + 1 >= argc)
				return usage_error("missing file name after --svg%s", "");
			svg = argv[++i];
		} else if (strncmp(argv[i], "--", 2) == 0) {
			return usage_error("unknown option '%s': see sluice-bench --help", argv[i]);
		} else if (n == MAX_REPORTS) {
			return usage_error("too many reports (at most 8), starting with '%s'", argv[i]);
		} else {
			names[n++] = argv[i];
		}
	}
	if (n < 1)
		return usage_error("give at least one report.json%s", "");

	for (unsigned i = 0; i < n; i++) {
		reports[i] = sl_bench_load_report(names[i], err, sizeof(err));
		if (!reports[i]) {
			fprintf(stderr, "sluice-bench compare: %s\n", err);
			while (i-- > 0)
				json_decref(reports[i]);
			return SL_BENCH_EXIT_BAD_REPORT;
		}
	}
	if (sl_bench_compare_markdown(reports, names, n, stdout) < 0)
		rc = SL_BENCH_EXIT_FAILED;
	if (svg) {
		char legend[MAX_REPORTS][300];
		const char *legend_names[MAX_REPORTS];
		FILE *f = fopen(svg, "w");
		int written;

		/* The legend shows each report's label with its file. */
		for (unsigned i = 0; i < n; i++) {
			snprintf(legend[i], sizeof(legend[i]), "%.100s (%.180s)",
				 json_string_value(json_object_get(reports[i], "label")), names[i]);
			legend_names[i] = legend[i];
		}
		written = f ? sl_bench_compare_svg(reports, legend_names, n, f) : -errno;

		if (f && fclose(f) != 0)
			written = -errno;
		if (written < 0) {
			fprintf(stderr, "sluice-bench compare: cannot write --svg '%s': %s\n", svg,
				strerror(-written));
			rc = SL_BENCH_EXIT_FAILED;
		}
	}
	for (unsigned i = 0; i < n; i++)
		json_decref(reports[i]);
	return rc;
}
