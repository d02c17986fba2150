/*
 * dataplane/dns.c - c-ares resolver on a service thread.
 *
 * The contract is in dns.h. Flow of one MX lookup on the service thread:
 * cache check, MX query, then A and AAAA queries for each exchanger (or
 * for the domain itself when it has no MX), then the answer is built,
 * cached and posted to the requester's inbox.
 *
 * Workers and the service thread share only the request list and the
 * inboxes, each behind its own mutex; lookups are rare next to messages,
 * so a lock there costs nothing measurable.
 */
#include "dataplane/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dataplane/mta_sts.h"

#define MAX_MX_HOSTS 8
#define CACHE_BUCKETS 4096

struct sl_dns_inbox {
	pthread_mutex_t lock;
	struct sl_dns_answer *head, *tail;
	int fd;
};

struct request {
	struct request *next;
	enum sl_dns_kind kind;
	char name[SL_DNS_NAME_MAX];
	uint16_t port;
	uint64_t cookie;
	struct sl_dns_inbox *inbox;
};

struct cache_entry {
	struct cache_entry *next;
	uint64_t expires;            /* monotonic seconds */
	uint16_t port;
	struct sl_dns_answer answer;
};

struct sl_dns {
	struct sl_dns_config cfg;
	ares_channel channel;
	pthread_t thread;
	int wake_fd;
	int stopping;
	pthread_mutex_t lock;
	struct request *requests;
	struct cache_entry *cache[CACHE_BUCKETS];
};

struct lookup;

struct addr_query {
	struct lookup *lookup;
	int host;
	int family;
	struct sockaddr_storage addr[SL_DNS_MAX_TARGETS];
	unsigned count;
};

struct lookup {
	struct sl_dns *dns;
	struct request req;
	struct sl_dns_answer *answer;
	int pending;
	int mx_done;                 /* MX and address queries have ended */
	int txt_pending;             /* the _mta-sts TXT query has not ended */
	int tempfail;
	char tempfail_error[384];
	unsigned host_count;
	char host[MAX_MX_HOSTS][SL_DNS_NAME_MAX];
	uint16_t preference[MAX_MX_HOSTS];
	struct addr_query query[MAX_MX_HOSTS][2];
};

void sl_dns_default_config(struct sl_dns_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = 5000;
	cfg->tries = 2;
	cfg->negative_ttl_s = 300;
	cfg->max_ttl_s = 86400;
	cfg->mx_port = 25;
}

const char *sl_dns_status_name(enum sl_dns_status status)
{
	static const char *names[] = {
		[SL_DNS_OK] = "ok",
		[SL_DNS_NOT_FOUND] = "not found",
		[SL_DNS_NULL_MX] = "null MX",
		[SL_DNS_TEMPFAIL] = "temporary failure",
	};
	return status <= SL_DNS_TEMPFAIL ? names[status] : "?";
}

static uint64_t mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Inboxes. */

struct sl_dns_inbox *sl_dns_inbox_new(void)
{
	struct sl_dns_inbox *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->fd < 0) {
		free(in);
		return NULL;
	}
	pthread_mutex_init(&in->lock, NULL);
	return in;
}

void sl_dns_inbox_free(struct sl_dns_inbox *in)
{
	if (!in)
		return;
	sl_dns_answer_free(in->head);
	close(in->fd);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

int sl_dns_inbox_fd(const struct sl_dns_inbox *in)
{
	return in->fd;
}

void sl_dns_inbox_post(struct sl_dns_inbox *in, struct sl_dns_answer *a)
{
	uint64_t one = 1;

	a->next = NULL;
	pthread_mutex_lock(&in->lock);
	if (in->tail)
		in->tail->next = a;
	else
		in->head = a;
	in->tail = a;
	pthread_mutex_unlock(&in->lock);
	if (write(in->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_warn("dns: eventfd write failed: %s", strerror(errno));
}

struct sl_dns_answer *sl_dns_inbox_take(struct sl_dns_inbox *in)
{
	struct sl_dns_answer *list;
	uint64_t count;

	if (read(in->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		sl_warn("dns: eventfd read failed: %s", strerror(errno));
	pthread_mutex_lock(&in->lock);
	list = in->head;
	in->head = in->tail = NULL;
	pthread_mutex_unlock(&in->lock);
	return list;
}

void sl_dns_answer_free(struct sl_dns_answer *a)
{
	while (a) {
		struct sl_dns_answer *next = a->next;

		free(a);
		a = next;
	}
}

/* Cache, used only on the service thread. */

static unsigned cache_bucket(enum sl_dns_kind kind, const char *name, uint16_t port)
{
	unsigned h = 2166136261u ^ (unsigned)kind ^ ((unsigned)port << 8);

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % CACHE_BUCKETS;
}

static struct cache_entry **cache_find(struct sl_dns *dns, const struct request *r)
{
	struct cache_entry **e = &dns->cache[cache_bucket(r->kind, r->name, r->port)];

	for (; *e; e = &(*e)->next)
		if ((*e)->answer.kind == r->kind && (*e)->port == r->port &&
		    strcmp((*e)->answer.name, r->name) == 0)
			return e;
	return e;
}

static void cache_store(struct sl_dns *dns, const struct request *r,
			const struct sl_dns_answer *a)
{
	struct cache_entry **slot = cache_find(dns, r);
	uint32_t ttl;

	if (a->status == SL_DNS_TEMPFAIL)
		return;
	ttl = a->status == SL_DNS_OK ? a->ttl_s : dns->cfg.negative_ttl_s;
	if (ttl > dns->cfg.max_ttl_s)
		ttl = dns->cfg.max_ttl_s;
	if (ttl == 0)
		return;
	if (!*slot) {
		*slot = calloc(1, sizeof(**slot));
		if (!*slot)
			return;
	}
	struct cache_entry *next = (*slot)->next;

	(*slot)->answer = *a;
	(*slot)->next = next;
	(*slot)->port = r->port;
	(*slot)->expires = mono_seconds() + ttl;
}

static void cache_clear(struct sl_dns *dns)
{
	for (unsigned i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry *e = dns->cache[i];

		while (e) {
			struct cache_entry *next = e->next;

			free(e);
			e = next;
		}
		dns->cache[i] = NULL;
	}
}

/*
 * The lowest TTL of the answer section of a DNS message, or def when the
 * message has no answers or cannot be parsed. c-ares' MX parser drops
 * TTLs, so they are read from the raw message here.
 */
static const unsigned char *skip_name(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		if (*p == 0)
			return p + 1;
		if ((*p & 0xc0) == 0xc0)
			return p + 2 <= end ? p + 2 : NULL;
		p += *p + 1;
	}
	return NULL;
}

static uint32_t min_answer_ttl(const unsigned char *buf, int len, uint32_t def)
{
	const unsigned char *p = buf + 12, *end = buf + len;
	uint32_t best = UINT32_MAX;

	if (len < 12)
		return def;
	unsigned qd = (unsigned)(buf[4] << 8 | buf[5]);
	unsigned an = (unsigned)(buf[6] << 8 | buf[7]);

	for (unsigned i = 0; i < qd && p; i++) {
		p = skip_name(p, end);
		if (p)
			p += 4;
	}
	for (unsigned i = 0; i < an && p; i++) {
		p = skip_name(p, end);
		if (!p || p + 10 > end)
			break;
		uint32_t ttl = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
			       (uint32_t)p[6] << 8 | p[7];
		unsigned rdlen = (unsigned)(p[8] << 8 | p[9]);

		if (ttl < best)
			best = ttl;
		p += 10 + rdlen;
	}
	return best == UINT32_MAX ? def : best;
}

/* Lookup completion. */

static void note_tempfail(struct lookup *l, const char *what, const char *name, int status)
{
	l->tempfail = 1;
	snprintf(l->tempfail_error, sizeof(l->tempfail_error), "%s lookup for %s failed: %s",
		 what, name, ares_strerror(status));
}

static void lower_ttl(struct lookup *l, uint32_t ttl)
{
	if (ttl < l->answer->ttl_s)
		l->answer->ttl_s = ttl;
}

static void post_lookup(struct lookup *l)
{
	cache_store(l->dns, &l->req, l->answer);
	sl_dns_inbox_post(l->req.inbox, l->answer);
	free(l);
}

/* The MX and address queries have ended: build the targets, and post
 * the answer unless the TXT query still runs. */
static void finish_lookup(struct lookup *l)
{
	struct sl_dns_answer *a = l->answer;

	for (unsigned h = 0; h < l->host_count; h++) {
		for (int f = 0; f < 2; f++) {
			struct addr_query *q = &l->query[h][f];

			for (unsigned i = 0; i < q->count && a->count < SL_DNS_MAX_TARGETS; i++) {
				struct sl_dns_target *t = &a->target[a->count++];

				snprintf(t->host, sizeof(t->host), "%s", l->host[h]);
				t->preference = l->preference[h];
				t->addr = q->addr[i];
				t->addr_len = q->family == AF_INET ? sizeof(struct sockaddr_in)
								   : sizeof(struct sockaddr_in6);
			}
		}
	}
	if (a->status == SL_DNS_OK && a->count == 0) {
		if (l->tempfail) {
			a->status = SL_DNS_TEMPFAIL;
			snprintf(a->error, sizeof(a->error), "%s", l->tempfail_error);
		} else {
			a->status = SL_DNS_NOT_FOUND;
			snprintf(a->error, sizeof(a->error), "no address found for the mail exchangers of %s",
				 a->name);
		}
	}
	if (a->status != SL_DNS_OK)
		a->ttl_s = 0;
	l->mx_done = 1;
	if (!l->txt_pending)
		post_lookup(l);
}

/* The TXT answer of _mta-sts.DOMAIN: the id of its one STSv1 record.
 * A failed query counts as no record (RFC 8461 section 5). */
static void on_sts_txt(void *arg, int status, int timeouts, unsigned char *buf, int len)
{
	struct lookup *l = arg;
	struct ares_txt_ext *txt = NULL;
	char *records[16];
	size_t count = 0;

	(void)timeouts;
	if (status == ARES_SUCCESS && ares_parse_txt_reply_ext(buf, len, &txt) == ARES_SUCCESS) {
		for (struct ares_txt_ext *t = txt; t; t = t->next) {
			if (t->record_start) {
				if (count == sizeof(records) / sizeof(records[0]))
					break;
				records[count] = calloc(1, 1);
				if (!records[count])
					break;
				count++;
			}
			if (count == 0)
				continue;
			/* The strings of one record are joined without spaces,
			 * as for SPF (RFC 7208 section 3.3). */
			size_t have = strlen(records[count - 1]);
			char *joined = realloc(records[count - 1], have + t->length + 1);

			if (!joined)
				break;
			memcpy(joined + have, t->txt, t->length);
			joined[have + t->length] = '\0';
			records[count - 1] = joined;
		}
		ares_free_data(txt);
		if (sl_sts_txt_select((const char *const *)records, count, l->answer->sts_id) < 0)
			l->answer->sts_id[0] = '\0';
		lower_ttl(l, min_answer_ttl(buf, len, l->dns->cfg.max_ttl_s));
	}
	for (size_t i = 0; i < count; i++)
		free(records[i]);
	l->txt_pending = 0;
	if (l->mx_done)
		post_lookup(l);
}

static void addr_done(struct addr_query *q)
{
	struct lookup *l = q->lookup;

	if (--l->pending == 0)
		finish_lookup(l);
}

static void set_port(struct sockaddr_storage *ss, int family, const void *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip, sizeof(sin->sin_addr));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip, sizeof(sin6->sin6_addr));
	}
}

static void on_addr(void *arg, int status, int timeouts, unsigned char *buf, int len)
{
	struct addr_query *q = arg;
	struct lookup *l = q->lookup;
	uint16_t port = l->req.kind == SL_DNS_MX ? l->dns->cfg.mx_port : l->req.port;
	int n = SL_DNS_MAX_TARGETS;

	(void)timeouts;
	if (status == ARES_SUCCESS && q->family == AF_INET) {
		struct ares_addrttl ttls[SL_DNS_MAX_TARGETS];

		if (ares_parse_a_reply(buf, len, NULL, ttls, &n) == ARES_SUCCESS) {
			for (int i = 0; i < n; i++) {
				set_port(&q->addr[q->count++], AF_INET, &ttls[i].ipaddr, port);
				lower_ttl(l, (uint32_t)ttls[i].ttl);
			}
		}
	} else if (status == ARES_SUCCESS) {
		struct ares_addr6ttl ttls[SL_DNS_MAX_TARGETS];

		if (ares_parse_aaaa_reply(buf, len, NULL, ttls, &n) == ARES_SUCCESS) {
			for (int i = 0; i < n; i++) {
				set_port(&q->addr[q->count++], AF_INET6, &ttls[i].ip6addr, port);
				lower_ttl(l, (uint32_t)ttls[i].ttl);
			}
		}
	} else if (status != ARES_ENODATA && status != ARES_ENOTFOUND &&
		   status != ARES_EDESTRUCTION) {
		note_tempfail(l, q->family == AF_INET ? "A" : "AAAA", l->host[q->host], status);
	} else if (status == ARES_EDESTRUCTION) {
		l->tempfail = 1;
	}
	addr_done(q);
}

static void query_addresses(struct lookup *l)
{
	if (l->host_count == 0) {
		finish_lookup(l);
		return;
	}
	l->pending = (int)l->host_count * 2;
	for (unsigned h = 0; h < l->host_count; h++) {
		for (int f = 0; f < 2; f++) {
			struct addr_query *q = &l->query[h][f];

			q->lookup = l;
			q->host = (int)h;
			q->family = f == 0 ? AF_INET : AF_INET6;
			ares_query(l->dns->channel, l->host[h], ns_c_in,
				   f == 0 ? ns_t_a : ns_t_aaaa, on_addr, q);
		}
	}
}

static void add_host(struct lookup *l, const char *host, uint16_t preference)
{
	if (l->host_count >= MAX_MX_HOSTS)
		return;
	snprintf(l->host[l->host_count], SL_DNS_NAME_MAX, "%s", host);
	l->preference[l->host_count++] = preference;
}

static int by_preference(const void *a, const void *b)
{
	const struct ares_mx_reply *x = *(struct ares_mx_reply *const *)a;
	const struct ares_mx_reply *y = *(struct ares_mx_reply *const *)b;

	return (int)x->priority - (int)y->priority;
}

/* Fill the exchanger list from an MX answer; returns the record count. */
static int take_mx_hosts(struct lookup *l, struct ares_mx_reply *mx)
{
	struct ares_mx_reply *sorted[64];
	int n = 0, null_mx = 0;

	for (struct ares_mx_reply *m = mx; m && n < 64; m = m->next)
		sorted[n++] = m;
	qsort(sorted, (size_t)n, sizeof(sorted[0]), by_preference);
	for (int i = 0; i < n; i++) {
		if (sorted[i]->host[0] == '\0' || strcmp(sorted[i]->host, ".") == 0) {
			null_mx++;
			continue;
		}
		add_host(l, sorted[i]->host, sorted[i]->priority);
	}
	if (null_mx && l->host_count == 0) {
		l->answer->status = SL_DNS_NULL_MX;
		snprintf(l->answer->error, sizeof(l->answer->error),
			 "domain %s publishes a null MX and accepts no mail", l->answer->name);
	}
	return n;
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *buf, int len)
{
	struct lookup *l = arg;
	struct ares_mx_reply *mx = NULL;

	(void)timeouts;
	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(buf, len, &mx);
	if (status == ARES_SUCCESS) {
		lower_ttl(l, min_answer_ttl(buf, len, l->dns->cfg.max_ttl_s));
		take_mx_hosts(l, mx);
		ares_free_data(mx);
		if (l->answer->status != SL_DNS_OK) {
			finish_lookup(l);
			return;
		}
	} else if (status == ARES_ENODATA) {
		/* No MX: the domain itself is the exchanger (implicit MX). */
		add_host(l, l->req.name, 0);
	} else if (status == ARES_ENOTFOUND) {
		l->answer->status = SL_DNS_NOT_FOUND;
		snprintf(l->answer->error, sizeof(l->answer->error),
			 "domain %s not found (NXDOMAIN)", l->req.name);
		finish_lookup(l);
		return;
	} else {
		l->answer->status = SL_DNS_TEMPFAIL;
		snprintf(l->answer->error, sizeof(l->answer->error),
			 "MX lookup for %s failed: %s", l->req.name, ares_strerror(status));
		finish_lookup(l);
		return;
	}
	query_addresses(l);
}

static void start_request(struct sl_dns *dns, struct request *r)
{
	struct cache_entry **e = cache_find(dns, r);
	struct sl_dns_answer *a = malloc(sizeof(*a));

	if (!a) {
		sl_err("dns: out of memory answering %s", r->name);
		return;
	}
	if (*e && (*e)->expires > mono_seconds()) {
		*a = (*e)->answer;
		a->cookie = r->cookie;
		a->ttl_s = (uint32_t)((*e)->expires - mono_seconds());
		sl_dns_inbox_post(r->inbox, a);
		return;
	}

	struct lookup *l = calloc(1, sizeof(*l));

	if (!l) {
		free(a);
		sl_err("dns: out of memory answering %s", r->name);
		return;
	}
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", r->name);
	a->kind = r->kind;
	a->cookie = r->cookie;
	a->status = SL_DNS_OK;
	a->ttl_s = dns->cfg.max_ttl_s;
	l->dns = dns;
	l->req = *r;
	l->answer = a;
	if (r->kind == SL_DNS_MX) {
		if (dns->cfg.mta_sts) {
			char txt_name[SL_DNS_NAME_MAX + 16];

			snprintf(txt_name, sizeof(txt_name), "_mta-sts.%s", r->name);
			l->txt_pending = 1;
			ares_query(dns->channel, txt_name, ns_c_in, ns_t_txt, on_sts_txt, l);
		}
		ares_query(dns->channel, r->name, ns_c_in, ns_t_mx, on_mx, l);
		return;
	}
	add_host(l, r->name, 0);
	query_addresses(l);
}

/* Service thread. */

static void run_requests(struct sl_dns *dns)
{
	struct request *list, *prev = NULL;

	pthread_mutex_lock(&dns->lock);
	list = dns->requests;
	dns->requests = NULL;
	pthread_mutex_unlock(&dns->lock);

	/* The list is newest first: reverse it to answer in order. */
	while (list) {
		struct request *next = list->next;

		list->next = prev;
		prev = list;
		list = next;
	}
	while (prev) {
		struct request *next = prev->next;

		start_request(dns, prev);
		free(prev);
		prev = next;
	}
}

static void *service_main(void *arg)
{
	struct sl_dns *dns = arg;

	while (!__atomic_load_n(&dns->stopping, __ATOMIC_ACQUIRE)) {
		fd_set rd, wr;
		struct timeval max = { 1, 0 }, tv, *tvp;
		uint64_t count;
		int nfds;

		run_requests(dns);
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		nfds = ares_fds(dns->channel, &rd, &wr);
		FD_SET(dns->wake_fd, &rd);
		if (dns->wake_fd + 1 > nfds)
			nfds = dns->wake_fd + 1;
		tvp = ares_timeout(dns->channel, &max, &tv);
		if (select(nfds, &rd, &wr, NULL, tvp) < 0 && errno != EINTR) {
			sl_err("dns: select() failed: %s", strerror(errno));
			break;
		}
		if (FD_ISSET(dns->wake_fd, &rd) && read(dns->wake_fd, &count, sizeof(count)) < 0)
			count = 0;
		ares_process(dns->channel, &rd, &wr);
	}
	return NULL;
}

static int init_channel(struct sl_dns *dns)
{
	struct ares_options opt;
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
	int rc;

	memset(&opt, 0, sizeof(opt));
	opt.timeout = (int)dns->cfg.timeout_ms;
	opt.tries = (int)dns->cfg.tries;
	opt.flags = ARES_FLAG_NOSEARCH;
	rc = ares_init_options(&dns->channel, &opt, mask);
	if (rc != ARES_SUCCESS) {
		sl_err("dns: ares_init_options() failed: %s", ares_strerror(rc));
		return -1;
	}
	if (dns->cfg.server[0]) {
		rc = ares_set_servers_ports_csv(dns->channel, dns->cfg.server);
		if (rc != ARES_SUCCESS) {
			sl_err("dns: invalid resolver address '%s': %s", dns->cfg.server,
			       ares_strerror(rc));
			ares_destroy(dns->channel);
			return -1;
		}
	}
	return 0;
}

static void library_init(void)
{
	ares_library_init(ARES_LIB_INIT_ALL);
}

struct sl_dns *sl_dns_start(const struct sl_dns_config *cfg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sl_dns *dns = calloc(1, sizeof(*dns));
	int rc;

	if (!dns)
		return NULL;
	pthread_once(&once, library_init);
	dns->cfg = *cfg;
	pthread_mutex_init(&dns->lock, NULL);
	dns->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dns->wake_fd < 0 || init_channel(dns) < 0)
		goto fail;
	rc = pthread_create(&dns->thread, NULL, service_main, dns);
	if (rc != 0) {
		sl_err("dns: pthread_create() failed: %s", strerror(rc));
		ares_destroy(dns->channel);
		goto fail;
	}
	pthread_setname_np(dns->thread, "sluice-dns");
	sl_info("dns: resolver started server=%s timeout_ms=%u tries=%u",
		cfg->server[0] ? cfg->server : "resolv.conf", cfg->timeout_ms, cfg->tries);
	return dns;

fail:
	if (dns->wake_fd >= 0)
		close(dns->wake_fd);
	pthread_mutex_destroy(&dns->lock);
	free(dns);
	return NULL;
}

void sl_dns_stop(struct sl_dns *dns)
{
	uint64_t one = 1;

	if (!dns)
		return;
	__atomic_store_n(&dns->stopping, 1, __ATOMIC_RELEASE);
	if (write(dns->wake_fd, &one, sizeof(one)) < 0)
		sl_warn("dns: eventfd write failed: %s", strerror(errno));
	pthread_join(dns->thread, NULL);
	/* Cancels what is in flight: callbacks see ARES_EDESTRUCTION and post
	 * temporary failures, so every inbox must outlive the resolver. */
	ares_destroy(dns->channel);
	while (dns->requests) {
		struct request *next = dns->requests->next;

		free(dns->requests);
		dns->requests = next;
	}
	cache_clear(dns);
	close(dns->wake_fd);
	pthread_mutex_destroy(&dns->lock);
	free(dns);
}

int sl_dns_submit(struct sl_dns *dns, enum sl_dns_kind kind, const char *name,
		  uint16_t port, uint64_t cookie, struct sl_dns_inbox *inbox)
{
	struct request *r = calloc(1, sizeof(*r));
	uint64_t one = 1;
	size_t i;

	if (!r)
		return -ENOMEM;
	r->kind = kind;
	for (i = 0; name[i] && i < sizeof(r->name) - 1; i++)
		r->name[i] = (char)tolower((unsigned char)name[i]);
	r->name[i] = '\0';
	/* A trailing dot names the same domain. */
	if (i > 1 && r->name[i - 1] == '.')
		r->name[i - 1] = '\0';
	r->port = port;
	r->cookie = cookie;
	r->inbox = inbox;
	pthread_mutex_lock(&dns->lock);
	r->next = dns->requests;
	dns->requests = r;
	pthread_mutex_unlock(&dns->lock);
	if (write(dns->wake_fd, &one, sizeof(one)) < 0)
		sl_warn("dns: eventfd write failed: %s", strerror(errno));
	return 0;
}
