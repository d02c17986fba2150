/*
 * dataplane/tls_failures.c - see tls_failures.h for the contract.
 *
 * An open-addressing hash table with linear probing and at least twice
 * as many slots as max_hosts, so that probe runs stay short. Deletion shifts the later
 * entries of a run back (no tombstones), so a lookup stops at the first
 * empty slot.
 */
#include "dataplane/tls_failures.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct host_key {
	uint8_t family;        /* AF_INET or AF_INET6 */
	uint16_t port;         /* network byte order */
	uint8_t addr[16];
};

struct entry {
	bool used;
	struct host_key key;
	uint64_t expires_ms;
	char reason[SL_TLS_FAILURE_REASON_MAX];
};

struct sl_tls_failures {
	pthread_mutex_t lock;
	uint64_t ttl_ms;
	size_t max_hosts;
	size_t count;
	size_t mask;           /* slot count - 1 */
	struct entry *slots;
};

struct sl_tls_failures *sl_tls_failures_new(size_t max_hosts, uint64_t ttl_ms)
{
	struct sl_tls_failures *t;
	size_t n = 4;

	if (max_hosts == 0 || max_hosts > SIZE_MAX / 4 / sizeof(struct entry))
		return NULL;
	while (n < 2 * max_hosts)
		n *= 2;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->ttl_ms = ttl_ms;
	t->max_hosts = max_hosts;
	t->mask = n - 1;
	return t;
}

void sl_tls_failures_free(struct sl_tls_failures *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

static bool make_key(const struct sockaddr *addr, socklen_t len, struct host_key *k)
{
	memset(k, 0, sizeof(*k));
	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)addr;

		k->family = AF_INET;
		k->port = s->sin_port;
		memcpy(k->addr, &s->sin_addr, 4);
		return true;
	}
	if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)addr;

		k->family = AF_INET6;
		k->port = s->sin6_port;
		memcpy(k->addr, &s->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool key_equal(const struct host_key *a, const struct host_key *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* FNV-1a over the key's fields. */
static size_t home_slot(const struct sl_tls_failures *t, const struct host_key *k)
{
	uint64_t h = 1469598103934665603ull;
	uint8_t bytes[19];

	bytes[0] = k->family;
	memcpy(bytes + 1, &k->port, 2);
	memcpy(bytes + 3, k->addr, 16);
	for (size_t i = 0; i < sizeof(bytes); i++) {
		h ^= bytes[i];
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32)) & t->mask;
}

/* Slot of k, or the empty slot where it would go. */
static size_t probe(const struct sl_tls_failures *t, const struct host_key *k)
{
	size_t i = home_slot(t, k);

	while (t->slots[i].used && !key_equal(&t->slots[i].key, k))
		i = (i + 1) & t->mask;
	return i;
}

/* Empty slot i and move later entries of its probe run back, so that
 * every entry stays reachable from its home slot without a gap. */
static void delete_slot(struct sl_tls_failures *t, size_t i)
{
	size_t j = i;

	t->slots[i].used = false;
	t->count--;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slots[j].used)
			return;
		size_t home = home_slot(t, &t->slots[j].key);

		/* The entry at j may stay when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j].used = false;
		i = j;
	}
}

/* Make room for one entry: drop the expired ones, then the one that
 * expires soonest. */
static void make_room(struct sl_tls_failures *t, uint64_t now_ms)
{
	size_t soonest = SIZE_MAX;

	for (size_t i = 0; i <= t->mask;) {
		if (t->slots[i].used && t->slots[i].expires_ms <= now_ms)
			delete_slot(t, i);   /* slot i may now contain a moved entry */
		else
			i++;
	}
	if (t->count < t->max_hosts)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		if (t->slots[i].used &&
		    (soonest == SIZE_MAX || t->slots[i].expires_ms < t->slots[soonest].expires_ms))
			soonest = i;
	if (soonest != SIZE_MAX)
		delete_slot(t, soonest);
}

void sl_tls_failures_note(struct sl_tls_failures *t, const struct sockaddr *addr,
			  socklen_t addr_len, const char *reason, uint64_t now_ms)
{
	struct host_key k;
	size_t i;

	if (t->ttl_ms == 0 || !make_key(addr, addr_len, &k))
		return;
	pthread_mutex_lock(&t->lock);
	i = probe(t, &k);
	if (!t->slots[i].used) {
		if (t->count >= t->max_hosts) {
			make_room(t, now_ms);
			i = probe(t, &k);
		}
		t->slots[i].used = true;
		t->slots[i].key = k;
		t->count++;
	}
	t->slots[i].expires_ms = now_ms + t->ttl_ms;
	snprintf(t->slots[i].reason, sizeof(t->slots[i].reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&t->lock);
}

bool sl_tls_failures_find(struct sl_tls_failures *t, const struct sockaddr *addr,
			  socklen_t addr_len, uint64_t now_ms, char *reason, size_t reason_len)
{
	struct host_key k;
	bool found = false;
	size_t i;

	if (!make_key(addr, addr_len, &k))
		return false;
	pthread_mutex_lock(&t->lock);
	i = probe(t, &k);
	if (t->slots[i].used) {
		if (t->slots[i].expires_ms <= now_ms) {
			delete_slot(t, i);
		} else {
			found = true;
			if (reason_len)
				snprintf(reason, reason_len, "%s", t->slots[i].reason);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

size_t sl_tls_failures_count(struct sl_tls_failures *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
