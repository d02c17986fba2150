/*
 * dataplane/smtp_parse.h - SMTP syntax without I/O: command lines, MAIL
 * and RCPT paths and parameters, the DATA/BDAT content scanner and the
 * header block check. Used by the SMTP server; tested on its own.
 *
 * Content rules (RFC 5321 4.1.1.4, 4.5.2, 4.5.3.1.6):
 *   - only CRLF "." CRLF ends DATA; a bare LF or a bare CR anywhere in the
 *     content marks the message as invalid (SMTP smuggling defence), and
 *     neither ever ends a line, so "\n.\r\n" cannot end the data early;
 *   - a line that starts with "." loses that dot (dot-unstuffing);
 *   - a line longer than 998 characters before CRLF marks it invalid;
 *   - content beyond max_size marks it too big, and from then on nothing
 *     more is kept, but scanning goes on to the end marker.
 */
#ifndef SLUICE_DATAPLANE_SMTP_PARSE_H
#define SLUICE_DATAPLANE_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/buf.h"

#define SL_SMTP_MAX_PATH 256          /* RFC 5321 4.5.3.1.3, without brackets */
#define SL_SMTP_MAX_TEXT_LINE 998     /* RFC 5322 2.1.1, without CRLF */
#define SL_SMTP_MAX_ENVID 100         /* RFC 3461 4.4 */
#define SL_SMTP_MAX_ORCPT 500         /* RFC 3461 4.2 */

/* A syntax problem: the reply to send. */
struct sl_smtp_error {
	const char *reply;
};

enum sl_smtp_body {
	SL_SMTP_BODY_7BIT = 0,
	SL_SMTP_BODY_8BITMIME,
};

enum sl_smtp_ret {
	SL_SMTP_RET_NONE = 0,
	SL_SMTP_RET_FULL,
	SL_SMTP_RET_HDRS,
};

struct sl_smtp_mail {
	char addr[SL_SMTP_MAX_PATH + 1];   /* "" for the null sender */
	uint64_t size;                     /* SIZE=, 0 when not given */
	enum sl_smtp_body body;
	bool smtputf8;
	enum sl_smtp_ret ret;
	char envid[SL_SMTP_MAX_ENVID + 1];
};

#define SL_SMTP_NOTIFY_NEVER   0x01u
#define SL_SMTP_NOTIFY_SUCCESS 0x02u
#define SL_SMTP_NOTIFY_FAILURE 0x04u
#define SL_SMTP_NOTIFY_DELAY   0x08u

struct sl_smtp_rcpt {
	char addr[SL_SMTP_MAX_PATH + 1];
	uint8_t notify;                    /* SL_SMTP_NOTIFY_* bits, 0 when not given */
	char orcpt[SL_SMTP_MAX_ORCPT + 1]; /* "" when not given */
};

/*
 * Split a command line (without CRLF) into its verb and arguments: the
 * verb is upper-cased into VERB (at most verb_len-1 characters), *args
 * points after the first space (or at the end). Returns 0, or -EINVAL
 * when the line holds a control character (CR, LF, NUL ...).
 */
int sl_smtp_split(const char *line, size_t len, char *verb, size_t verb_len, const char **args);

/* Parse "FROM:<path> [params]" / "TO:<path> [params]". 0 or -EINVAL with err set. */
int sl_smtp_parse_mail(const char *args, bool utf8_ok, struct sl_smtp_mail *mail,
		       struct sl_smtp_error *err);
int sl_smtp_parse_rcpt(const char *args, bool utf8_ok, struct sl_smtp_rcpt *rcpt,
		       struct sl_smtp_error *err);

/* Whether ADDR ("local@domain", "postmaster" when allow_postmaster) is valid. */
bool sl_smtp_address_valid(const char *addr, bool utf8_ok, bool allow_postmaster);

/* DATA and BDAT content scanner. */

#define SL_SMTP_DATA_BARE_LF   0x01u
#define SL_SMTP_DATA_BARE_CR   0x02u
#define SL_SMTP_DATA_LONG_LINE 0x04u
#define SL_SMTP_DATA_TOO_BIG   0x08u

struct sl_smtp_data {
	int state;
	bool dot_mode;         /* DATA: dot-stuffing and end marker; BDAT: neither */
	unsigned flags;        /* SL_SMTP_DATA_* */
	uint64_t max_size;
	uint64_t size;         /* content bytes seen after unstuffing, kept or not */
	uint64_t line_len;
};

void sl_smtp_data_begin(struct sl_smtp_data *d, uint64_t max_size, bool dot_mode);

/*
 * Scan IN, append the content to OUT unless the message is already
 * invalid, and return the number of bytes consumed. In dot mode, *done
 * becomes true after the end marker; the bytes after it are not consumed
 * (pipelined commands). In BDAT mode everything is consumed.
 */
size_t sl_smtp_data_scan(struct sl_smtp_data *d, const uint8_t *in, size_t len,
			 struct sl_buf *out, bool *done);

/* For BDAT LAST: check the state at the end of the content. */
void sl_smtp_data_end(struct sl_smtp_data *d);

/* Header block. */

struct sl_smtp_headers {
	size_t header_len;     /* bytes of the header block, the empty line included */
	bool has_date;
	bool has_message_id;
	bool has_from;
	unsigned bad_line;     /* 1-based line of the first malformed field, or 0 */
};

/* Check the header block of MSG (CRLF lines). Returns 0 or -EBADMSG. */
int sl_smtp_headers_scan(const uint8_t *msg, size_t len, struct sl_smtp_headers *h);

#endif
