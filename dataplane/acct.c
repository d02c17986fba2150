/*
 * dataplane/acct.c - accounting log writer. Contract in acct.h.
 */
#include "dataplane/acct.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define ACCT_BUFFER (64 * 1024)

static pthread_rwlock_t acct_lock = PTHREAD_RWLOCK_INITIALIZER;
static int acct_fd = -1;
static char *acct_path;

static __thread char tls_buffer[ACCT_BUFFER];
static __thread size_t tls_used;

int sl_acct_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0) {
		int err = errno;

		sl_err("accounting: open(%s) failed: %s", path, strerror(err));
		return -err;
	}
	pthread_rwlock_wrlock(&acct_lock);
	if (acct_fd >= 0)
		close(acct_fd);
	acct_fd = fd;
	if (path != acct_path) {
		free(acct_path);
		acct_path = strdup(path);
	}
	pthread_rwlock_unlock(&acct_lock);
	return 0;
}

int sl_acct_reopen(void)
{
	char *path;
	int rc;

	if (!acct_path)
		return 0;
	path = strdup(acct_path);
	if (!path)
		return -ENOMEM;
	rc = sl_acct_open(path);
	if (rc == 0)
		sl_info("accounting: reopened %s", path);
	free(path);
	return rc;
}

void sl_acct_close(void)
{
	pthread_rwlock_wrlock(&acct_lock);
	if (acct_fd >= 0)
		close(acct_fd);
	acct_fd = -1;
	free(acct_path);
	acct_path = NULL;
	pthread_rwlock_unlock(&acct_lock);
}

void sl_acct_flush(void)
{
	size_t off = 0;

	if (tls_used == 0)
		return;
	pthread_rwlock_rdlock(&acct_lock);
	while (acct_fd >= 0 && off < tls_used) {
		ssize_t n = write(acct_fd, tls_buffer + off, tls_used - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sl_err("accounting: write(%s) failed: %s", acct_path ? acct_path : "?",
			       strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	pthread_rwlock_unlock(&acct_lock);
	tls_used = 0;
}

struct jbuf {
	char *p;
	size_t left;
	int overflow;
};

static void put_raw(struct jbuf *b, const char *s, size_t n)
{
	if (n > b->left) {
		b->overflow = 1;
		n = b->left;
	}
	memcpy(b->p, s, n);
	b->p += n;
	b->left -= n;
}

static void put_str(struct jbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (!s) {
		put_raw(b, "null", 4);
		return;
	}
	put_raw(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			put_raw(b, esc, 2);
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			put_raw(b, esc, 6);
		} else {
			put_raw(b, (const char *)&c, 1);
		}
	}
	put_raw(b, "\"", 1);
}

static void put_key(struct jbuf *b, const char *key, int first)
{
	if (!first)
		put_raw(b, ",", 1);
	put_str(b, key);
	put_raw(b, ":", 1);
}

static void put_uint(struct jbuf *b, const char *key, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);

	put_key(b, key, 0);
	put_raw(b, num, (size_t)n);
}

static void put_field(struct jbuf *b, const char *key, const char *v)
{
	put_key(b, key, 0);
	put_str(b, v);
}

static void put_time(struct jbuf *b)
{
	struct timespec ts;
	struct tm tm;
	char text[96];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (int)(ts.tv_nsec / 1000000));
	put_raw(b, "{", 1);
	put_key(b, "time", 1);
	put_str(b, text);
}

void sl_acct_record(const struct sl_acct_record *r)
{
	char line[8192];
	struct jbuf b = { line, sizeof(line) - 2, 0 };

	put_time(&b);
	put_field(&b, "queue_id", r->queue_id);
	put_field(&b, "message_id", r->message_id);
	put_field(&b, "sender", r->sender);
	put_field(&b, "recipient", r->recipient);
	put_field(&b, "status", r->status);
	put_uint(&b, "attempt", r->attempt);
	put_field(&b, "mx", r->mx);
	put_field(&b, "address", r->address);
	put_field(&b, "egress", r->egress);
	put_field(&b, "tls", r->tls_version ? r->tls_version : "none");
	put_field(&b, "cipher", r->tls_cipher);
	put_field(&b, "tls_fallback", r->tls_fallback);
	put_field(&b, "tls_failure", r->tls_failure);
	put_field(&b, "mta_sts", r->mta_sts);
	put_field(&b, "mta_sts_failure", r->mta_sts_failure);
	put_key(&b, "dkim", 0);
	put_raw(&b, "[", 1);
	for (unsigned i = 0; i < r->dkim_count; i++) {
		if (i)
			put_raw(&b, ",", 1);
		put_str(&b, r->dkim[i]);
	}
	put_raw(&b, "]", 1);
	put_field(&b, "transfer", r->transfer);
	put_uint(&b, "code", (uint64_t)(r->code > 0 ? r->code : 0));
	put_field(&b, "enhanced", r->enhanced && r->enhanced[0] ? r->enhanced : NULL);
	put_field(&b, "reply", r->reply);
	put_uint(&b, "delay_ms", r->delay_ms);
	put_uint(&b, "connect_ms", r->connect_ms);
	put_uint(&b, "attempt_ms", r->attempt_ms);
	put_uint(&b, "dsn", (uint64_t)(r->dsn != 0));
	if (b.overflow) {
		sl_warn("accounting: record for queue_id=%s to=%s dropped: longer than %zu bytes",
			r->queue_id, r->recipient, sizeof(line));
		return;
	}
	memcpy(b.p, "}\n", 2);
	b.p += 2;

	size_t n = (size_t)(b.p - line);

	if (tls_used + n > sizeof(tls_buffer))
		sl_acct_flush();
	memcpy(tls_buffer + tls_used, line, n);
	tls_used += n;
}
