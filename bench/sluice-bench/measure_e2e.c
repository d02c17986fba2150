/*
 * bench/sluice-bench/measure_e2e.c - the "e2e" section: messages per
 * second through the built sluiced, by worker count.
 *
 * For each worker count, Postfix's smtp-sink listens on a free loopback
 * port. sluiced starts with a generated configuration: a static route of
 * every domain to that sink, one RSA-2048 DKIM key, and its spool in a
 * new folder inside --spool-path. smtp-source injects --messages messages
 * of --message-size bytes over 10 sessions per worker (at least 20, at
 * most 200), so that the injector keeps every worker busy. The rate is the message count
 * divided by the time from the start of injection until the sink has
 * counted every message, so it covers accept, spool flush, signing and
 * delivery. Each run is bounded (RUN_LIMIT_S plus one second per 100
 * messages, or STALL_S without progress after smtp-source exited) and
 * stops by itself. Every process is stopped by its PID and the folder
 * removed, also on error or interruption.
 *
 * NOTE: smtp-source and smtp-sink run on the same machine and take CPU
 * from sluiced, so the rate is a lower bound of what sluiced does with
 * remote injectors and receivers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/sluice-bench/bench.h"
#include "crypto/dkim.h"

#define SESSIONS_MIN 20
#define SESSIONS_PER_WORKER 10
#define SESSIONS_MAX 200
#define RUN_LIMIT_S 60
#define START_LIMIT_MS 15000
#define STALL_S 15

struct e2e_run {
	const char *dir;
	const char *sluiced;
	const char *sink_bin;
	const char *source_bin;
	unsigned workers;
	unsigned ncpus;
};

/* Full path of an executable found in PATH, /usr/sbin or /usr/local/sbin. */
static bool find_program(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char buf[4096];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s:/usr/sbin:/usr/local/sbin:/sbin", path ? path : "/usr/bin");
	for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, cap, "%s/%s", d, name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static bool find_sluiced(char *out, size_t cap)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return false;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if (snprintf(out, cap, "%s/sluiced", self) >= (int)cap)
		return false;
	return access(out, X_OK) == 0;
}

/* Start argv with stdout and stderr appended to log, in its own process
 * group so that a Ctrl-C in the terminal reaches only sluice-bench. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setpgid(0, 0);
		if (in < 0 || out < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
		sl_bench_track_pid(pid);
	return pid;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait until port accepts connections while pid runs; false on timeout,
 * exit of pid or interruption. */
static bool wait_port(int port, pid_t pid)
{
	for (int waited = 0; waited < START_LIMIT_MS && !sl_bench_stop; waited += 50) {
		if (port_open(port))
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			sl_bench_untrack_pid(pid);
			return false;
		}
		sleep_ms(50);
	}
	return false;
}

/* Last "mesg=N" that smtp-sink -c printed into its log. */
static unsigned long sink_count(const char *log)
{
	char buf[512];
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;
	unsigned long count = 0;

	if (fd < 0)
		return 0;
	end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (char *p = strstr(buf, "mesg="); p; p = strstr(p + 5, "mesg="))
		count = strtoul(p + 5, NULL, 10);
	return count;
}

/* user+system CPU seconds of pid from /proc/PID/stat. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long utime = 0, stime = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			 &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The last non-empty line of a log file, for error messages. */
static void last_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	char line[512];

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0]) {
			size_t n = strlen(line) < cap - 1 ? strlen(line) : cap - 1;

			memcpy(buf, line, n);
			buf[n] = '\0';
		}
	}
	fclose(f);
}

static unsigned long count_lines_with(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	unsigned long n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static int write_config(const struct e2e_run *r, const char *cfg, const char *spool, int port,
			int sink)
{
	FILE *f = fopen(cfg, "w");

	if (!f)
		return -errno;
	fprintf(f, "sluiced:\n  workers: %u\n", r->workers);
	if (r->workers <= r->ncpus) {
		fprintf(f, "  cpus: [");
		for (unsigned i = 0; i < r->workers; i++)
			fprintf(f, "%s%u", i ? ", " : "", i);
		fprintf(f, "]\n");
	}
	fprintf(f,
		"  log_file: %s/sluiced.log\n"
		"  log_level: warning\n"
		"smtp:\n"
		"  listen: ['127.0.0.1:%d']\n"
		"  hostname: mta.bench.example\n"
		"  relay_networks: [127.0.0.0/8]\n"
		"  max_message_size: 20M\n"
		"spool:\n"
		"  paths: [%s]\n"
		"delivery:\n"
		"  enabled: true\n"
		"  routes: ['* 127.0.0.1:%d']\n"
		"  accounting_log: %s/acct-%u.jsonl\n"
		"  max_connections: 20\n"
		"  messages_per_connection: 1000\n"
		"signing:\n"
		"  keys:\n"
		"    - 'bench.example rsa %s/keys/rsa.pem'\n",
		r->dir, port, spool, sink, r->dir, r->workers, r->dir);
	return fclose(f) == 0 ? 0 : -EIO;
}

/*
 * Wait for the sink to count want messages; returns the time it did, or
 * a negative value with why[] filled: interrupted, timed out, sluiced
 * exited, or smtp-source exited and the sink counted nothing new for
 * STALL_S seconds (an injection that failed part way).
 */
static double wait_sink(const char *log, unsigned long want, pid_t sluiced, pid_t source,
			double limit, unsigned long *seen, char *why, size_t whylen)
{
	double start = sl_bench_now(), progress = start;
	unsigned long last = 0;
	bool source_done = false;

	for (;;) {
		double now = sl_bench_now();

		*seen = sink_count(log);
		if (*seen >= want)
			return now;
		if (*seen > last) {
			last = *seen;
			progress = now;
		}
		if (sl_bench_stop) {
			snprintf(why, whylen, "interrupted");
			return -1;
		}
		if (now - start > limit) {
			snprintf(why, whylen, "timed out after %.0f s", limit);
			return -1;
		}
		if (waitpid(sluiced, NULL, WNOHANG) == sluiced) {
			sl_bench_untrack_pid(sluiced);
			snprintf(why, whylen, "sluiced exited");
			return -1;
		}
		if (!source_done && waitpid(source, NULL, WNOHANG) == source) {
			sl_bench_untrack_pid(source);
			source_done = true;
		}
		if (source_done && now - progress > STALL_S) {
			snprintf(why, whylen, "smtp-source exited and no message arrived for %d s",
				 STALL_S);
			return -1;
		}
		sleep_ms(10);
	}
}

static json_t *one_run(const struct e2e_run *r, const struct sl_bench_options *opt, char *err,
		       size_t errlen)
{
	char cfg[4200], spool[4200], sink_log[4200], source_log[4200], sluiced_log[4200];
	char acct[4200], port_s[32], sink_s[32], count_s[32], size_s[32], sess_s[16];
	unsigned sessions = r->workers * SESSIONS_PER_WORKER;
	int port = free_port(), sink = free_port();
	pid_t sink_pid = -1, sluiced_pid = -1, source_pid = -1;
	double t0, t1, cpu0, cpu1;
	unsigned long seen = 0;
	char why[128];
	json_t *run = NULL;

	snprintf(cfg, sizeof(cfg), "%s/sluice-%u.yaml", r->dir, r->workers);
	snprintf(spool, sizeof(spool), "%s/spool-%u", r->dir, r->workers);
	snprintf(sink_log, sizeof(sink_log), "%s/sink-%u.log", r->dir, r->workers);
	snprintf(source_log, sizeof(source_log), "%s/source-%u.log", r->dir, r->workers);
	snprintf(sluiced_log, sizeof(sluiced_log), "%s/sluiced.stderr", r->dir);
	snprintf(acct, sizeof(acct), "%s/acct-%u.jsonl", r->dir, r->workers);
	snprintf(port_s, sizeof(port_s), "127.0.0.1:%d", port);
	snprintf(sink_s, sizeof(sink_s), "127.0.0.1:%d", sink);
	snprintf(count_s, sizeof(count_s), "%u", opt->messages);
	snprintf(size_s, sizeof(size_s), "%u", opt->message_bytes);
	snprintf(sess_s, sizeof(sess_s), "%u", sessions);
	if (sessions < SESSIONS_MIN)
		sessions = SESSIONS_MIN;
	if (sessions > SESSIONS_MAX)
		sessions = SESSIONS_MAX;
	if (port < 0 || sink < 0 || write_config(r, cfg, spool, port, sink) < 0) {
		snprintf(err, errlen, "cannot prepare the run with %u workers in %s", r->workers,
			 r->dir);
		return NULL;
	}

	char *sink_argv[] = { (char *)r->sink_bin, "-c", "-u", "nobody", "-m", "512", sink_s,
			      "1024", NULL };
	sink_pid = spawn(sink_argv, sink_log);
	if (sink_pid < 0 || !wait_port(sink, sink_pid)) {
		snprintf(err, errlen, "smtp-sink did not listen on %s; see %s", sink_s, sink_log);
		goto out;
	}
	char *sluiced_argv[] = { (char *)r->sluiced, "-c", cfg, NULL };
	sluiced_pid = spawn(sluiced_argv, sluiced_log);
	if (sluiced_pid < 0 || !wait_port(port, sluiced_pid)) {
		char why[300], log[4200];

		snprintf(log, sizeof(log), "%s/sluiced.log", r->dir);
		last_line(log, why, sizeof(why));
		if (!why[0])
			last_line(sluiced_log, why, sizeof(why));
		snprintf(err, errlen, "sluiced (workers=%u) did not listen on %s: %s", r->workers, port_s,
			 why[0] ? why : "no message");
		goto out;
	}

	fprintf(stderr, "sluice-bench: end to end: workers=%u messages=%u\n", r->workers,
		opt->messages);
	cpu0 = cpu_seconds(sluiced_pid);
	t0 = sl_bench_now();
	char *source_argv[] = { (char *)r->source_bin, "-d", "-s", sess_s, "-m", count_s, "-l",
				size_s, "-f", "news@bench.example", "-t", "reader@dest.example",
				"-M", "client.bench.example", port_s, NULL };
	source_pid = spawn(source_argv, source_log);
	t1 = wait_sink(sink_log, opt->messages, sluiced_pid, source_pid,
		       RUN_LIMIT_S + opt->messages / 100.0, &seen, why, sizeof(why));
	cpu1 = cpu_seconds(sluiced_pid);
	if (t1 < 0) {
		char last[300];

		last_line(source_log, last, sizeof(last));
		snprintf(err, errlen, "%s: the sink got %lu of %u messages (workers=%u)%s%s", why,
			 seen, opt->messages, r->workers, last[0] ? "; smtp-source: " : "", last);
		goto out;
	}
	/* Stopping sluiced flushes its accounting log, which is counted below. */
	sl_bench_stop_pid(source_pid, 2000);
	sl_bench_stop_pid(sluiced_pid, 10000);
	source_pid = sluiced_pid = -1;

	run = json_object();
	json_object_set_new(run, "workers", json_integer(r->workers));
	json_object_set_new(run, "messages", json_integer(opt->messages));
	json_object_set_new(run, "sessions", json_integer(sessions));
	json_object_set_new(run, "seconds", json_real(t1 - t0));
	json_object_set_new(run, "messages_per_s", json_real(opt->messages / (t1 - t0)));
	json_object_set_new(run, "sluiced_cpu_ms_per_message",
			    json_real((cpu1 - cpu0) * 1000.0 / opt->messages));
	json_object_set_new(run, "delivered",
			    json_integer((json_int_t)count_lines_with(acct, "\"status\":\"delivered\"")));
out:
	sl_bench_stop_pid(source_pid, 2000);
	sl_bench_stop_pid(sluiced_pid, 10000);
	sl_bench_stop_pid(sink_pid, 2000);
	return run;
}

static json_t *skipped(json_t *section, const char *fmt, const char *arg)
{
	char reason[600];

	snprintf(reason, sizeof(reason), fmt, arg);
	fprintf(stderr, "sluice-bench: end-to-end runs skipped: %s\n", reason);
	json_object_set_new(section, "status", json_string("skipped"));
	json_object_set_new(section, "reason", json_string(reason));
	return section;
}

/* Generate the RSA-2048 signing key of the runs into DIR/keys/rsa.pem. */
static int make_key(const char *dir, char *err, size_t errlen)
{
	char keys[4200], pem[4300];
	struct sl_dkim_key *key = NULL;
	struct sl_dkim_err e;
	int rc;

	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(pem, sizeof(pem), "%s/rsa.pem", keys);
	if (mkdir(keys, 0700) != 0) {
		snprintf(err, errlen, "mkdir %s failed: %s", keys, strerror(errno));
		return -errno;
	}
	rc = sl_dkim_key_generate(SL_DKIM_KEY_RSA, 2048, &key, &e);
	if (rc == 0)
		rc = sl_dkim_key_write_pem(key, pem, &e);
	if (rc < 0)
		snprintf(err, errlen, "making the DKIM key %s failed: %s", pem, e.msg);
	sl_dkim_key_free(key);
	return rc;
}

static json_t *run_all(struct e2e_run *r, const struct sl_bench_options *opt, json_t *section,
		       char *err, size_t errlen)
{
	json_t *runs = json_array();
	unsigned counts[SL_BENCH_MAX_WORKERS];
	unsigned n = opt->worker_count;

	memcpy(counts, opt->workers, sizeof(counts));
	if (n == 0) {
		/* Default: powers of two below the usable CPUs, then the usable
		 * CPUs (1, 2, 4, 8, 12 on 12 CPUs); --quick: the usable CPUs only. */
		for (unsigned w = 1; w < r->ncpus && !opt->quick; w *= 2)
			counts[n++] = w;
		counts[n++] = r->ncpus;
	}
	json_object_set_new(section, "status", json_string("ok"));
	json_object_set_new(section, "message_bytes", json_integer(opt->message_bytes));
	json_object_set_new(section, "signatures", json_string("rsa2048"));
	json_object_set_new(section, "runs", runs);
	for (unsigned i = 0; i < n; i++) {
		json_t *run;

		r->workers = counts[i];
		run = one_run(r, opt, err, errlen);
		if (!run) {
			json_decref(section);
			return NULL;
		}
		json_array_append_new(runs, run);
	}
	return section;
}

json_t *sl_bench_measure_e2e(const struct sl_bench_options *opt, char *err, size_t errlen)
{
	char sluiced[4096], sink[4096], source[4096], dir[4096], abs_dir[PATH_MAX];
	int cpus[1024];
	struct e2e_run r = { .sluiced = sluiced, .sink_bin = sink, .source_bin = source,
			     .ncpus = sl_bench_cpus(cpus, 1024), .dir = abs_dir };
	json_t *section = json_object();

	if (opt->skip_e2e)
		return skipped(section, "--no-e2e was given%s", "");
	if (!find_program("smtp-sink", sink, sizeof(sink)) ||
	    !find_program("smtp-source", source, sizeof(source)))
		return skipped(section, "smtp-source and smtp-sink were not found%s; install the "
			       "Debian package postfix (its tools are enough, no mail server "
			       "needs to run)", "");
	if (!find_sluiced(sluiced, sizeof(sluiced)))
		return skipped(section, "sluiced was not found next to sluice-bench%s; build it "
			       "with make", "");

	snprintf(dir, sizeof(dir), "%s/sluice-bench-e2e.XXXXXX", opt->spool_path);
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "cannot make a folder in --spool-path '%s': %s; give a "
			 "writable folder", opt->spool_path, strerror(errno));
		json_decref(section);
		return NULL;
	}
	sl_bench_track_dir(dir);
	/* sluiced's configuration takes absolute paths only. */
	if (!realpath(dir, abs_dir)) {
		snprintf(err, errlen, "realpath(%s) failed: %s", dir, strerror(errno));
		json_decref(section);
		section = NULL;
	} else if (make_key(abs_dir, err, errlen) < 0) {
		json_decref(section);
		section = NULL;
	} else {
		section = run_all(&r, opt, section, err, errlen);
	}
	sl_bench_remove_dir(dir);
	return section;
}
