/*
 * bench/sluice-bench/bench.h - sluice-bench, the instance report a buyer
 * runs on a candidate machine.
 *
 * "sluice-bench run" measures one machine in phases (machine facts,
 * signatures, SHA-256, spool, end to end), each bounded in time or in
 * message count, and builds the report as one jansson object. The writers
 * turn that object into report.json, report.md and report.svg.
 * "sluice-bench compare" reads several report.json files, checks them
 * against the schema and prints them side by side with ratios against the
 * first. docs/sluice-bench.md documents the JSON schema (version
 * SL_BENCH_SCHEMA_VERSION).
 *
 * Ownership: functions that return json_t * hand over one reference;
 * functions that take a json_t * borrow it. Strings returned through
 * char ** are malloc'd and freed by the caller.
 *
 * Cleanup: every child process is registered with sl_bench_track_pid() and
 * every temporary folder with sl_bench_track_dir(); sl_bench_cleanup()
 * stops the first (SIGTERM, then SIGKILL after 5 s) and removes the second,
 * wiping key files first. main() runs it on every exit path. SIGINT and
 * SIGTERM only set sl_bench_stop; every measuring loop polls it and
 * returns early, so cleanup runs from normal code, not a signal handler.
 */
#ifndef SLUICE_BENCH_BENCH_H
#define SLUICE_BENCH_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#define SL_BENCH_SCHEMA "sluice-bench-report"
#define SL_BENCH_SCHEMA_VERSION 1

/* Exit codes, documented in docs/sluice-bench.md and in --help. */
enum sl_bench_exit {
	SL_BENCH_EXIT_OK = 0,
	SL_BENCH_EXIT_FAILED = 1,      /* a phase or an output file failed */
	SL_BENCH_EXIT_USAGE = 2,       /* invalid command line */
	SL_BENCH_EXIT_BAD_REPORT = 3,  /* compare: a report is unreadable or invalid */
	SL_BENCH_EXIT_INTERRUPTED = 130,
};

#define SL_BENCH_MAX_WORKERS 64
#define SL_BENCH_ERR_MAX 512

struct sl_bench_options {
	const char *out_dir;           /* --out */
	const char *spool_path;        /* --spool-path */
	const char *label;             /* --label, NULL: derived from the machine */
	double price;                  /* --price in USD per hour, < 0 when not given */
	double seconds;                /* --seconds per measurement */
	unsigned messages;             /* --messages per end-to-end run */
	unsigned message_bytes;        /* --message-size */
	unsigned workers[SL_BENCH_MAX_WORKERS];
	unsigned worker_count;         /* 0: one run per count 1..online CPUs */
	bool quick;                    /* --quick */
	bool skip_e2e;                 /* --no-e2e */
};

/* Set by SIGINT and SIGTERM; measuring loops return early when set. */
extern volatile sig_atomic_t sl_bench_stop;

/* ---- args.c ---- */

/*
 * Parse the arguments of "run" (argv[0] is "run"). Fills opt with the
 * defaults, then the options. Returns 0, 1 when --help was given (help
 * printed to out), or -EINVAL with a message in err naming the option,
 * the value and what to give instead.
 */
int sl_bench_parse_run(int argc, char **argv, struct sl_bench_options *opt, FILE *out,
		       char *err, size_t errlen);
void sl_bench_usage(FILE *out);

/* ---- cleanup.c ---- */

void sl_bench_track_pid(pid_t pid);
void sl_bench_untrack_pid(pid_t pid);
/* Stop a tracked pid with SIGTERM, then SIGKILL after grace_ms; reap it;
 * untrack it. An untracked pid is left alone. */
void sl_bench_stop_pid(pid_t pid, int grace_ms);
void sl_bench_track_dir(const char *path);
/* Remove a tracked folder now (wiping *.pem files first) and untrack it. */
void sl_bench_remove_dir(const char *path);
void sl_bench_cleanup(void);

/* ---- facts.c ---- */

json_t *sl_bench_machine_facts(void);
/* CPUs this process may run on, in order; returns the count (at least 1). */
unsigned sl_bench_cpus(int *cpus, unsigned max);

/* ---- measure_*.c: each returns a section, or NULL with err filled ---- */

json_t *sl_bench_measure_signing(const struct sl_bench_options *opt, char *err, size_t errlen);
json_t *sl_bench_measure_sha256(const struct sl_bench_options *opt, char *err, size_t errlen);
json_t *sl_bench_measure_spool(const struct sl_bench_options *opt, char *err, size_t errlen);
json_t *sl_bench_measure_e2e(const struct sl_bench_options *opt, char *err, size_t errlen);

/* ---- report.c ---- */

/* Add the "estimate" section from the signing and e2e sections. */
void sl_bench_add_estimate(json_t *report, double price);
/* Write report.json, report.md and report.svg into dir. */
int sl_bench_write_outputs(json_t *report, const char *dir, char *err, size_t errlen);
/* Markdown of one report. */
int sl_bench_write_markdown(json_t *report, FILE *out);

/* ---- svg.c: horizontal bar chart, one panel per metric group ---- */

#define SL_SVG_MAX_SERIES 8

struct sl_svg_row {
	const char *label;
	double values[SL_SVG_MAX_SERIES];  /* < 0: no value */
};

struct sl_svg_panel {
	const char *title;                 /* includes the unit */
	const struct sl_svg_row *rows;
	unsigned row_count;
};

/* Write an SVG document with one panel per entry; series are named by
 * series_names (one colour each). Returns 0 or -EIO. */
int sl_svg_write(FILE *out, const char *title, const char *const *series_names,
		 unsigned series_count, const struct sl_svg_panel *panels, unsigned panel_count);
/* Escape text for XML into buf; returns buf. */
const char *sl_svg_escape(const char *text, char *buf, size_t cap);

/* ---- compare.c ---- */

/*
 * Load a report and check it against the schema. Returns the report, or
 * NULL with a message in err naming the file and the field.
 */
json_t *sl_bench_load_report(const char *path, char *err, size_t errlen);
int sl_bench_validate(json_t *report, const char *name, char *err, size_t errlen);
/* Print the Markdown comparison of reports[0..n) (names label columns). */
int sl_bench_compare_markdown(json_t *const *reports, const char *const *names, unsigned n,
			      FILE *out);
int sl_bench_compare_svg(json_t *const *reports, const char *const *names, unsigned n,
			 FILE *out);
/* The "compare" command: argv[0] is "compare". */
int sl_bench_compare_main(int argc, char **argv);

/* ---- util ---- */

double sl_bench_now(void);
/* Look up a value by a path such as "signing.raw[algorithm=rsa2048].sign_per_s_core". */
json_t *sl_bench_get(json_t *root, const char *path);
/* The number at path, or -1 when missing or not a number. */
double sl_bench_number(json_t *root, const char *path);

#endif
