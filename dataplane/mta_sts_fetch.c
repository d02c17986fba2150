/*
 * dataplane/mta_sts_fetch.c - MTA-STS policy fetches with libcurl on
 * service threads. The contract is in mta_sts_fetch.h.
 */
#include "dataplane/mta_sts_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"

#define MAX_THREADS 8

struct waiter {
	struct waiter *next;
	struct sl_dns_answer *answer;
	struct sl_dns_inbox *inbox;
};

struct job {
	struct job *next;
	char domain[SL_STS_NAME_MAX];
	char id[SL_STS_ID_MAX];
	struct waiter *waiters;
};

struct sl_sts_fetcher {
	struct sl_sts_fetch_config cfg;
	char ca_file[4096];
	struct sl_dns *dns;
	struct sl_sts_cache *cache;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *queue, *queue_tail;
	struct job *running;          /* fetches in progress, linked by next */
	int stopping;
	unsigned thread_count;
	pthread_t thread[MAX_THREADS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct job *find_job(struct job *list, const char *domain)
{
	for (; list; list = list->next)
		if (strcasecmp(list->domain, domain) == 0)
			return list;
	return NULL;
}

static void post_waiters(struct waiter *w)
{
	while (w) {
		struct waiter *next = w->next;

		w->answer->sts_done = 1;
		sl_dns_inbox_post(w->inbox, w->answer);
		free(w);
		w = next;
	}
}

int sl_sts_fetch_submit(struct sl_sts_fetcher *f, struct sl_dns_answer *answer,
			struct sl_dns_inbox *inbox)
{
	struct waiter *w = calloc(1, sizeof(*w));
	struct job *job;

	if (!w)
		return -ENOMEM;
	w->answer = answer;
	w->inbox = inbox;
	pthread_mutex_lock(&f->lock);
	job = find_job(f->queue, answer->name);
	if (!job)
		job = find_job(f->running, answer->name);
	if (!job) {
		job = calloc(1, sizeof(*job));
		if (!job) {
			pthread_mutex_unlock(&f->lock);
			free(w);
			return -ENOMEM;
		}
		snprintf(job->domain, sizeof(job->domain), "%s", answer->name);
		snprintf(job->id, sizeof(job->id), "%s", answer->sts_id);
		if (f->queue_tail)
			f->queue_tail->next = job;
		else
			f->queue = job;
		f->queue_tail = job;
		pthread_cond_signal(&f->wake);
	}
	w->next = job->waiters;
	job->waiters = w;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Resolving the policy host. */

/* Fill "HOST:443:ADDR[,ADDR...]" for CURLOPT_RESOLVE from the resolver's
 * answer. Returns 0, or -1 with the reason in err. */
static int resolve_policy_host(struct sl_sts_fetcher *f, const char *host, char *entry,
			       size_t len, char *err, size_t errlen)
{
	struct sl_dns_inbox *inbox = sl_dns_inbox_new();
	struct sl_dns_answer *a = NULL;
	struct pollfd pfd;
	size_t used;
	int rc = -1;

	if (!inbox || sl_dns_submit(f->dns, SL_DNS_HOST, host, 443, 0, inbox) < 0) {
		snprintf(err, errlen, "out of memory resolving %.200s", host);
		goto out;
	}
	pfd.fd = sl_dns_inbox_fd(inbox);
	pfd.events = POLLIN;
	/* The resolver always answers, at the latest when it stops. */
	while (!a) {
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			break;
		a = sl_dns_inbox_take(inbox);
	}
	if (!a || a->status != SL_DNS_OK || a->count == 0) {
		snprintf(err, errlen, "policy host %.100s: %.180s", host,
			 a && a->error[0] ? a->error : "no address found");
		goto out;
	}
	used = (size_t)snprintf(entry, len, "%s:443:", host);
	for (unsigned i = 0; i < a->count && used < len; i++) {
		char ip[INET6_ADDRSTRLEN];
		const struct sockaddr_storage *ss = &a->target[i].addr;

		if (ss->ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip,
				  sizeof(ip));
		used += (size_t)snprintf(entry + used, len - used, "%s%s%s%s", i ? "," : "",
					 ss->ss_family == AF_INET6 ? "[" : "", ip,
					 ss->ss_family == AF_INET6 ? "]" : "");
	}
	rc = used < len ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "policy host %.200s: too many addresses", host);
out:
	sl_dns_answer_free(a);
	/* The resolver may still post to the inbox only while a lookup is
	 * in flight, and every path above has taken its answer or the
	 * resolver has stopped. */
	sl_dns_inbox_free(inbox);
	return rc;
}

/* The HTTPS request. */

struct body {
	char data[SL_STS_POLICY_SIZE_MAX];
	size_t len;
	int too_large;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if (len > sizeof(b->data) - b->len) {
		b->too_large = 1;
		return 0;   /* aborts the transfer */
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct sl_sts_fetcher *f = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return __atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE);
}

static void set_options(struct sl_sts_fetcher *f, CURL *curl, const char *url,
			struct curl_slist *resolve, struct body *b, char *curl_err)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_CAINFO, f->ca_file);
	curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)f->cfg.timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluice MTA-STS");
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SL_STS_POLICY_SIZE_MAX);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
}

/* Checks the response and parses the policy. Returns 0 or -1 with err. */
static int check_response(CURL *curl, const struct body *b, struct sl_sts_policy *policy,
			  char *err, size_t errlen)
{
	long status = 0;
	char *type = NULL;
	char why[160];

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
	if (status != 200) {
		snprintf(err, errlen, "HTTP status %ld (redirects are not followed)", status);
		return -1;
	}
	if (!type || strncasecmp(type, "text/plain", 10) != 0) {
		snprintf(err, errlen, "media type %.60s, expected text/plain", type ? type : "missing");
		return -1;
	}
	if (sl_sts_policy_parse(b->data, b->len, policy, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "invalid policy: %s", why);
		return -1;
	}
	return 0;
}

/* Fetches and parses the policy of domain. Returns 0 or -1 with err. */
static int fetch_policy(struct sl_sts_fetcher *f, const char *domain,
			struct sl_sts_policy *policy, char *err, size_t errlen)
{
	char host[SL_STS_NAME_MAX + 16], url[SL_STS_NAME_MAX + 64], entry[1024];
	char curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *resolve = NULL;
	struct body *b = NULL;
	CURL *curl = NULL;
	CURLcode cc;
	int rc = -1;

	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);
	if (resolve_policy_host(f, host, entry, sizeof(entry), err, errlen) < 0)
		return -1;
	b = calloc(1, sizeof(*b));
	resolve = curl_slist_append(NULL, entry);
	curl = curl_easy_init();
	if (!b || !resolve || !curl) {
		snprintf(err, errlen, "out of memory fetching %.200s", url);
		goto out;
	}
	set_options(f, curl, url, resolve, b, curl_err);
	cc = curl_easy_perform(curl);
	if (b->too_large) {
		snprintf(err, errlen, "policy larger than %d bytes", SL_STS_POLICY_SIZE_MAX);
	} else if (cc != CURLE_OK) {
		snprintf(err, errlen, "GET %.120s failed: %.150s", url,
			 curl_err[0] ? curl_err : curl_easy_strerror(cc));
	} else {
		rc = check_response(curl, b, policy, err, errlen);
	}
out:
	curl_easy_cleanup(curl);
	curl_slist_free_all(resolve);
	free(b);
	return rc;
}

static void run_job(struct sl_sts_fetcher *f, struct job *job)
{
	struct sl_sts_policy policy;
	struct sl_sts_cached cached;
	char err[300];

	/* A fetch that ended since this job was queued may have settled it. */
	if (sl_sts_cache_decide(f->cache, job->domain, job->id, now_ms(), &cached) !=
	    SL_STS_ACTION_FETCH)
		return;
	if (fetch_policy(f, job->domain, &policy, err, sizeof(err)) == 0) {
		sl_info("mta-sts: policy of %s fetched id=%s mode=%s max_age=%u mx=%u",
			job->domain, job->id, sl_sts_mode_name(policy.mode), policy.max_age_s,
			policy.mx_count);
		sl_sts_cache_put(f->cache, job->domain, job->id, &policy, now_ms());
		return;
	}
	sl_warn("mta-sts: policy of %s (id=%s) not fetched: %s", job->domain, job->id, err);
	sl_sts_cache_failed(f->cache, job->domain, job->id, err, now_ms());
}

static void unlink_running(struct sl_sts_fetcher *f, struct job *job)
{
	struct job **p = &f->running;

	while (*p && *p != job)
		p = &(*p)->next;
	if (*p)
		*p = job->next;
}

static void *fetch_main(void *arg)
{
	struct sl_sts_fetcher *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->queue && !f->stopping)
			pthread_cond_wait(&f->wake, &f->lock);
		if (f->stopping)
			break;
		struct job *job = f->queue;

		f->queue = job->next;
		if (!f->queue)
			f->queue_tail = NULL;
		job->next = f->running;
		f->running = job;
		pthread_mutex_unlock(&f->lock);

		run_job(f, job);

		pthread_mutex_lock(&f->lock);
		unlink_running(f, job);
		struct waiter *w = job->waiters;

		pthread_mutex_unlock(&f->lock);
		post_waiters(w);
		free(job);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static void library_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sl_sts_fetcher *sl_sts_fetcher_start(const struct sl_sts_fetch_config *cfg,
					    struct sl_dns *dns, struct sl_sts_cache *cache)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sl_sts_fetcher *f = calloc(1, sizeof(*f));
	unsigned want = cfg->threads;

	if (!f)
		return NULL;
	if (want < 1)
		want = 1;
	if (want > MAX_THREADS)
		want = MAX_THREADS;
	pthread_once(&once, library_init);
	f->cfg = *cfg;
	snprintf(f->ca_file, sizeof(f->ca_file), "%s", cfg->ca_file);
	f->dns = dns;
	f->cache = cache;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	for (unsigned i = 0; i < want; i++) {
		int rc = pthread_create(&f->thread[i], NULL, fetch_main, f);

		if (rc != 0) {
			sl_err("mta-sts: pthread_create() failed: %s", strerror(rc));
			sl_sts_fetcher_stop(f);
			return NULL;
		}
		pthread_setname_np(f->thread[i], "sluice-mtasts");
		f->thread_count++;
	}
	sl_info("mta-sts: policy fetcher started threads=%u ca_file=%s timeout_ms=%u", want,
		f->ca_file, cfg->timeout_ms);
	return f;
}

void sl_sts_fetcher_stop(struct sl_sts_fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	__atomic_store_n(&f->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < f->thread_count; i++)
		pthread_join(f->thread[i], NULL);
	/* Answers of queued fetches go back; their domains get no policy. */
	while (f->queue) {
		struct job *next = f->queue->next;

		post_waiters(f->queue->waiters);
		free(f->queue);
		f->queue = next;
	}
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
