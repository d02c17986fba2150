/*
 * bench/sluice-bench/cleanup.c - the processes and folders sluice-bench
 * made, so that every exit path stops and removes them.
 *
 * Processes are stopped by their PID only. Folders are removed
 * depth-first without following symbolic links; files ending in ".pem"
 * (the DKIM keys generated for sluiced) are overwritten with zeros before
 * they are unlinked. Called from the main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/sluice-bench/bench.h"

#define MAX_TRACKED 64

volatile sig_atomic_t sl_bench_stop;

static pid_t tracked_pids[MAX_TRACKED];
static char *tracked_dirs[MAX_TRACKED];

void sl_bench_track_pid(pid_t pid)
{
	for (unsigned i = 0; i < MAX_TRACKED; i++) {
		if (tracked_pids[i] == 0) {
			tracked_pids[i] = pid;
			return;
		}
	}
	/* More children than slots is a programming error: stop at once. */
	kill(pid, SIGKILL);
	abort();
}

void sl_bench_untrack_pid(pid_t pid)
{
	for (unsigned i = 0; i < MAX_TRACKED; i++)
		if (tracked_pids[i] == pid)
			tracked_pids[i] = 0;
}

static bool reap(pid_t pid, int wait_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (waited >= wait_ms)
			return false;
		nanosleep(&pause, NULL);
	}
}

static bool tracked(pid_t pid)
{
	for (unsigned i = 0; i < MAX_TRACKED; i++)
		if (tracked_pids[i] == pid)
			return true;
	return false;
}

/* Only a tracked PID is signalled: an untracked one was reaped already and
 * its number may belong to another process by now. */
void sl_bench_stop_pid(pid_t pid, int grace_ms)
{
	if (pid <= 0 || !tracked(pid))
		return;
	kill(pid, SIGTERM);
	if (!reap(pid, grace_ms)) {
		kill(pid, SIGKILL);
		reap(pid, 5000);
	}
	sl_bench_untrack_pid(pid);
}

void sl_bench_track_dir(const char *path)
{
	for (unsigned i = 0; i < MAX_TRACKED; i++) {
		if (tracked_dirs[i] == NULL) {
			tracked_dirs[i] = strdup(path);
			if (!tracked_dirs[i])
				abort();
			return;
		}
	}
	abort();
}

/* Overwrite a key file with zeros so that its bytes do not stay on disk. */
static void wipe_file(const char *path, off_t size)
{
	static const char zeros[4096];
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	for (off_t done = 0; done < size;) {
		size_t n = size - done < (off_t)sizeof(zeros) ? (size_t)(size - done) : sizeof(zeros);
		ssize_t w = write(fd, zeros, n);

		if (w <= 0)
			break;
		done += w;
	}
	fdatasync(fd);
	close(fd);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t len = strlen(path);

	(void)ftw;
	if (type == FTW_F && len > 4 && strcmp(path + len - 4, ".pem") == 0)
		wipe_file(path, st->st_size);
	remove(path);
	return 0;
}

void sl_bench_remove_dir(const char *path)
{
	for (unsigned i = 0; i < MAX_TRACKED; i++) {
		if (tracked_dirs[i] && strcmp(tracked_dirs[i], path) == 0) {
			nftw(tracked_dirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
			free(tracked_dirs[i]);
			tracked_dirs[i] = NULL;
			return;
		}
	}
}

void sl_bench_cleanup(void)
{
	for (unsigned i = 0; i < MAX_TRACKED; i++)
		if (tracked_pids[i])
			sl_bench_stop_pid(tracked_pids[i], 5000);
	for (unsigned i = 0; i < MAX_TRACKED; i++)
		if (tracked_dirs[i])
			sl_bench_remove_dir(tracked_dirs[i]);
}
