/*
 * ctl/ctld/main.c - sluice-ctld: start, the poll loop and stop.
 *
 *   sluice-ctld -c FILE [-t]
 *
 * -t checks the configuration and exits (0 valid, 1 invalid). Runs in
 * the foreground and logs to stderr; SIGHUP reloads the configuration,
 * SIGTERM and SIGINT stop it. Exit status: 0 after a requested stop, 1
 * on a setup failure (the message names the file, key or call), 2 on a
 * usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: sluice-ctld -c FILE [-t]\n"
		     "  -c FILE  the sluice configuration file (YAML)\n"
		     "  -t       check the configuration and exit\n");
}

static int setup(struct ctld *d, char *err, size_t errlen)
{
	int rc;

	d->keys.overlap_s = d->cfg.overlap_s;
	d->keys.retire_after_s = d->cfg.retire_after_s;
	if ((rc = sl_keystore_open(&d->keys, d->cfg.keys_dir, err, errlen)) ||
	    (rc = ctld_state_load(d, err, errlen)) ||
	    (rc = ctld_ctl_listen(d, err, errlen)) ||
	    (rc = ctld_link_listen(d, err, errlen)) ||
	    (rc = ctld_metrics_listen(d, err, errlen)))
		return rc;
	return 0;
}

static void reload(struct ctld *d)
{
	json_t *req = json_pack("{s:s}", "command", "config.reload");
	json_t *resp = ctld_command(d, req, 0);

	json_decref(resp);
	json_decref(req);
}

static void tick(struct ctld *d)
{
	time_t now = time(NULL);
	int changed = sl_keystore_tick(&d->keys, now);

	if (changed > 0) {
		sl_info("keys: %d key(s) changed state on schedule", changed);
		ctld_changed(d);
	}
	ctld_state_expire(d, now);
}

/* Returns 0 after SIGTERM or SIGINT. */
static int run(struct ctld *d, int sigfd)
{
	struct pollfd pfd[CTLD_CLIENTS_MAX + 5];
	int client_at[CTLD_CLIENTS_MAX + 5];
	time_t last_tick = 0;

	for (;;) {
		int n = 0, i, ready;

		pfd[n++] = (struct pollfd){ sigfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ d->ctl_fd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ d->link_listen_fd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ d->metrics_fd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ d->link_fd, POLLIN, 0 };	/* -1 is ignored */
		for (i = 0; i < CTLD_CLIENTS_MAX; i++) {
			if (!d->clients[i])
				continue;
			client_at[n] = i;
			pfd[n++] = (struct pollfd){ d->clients[i]->fd, POLLIN, 0 };
		}
		ready = poll(pfd, (nfds_t)n, 1000);
		if (ready < 0 && errno != EINTR) {
			sl_err("poll() failed: %s", strerror(errno));
			return 1;
		}
		if (time(NULL) != last_tick) {
			last_tick = time(NULL);
			tick(d);
		}
		if (ready <= 0)
			continue;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload(d);
				} else {
					sl_info("stopping on signal %u", si.ssi_signo);
					return 0;
				}
			}
		}
		if (pfd[1].revents)
			ctld_ctl_accept(d);
		if (pfd[2].revents)
			ctld_link_accept(d);
		if (pfd[3].revents)
			ctld_metrics_serve(d);
		if (pfd[4].revents && d->link_fd == pfd[4].fd)
			ctld_link_read(d);
		for (i = 5; i < n; i++)
			if (pfd[i].revents && d->clients[client_at[i]] &&
			    d->clients[client_at[i]]->fd == pfd[i].fd)
				ctld_ctl_read(d, client_at[i]);
	}
}

static void cleanup(struct ctld *d)
{
	int i;

	for (i = 0; i < CTLD_CLIENTS_MAX; i++) {
		if (d->clients[i]) {
			close(d->clients[i]->fd);
			free(d->clients[i]);
		}
	}
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->cfg.socket);
	}
	if (d->link_listen_fd >= 0) {
		close(d->link_listen_fd);
		unlink(d->cfg.link_socket);
	}
	if (d->link_fd >= 0)
		close(d->link_fd);
	if (d->metrics_fd >= 0)
		close(d->metrics_fd);
	sl_shm_close(d->shm);
	sl_policy_free(d->policy);
	json_decref(d->merged_rules);
	json_decref(d->overrides);
	json_decref(d->suspensions);
	json_decref(d->actions);
	ctld_config_free(&d->cfg);
}

int main(int argc, char **argv)
{
	static struct ctld d = { .ctl_fd = -1, .link_listen_fd = -1, .link_fd = -1, .metrics_fd = -1 };
	char err[CTLD_ERR_MAX];
	const char *config = NULL;
	bool check_only = false;
	sigset_t mask;
	int opt, sigfd, rc;

	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 't': check_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	sl_log_init("sluice-ctld", SL_LOG_INFO);
	if (ctld_config_load(config, &d.cfg, err, sizeof(err)) != 0) {
		sl_err("%s", err);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration valid\n", config);
		ctld_config_free(&d.cfg);
		return 0;
	}
	sl_log_level = d.cfg.log_level;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.started = time(NULL);
	if (sigfd < 0 || setup(&d, err, sizeof(err)) != 0) {
		sl_err("start failed: %s", sigfd < 0 ? strerror(errno) : err);
		cleanup(&d);
		return 1;
	}
	sl_info("started: ctl socket %s, link socket %s, metrics http://%s:%s/metrics, keys %s",
		d.cfg.socket, d.cfg.link_socket, d.cfg.metrics_host, d.cfg.metrics_port, d.cfg.keys_dir);
	rc = run(&d, sigfd);
	ctld_state_save(&d);
	cleanup(&d);
	close(sigfd);
	sl_info("stopped");
	return rc;
}
