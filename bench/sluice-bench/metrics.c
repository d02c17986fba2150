/*
 * bench/sluice-bench/metrics.c - rows of numbers across reports; the
 * contract is in metrics.h.
 */
#include <errno.h>
#include <string.h>

#include "bench/sluice-bench/bench.h"
#include "bench/sluice-bench/metrics.h"

static const char *const group_titles[SL_METRIC_GROUPS] = {
	[SL_METRIC_SIGN_CORE] = "OpenSSL signs/s per core",
	[SL_METRIC_SIGN_ALL] = "OpenSSL signs/s all CPUs",
	[SL_METRIC_VERIFY_CORE] = "OpenSSL verifies/s per core",
	[SL_METRIC_VERIFY_ALL] = "OpenSSL verifies/s all CPUs",
	[SL_METRIC_DKIM_CORE] = "sluice DKIM messages/s per core",
	[SL_METRIC_DKIM_BATCH] = "sluice DKIM batch messages/s per core",
	[SL_METRIC_SHA] = "SHA-256 MB/s per core",
	[SL_METRIC_SPOOL] = "spool operations/s",
	[SL_METRIC_SPOOL_MB] = "spool MB/s",
	[SL_METRIC_E2E] = "end-to-end messages/s",
	[SL_METRIC_HOURLY] = "estimated messages/hour",
	[SL_METRIC_COST] = "USD per million messages",
};

const char *sl_bench_metric_group_title(enum sl_metric_group group)
{
	return group < SL_METRIC_GROUPS ? group_titles[group] : "?";
}

struct builder {
	struct sl_metric *m;
	unsigned n, max;
};

static void add(struct builder *b, enum sl_metric_group g, const char *label, const char *path)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->m[i].group == g && strcmp(b->m[i].path, path) == 0)
			return;
	if (b->n == b->max)
		return;
	b->m[b->n].group = g;
	snprintf(b->m[b->n].label, sizeof(b->m[b->n].label), "%s", label);
	snprintf(b->m[b->n].path, sizeof(b->m[b->n].path), "%s", path);
	b->n++;
}

/* One row per distinct key of array (in first-seen order) for each field. */
static void add_keyed(struct builder *b, json_t *const *reports, unsigned n, const char *array,
		      const char *key, const char *field, enum sl_metric_group g,
		      const char *label_fmt)
{
	char path[160], label[96];

	for (unsigned r = 0; r < n; r++) {
		json_t *list = sl_bench_get(reports[r], array);
		json_t *item;
		size_t i;

		json_array_foreach(list, i, item) {
			json_t *k = json_object_get(item, key);
			char value[64];

			if (json_is_string(k))
				snprintf(value, sizeof(value), "%s", json_string_value(k));
			else if (json_is_integer(k))
				snprintf(value, sizeof(value), "%lld", (long long)json_integer_value(k));
			else
				continue;
			snprintf(path, sizeof(path), "%s[%s=%s].%s", array, key, value, field);
			snprintf(label, sizeof(label), label_fmt, value);
			add(b, g, label, path);
		}
	}
}

unsigned sl_bench_metrics(json_t *const *reports, unsigned n, struct sl_metric *metrics,
			  unsigned max)
{
	static const struct {
		const char *field;
		enum sl_metric_group group;
	} sign_fields[] = {
		{ "sign_per_s_core", SL_METRIC_SIGN_CORE },   { "sign_per_s_all", SL_METRIC_SIGN_ALL },
		{ "verify_per_s_core", SL_METRIC_VERIFY_CORE },
		{ "verify_per_s_all", SL_METRIC_VERIFY_ALL },
		{ "dkim_per_s_core", SL_METRIC_DKIM_CORE },
		{ "dkim_batch_per_s_core", SL_METRIC_DKIM_BATCH },
	};
	struct builder b = { metrics, 0, max };

	for (size_t i = 0; i < sizeof(sign_fields) / sizeof(sign_fields[0]); i++)
		add_keyed(&b, reports, n, "signing.algorithms", "algorithm", sign_fields[i].field,
			  sign_fields[i].group, "%s");
	add_keyed(&b, reports, n, "sha256.paths", "path", "mb_per_s", SL_METRIC_SHA, "%s");
	add(&b, SL_METRIC_SPOOL, "appends", "spool.appends_per_s");
	add(&b, SL_METRIC_SPOOL, "flushes", "spool.flushes_per_s");
	add(&b, SL_METRIC_SPOOL_MB, "write", "spool.mb_per_s");
	add_keyed(&b, reports, n, "e2e.runs", "workers", "messages_per_s", SL_METRIC_E2E,
		  "workers=%s");
	add(&b, SL_METRIC_HOURLY, "estimate", "estimate.messages_per_hour");
	add(&b, SL_METRIC_COST, "estimate", "estimate.usd_per_million");
	return b.n;
}

/* Groups drawn in the chart; the others are in the tables only. */
static const enum sl_metric_group chart_groups[] = {
	SL_METRIC_SIGN_CORE, SL_METRIC_DKIM_CORE, SL_METRIC_DKIM_BATCH, SL_METRIC_SHA,
	SL_METRIC_SPOOL,     SL_METRIC_E2E,       SL_METRIC_HOURLY,     SL_METRIC_COST,
};

int sl_bench_metrics_svg(json_t *const *reports, const char *const *names, unsigned n,
			 FILE *out)
{
	static struct sl_metric metrics[SL_METRIC_MAX];
	static struct sl_svg_row rows[SL_METRIC_MAX];
	struct sl_svg_panel panels[sizeof(chart_groups) / sizeof(chart_groups[0])];
	unsigned count, npanels = 0, nrows = 0;

	if (n > SL_SVG_MAX_SERIES)
		n = SL_SVG_MAX_SERIES;
	count = sl_bench_metrics(reports, n, metrics, SL_METRIC_MAX);
	for (size_t g = 0; g < sizeof(chart_groups) / sizeof(chart_groups[0]); g++) {
		unsigned first = nrows;

		for (unsigned i = 0; i < count; i++) {
			bool any = false;

			if (metrics[i].group != chart_groups[g])
				continue;
			rows[nrows].label = metrics[i].label;
			for (unsigned r = 0; r < n; r++) {
				rows[nrows].values[r] = sl_bench_number(reports[r], metrics[i].path);
				any |= rows[nrows].values[r] >= 0;
			}
			if (any)
				nrows++;
		}
		if (nrows > first)
			panels[npanels++] = (struct sl_svg_panel){
				sl_bench_metric_group_title(chart_groups[g]), &rows[first], nrows - first,
			};
	}
	return sl_svg_write(out, n == 1 ? "sluice-bench report" : "sluice-bench comparison", names,
			    n, panels, npanels);
}
