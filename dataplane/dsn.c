/*
 * dataplane/dsn.c - RFC 3464 delivery status notifications. Contract in
 * dsn.h.
 */
#include "dataplane/dsn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void rfc5322_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

size_t sl_dsn_header_length(const char *msg, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Copy the original header, turning every line end into CRLF. */
static void add_crlf_text(struct sbuf *b, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n' && s[i] != '\r')
			continue;
		sb_add(b, s + start, i - start);
		sb_add(b, "\r\n", 2);
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	if (start < n) {
		sb_add(b, s + start, n - start);
		sb_add(b, "\r\n", 2);
	}
}

static void add_status_part(struct sbuf *b, const struct sl_dsn *d)
{
	char date[64];

	rfc5322_date(d->arrival, date, sizeof(date));
	sb_printf(b, "Content-Type: message/delivery-status\r\n\r\n");
	sb_printf(b, "Reporting-MTA: dns; %s\r\n", d->reporting_mta);
	if (d->queue_id)
		sb_printf(b, "X-Sluice-Queue-ID: %s\r\n", d->queue_id);
	sb_printf(b, "Arrival-Date: %s\r\n", date);
	for (size_t i = 0; i < d->rcpt_count; i++) {
		const struct sl_dsn_recipient *r = &d->rcpt[i];

		sb_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\n", r->address);
		sb_printf(b, "Action: %s\r\n", r->action ? r->action : "failed");
		sb_printf(b, "Status: %s\r\n", r->status);
		if (r->remote_mta)
			sb_printf(b, "Remote-MTA: dns; %s\r\n", r->remote_mta);
		if (r->diagnostic)
			sb_printf(b, "Diagnostic-Code: smtp; %s\r\n", r->diagnostic);
	}
}

int sl_dsn_build(const struct sl_dsn *d, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };
	char date[64], boundary[96];
	time_t now = time(NULL);

	if (!d->sender || !d->sender[0] || d->rcpt_count == 0)
		return -EINVAL;
	rfc5322_date(now, date, sizeof(date));
	snprintf(boundary, sizeof(boundary), "%s/%lld/%s", d->queue_id ? d->queue_id : "dsn",
		 (long long)now, d->reporting_mta);

	sb_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d->reporting_mta);
	sb_printf(&b, "To: <%s>\r\n", d->sender);
	sb_printf(&b, "Subject: Undelivered Mail Returned to Sender\r\n");
	sb_printf(&b, "Date: %s\r\n", date);
	sb_printf(&b, "Message-ID: <%lld.%s.dsn@%s>\r\n", (long long)now,
		  d->queue_id ? d->queue_id : "x", d->reporting_mta);
	sb_printf(&b, "Auto-Submitted: auto-replied\r\n");
	sb_printf(&b, "MIME-Version: 1.0\r\n");
	sb_printf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		      "\tboundary=\"%s\"\r\n\r\n", boundary);
	sb_printf(&b, "This is a MIME-encapsulated message.\r\n\r\n");

	sb_printf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	sb_printf(&b, "This is the mail system at host %s.\r\n\r\n", d->reporting_mta);
	sb_printf(&b, "Your message could not be delivered to one or more recipients.\r\n\r\n");
	for (size_t i = 0; i < d->rcpt_count; i++)
		sb_printf(&b, "<%s>: %s\r\n", d->rcpt[i].address,
			  d->rcpt[i].diagnostic ? d->rcpt[i].diagnostic : d->rcpt[i].status);
	sb_printf(&b, "\r\n--%s\r\n", boundary);
	add_status_part(&b, d);
	sb_printf(&b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
	add_crlf_text(&b, d->original_header, d->original_header_len);
	sb_printf(&b, "\r\n--%s--\r\n", boundary);
	if (b.failed) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}
