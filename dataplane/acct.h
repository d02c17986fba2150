/*
 * dataplane/acct.h - the accounting log: one JSON line per delivery
 * attempt and recipient.
 *
 * Fields: time, queue_id, message_id, sender, recipient, status
 * ("delivered", "deferred", "bounced"), attempt, mx, address, egress,
 * tls ("TLSv1.3" or "none"), cipher, tls_fallback, tls_failure, mta_sts,
 * mta_sts_failure, dkim
 * (selectors as "s=SEL d=DOMAIN" strings), transfer ("bdat" or "data"
 * when the content went out, else null), code, enhanced, reply,
 * delay_ms (since arrival), connect_ms and attempt_ms (this attempt's
 * timings), dsn (1 when a bounce notice was queued).
 *
 * tls_fallback is null unless the session went without STARTTLS because
 * STARTTLS failed: "retry" on the new connection opened right after the
 * failure, "remembered" when STARTTLS with that host failed recently.
 * tls_failure is then the reason STARTTLS failed, else null.
 *
 * mta_sts is the MTA-STS policy mode applied to the attempt ("enforce"
 * or "testing"), null without a policy. mta_sts_failure gives how the
 * attempt failed the policy (an MX host not in the policy, no STARTTLS,
 * a certificate that did not verify), else null.
 *
 * Records are formatted into a per-thread buffer and written with one
 * write(2) per sl_acct_flush() (or when the buffer fills), so lines from
 * several workers never interleave. sl_acct_reopen() reopens the file at
 * the same path (call it after SIGHUP, for log rotation); writers hold a
 * read lock only around write(2).
 */
#ifndef SLUICE_DATAPLANE_ACCT_H
#define SLUICE_DATAPLANE_ACCT_H

#include <stdint.h>

struct sl_acct_record {
	const char *queue_id;
	const char *message_id;
	const char *sender;
	const char *recipient;
	const char *status;        /* "delivered", "deferred" or "bounced" */
	unsigned attempt;
	const char *mx;            /* host name of the server tried, or NULL */
	const char *address;       /* "IP:PORT" of the server, or NULL */
	const char *egress;        /* source address, or NULL */
	const char *tls_version;   /* NULL when the session had no TLS */
	const char *tls_cipher;
	const char *tls_fallback;  /* NULL, "retry" or "remembered" */
	const char *tls_failure;   /* NULL, or how STARTTLS failed */
	const char *mta_sts;       /* NULL, "enforce" or "testing" */
	const char *mta_sts_failure;  /* NULL, or how the attempt failed the policy */
	const char *transfer;      /* "bdat", "data", or NULL when no content went out */
	const char *const *dkim;   /* selectors used, dkim_count entries */
	unsigned dkim_count;
	int code;                  /* SMTP reply code, 0 when none */
	const char *enhanced;
	const char *reply;
	uint64_t delay_ms;
	uint64_t connect_ms;
	uint64_t attempt_ms;
	int dsn;
};

/* Open (create, append) the log. Returns 0 or -errno. */
int sl_acct_open(const char *path);
int sl_acct_reopen(void);
void sl_acct_close(void);

/* Format one record into the calling thread's buffer. */
void sl_acct_record(const struct sl_acct_record *r);
/* Write the calling thread's buffered records. */
void sl_acct_flush(void);

#endif
