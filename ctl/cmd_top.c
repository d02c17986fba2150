/*
 * ctl/cmd_top.c - "sluicectl top": a live view refreshed each second.
 *
 * Rates (messages/s, signatures/s) are the difference of two snapshots
 * of sluiced's counters divided by the time between them, so the first
 * screen shows totals and rates start from the second. --iterations N
 * stops after N screens (tests and scripts); without it top runs until
 * interrupted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl_client.h"
#include "ctl/sluicectl.h"

static long long field(json_t *o, const char *name)
{
	return json_integer_value(json_object_get(o, name));
}

static double rate(json_t *now, json_t *before, const char *name, double secs)
{
	if (!before || secs <= 0)
		return 0;
	return (double)(field(now, name) - field(before, name)) / secs;
}

static void draw(json_t *r, json_t *prev, bool clear)
{
	json_t *workers = json_object_get(r, "workers"), *w, *d;
	json_t *pworkers = prev ? json_object_get(prev, "workers") : NULL;
	double secs = prev ? (double)(field(r, "time_ms") - field(prev, "time_ms")) / 1000.0 : 0;
	size_t i;

	if (clear)
		printf("\033[H\033[2J");
	if (!json_is_true(json_object_get(r, "sluiced"))) {
		printf("sluiced's counters are not available (is sluiced running?)\n");
		fflush(stdout);
		return;
	}
	printf("%-6s %10s %10s %8s %8s %8s %12s\n", "worker", "deliv/s", "inject/s", "conns", "sigs/s",
	       "throttl/s", "flush avg ms");
	json_array_foreach(workers, i, w) {
		json_t *p = json_array_get(pworkers, i);
		long long flushes = field(w, "flush_count") - (p ? field(p, "flush_count") : 0);
		long long flush_us = field(w, "flush_sum_us") - (p ? field(p, "flush_sum_us") : 0);

		printf("%-6lld %10.1f %10.1f %8lld %8.1f %8.1f %12.3f\n", field(w, "worker"),
		       rate(w, p, "delivered", secs), rate(w, p, "injected", secs), field(w, "connections"),
		       rate(w, p, "signatures", secs), rate(w, p, "throttled", secs),
		       flushes > 0 ? (double)flush_us / (double)flushes / 1000.0 : 0.0);
	}
	printf("\n%-40s %10s %s\n", "destination", "queued", "suspended until");
	json_array_foreach(json_object_get(r, "destinations"), i, d) {
		char when[32];

		printf("%-40s %10lld %s\n", json_string_value(json_object_get(d, "domain")), field(d, "depth"),
		       field(d, "suspended_until") > time(NULL) ? sl_ctl_time(field(d, "suspended_until"), when, sizeof(when)) : "-");
	}
	fflush(stdout);
}

int sl_ctl_cmd_top(int argc, char **argv)
{
	struct sl_ctl_opts opts = { 0 };
	json_t *prev = NULL, *result;
	long iterations = 0, n;
	int i, rc = sl_ctl_options(&argc, argv, &opts);
	bool bad = false;

	if (rc)
		return rc;
	for (i = 1; i < argc && !bad; i++) {
		const char *v = sl_ctl_flag(argc, argv, &i, "--iterations", &bad);
		char *end;

		if (!v) {
			bad = true;
			break;
		}
		iterations = strtol(v, &end, 10);
		if (*end || iterations < 1) {
			fprintf(stderr, "sluicectl: --iterations \"%s\": expected a count of 1 or more\n", v);
			bad = true;
		}
	}
	if (opts.help || bad) {
		fprintf(opts.help ? stdout : stderr,
			"usage: sluicectl top [--iterations N] [--json]\n"
			"  per-worker rates and the destinations with the most queued recipients,\n"
			"  refreshed every second; --iterations stops after N screens\n" SL_CTL_COMMON_HELP);
		return opts.help ? SL_CTL_EXIT_OK : SL_CTL_EXIT_USAGE;
	}
	for (n = 0; iterations == 0 || n < iterations; n++) {
		if (n > 0)
			sleep(1);
		if ((rc = sl_ctl_call(&opts, "top", json_pack("{s:i}", "limit", 10), &result))) {
			json_decref(prev);
			return rc;
		}
		if (opts.json) {
			json_dumpf(result, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			fflush(stdout);
		} else {
			draw(result, prev, isatty(STDOUT_FILENO));
		}
		json_decref(prev);
		prev = result;
	}
	json_decref(prev);
	return SL_CTL_EXIT_OK;
}
