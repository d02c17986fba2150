/*
 * dataplane/http_parse.h - HTTP/1.1 request syntax without I/O (RFC 9112):
 * the request head, the chunked body decoder, and the media type
 * parameters the injection API reads. Used by http_server.c; tested on
 * its own.
 *
 *   sl_http_parse_head()   parse a complete request head
 *   sl_http_head_end()     find the end of a head in buffered input
 *   sl_http_chunked_*()    decode a chunked body incrementally
 *   sl_http_media_type()   split "type/subtype; param=value" (RFC 9110 8.3.1)
 *
 * The parser is strict where leniency enables request smuggling. Lines
 * end with CRLF only, and a field name is followed by ":" without white
 * space. Obsolete line folding is rejected. Content-Length must be digits
 * and agree with itself, and a request with both Content-Length and
 * Transfer-Encoding is rejected. Every error carries the HTTP status and a
 * message that names the value and what to do.
 */
#ifndef SLUICE_DATAPLANE_HTTP_PARSE_H
#define SLUICE_DATAPLANE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/buf.h"

#define SL_HTTP_MAX_TARGET 256
#define SL_HTTP_MAX_FIELDS 100
#define SL_HTTP_MAX_AUTH 512
#define SL_HTTP_MAX_CONTENT_TYPE 512

/* A rejected request: the response status and the reason. */
struct sl_http_error {
	int status;
	char field[64];		/* the request field at fault, "" for the request itself */
	char message[256];
};

enum sl_http_method {
	SL_HTTP_OTHER = 0,
	SL_HTTP_GET,
	SL_HTTP_HEAD,
	SL_HTTP_POST,
};

struct sl_http_request {
	enum sl_http_method method;
	char method_text[16];
	char target[SL_HTTP_MAX_TARGET + 1];
	unsigned minor;			/* HTTP/1.<minor>: 0 or 1 */
	int64_t content_length;		/* -1 when not given */
	bool chunked;
	bool expect_continue;
	bool keep_alive;		/* from the version and Connection */
	bool has_host;
	char authorization[SL_HTTP_MAX_AUTH + 1];	/* "" when not given */
	char content_type[SL_HTTP_MAX_CONTENT_TYPE + 1];	/* "" when not given */
};

/*
 * Find the end of a request head in IN: returns the head's length (the
 * empty line included), 0 when it is incomplete. Leading empty lines
 * (RFC 9112 2.2) are part of the head.
 */
size_t sl_http_head_end(const uint8_t *in, size_t len);

/*
 * Parse the complete head IN (as found by sl_http_head_end). Returns 0,
 * or -1 with err set (status 400, 431, 501 or 505 ...).
 */
int sl_http_parse_head(const uint8_t *in, size_t len, struct sl_http_request *req,
		       struct sl_http_error *err);

/* Chunked body decoder (RFC 9112 7.1); trailer fields are read and dropped. */
struct sl_http_chunked {
	int state;
	uint64_t chunk_left;	/* bytes of the current chunk still to read */
	uint64_t size;		/* body bytes decoded so far */
	uint64_t max_size;
	unsigned digits;
	size_t line_len;	/* bytes of a chunk extension or trailer line */
};

void sl_http_chunked_begin(struct sl_http_chunked *c, uint64_t max_size);

/*
 * Decode IN, append the body bytes to OUT and return the bytes consumed
 * (>= 0), or -1 with err set (400, or 413 when the body exceeds
 * max_size). *done becomes true after the last chunk and its trailer;
 * the bytes after it are not consumed (the next request).
 */
long sl_http_chunked_decode(struct sl_http_chunked *c, const uint8_t *in, size_t len,
			    struct sl_buf *out, bool *done, struct sl_http_error *err);

/*
 * Split a Content-Type value: *type gets the lower-cased "type/subtype"
 * (NUL-terminated, at most type_len-1 bytes). sl_http_media_param() then
 * finds one parameter's value, unquoted, in the same value.
 * Returns 0, or -1 when the value is malformed.
 */
int sl_http_media_type(const char *value, char *type, size_t type_len);
int sl_http_media_param(const char *value, const char *name, char *out, size_t out_len);

/* The reason phrase of a status code ("Bad Request"). */
const char *sl_http_reason(int status);

#endif
