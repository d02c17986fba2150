/*
 * bench/sluice-bench/args.c - command line of "sluice-bench run" and the
 * help text.
 *
 * sl_bench_parse_run() never exits and never prints errors itself: it
 * returns -EINVAL with a message that names the option, the value and
 * what to give instead, so that tests can check every rejection.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sluice-bench/bench.h"

#define DEFAULT_SECONDS 2.0
#define QUICK_SECONDS 0.3
#define DEFAULT_MESSAGES 3000
#define QUICK_MESSAGES 300
#define DEFAULT_MESSAGE_BYTES 20000

void sl_bench_usage(FILE *out)
{
	fputs("Usage: sluice-bench run [OPTIONS]\n"
	      "       sluice-bench compare REPORT.json REPORT.json... [--svg FILE]\n"
	      "       sluice-bench --help\n"
	      "\n"
	      "run measures this machine and writes report.json, report.md and report.svg:\n"
	      "  --out DIR            folder for the reports (created; default ./sluice-bench-report)\n"
	      "  --price USD          hourly price of the machine in US dollars, for the cost\n"
	      "                       per million messages (default: no cost figures)\n"
	      "  --spool-path DIR     folder on the disk to measure; the spool and sluiced's\n"
	      "                       temporary files go into a new folder inside it, removed\n"
	      "                       at the end (default /var/tmp)\n"
	      "  --seconds S          duration of each measurement in seconds (default 2,\n"
	      "                       --quick 0.3; 0.05 to 600)\n"
	      "  --workers LIST       sluiced worker counts for the end-to-end runs, for\n"
	      "                       example 1,2,4 (default: 1, 2, 4... below the usable\n"
	      "                       CPUs, then the usable CPUs; --quick: the usable CPUs)\n"
	      "  --messages N         messages per end-to-end run (default 3000, --quick 300)\n"
	      "  --message-size B     bytes per end-to-end message body (default 20000)\n"
	      "  --label TEXT         name of this machine in reports (default: the DMI\n"
	      "                       product name, such as c6g.2xlarge, or the host name)\n"
	      "  --no-e2e             skip the end-to-end runs\n"
	      "  --quick              short measurements, for a first look and for tests\n"
	      "\n"
	      "compare prints a Markdown table of the reports side by side, with ratios\n"
	      "against the first; --svg FILE also writes a bar chart.\n"
	      "\n"
	      "Exit status: 0 done, 1 a measurement or an output file failed, 2 invalid\n"
	      "command line, 3 compare: a report is unreadable or invalid, 130 interrupted.\n"
	      "The end-to-end runs need Postfix's smtp-source and smtp-sink (Debian package\n"
	      "postfix) and sluiced next to sluice-bench; without them they are skipped.\n",
	      out);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a, b);
	return -EINVAL;
}

/* A finite number in [min, max]. */
static int parse_double(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* "1,2,4": worker counts of 1 to 256, at most SL_BENCH_MAX_WORKERS. */
static int parse_workers(const char *text, struct sl_bench_options *opt)
{
	char buf[512];
	char *save = NULL;
	char *item;

	if (strlen(text) >= sizeof(buf) || !*text)
		return -EINVAL;
	strcpy(buf, text);
	opt->worker_count = 0;
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (opt->worker_count == SL_BENCH_MAX_WORKERS)
			return -EINVAL;
		if (parse_uint(item, 1, 256, &opt->workers[opt->worker_count]))
			return -EINVAL;
		opt->worker_count++;
	}
	/* A trailing or doubled comma leaves an empty item that strtok skips. */
	if (opt->worker_count == 0 || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
		return -EINVAL;
	return 0;
}

static void set_defaults(struct sl_bench_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->out_dir = "sluice-bench-report";
	opt->spool_path = "/var/tmp";
	opt->price = -1;
	opt->seconds = -1;
	opt->messages = 0;
	opt->message_bytes = DEFAULT_MESSAGE_BYTES;
}

enum { OPT_PRICE = 256, OPT_SPOOL, OPT_SECONDS, OPT_WORKERS, OPT_MESSAGES, OPT_SIZE,
       OPT_LABEL, OPT_NO_E2E, OPT_QUICK };

static const struct option run_options[] = {
	{ "out", required_argument, NULL, 'o' },
	{ "price", required_argument, NULL, OPT_PRICE },
	{ "spool-path", required_argument, NULL, OPT_SPOOL },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "messages", required_argument, NULL, OPT_MESSAGES },
	{ "message-size", required_argument, NULL, OPT_SIZE },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "no-e2e", no_argument, NULL, OPT_NO_E2E },
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Apply one option; returns 0 or -EINVAL with err filled. */
static int apply_option(int c, const char *arg, const char *name, struct sl_bench_options *opt,
			char *err, size_t errlen)
{
	switch (c) {
	case 'o':
		if (!*arg)
			return fail(err, errlen, "invalid --out '%s%s': give a folder name", arg, "");
		opt->out_dir = arg;
		return 0;
	case OPT_PRICE:
		if (parse_double(arg, 0.0001, 100000, &opt->price))
			return fail(err, errlen, "invalid --price '%s'%s: give the hourly price in "
				    "US dollars, a number from 0.0001 to 100000, such as 0.34", arg, "");
		return 0;
	case OPT_SPOOL:
		if (!*arg)
			return fail(err, errlen, "invalid --spool-path '%s%s': give a folder", arg, "");
		opt->spool_path = arg;
		return 0;
	case OPT_SECONDS:
		if (parse_double(arg, 0.05, 600, &opt->seconds))
			return fail(err, errlen, "invalid --seconds '%s'%s: give seconds per "
				    "measurement, a number from 0.05 to 600", arg, "");
		return 0;
	case OPT_WORKERS:
		if (parse_workers(arg, opt))
			return fail(err, errlen, "invalid --workers '%s'%s: give worker counts from "
				    "1 to 256 separated by commas, such as 1,2,4", arg, "");
		return 0;
	case OPT_MESSAGES:
		if (parse_uint(arg, 1, 10000000, &opt->messages))
			return fail(err, errlen, "invalid --messages '%s'%s: give a count from 1 "
				    "to 10000000", arg, "");
		return 0;
	case OPT_SIZE:
		if (parse_uint(arg, 100, 10000000, &opt->message_bytes))
			return fail(err, errlen, "invalid --message-size '%s'%s: give bytes from "
				    "100 to 10000000", arg, "");
		return 0;
	case OPT_LABEL:
		if (!*arg || strlen(arg) > 100)
			return fail(err, errlen, "invalid --label '%s'%s: give 1 to 100 characters",
				    arg, "");
		opt->label = arg;
		return 0;
	case OPT_NO_E2E:
		opt->skip_e2e = true;
		return 0;
	case OPT_QUICK:
		opt->quick = true;
		return 0;
	}
	return fail(err, errlen, "unknown option '%s'%s: see sluice-bench --help", name, "");
}

int sl_bench_parse_run(int argc, char **argv, struct sl_bench_options *opt, FILE *out,
		       char *err, size_t errlen)
{
	set_defaults(opt);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct option *o;
		const char *value = NULL;
		size_t n;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			sl_bench_usage(out);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0)
			return fail(err, errlen, "unexpected argument '%s'%s: run takes only "
				    "options, see sluice-bench --help", arg, "");
		n = strcspn(arg + 2, "=");
		for (o = run_options; o->name; o++)
			if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
				break;
		if (!o->name)
			return apply_option(-1, "", arg, opt, err, errlen);
		if (o->has_arg == required_argument) {
			if (arg[2 + n] == '=')
				value = arg + 3 + n;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return fail(err, errlen, "missing value for %s%s: see sluice-bench "
					    "--help", arg, "");
		} else if (arg[2 + n] == '=') {
			return fail(err, errlen, "option --%s takes no value, got '%s'", o->name,
				    arg + 3 + n);
		}
		if (apply_option(o->val, value ? value : "", arg, opt, err, errlen))
			return -EINVAL;
	}
	if (opt->seconds < 0)
		opt->seconds = opt->quick ? QUICK_SECONDS : DEFAULT_SECONDS;
	if (opt->messages == 0)
		opt->messages = opt->quick ? QUICK_MESSAGES : DEFAULT_MESSAGES;
	return 0;
}
