/*
 * dataplane/http_body.h - the request bodies of the HTTP injection API,
 * without I/O. It splits multipart bodies (RFC 2046 5.1, RFC 7578),
 * parses the JSON envelope of POST /v1/messages and the JSON form of
 * POST /v1/send, and builds the MIME message for each recipient of that
 * form from its templates. docs/http-api.md describes the fields.
 *
 *   sl_http_multipart_split()  find the parts of a multipart body
 *   sl_http_envelope_parse()   the envelope part of /v1/messages
 *   sl_http_send_parse()       the JSON form of /v1/send
 *   sl_http_send_build()       the message for one recipient of the form
 *   sl_http_template_expand()  "{{name}}" substitution
 *   sl_http_crlf()             LF line ends to CRLF for a message part
 *
 * Ownership: parts point into the body they were split from; an envelope
 * or send form owns its JSON document and points into it until its
 * free function runs. Errors fill struct sl_http_error with status 400
 * (or 413, 415, 422), the field at fault and what to do.
 */
#ifndef SLUICE_DATAPLANE_HTTP_BODY_H
#define SLUICE_DATAPLANE_HTTP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/buf.h"
#include "dataplane/http_parse.h"
#include "dataplane/store.h"

#define SL_HTTP_MAX_PARTS 8

struct sl_http_part {
	char name[64];		/* Content-Disposition name, "" when none */
	char type[128];		/* lower-cased media type, "text/plain" when none */
	char encoding[32];	/* Content-Transfer-Encoding, lower-cased, "" when none */
	const uint8_t *data;
	size_t len;
};

/*
 * Split BODY at BOUNDARY into at most SL_HTTP_MAX_PARTS parts. Returns the
 * number of parts, or -1 with err set.
 */
int sl_http_multipart_split(const uint8_t *body, size_t len, const char *boundary,
			    struct sl_http_part *parts, struct sl_http_error *err);

/* The envelope of POST /v1/messages. */
struct sl_http_envelope {
	void *json;			/* the parsed document (json_t) */
	const char *from;		/* "" for the null sender */
	const char *envid;		/* NULL when not given */
	uint32_t flags;			/* SL_STORE_F_RET_*, SL_STORE_F_SMTPUTF8 */
	struct sl_store_rcpt *rcpts;	/* rcpt_count entries, pointing into json */
	unsigned rcpt_count;
};

/*
 * Parse the JSON envelope TEXT: from, to (addresses, or objects with
 * address, notify, orcpt), envid, ret. max_rcpts is the recipient limit.
 * Returns 0, or -1 with err set and nothing to free.
 */
int sl_http_envelope_parse(const uint8_t *text, size_t len, unsigned max_rcpts,
			   struct sl_http_envelope *env, struct sl_http_error *err);
void sl_http_envelope_free(struct sl_http_envelope *env);

/* The JSON form of POST /v1/send. */
struct sl_http_send_rcpt {
	const char *to;
	const char *name;	/* NULL when not given */
	void *vars;		/* json_t object, or NULL */
};

struct sl_http_send {
	void *json;
	const char *from;
	const char *from_name;	/* NULL when not given */
	const char *subject;
	const char *text;	/* NULL when not given */
	const char *html;	/* NULL when not given */
	const char *envid;
	struct sl_http_send_rcpt *rcpts;
	unsigned rcpt_count;
};

/*
 * Parse and check the form, its recipients and its templates' syntax.
 * A variable missing for a recipient is found by sl_http_send_build().
 * Returns 0, or -1 with err set and nothing to free.
 */
int sl_http_send_parse(const uint8_t *text, size_t len, unsigned max_rcpts,
		       struct sl_http_send *send, struct sl_http_error *err);
void sl_http_send_free(struct sl_http_send *send);

/*
 * Append the message for recipient i (header fields From, To, Subject,
 * MIME-Version, Content-Type, body in quoted-printable, CRLF lines) to
 * OUT. boundary_seed makes the multipart boundary. Returns 0, or -1 with
 * err set (a subject that grows too long after substitution).
 */
int sl_http_send_build(const struct sl_http_send *send, unsigned i, uint64_t boundary_seed,
		       struct sl_buf *out, struct sl_http_error *err);

/* Escaping of substituted values. */
enum sl_http_escape {
	SL_HTTP_ESCAPE_NONE = 0,	/* text: as given */
	SL_HTTP_ESCAPE_HTML,		/* html: & < > " ' as character references */
	SL_HTTP_ESCAPE_HEADER,		/* subject: values with control characters rejected */
};

/*
 * Expand TPL with the variables of recipient R into OUT. Variables: the
 * keys of R's vars (strings or numbers), then "email" (the address) and
 * "name" (the recipient's name). Returns 0, or -1 with err set (syntax
 * error, unknown variable, invalid value); err->field is then FIELD or
 * the recipient's.
 */
int sl_http_template_expand(const char *tpl, const struct sl_http_send_rcpt *r,
			    enum sl_http_escape escape, const char *field, unsigned index,
			    struct sl_buf *out, struct sl_http_error *err);

/*
 * Whether message part DATA must be converted to CRLF line ends: true
 * when it has LF and no CR at all. sl_http_crlf() appends the converted
 * copy to OUT.
 */
bool sl_http_lf_only(const uint8_t *data, size_t len);
void sl_http_crlf(const uint8_t *data, size_t len, struct sl_buf *out);

#endif
