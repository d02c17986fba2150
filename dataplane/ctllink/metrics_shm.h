/*
 * dataplane/ctllink/metrics_shm.h - the counters sluiced keeps in shared
 * memory and sluice-ctld reads for Prometheus, "status" and "top".
 *
 * sluiced creates the segment (shm_open NAME, mode 0640) with
 * sl_shm_create() and writes it; sluice-ctld maps it read-only with
 * sl_shm_open() and never writes. The layout is versioned by magic,
 * version and size: a reader rejects a segment whose three fields differ
 * from its own, so both sides must be built from this header.
 *
 * Writers:
 *  - struct sl_shm_worker: one per worker thread, written only by that
 *    worker with relaxed atomic adds (no locked instruction shared
 *    between cores, because each worker's block is on its own cache
 *    lines). Readers sum all workers.
 *  - struct sl_shm_dest: one writer thread at a time (sluiced's ctl link
 *    thread or scheduler), published with a sequence lock: the writer
 *    makes seq odd, writes, makes it even; a reader retries while seq is
 *    odd or changed.
 *  - struct sl_shm_fleet: written only by sluiced's fleet service thread
 *    with relaxed atomic stores; each field is read on its own.
 * Counters only grow; gauges (open connections, queue depth) go up and
 * down.
 */
#ifndef SLUICE_DATAPLANE_CTLLINK_METRICS_SHM_H
#define SLUICE_DATAPLANE_CTLLINK_METRICS_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SHM_MAGIC 0x314d454349554c53ULL	/* "SLUICEM1", little-endian */
#define SL_SHM_VERSION 4
#define SL_SHM_WORKERS_MAX 64
#define SL_SHM_DESTS_MAX 256
#define SL_SHM_DEST_NAME_MAX 128

enum sl_shm_alg {
	SL_SHM_ALG_RSA = 0,	/* rsa-sha256 */
	SL_SHM_ALG_ED25519,	/* ed25519-sha256 */
	SL_SHM_ALGS,
};

/* Upper bounds of the spool flush latency histogram, microseconds; a
 * last bucket counts everything above. */
#define SL_SHM_FLUSH_BUCKETS 12
extern const uint32_t sl_shm_flush_bounds_us[SL_SHM_FLUSH_BUCKETS];

struct sl_shm_worker {
	_Atomic uint64_t injected;	/* messages accepted and committed */
	_Atomic uint64_t delivered;	/* recipients delivered (2xx) */
	_Atomic uint64_t deferred;	/* recipients deferred (4xx, faults) */
	_Atomic uint64_t bounced;	/* recipients bounced (5xx, max age) */
	_Atomic uint64_t throttled;	/* attempts held back by a throttle */
	_Atomic uint64_t signatures[SL_SHM_ALGS];
	_Atomic int64_t connections;	/* open outbound connections (gauge) */
	_Atomic uint64_t tls_fallbacks;	/* STARTTLS failures followed by a plaintext retry */
	_Atomic uint64_t mta_sts_failures;	/* sessions or MX answers that failed an MTA-STS policy */
	_Atomic uint64_t flush_count;
	_Atomic uint64_t flush_sum_us;
	_Atomic uint64_t flush_buckets[SL_SHM_FLUSH_BUCKETS + 1];
	_Atomic uint64_t http_requests;	/* HTTP API requests answered with a final status */
	_Atomic uint64_t http_rejected;	/* of those, answered with a 4xx or 5xx status */
	_Atomic uint64_t http_injected;	/* messages committed from the HTTP API, also in injected */
} __attribute__((aligned(64)));

struct sl_shm_dest {
	_Atomic uint32_t seq;
	char name[SL_SHM_DEST_NAME_MAX];	/* destination domain */
	int64_t depth;			/* recipients queued */
	int64_t suspended_until;	/* seconds since the epoch; 0: not */
	char reason[64];		/* backoff rule or "operator" */
};

/* The fleet throttle link (dataplane/fleet_redis.h). */
struct sl_shm_fleet {
	_Atomic uint32_t state;		/* enum sl_fleet_state: 0 off, 1 connecting, 2 leasing, 3 fallback */
	_Atomic uint32_t fleet_size;	/* the fallback divisor */
	_Atomic int64_t since;		/* seconds since the epoch of the last state change */
	_Atomic uint64_t leases;	/* leases granted by Redis */
	_Atomic uint64_t granted;	/* message slots in those leases */
	_Atomic uint64_t spent;		/* leased slots used by a delivery */
	_Atomic uint64_t expired;	/* leased slots that lapsed or were dropped */
	_Atomic uint64_t errors;	/* failed Redis calls and connects */
	_Atomic uint32_t keys;		/* fleet keys seen */
};

struct sl_shm {
	uint64_t magic;
	uint32_t version;
	uint32_t size;			/* sizeof(struct sl_shm) */
	_Atomic int64_t pid;		/* sluiced's pid */
	_Atomic int64_t started;	/* seconds since the epoch */
	_Atomic uint32_t nworkers;
	_Atomic uint32_t ndests;
	struct sl_shm_worker workers[SL_SHM_WORKERS_MAX];
	struct sl_shm_dest dests[SL_SHM_DESTS_MAX];
	struct sl_shm_fleet fleet;
};

/* Sums of all workers, as read by sl_shm_totals(). */
struct sl_shm_totals {
	uint64_t injected, delivered, deferred, bounced, throttled;
	uint64_t signatures[SL_SHM_ALGS];
	int64_t connections;
	uint64_t tls_fallbacks;
	uint64_t mta_sts_failures;
	uint64_t flush_count, flush_sum_us;
	uint64_t flush_buckets[SL_SHM_FLUSH_BUCKETS + 1];
	uint64_t http_requests, http_rejected, http_injected;
};

/* A consistent copy of one destination entry. */
struct sl_shm_dest_view {
	char name[SL_SHM_DEST_NAME_MAX];
	int64_t depth;
	int64_t suspended_until;
	char reason[64];
};

/* sluiced: create (or replace) and map the segment NAME ("/sluice-..."). */
struct sl_shm *sl_shm_create(const char *name, uint32_t nworkers, int *error);
/* sluice-ctld: map NAME read-only; NULL with *error set when it is
 * missing (-ENOENT) or has another layout (-EPROTO). */
const struct sl_shm *sl_shm_open(const char *name, int *error);
void sl_shm_close(const struct sl_shm *shm);
void sl_shm_unlink(const char *name);

/* Writer side helpers. */
void sl_shm_count_flush(struct sl_shm_worker *w, uint64_t latency_us);
/* Sets entry INDEX (0 <= INDEX < SL_SHM_DESTS_MAX); one writer thread. */
void sl_shm_dest_set(struct sl_shm *shm, uint32_t index, const char *name,
		     int64_t depth, int64_t suspended_until, const char *reason);

/* Reader side. */
void sl_shm_totals(const struct sl_shm *shm, struct sl_shm_totals *out);
int sl_shm_dest_get(const struct sl_shm *shm, uint32_t index,
		    struct sl_shm_dest_view *out);

#endif
