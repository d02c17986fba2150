/*
 * dataplane/fleet_redis.c - the fleet throttle service thread. See
 * fleet_redis.h for the contract and dataplane/throttle/fleet.h for the
 * lease accounting and the link states.
 *
 * Each pass of the thread's loop:
 *   1. without a connection, connect when the backoff allows (connect
 *      timeout, AUTH with the password file, PING);
 *   2. for every fleet key with demand, drop lapsed slots and, when at
 *      most half a lease is left, call the lease script once;
 *   3. when no call was made for a second, PING, so that a lost Redis
 *      shows in the status even while no fleet key is busy;
 *   4. publish the state and counters, then sleep until a worker writes
 *      the eventfd or a short timeout.
 * A failed call closes the connection and moves the link to fallback,
 * and the loop reconnects after the backoff of sl_fleet_link_event().
 *
 * NOTE: the calls for several busy keys are made one after another, not
 * pipelined, so with many busy fleet keys a key's refill waits for the
 * round trips of the keys before it in the table.
 *
 * The lease script is called with EVALSHA of its SHA-1; a NOSCRIPT
 * error (a fresh or flushed Redis) repeats the call with EVAL, which
 * also caches the script for the next EVALSHA.
 */
#include "dataplane/fleet_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/config/config_fleet.h"
#include "dataplane/ctl_link.h"
#include "dataplane/throttle/fleet.h"

#define FLEET_KEYS 1024
#define PING_EVERY_NS (1ULL * SL_NS_PER_SEC)
#define BUSY_POLL_MS 5
#define IDLE_POLL_MS 100
#define PASSWORD_MAX 512

const char sl_fleet_script[] =
	"-- sluice fleet lease: GCRA over Redis TIME, up to N slots a call.\n"
	"-- KEYS[1]  theoretical arrival time of the key, microseconds\n"
	"-- ARGV[1]  emission interval of the fleet rate, microseconds\n"
	"-- ARGV[2]  burst tolerance, microseconds\n"
	"-- ARGV[3]  slots wanted; ARGV[4] fewest slots worth a grant\n"
	"-- returns {granted, microseconds until ARGV[4] slots are free}\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local interval = tonumber(ARGV[1])\n"
	"local tolerance = tonumber(ARGV[2])\n"
	"local want = tonumber(ARGV[3])\n"
	"local least = tonumber(ARGV[4])\n"
	"local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
	"if tat < now then tat = now end\n"
	"local room = math.floor((now + tolerance + interval - tat) / interval)\n"
	"if room > want then room = want end\n"
	"if room < least then\n"
	"  return {0, tat + least * interval - tolerance - interval - now}\n"
	"end\n"
	"tat = tat + room * interval\n"
	"redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',\n"
	"           math.floor((tat - now) / 1000) + 1000)\n"
	"return {room, 0}\n";

struct fleet_service {
	struct sl_fleet fleet;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	redisContext *redis;
	char address[128];
	char host[64];
	int port;
	char *password_file;
	char prefix[80];
	struct timeval connect_timeout;
	struct timeval command_timeout;
	char sha[SHA_DIGEST_LENGTH * 2 + 1];
	uint64_t last_call_ns;
	char last_error[160];
};

static struct fleet_service service;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static struct timeval ms_to_timeval(uint64_t ms)
{
	return (struct timeval){ .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
}

static void script_sha(char out[SHA_DIGEST_LENGTH * 2 + 1])
{
	unsigned char digest[SHA_DIGEST_LENGTH];

	SHA1((const unsigned char *)sl_fleet_script, strlen(sl_fleet_script), digest);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Splits "ADDR:PORT" or "[V6]:PORT" (already validated by the loader). */
static int split_address(const char *text, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(text, ':');
	size_t n;

	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - text);
	if (text[0] == '[' && n >= 2) {
		text++;
		n -= 2;
	}
	if (n >= hostlen)
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	*port = atoi(colon + 1);
	return 0;
}

static void set_error(struct fleet_service *s, const char *what, const char *detail)
{
	snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what, detail);
}

static void disconnect(struct fleet_service *s)
{
	if (s->redis)
		redisFree(s->redis);
	s->redis = NULL;
}

/* Reads the first line of the password file into BUF. */
static int read_password(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* Checks one status reply; frees it. */
static int expect_ok(struct fleet_service *s, redisReply *r, const char *what)
{
	int rc = 0;

	if (!r) {
		set_error(s, what, s->redis->errstr[0] ? s->redis->errstr : "no reply");
		return -EIO;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		set_error(s, what, r->str);
		rc = -EPROTO;
	}
	freeReplyObject(r);
	return rc;
}

/* Writes all of BUF to the blocking socket FD (its send timeout is the
 * command timeout). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Sends AUTH from a buffer of our own straight to the socket and reads
 * the reply through hiredis. hiredis would copy the command into its
 * output buffer and free it without wiping, so the password never goes
 * through hiredis. Both of our copies are wiped before returning.
 */
static int authenticate(struct fleet_service *s)
{
	char password[PASSWORD_MAX];
	char command[PASSWORD_MAX + 64];
	void *reply = NULL;
	int rc = read_password(s->password_file, password, sizeof(password));
	int len;

	if (rc < 0) {
		set_error(s, "reading fleet.password_file", strerror(-rc));
		explicit_bzero(password, sizeof(password));
		return rc;
	}
	len = snprintf(command, sizeof(command), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n",
		       strlen(password), password);
	explicit_bzero(password, sizeof(password));
	rc = write_all(s->redis->fd, command, (size_t)len);
	explicit_bzero(command, sizeof(command));
	if (rc < 0) {
		set_error(s, "AUTH", strerror(-rc));
		return rc;
	}
	if (redisGetReply(s->redis, &reply) != REDIS_OK)
		reply = NULL;
	return expect_ok(s, reply, "AUTH");
}

static int connect_redis(struct fleet_service *s)
{
	redisContext *c;

	if (s->address[0] == '/')
		c = redisConnectUnixWithTimeout(s->address, s->connect_timeout);
	else
		c = redisConnectWithTimeout(s->host, s->port, s->connect_timeout);
	if (!c) {
		set_error(s, "connect", "out of memory");
		return -ENOMEM;
	}
	s->redis = c;
	if (c->err) {
		set_error(s, "connect", c->errstr);
		disconnect(s);
		return -ECONNREFUSED;
	}
	if (redisSetTimeout(c, s->command_timeout) != REDIS_OK) {
		set_error(s, "setting the command timeout", c->errstr);
		disconnect(s);
		return -EIO;
	}
	if ((s->password_file && authenticate(s) < 0) ||
	    expect_ok(s, redisCommand(c, "PING"), "PING") < 0) {
		disconnect(s);
		return -EIO;
	}
	s->last_call_ns = mono_ns();
	return 0;
}

/* Calls the lease script for ENTRY; returns the slots granted (0 with
 * *wait_us set when none are free yet) or -errno. */
static long long call_lease(struct fleet_service *s, const char *key, uint64_t interval_us,
			    uint64_t tolerance_us, uint32_t want, uint32_t least, uint64_t *wait_us)
{
	char args[4][24];
	const char *argv[8];
	redisReply *r;
	long long granted;

	snprintf(args[0], sizeof(args[0]), "%llu", (unsigned long long)interval_us);
	snprintf(args[1], sizeof(args[1]), "%llu", (unsigned long long)tolerance_us);
	snprintf(args[2], sizeof(args[2]), "%u", want);
	snprintf(args[3], sizeof(args[3]), "%u", least);
	argv[0] = "EVALSHA";
	argv[1] = s->sha;
	argv[2] = "1";
	argv[3] = key;
	for (int i = 0; i < 4; i++)
		argv[4 + i] = args[i];
	r = redisCommandArgv(s->redis, 8, argv, NULL);
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		argv[0] = "EVAL";
		argv[1] = sl_fleet_script;
		r = redisCommandArgv(s->redis, 8, argv, NULL);
	}
	if (!r) {
		set_error(s, "lease script", s->redis->errstr[0] ? s->redis->errstr : "no reply");
		return -EIO;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
		set_error(s, "lease script", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return -EPROTO;
	}
	granted = r->element[0]->integer;
	*wait_us = r->element[1]->integer > 0 ? (uint64_t)r->element[1]->integer : 0;
	freeReplyObject(r);
	return granted;
}

/* Requests a lease for one entry when due; returns -errno on a failed call. */
static int refill(struct fleet_service *s, struct sl_fleet_entry *e, uint64_t now)
{
	struct sl_rate rate = {
		.count = atomic_load_explicit(&e->count, memory_order_relaxed),
		.period_s = atomic_load_explicit(&e->period_s, memory_order_relaxed),
		.burst = atomic_load_explicit(&e->burst, memory_order_relaxed),
	};
	uint32_t least = 1, want = sl_fleet_want(&s->fleet, e, now, &least);
	uint64_t interval_us, tolerance_us, wait_us = 0, burst;
	char key[sizeof(s->prefix) + 8 + SL_FLEET_KEY_MAX];
	long long granted;

	if (want == 0)
		return 0;
	interval_us = sl_gcra_params(rate.count, rate.period_s, 1).interval_ns / 1000;
	if (interval_us == 0)
		interval_us = 1;
	/* The fleet may burst by one full lease (or the rule's burst). */
	burst = rate.burst > sl_fleet_lease_slots(&s->fleet.cfg, &rate)
			? rate.burst : sl_fleet_lease_slots(&s->fleet.cfg, &rate);
	tolerance_us = interval_us * (burst - 1);
	snprintf(key, sizeof(key), "%sgcra:%s", s->prefix, e->key);
	granted = call_lease(s, key, interval_us, tolerance_us, want, least, &wait_us);
	if (granted < 0)
		return (int)granted;
	s->last_call_ns = now;
	if (granted == 0)
		sl_fleet_defer(e, now, wait_us * 1000);
	else
		sl_fleet_grant(&s->fleet, e, (uint32_t)granted, now);
	return 0;
}

static void publish(struct fleet_service *s)
{
	struct sl_shm *shm = sl_sluiced_shm();
	uint64_t leases = 0, granted = 0, spent = 0, expired = 0;
	uint32_t keys = 0;

	if (!shm)
		return;
	for (size_t i = 0; i < s->fleet.capacity; i++) {
		struct sl_fleet_entry *e = &s->fleet.entries[i];

		if (!atomic_load_explicit(&e->ready, memory_order_acquire))
			continue;
		keys++;
		leases += atomic_load_explicit(&e->leases, memory_order_relaxed);
		granted += atomic_load_explicit(&e->granted, memory_order_relaxed);
		spent += atomic_load_explicit(&e->spent, memory_order_relaxed);
		expired += atomic_load_explicit(&e->expired, memory_order_relaxed);
	}
	atomic_store_explicit(&shm->fleet.fleet_size, s->fleet.cfg.fleet_size, memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.leases, leases, memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.granted, granted, memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.spent, spent, memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.expired, expired, memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.errors, atomic_load(&s->fleet.redis_errors), memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.keys, keys, memory_order_relaxed);
	atomic_store_explicit(&shm->fleet.state, atomic_load(&s->fleet.state), memory_order_relaxed);
	if (atomic_load_explicit(&shm->fleet.since, memory_order_relaxed) == 0)
		atomic_store_explicit(&shm->fleet.since, (int64_t)time(NULL), memory_order_relaxed);
}

/* Applies the outcome of a connect or call to the link state, logging
 * only when the state changes. */
static void link_event(struct fleet_service *s, int rc, uint64_t now)
{
	enum sl_fleet_event ev = rc < 0 ? SL_FLEET_EV_FAILURE : SL_FLEET_EV_SUCCESS;
	struct sl_shm *shm;

	if (rc < 0)
		disconnect(s);
	if (!sl_fleet_link_event(&s->fleet, ev, now))
		return;
	if ((shm = sl_sluiced_shm()))
		atomic_store_explicit(&shm->fleet.since, (int64_t)time(NULL), memory_order_relaxed);
	if (ev == SL_FLEET_EV_SUCCESS)
		sl_info("fleet: Redis %s reachable: fleet rules spend leased slots", s->address);
	else
		sl_warn("fleet: Redis %s failed (%s): fleet rules fall back to 1/%u of their rate; "
			"reconnecting with backoff", s->address, s->last_error, s->fleet.cfg.fleet_size);
}

/* One pass over the fleet keys; returns true when any key has demand. */
static bool serve_keys(struct fleet_service *s, uint64_t now)
{
	bool busy = false;

	for (size_t i = 0; i < s->fleet.capacity && s->redis; i++) {
		struct sl_fleet_entry *e = &s->fleet.entries[i];
		int rc;

		if (!atomic_load_explicit(&e->ready, memory_order_acquire))
			continue;
		sl_fleet_expire(e, now);
		if (atomic_load_explicit(&e->requested_ns, memory_order_relaxed) + s->fleet.cfg.lease_ns >= now)
			busy = true;
		rc = refill(s, e, now);
		if (rc < 0)
			link_event(s, rc, now);
	}
	return busy;
}

static void *service_main(void *arg)
{
	struct fleet_service *s = arg;
	struct pollfd pfd = { .fd = s->fleet.wake_fd, .events = POLLIN };

	while (!atomic_load(&s->stop)) {
		uint64_t now = mono_ns(), drained;
		bool busy = false;

		if (!s->redis && sl_fleet_link_may_try(&s->fleet, now))
			link_event(s, connect_redis(s), now);
		if (s->redis) {
			atomic_store_explicit(&s->fleet.wake, 0, memory_order_relaxed);
			busy = serve_keys(s, now);
		}
		if (s->redis && now - s->last_call_ns >= PING_EVERY_NS) {
			int rc = expect_ok(s, redisCommand(s->redis, "PING"), "PING");

			s->last_call_ns = now;
			link_event(s, rc, now);
		}
		publish(s);
		if (poll(&pfd, 1, busy ? BUSY_POLL_MS : IDLE_POLL_MS) > 0 &&
		    read(s->fleet.wake_fd, &drained, sizeof(drained)) < 0 && errno != EAGAIN)
			sl_warn("fleet: reading the wake eventfd failed: %s", strerror(errno));
	}
	return NULL;
}

static int configure(struct fleet_service *s, const struct sl_config_fleet *c)
{
	struct sl_fleet_config fc = {
		.lease_size = (uint32_t)c->lease_size,
		.lease_ns = c->lease_time * 1000000ULL,
		.fleet_size = (uint32_t)c->fleet_size,
		.retry_min_ns = c->reconnect_min * 1000000ULL,
		.retry_max_ns = c->reconnect_max * 1000000ULL,
	};
	int rc;

	snprintf(s->address, sizeof(s->address), "%s", c->redis);
	if (s->address[0] != '/' && split_address(s->address, s->host, sizeof(s->host), &s->port) < 0)
		return -EINVAL;
	snprintf(s->prefix, sizeof(s->prefix), "%s", c->key_prefix);
	s->password_file = c->password_file ? strdup(c->password_file) : NULL;
	s->connect_timeout = ms_to_timeval(c->connect_timeout);
	s->command_timeout = ms_to_timeval(c->command_timeout);
	script_sha(s->sha);
	if ((rc = sl_fleet_init(&s->fleet, &fc, FLEET_KEYS)) < 0)
		return rc;
	s->fleet.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->fleet.wake_fd < 0) {
		rc = -errno;
		sl_fleet_free(&s->fleet);
		return rc;
	}
	return 0;
}

int sl_fleet_service_start(const struct sl_config *cfg)
{
	const struct sl_config_fleet *c = sl_config_fleet(cfg);
	int rc;

	if (!c->redis)
		return 0;
	if ((rc = configure(&service, c)) < 0) {
		sl_err("fleet: setting up the fleet throttle for Redis %s failed: %s", c->redis, strerror(-rc));
		return rc;
	}
	/* Workers get the fleet before the first lease, so they apply the
	 * local share of fleet rates until the first Redis reply. */
	sl_fleet_set_current(&service.fleet);
	rc = pthread_create(&service.thread, NULL, service_main, &service);
	if (rc != 0) {
		sl_err("fleet: starting the service thread failed: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(service.thread, "sl-fleet");
	service.running = true;
	sl_info("fleet: leasing from Redis %s, key prefix \"%s\", fleet size %u, lease %u slots for %llu ms",
		service.address, service.prefix, service.fleet.cfg.fleet_size, service.fleet.cfg.lease_size,
		(unsigned long long)(service.fleet.cfg.lease_ns / 1000000));
	return 0;
}

void sl_fleet_service_stop(void)
{
	uint64_t one = 1;

	if (!service.running)
		return;
	atomic_store(&service.stop, true);
	if (write(service.fleet.wake_fd, &one, sizeof(one)) < 0)
		sl_warn("fleet: waking the service thread failed: %s", strerror(errno));
	pthread_join(service.thread, NULL);
	service.running = false;
	/* The workers have stopped, so no thread reads the table any more. */
	sl_fleet_set_current(NULL);
	disconnect(&service);
	close(service.fleet.wake_fd);
	sl_fleet_free(&service.fleet);
	free(service.password_file);
	service.password_file = NULL;
}
