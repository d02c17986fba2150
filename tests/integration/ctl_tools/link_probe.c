/*
 * link_probe - replaces sluiced's link thread in the ctl tests: it
 * runs the real receiver (dataplane/ctllink) against sluice-ctld's link
 * socket and prints one line per snapshot it publishes:
 *
 *   snapshot GENERATION keys=N signers=N suspensions=N actions=N rules=N
 *
 *   link_probe SOCKET
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "dataplane/ctllink/ctl_link.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_snapshot(const struct sl_snapshot *s, void *arg)
{
	(void)arg;
	printf("snapshot %llu keys=%zu signers=%zu suspensions=%zu actions=%zu rules=%zu\n",
	       (unsigned long long)s->generation, s->nkeys, s->nsigners, s->nsuspensions, s->nactions,
	       s->policy ? s->policy->nrules : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sl_ctl_link_config cfg = { 0 };
	struct sl_ctl_link *link;

	if (argc != 2) {
		fprintf(stderr, "usage: link_probe SOCKET\n");
		return 2;
	}
	sl_log_init("link_probe", SL_LOG_INFO);
	cfg.socket_path = argv[1];
	cfg.nworkers = 0;
	cfg.retry_ms = 100;
	cfg.on_snapshot = on_snapshot;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (sl_ctl_link_start(&cfg, &link) != 0)
		return 1;
	while (!stop)
		pause();
	sl_ctl_link_stop(link);
	return 0;
}
