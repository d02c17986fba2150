/*
 * ctl/ctld/metrics.c - Prometheus text exposition (format 0.0.4) of
 * sluiced's shared-memory counters, served over HTTP/1.0 on a loopback
 * address. One request per connection; the server reads at most one
 * request head (4 KiB) and answers GET /metrics, 404 for other paths
 * and 405 for other methods.
 *
 * NOTE: the request is read with one blocking recv() under a 1 second
 * receive timeout, so a slow client can delay the ctl loop by up to that
 * long; scrapers send the whole head at once.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctld/ctld.h"
#include "dataplane/throttle/fleet.h"

int ctld_metrics_listen(struct ctld *d, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	int fd, one = 1, rc;

	rc = getaddrinfo(d->cfg.metrics_host, d->cfg.metrics_port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "metrics.listen %s:%s: %s", d->cfg.metrics_host, d->cfg.metrics_port,
			 gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		rc = -errno;
		snprintf(err, errlen, "listening on %s:%s for metrics failed: %s", d->cfg.metrics_host,
			 d->cfg.metrics_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	d->metrics_fd = fd;
	return 0;
}

/* Maps sluiced's segment, again when sluiced restarted (its pid in the
 * segment no longer matches) or the segment went away. */
const struct sl_shm *ctld_shm(struct ctld *d)
{
	int error;

	if (d->shm && atomic_load(&d->shm->pid) > 0 && kill((pid_t)atomic_load(&d->shm->pid), 0) == 0)
		return d->shm;
	sl_shm_close(d->shm);
	d->shm = sl_shm_open(d->cfg.shm_name, &error);
	return d->shm;
}

struct text {
	char *data;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)n;
		t->data = realloc(t->data, t->cap);
		if (!t->data)
			abort();	/* allocation failure is fatal in ctld */
	}
}

static void counter(struct text *t, const char *name, const char *help, uint64_t value)
{
	put(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)value);
}

/* Escapes a label value: backslash, double quote and newline. */
static void label_value(char *out, size_t len, const char *in)
{
	size_t o = 0;

	for (; *in && o + 3 < len; in++) {
		if (*in == '\\' || *in == '"')
			out[o++] = '\\';
		if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
			continue;
		}
		out[o++] = *in;
	}
	out[o] = '\0';
}

static void destinations(struct text *t, const struct sl_shm *shm)
{
	uint32_t i, n = atomic_load(&shm->ndests);
	time_t now = time(NULL);
	struct sl_shm_dest_view v;
	char label[2 * SL_SHM_DEST_NAME_MAX];

	put(t, "# HELP sluice_queue_depth Recipients queued per destination domain.\n"
	       "# TYPE sluice_queue_depth gauge\n");
	for (i = 0; i < n && i < SL_SHM_DESTS_MAX; i++) {
		if (sl_shm_dest_get(shm, i, &v) != 0 || !v.name[0])
			continue;
		label_value(label, sizeof(label), v.name);
		put(t, "sluice_queue_depth{destination=\"%s\"} %lld\n", label, (long long)v.depth);
	}
	put(t, "# HELP sluice_destination_suspended 1 while a destination is suspended by a backoff rule.\n"
	       "# TYPE sluice_destination_suspended gauge\n");
	for (i = 0; i < n && i < SL_SHM_DESTS_MAX; i++) {
		if (sl_shm_dest_get(shm, i, &v) != 0 || !v.name[0])
			continue;
		label_value(label, sizeof(label), v.name);
		put(t, "sluice_destination_suspended{destination=\"%s\"} %d\n", label, v.suspended_until > now);
	}
}

/* The fleet throttle link of sluiced: one state gauge per state, so a
 * query can alert on sluice_fleet_state{state="fallback"} == 1. */
static void fleet(struct text *t, const struct sl_shm *shm)
{
	uint32_t state = atomic_load_explicit(&shm->fleet.state, memory_order_relaxed);

	put(t, "# HELP sluice_fleet_state 1 for the current state of the Redis link of fleet throttles.\n"
	       "# TYPE sluice_fleet_state gauge\n");
	for (uint32_t i = 0; i < SL_FLEET_STATES; i++)
		put(t, "sluice_fleet_state{state=\"%s\"} %d\n", sl_fleet_state_name((enum sl_fleet_state)i),
		    i == state);
	counter(t, "sluice_fleet_leases_total", "Leases of fleet-wide message slots granted by Redis.",
		atomic_load_explicit(&shm->fleet.leases, memory_order_relaxed));
	counter(t, "sluice_fleet_slots_granted_total", "Message slots in the leases granted by Redis.",
		atomic_load_explicit(&shm->fleet.granted, memory_order_relaxed));
	counter(t, "sluice_fleet_slots_spent_total", "Leased message slots used by a delivery.",
		atomic_load_explicit(&shm->fleet.spent, memory_order_relaxed));
	counter(t, "sluice_fleet_slots_expired_total", "Leased message slots that lapsed unused or were dropped when Redis failed.",
		atomic_load_explicit(&shm->fleet.expired, memory_order_relaxed));
	counter(t, "sluice_fleet_redis_errors_total", "Failed Redis connects and calls of the fleet throttle.",
		atomic_load_explicit(&shm->fleet.errors, memory_order_relaxed));
}

char *ctld_metrics_text(struct ctld *d)
{
	struct text t = { malloc(8192), 0, 8192 };
	const struct sl_shm *shm = ctld_shm(d);
	struct sl_shm_totals s;
	uint64_t cumulative = 0;
	int i;

	if (!t.data)
		abort();
	put(&t, "# HELP sluice_up 1 when sluiced's shared counters are readable.\n# TYPE sluice_up gauge\nsluice_up %d\n",
	    shm != NULL);
	put(&t, "# HELP sluice_ctl_snapshot_generation Snapshot generation of sluice-ctld.\n"
		"# TYPE sluice_ctl_snapshot_generation gauge\nsluice_ctl_snapshot_generation %llu\n",
	    (unsigned long long)d->generation);
	if (!shm)
		return t.data;
	sl_shm_totals(shm, &s);
	counter(&t, "sluice_messages_injected_total", "Messages accepted from injectors and committed to the spool.", s.injected);
	counter(&t, "sluice_http_requests_total", "HTTP injection API requests answered with a final status.", s.http_requests);
	counter(&t, "sluice_http_requests_rejected_total", "HTTP injection API requests answered with a 4xx or 5xx status.", s.http_rejected);
	counter(&t, "sluice_http_messages_injected_total", "Messages committed from the HTTP injection API, also counted in sluice_messages_injected_total.", s.http_injected);
	counter(&t, "sluice_recipients_delivered_total", "Recipients delivered (2xx reply).", s.delivered);
	counter(&t, "sluice_recipients_deferred_total", "Delivery attempts deferred (4xx reply, timeout or connection fault).", s.deferred);
	counter(&t, "sluice_recipients_bounced_total", "Recipients bounced (5xx reply or maximum age).", s.bounced);
	counter(&t, "sluice_throttled_attempts_total", "Delivery attempts held back by a throttle or suspension.", s.throttled);
	counter(&t, "sluice_tls_fallbacks_total", "STARTTLS failures after which delivery went on in plaintext on a new connection.", s.tls_fallbacks);
	counter(&t, "sluice_mta_sts_failures_total", "Delivery attempts that failed a domain's MTA-STS policy (in enforce or testing mode).", s.mta_sts_failures);
	put(&t, "# HELP sluice_dkim_signatures_total DKIM signatures made, by algorithm.\n"
		"# TYPE sluice_dkim_signatures_total counter\n"
		"sluice_dkim_signatures_total{algorithm=\"rsa-sha256\"} %llu\n"
		"sluice_dkim_signatures_total{algorithm=\"ed25519-sha256\"} %llu\n",
	    (unsigned long long)s.signatures[SL_SHM_ALG_RSA], (unsigned long long)s.signatures[SL_SHM_ALG_ED25519]);
	put(&t, "# HELP sluice_connections_open Open outbound SMTP connections.\n"
		"# TYPE sluice_connections_open gauge\nsluice_connections_open %lld\n", (long long)s.connections);
	put(&t, "# HELP sluice_spool_flush_seconds Latency of spool group-commit flushes.\n"
		"# TYPE sluice_spool_flush_seconds histogram\n");
	for (i = 0; i < SL_SHM_FLUSH_BUCKETS; i++) {
		cumulative += s.flush_buckets[i];
		put(&t, "sluice_spool_flush_seconds_bucket{le=\"%g\"} %llu\n", sl_shm_flush_bounds_us[i] / 1e6,
		    (unsigned long long)cumulative);
	}
	cumulative += s.flush_buckets[SL_SHM_FLUSH_BUCKETS];
	put(&t, "sluice_spool_flush_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
	put(&t, "sluice_spool_flush_seconds_sum %.6f\nsluice_spool_flush_seconds_count %llu\n",
	    s.flush_sum_us / 1e6, (unsigned long long)s.flush_count);
	destinations(&t, shm);
	fleet(&t, shm);
	return t.data;
}

static void reply(int fd, const char *status, const char *type, const char *body)
{
	char head[256];
	size_t len = strlen(body);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, type, len);

	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n && len)
		send(fd, body, len, MSG_NOSIGNAL);
}

void ctld_metrics_serve(struct ctld *d)
{
	struct timeval tv = { 1, 0 };
	char req[4096];
	ssize_t n;
	int fd = accept4(d->metrics_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, req, sizeof(req) - 1, 0);
	if (n > 0) {
		req[n] = '\0';
		if (strncmp(req, "GET ", 4) != 0) {
			reply(fd, "405 Method Not Allowed", "text/plain", "only GET is supported\n");
		} else if (strncmp(req + 4, "/metrics", 8) == 0 && (req[12] == ' ' || req[12] == '?')) {
			char *body = ctld_metrics_text(d);

			reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
			free(body);
		} else {
			reply(fd, "404 Not Found", "text/plain", "metrics are at /metrics\n");
		}
	}
	close(fd);
}
