/*
 * shm_writer - replaces sluiced's counters in the ctl tests: it
 * creates the shared-memory segment NAME, fills it with the fixed values
 * below, prints "ready" and waits until it is killed, so that
 * sluice-ctld sees a live writer.
 *
 *   shm_writer NAME
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "dataplane/ctllink/metrics_shm.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sl_shm *shm;
	int error;

	if (argc != 2) {
		fprintf(stderr, "usage: shm_writer NAME\n");
		return 2;
	}
	shm = sl_shm_create(argv[1], 2, &error);
	if (!shm) {
		fprintf(stderr, "shm_writer: creating %s failed: %d\n", argv[1], error);
		return 1;
	}
	/* Worker 0 and worker 1 split the totals the test checks. */
	atomic_store(&shm->workers[0].injected, 60);
	atomic_store(&shm->workers[1].injected, 40);
	atomic_store(&shm->workers[0].delivered, 50);
	atomic_store(&shm->workers[1].delivered, 30);
	atomic_store(&shm->workers[0].deferred, 7);
	atomic_store(&shm->workers[1].bounced, 3);
	atomic_store(&shm->workers[1].throttled, 11);
	atomic_store(&shm->workers[0].signatures[SL_SHM_ALG_RSA], 80);
	atomic_store(&shm->workers[1].signatures[SL_SHM_ALG_ED25519], 80);
	atomic_store(&shm->workers[0].connections, 4);
	atomic_store(&shm->workers[1].connections, 1);
	sl_shm_count_flush(&shm->workers[0], 200);
	sl_shm_count_flush(&shm->workers[0], 200);
	sl_shm_count_flush(&shm->workers[1], 3000);
	sl_shm_dest_set(shm, 0, "big.test", 120, 0, "");
	sl_shm_dest_set(shm, 1, "gmail.com", 15, 4102444800LL, "gmail-rate-limited");
	sl_shm_dest_set(shm, 2, "small.test", 2, 0, "");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	sl_shm_unlink(argv[1]);
	return 0;
}
