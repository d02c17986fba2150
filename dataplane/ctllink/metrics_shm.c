/*
 * dataplane/ctllink/metrics_shm.c - create, map and read the shared
 * counters. See metrics_shm.h for the layout and the writer rules.
 */
#include "dataplane/ctllink/metrics_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const uint32_t sl_shm_flush_bounds_us[SL_SHM_FLUSH_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

struct sl_shm *sl_shm_create(const char *name, uint32_t nworkers, int *error)
{
	struct sl_shm *shm;
	int fd;

	if (nworkers > SL_SHM_WORKERS_MAX) {
		*error = -ERANGE;
		return NULL;
	}
	shm_unlink(name);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		*error = -errno;
		return NULL;
	}
	if (ftruncate(fd, sizeof(*shm)) != 0) {
		*error = -errno;
		close(fd);
		shm_unlink(name);
		return NULL;
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (shm == MAP_FAILED) {
		*error = -errno;
		shm_unlink(name);
		return NULL;
	}
	/* ftruncate zero-fills; the header goes last so that a reader never
	 * accepts a half-made segment. */
	atomic_store(&shm->pid, (int64_t)getpid());
	atomic_store(&shm->started, (int64_t)time(NULL));
	atomic_store(&shm->nworkers, nworkers);
	shm->version = SL_SHM_VERSION;
	shm->size = sizeof(*shm);
	atomic_thread_fence(memory_order_release);
	shm->magic = SL_SHM_MAGIC;
	*error = 0;
	return shm;
}

const struct sl_shm *sl_shm_open(const char *name, int *error)
{
	struct sl_shm *shm;
	struct stat st;
	int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0) {
		*error = -errno;
		return NULL;
	}
	if (fstat(fd, &st) != 0 || (size_t)st.st_size != sizeof(*shm)) {
		close(fd);
		*error = -EPROTO;
		return NULL;
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (shm == MAP_FAILED) {
		*error = -errno;
		return NULL;
	}
	if (shm->magic != SL_SHM_MAGIC || shm->version != SL_SHM_VERSION ||
	    shm->size != sizeof(*shm)) {
		munmap(shm, sizeof(*shm));
		*error = -EPROTO;
		return NULL;
	}
	*error = 0;
	return shm;
}

void sl_shm_close(const struct sl_shm *shm)
{
	if (shm)
		munmap((void *)shm, sizeof(*shm));
}

void sl_shm_unlink(const char *name)
{
	shm_unlink(name);
}

void sl_shm_count_flush(struct sl_shm_worker *w, uint64_t latency_us)
{
	size_t i;

	for (i = 0; i < SL_SHM_FLUSH_BUCKETS; i++)
		if (latency_us <= sl_shm_flush_bounds_us[i])
			break;
	atomic_fetch_add_explicit(&w->flush_buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->flush_sum_us, latency_us, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->flush_count, 1, memory_order_relaxed);
}

void sl_shm_dest_set(struct sl_shm *shm, uint32_t index, const char *name,
		     int64_t depth, int64_t suspended_until, const char *reason)
{
	struct sl_shm_dest *d = &shm->dests[index];
	uint32_t seq = atomic_load_explicit(&d->seq, memory_order_relaxed);

	atomic_store_explicit(&d->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->depth = depth;
	d->suspended_until = suspended_until;
	snprintf(d->reason, sizeof(d->reason), "%s", reason ? reason : "");
	atomic_store_explicit(&d->seq, seq + 2, memory_order_release);
	if (index >= atomic_load_explicit(&shm->ndests, memory_order_relaxed))
		atomic_store_explicit(&shm->ndests, index + 1, memory_order_release);
}

void sl_shm_totals(const struct sl_shm *shm, struct sl_shm_totals *out)
{
	uint32_t n = atomic_load_explicit(&shm->nworkers, memory_order_acquire);
	uint32_t i, a;

	memset(out, 0, sizeof(*out));
	if (n > SL_SHM_WORKERS_MAX)
		n = SL_SHM_WORKERS_MAX;
	for (i = 0; i < n; i++) {
		const struct sl_shm_worker *w = &shm->workers[i];

		out->injected += atomic_load_explicit(&w->injected, memory_order_relaxed);
		out->delivered += atomic_load_explicit(&w->delivered, memory_order_relaxed);
		out->deferred += atomic_load_explicit(&w->deferred, memory_order_relaxed);
		out->bounced += atomic_load_explicit(&w->bounced, memory_order_relaxed);
		out->throttled += atomic_load_explicit(&w->throttled, memory_order_relaxed);
		for (a = 0; a < SL_SHM_ALGS; a++)
			out->signatures[a] += atomic_load_explicit(&w->signatures[a], memory_order_relaxed);
		out->connections += atomic_load_explicit(&w->connections, memory_order_relaxed);
		out->tls_fallbacks += atomic_load_explicit(&w->tls_fallbacks, memory_order_relaxed);
		out->mta_sts_failures += atomic_load_explicit(&w->mta_sts_failures, memory_order_relaxed);
		out->flush_count += atomic_load_explicit(&w->flush_count, memory_order_relaxed);
		out->flush_sum_us += atomic_load_explicit(&w->flush_sum_us, memory_order_relaxed);
		for (a = 0; a <= SL_SHM_FLUSH_BUCKETS; a++)
			out->flush_buckets[a] += atomic_load_explicit(&w->flush_buckets[a], memory_order_relaxed);
		out->http_requests += atomic_load_explicit(&w->http_requests, memory_order_relaxed);
		out->http_rejected += atomic_load_explicit(&w->http_rejected, memory_order_relaxed);
		out->http_injected += atomic_load_explicit(&w->http_injected, memory_order_relaxed);
	}
}

int sl_shm_dest_get(const struct sl_shm *shm, uint32_t index,
		    struct sl_shm_dest_view *out)
{
	const struct sl_shm_dest *d = &shm->dests[index];
	int tries;

	for (tries = 0; tries < 100; tries++) {
		uint32_t before = atomic_load_explicit(&d->seq, memory_order_acquire);

		if (before & 1)
			continue;
		memcpy(out->name, d->name, sizeof(out->name));
		out->depth = d->depth;
		out->suspended_until = d->suspended_until;
		memcpy(out->reason, d->reason, sizeof(out->reason));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&d->seq, memory_order_relaxed) == before) {
			out->name[sizeof(out->name) - 1] = '\0';
			out->reason[sizeof(out->reason) - 1] = '\0';
			return 0;
		}
	}
	return -EAGAIN;
}
