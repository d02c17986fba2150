/*
 * bench/sluice-bench/metrics.h - the numbers of one or several reports as
 * one list of rows, for the comparison table and the SVG chart.
 *
 * Rows whose key exists in only some reports (a SHA-256 path that only
 * x86 has, a worker count that only one run measured) are listed once and
 * left empty where missing.
 */
#ifndef SLUICE_BENCH_METRICS_H
#define SLUICE_BENCH_METRICS_H

#include <stdio.h>

#include <jansson.h>

enum sl_metric_group {
	SL_METRIC_SIGN_CORE,
	SL_METRIC_SIGN_ALL,
	SL_METRIC_VERIFY_CORE,
	SL_METRIC_VERIFY_ALL,
	SL_METRIC_DKIM_CORE,
	SL_METRIC_DKIM_BATCH,
	SL_METRIC_SHA,
	SL_METRIC_SPOOL,
	SL_METRIC_SPOOL_MB,
	SL_METRIC_E2E,
	SL_METRIC_HOURLY,
	SL_METRIC_COST,
	SL_METRIC_GROUPS,
};

#define SL_METRIC_MAX 128

struct sl_metric {
	enum sl_metric_group group;
	char label[96];     /* row label inside its group, such as "rsa2048" */
	char path[160];     /* sl_bench_get path of the value */
};

/* Fill metrics for reports[0..n); returns the count. */
unsigned sl_bench_metrics(json_t *const *reports, unsigned n, struct sl_metric *metrics,
			  unsigned max);
/* Title of a group with its unit, such as "OpenSSL signs/s per core". */
const char *sl_bench_metric_group_title(enum sl_metric_group group);
/* Bar chart of the main groups, one series per report. */
int sl_bench_metrics_svg(json_t *const *reports, const char *const *names, unsigned n,
			 FILE *out);

#endif
