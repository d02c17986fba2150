/*
 * dataplane/logq.c - see logq.h for the contract.
 */
#include "dataplane/logq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define QUEUE_SIZE (1024 * 1024)
#define WRITE_CHUNK (64 * 1024)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	char buf[QUEUE_SIZE];
	size_t head, len;	/* ring: bytes [head, head + len) modulo QUEUE_SIZE */
	uint64_t dropped;
	const char *reopen;
	bool stop, running;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void enqueue(const char *line, size_t len)
{
	pthread_mutex_lock(&q.lock);
	if (QUEUE_SIZE - q.len < len) {
		q.dropped++;
	} else {
		size_t tail = (q.head + q.len) % QUEUE_SIZE;
		size_t first = len < QUEUE_SIZE - tail ? len : QUEUE_SIZE - tail;

		memcpy(q.buf + tail, line, first);
		memcpy(q.buf, line + first, len - first);
		q.len += len;
		pthread_cond_signal(&q.cond);
	}
	pthread_mutex_unlock(&q.lock);
}

/* Take up to WRITE_CHUNK queued bytes into out; called with the lock held. */
static size_t dequeue(char *out)
{
	size_t n = q.len < WRITE_CHUNK ? q.len : WRITE_CHUNK;
	size_t first = n < QUEUE_SIZE - q.head ? n : QUEUE_SIZE - q.head;

	memcpy(out, q.buf + q.head, first);
	memcpy(out + first, q.buf, n - first);
	q.head = (q.head + n) % QUEUE_SIZE;
	q.len -= n;
	return n;
}

static void *writer_main(void *arg)
{
	static char chunk[WRITE_CHUNK];
	char note[128];

	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (!q.len && !q.stop && !q.reopen)
			pthread_cond_wait(&q.cond, &q.lock);
		if (q.reopen) {
			const char *path = q.reopen;
			int rc;

			q.reopen = NULL;
			pthread_mutex_unlock(&q.lock);
			rc = sl_log_open(path);
			if (rc < 0) {
				snprintf(note, sizeof(note), "logq: reopening the log file failed: %s\n",
					 strerror(-rc));
				sl_log_write_raw(note, strlen(note));
			}
			pthread_mutex_lock(&q.lock);
			continue;
		}
		if (!q.len && q.stop)
			break;

		size_t n = dequeue(chunk);
		uint64_t dropped = q.dropped;

		q.dropped = 0;
		pthread_mutex_unlock(&q.lock);
		sl_log_write_raw(chunk, n);
		if (dropped) {
			snprintf(note, sizeof(note), "logq: %llu log lines dropped, the queue was full\n",
				 (unsigned long long)dropped);
			sl_log_write_raw(note, strlen(note));
		}
		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

int sl_logq_start(void)
{
	int rc = pthread_create(&q.thread, NULL, writer_main, NULL);

	if (rc)
		return -rc;
	q.running = true;
	sl_log_set_writer(enqueue);
	return 0;
}

void sl_logq_reopen(const char *path)
{
	pthread_mutex_lock(&q.lock);
	q.reopen = path;
	pthread_cond_signal(&q.cond);
	pthread_mutex_unlock(&q.lock);
}

void sl_logq_stop(void)
{
	if (!q.running)
		return;
	pthread_mutex_lock(&q.lock);
	q.stop = true;
	pthread_cond_signal(&q.cond);
	pthread_mutex_unlock(&q.lock);
	pthread_join(q.thread, NULL);
	sl_log_set_writer(NULL);
	q.running = false;
}
