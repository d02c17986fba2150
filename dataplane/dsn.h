/*
 * dataplane/dsn.h - delivery status notifications (RFC 3464).
 *
 * sl_dsn_build() makes a bounce message: multipart/report with
 * report-type=delivery-status, a human-readable part, the
 * message/delivery-status part (Reporting-MTA, Arrival-Date, then per
 * recipient Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code) and the original message's header as
 * text/rfc822-headers. The caller sends it with MAIL FROM:<> to the
 * original envelope sender.
 *
 * Never for a null sender: sl_dsn_build() returns -EINVAL when the
 * original sender is empty, so a bounce can never bounce.
 *
 * Ownership: *out is malloc'ed and owned by the caller.
 */
#ifndef SLUICE_DATAPLANE_DSN_H
#define SLUICE_DATAPLANE_DSN_H

#include <stddef.h>
#include <time.h>

struct sl_dsn_recipient {
	const char *address;
	const char *status;        /* enhanced code, e.g. "5.1.1" */
	const char *remote_mta;    /* host that sent the reply, or NULL */
	const char *diagnostic;    /* "550 5.1.1 user unknown", or NULL */
	const char *action;        /* "failed"; NULL means "failed" */
};

struct sl_dsn {
	const char *reporting_mta;   /* this host's name */
	const char *queue_id;
	const char *sender;          /* original envelope sender */
	time_t arrival;
	const char *original_header; /* header block of the message, CRLF lines */
	size_t original_header_len;
	const struct sl_dsn_recipient *rcpt;
	size_t rcpt_count;
};

/* Build the notification. Returns 0 with *out and *out_len set, -EINVAL for
 * a null sender or no recipients, -ENOMEM. */
int sl_dsn_build(const struct sl_dsn *d, char **out, size_t *out_len);

/* Length of the header block of msg (up to and including the empty
 * line, or all of msg when it has no body). */
size_t sl_dsn_header_length(const char *msg, size_t len);

#endif
