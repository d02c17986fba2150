/*
 * dataplane/main.c - sluiced, the dataplane daemon.
 *
 *   sluiced -c FILE [-t]
 *
 * Loads the configuration (with -t it only checks it and exits) and starts
 * the worker threads. The main thread then waits for these signals:
 *   SIGTERM, SIGINT  stop accepting, let open work finish, flush, exit 0
 *   SIGHUP           reopen the log file (done by the log thread, logq.h)
 *   SIGUSR1          write allocator statistics to the log
 * Every thread blocks these signals; only the main thread takes them,
 * with sigwaitinfo(), so no handler runs inside a worker.
 *
 * Exit status: 0 after a clean stop, 1 for a setup failure (the message
 * names the file, key or call), 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config.h"
#include "ctl/config/config_sluiced.h"
#include "crypto/simd/cpu.h"
#include "dataplane/deliver.h"
#include "dataplane/fleet_redis.h"
#include "dataplane/alloc.h"
#include "dataplane/conn.h"
#include "dataplane/ctl_link.h"
#include "dataplane/http_server.h"
#include "dataplane/logq.h"
#include "dataplane/smtp_server.h"
#include "dataplane/store.h"
#include "dataplane/worker.h"

static void usage(void)
{
	fprintf(stderr, "usage: sluiced -c FILE [-t]\n"
			"  -c FILE  configuration file (YAML)\n"
			"  -t       check the configuration and exit\n");
}

static int open_log(const struct sl_config_sluiced *c)
{
	int rc;

	if (!c->log_file)
		return 0;
	rc = sl_log_open(c->log_file);
	if (rc < 0)
		fprintf(stderr, "sluiced: cannot open log file %s: %s\n", c->log_file, strerror(-rc));
	return rc;
}

static int write_pid(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		sl_err("cannot write pid file %s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	return 0;
}

static int register_modules(void)
{
	int rc = sl_net_kernel_register();

	if (rc == 0)
		rc = sl_store_register();
	if (rc == 0)
		rc = sl_smtp_server_register();
	if (rc == 0)
		rc = sl_http_server_register();
	if (rc == 0)
		rc = sl_deliver_register();
	if (rc == 0)
		rc = sl_sluiced_ctl_register();
	return rc;
}

/* Wait for signals until a stop is requested. */
static void serve(const struct sl_config_sluiced *c, const sigset_t *set)
{
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(set, &info);

		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			if (c->log_file) {
				sl_logq_reopen(c->log_file);
				sl_info("log reopened");
			}
			sl_deliver_reopen_logs();
		} else if (sig == SIGUSR1) {
			sl_alloc_stats_log();
		} else {
			sl_info("signal %s received, stopping", strsignal(sig));
			return;
		}
	}
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool check_only = false;
	struct sl_config *cfg;
	enum sl_log_level level;
	sigset_t set;
	char err[1024];
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!path || optind != argc) {
		usage();
		return 2;
	}
	sl_log_init("sluiced", SL_LOG_INFO);
	if (sl_config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluiced: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("sluiced: configuration %s is valid\n", path);
		sl_config_free(cfg);
		return 0;
	}

	const struct sl_config_sluiced *c = sl_config_sluiced(cfg);

	sl_log_level_parse(c->log_level, &level);
	sl_log_init("sluiced", level);
	if (open_log(c) < 0)
		return 1;
	if (c->pid_file && write_pid(c->pid_file) < 0)
		return 1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = sl_logq_start();
	if (rc < 0) {
		sl_err("starting the log thread failed: %s", strerror(-rc));
		return 1;
	}
	/* Pick the SIMD paths (canonicalization, SHA-256) before workers start. */
	sl_simd_init();
	rc = register_modules();
	if (rc == 0)
		rc = sl_fleet_service_start(cfg);
	if (rc == 0)
		rc = sl_workers_start(cfg);
	if (rc < 0) {
		sl_err("start failed: %s", strerror(-rc));
		sl_workers_stop();
		sl_workers_join();
		sl_fleet_service_stop();
		sl_logq_stop();
		sl_config_free(cfg);
		return 1;
	}
	sl_info("started workers=%u config=%s allocator=%s simd=%s", sl_workers_count(), path,
		sl_alloc_name(), sl_simd_name(sl_simd_current()));
	/* Without the counters or the link sluiced still delivers, so a
	 * failure here is logged (by the callee) and not fatal. */
	sl_sluiced_ctl_start(cfg, sl_workers_count());
	serve(c, &set);
	sl_workers_stop();
	rc = sl_workers_join();
	sl_fleet_service_stop();
	sl_sluiced_ctl_stop();
	if (c->pid_file)
		unlink(c->pid_file);
	sl_info("stopped");
	sl_logq_stop();
	sl_config_free(cfg);
	return rc < 0 ? 1 : 0;
}
