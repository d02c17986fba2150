/*
 * bench/sluice-bench/main.c - sluice-bench: "run" measures this machine,
 * "compare" puts reports side by side. See bench.h and
 * docs/sluice-bench.md.
 *
 * run: the phases run one after the other (signing, SHA-256, spool, end
 * to end), each bounded in time or message count. A failed phase before
 * the end-to-end runs ends the run with exit status 1 and no report. A
 * failed end-to-end run is recorded in the report (e2e.status "failed"),
 * and the exit status is 1 as well. Every child process and temporary folder is
 * removed on every exit path, including SIGINT and SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/sluice-bench/bench.h"
#include "common/log.h"
#include "crypto/simd/cpu.h"

static void on_signal(int sig)
{
	(void)sig;
	sl_bench_stop = 1;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static json_t *options_json(const struct sl_bench_options *opt)
{
	json_t *o = json_object();
	json_t *workers = json_array();

	for (unsigned i = 0; i < opt->worker_count; i++)
		json_array_append_new(workers, json_integer(opt->workers[i]));
	json_object_set_new(o, "seconds", json_real(opt->seconds));
	json_object_set_new(o, "quick", json_boolean(opt->quick));
	json_object_set_new(o, "spool_path", json_string(opt->spool_path));
	json_object_set_new(o, "messages", json_integer(opt->messages));
	json_object_set_new(o, "message_bytes", json_integer(opt->message_bytes));
	json_object_set_new(o, "workers", workers);
	json_object_set_new(o, "price_usd_per_hour", opt->price > 0 ? json_real(opt->price)
								    : json_null());
	return o;
}

static json_t *new_report(const struct sl_bench_options *opt)
{
	json_t *r = json_object();
	json_t *machine = sl_bench_machine_facts();
	const char *label = opt->label;
	char created[64];
	time_t now = time(NULL);
	struct tm tm;

	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	if (!label) {
		label = json_string_value(json_object_get(machine, "product"));
		if (!label || !*label || strcmp(label, "Standard PC (i440FX + PIIX, 1996)") == 0)
			label = json_string_value(json_object_get(machine, "hostname"));
	}
	json_object_set_new(r, "schema", json_string(SL_BENCH_SCHEMA));
	json_object_set_new(r, "schema_version", json_integer(SL_BENCH_SCHEMA_VERSION));
	json_object_set_new(r, "label", json_string(label));
	json_object_set_new(r, "created", json_string(created));
	json_object_set_new(r, "options", options_json(opt));
	json_object_set_new(r, "machine", machine);
	return r;
}

typedef json_t *measure_fn(const struct sl_bench_options *, char *, size_t);

static const struct {
	const char *key;
	measure_fn *measure;
} phases[] = {
	{ "signing", sl_bench_measure_signing },
	{ "sha256", sl_bench_measure_sha256 },
	{ "spool", sl_bench_measure_spool },
};

static int run_main(int argc, char **argv)
{
	struct sl_bench_options opt;
	char err[SL_BENCH_ERR_MAX];
	json_t *report, *e2e;
	int rc = sl_bench_parse_run(argc, argv, &opt, stdout, err, sizeof(err));
	int status = SL_BENCH_EXIT_OK;

	if (rc == 1)
		return SL_BENCH_EXIT_OK;
	if (rc < 0) {
		fprintf(stderr, "sluice-bench run: %s\n", err);
		return SL_BENCH_EXIT_USAGE;
	}
	if (access(opt.spool_path, W_OK) != 0) {
		fprintf(stderr, "sluice-bench run: --spool-path '%s' is not a writable folder: %s\n",
			opt.spool_path, strerror(errno));
		return SL_BENCH_EXIT_USAGE;
	}

	/* Fail before a minute of measuring, not after it. */
	if ((mkdir(opt.out_dir, 0755) != 0 && errno != EEXIST) || access(opt.out_dir, W_OK) != 0) {
		fprintf(stderr, "sluice-bench run: --out '%s' is not a writable folder: %s\n",
			opt.out_dir, strerror(errno));
		return SL_BENCH_EXIT_USAGE;
	}

	report = new_report(&opt);
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		json_t *section = phases[i].measure(&opt, err, sizeof(err));

		if (!section || sl_bench_stop) {
			if (sl_bench_stop)
				fprintf(stderr, "sluice-bench run: interrupted\n");
			else
				fprintf(stderr, "sluice-bench run: %s phase failed: %s\n", phases[i].key,
					err);
			json_decref(section);
			json_decref(report);
			return sl_bench_stop ? SL_BENCH_EXIT_INTERRUPTED : SL_BENCH_EXIT_FAILED;
		}
		json_object_set_new(report, phases[i].key, section);
	}

	e2e = sl_bench_measure_e2e(&opt, err, sizeof(err));
	if (sl_bench_stop) {
		fprintf(stderr, "sluice-bench run: interrupted\n");
		json_decref(e2e);
		json_decref(report);
		return SL_BENCH_EXIT_INTERRUPTED;
	}
	if (!e2e) {
		fprintf(stderr, "sluice-bench run: end-to-end runs failed: %s\n", err);
		e2e = json_pack("{s:s, s:s}", "status", "failed", "reason", err);
		status = SL_BENCH_EXIT_FAILED;
	}
	json_object_set_new(report, "e2e", e2e);
	sl_bench_add_estimate(report, opt.price);

	if (sl_bench_write_outputs(report, opt.out_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-bench run: %s\n", err);
		status = SL_BENCH_EXIT_FAILED;
	} else {
		fprintf(stderr, "sluice-bench: wrote %s/report.json, report.md and report.svg\n",
			opt.out_dir);
	}
	json_decref(report);
	return status;
}

int main(int argc, char **argv)
{
	int status;

	sl_log_init("sluice-bench", SL_LOG_WARN);
	install_signals();
	sl_simd_init();
	if (argc < 2) {
		sl_bench_usage(stderr);
		return SL_BENCH_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		sl_bench_usage(stdout);
		return SL_BENCH_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		status = run_main(argc - 1, argv + 1);
	else if (strcmp(argv[1], "compare") == 0)
		status = sl_bench_compare_main(argc - 1, argv + 1);
	else {
		fprintf(stderr, "sluice-bench: unknown command '%s': use run or compare, see "
			"sluice-bench --help\n", argv[1]);
		status = SL_BENCH_EXIT_USAGE;
	}
	sl_bench_cleanup();
	return status;
}
