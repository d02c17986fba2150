/*
 * dataplane/http_parse.c - HTTP/1.1 request syntax. Contract in
 * http_parse.h.
 */
#include "dataplane/http_parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(struct sl_http_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct sl_http_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(uint8_t c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field value characters: VCHAR, obs-text, SP and HTAB (RFC 9110 5.5). */
static bool is_field_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

size_t sl_http_head_end(const uint8_t *in, size_t len)
{
	size_t start = 0;
	const uint8_t *end;

	while (start + 1 < len && in[start] == '\r' && in[start + 1] == '\n')
		start += 2;
	if (start >= len)
		return 0;
	end = memmem(in + start, len - start, "\r\n\r\n", 4);
	return end ? (size_t)(end - in) + 4 : 0;
}

static enum sl_http_method method_of(const char *m)
{
	if (strcmp(m, "POST") == 0)
		return SL_HTTP_POST;
	if (strcmp(m, "GET") == 0)
		return SL_HTTP_GET;
	if (strcmp(m, "HEAD") == 0)
		return SL_HTTP_HEAD;
	return SL_HTTP_OTHER;
}

/* "METHOD SP target SP HTTP/1.x" (RFC 9112 3). */
static int parse_request_line(const char *line, size_t len, struct sl_http_request *req,
			      struct sl_http_error *err)
{
	const char *sp1 = memchr(line, ' ', len), *sp2;
	size_t mlen, tlen;

	if (!sp1)
		return fail(err, 400, "invalid request line: expected METHOD SP TARGET SP HTTP/1.1");
	mlen = (size_t)(sp1 - line);
	sp2 = memchr(sp1 + 1, ' ', len - mlen - 1);
	if (!sp2 || mlen == 0)
		return fail(err, 400, "invalid request line: expected METHOD SP TARGET SP HTTP/1.1");
	tlen = (size_t)(sp2 - sp1 - 1);
	if (mlen >= sizeof(req->method_text))
		return fail(err, 501, "method too long: this server implements POST and GET");
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((uint8_t)line[i]))
			return fail(err, 400, "invalid character in the request method");
	memcpy(req->method_text, line, mlen);
	req->method_text[mlen] = '\0';
	req->method = method_of(req->method_text);
	if (tlen == 0)
		return fail(err, 400, "empty request target: expected a path such as /v1/messages");
	if (tlen > SL_HTTP_MAX_TARGET)
		return fail(err, 414, "request target longer than %d bytes", SL_HTTP_MAX_TARGET);
	for (size_t i = 0; i < tlen; i++)
		if (sp1[1 + i] <= 0x20 || sp1[1 + i] == 0x7f)
			return fail(err, 400, "invalid character in the request target");
	memcpy(req->target, sp1 + 1, tlen);
	req->target[tlen] = '\0';

	size_t vlen = len - (size_t)(sp2 + 1 - line);
	const char *v = sp2 + 1;

	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((uint8_t)v[5]) || v[6] != '.' ||
	    !isdigit((uint8_t)v[7]))
		return fail(err, 400, "invalid HTTP version in the request line: expected HTTP/1.1");
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(err, 505, "HTTP version %.8s is not supported: use HTTP/1.1", v);
	req->minor = (unsigned)(v[7] - '0');
	req->keep_alive = req->minor == 1;
	return 0;
}

/* Whether the comma-separated list VALUE contains TOKEN (case-insensitive). */
static bool list_has(const char *value, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p;

		while (*e && *e != ',')
			e++;
		const char *t = e;

		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - p) == n && strncasecmp(p, token, n) == 0)
			return true;
		p = e;
	}
	return false;
}

static int set_content_length(const char *value, struct sl_http_request *req,
			      struct sl_http_error *err)
{
	int64_t n = 0;

	if (!*value)
		return fail(err, 400, "empty Content-Length: send the body size in bytes");
	for (const char *p = value; *p; p++) {
		if (!isdigit((uint8_t)*p))
			return fail(err, 400, "invalid Content-Length '%.40s': expected decimal digits",
				    value);
		if (n > (INT64_MAX - 9) / 10)
			return fail(err, 413, "Content-Length %.40s is too large", value);
		n = n * 10 + (*p - '0');
	}
	if (req->content_length >= 0 && req->content_length != n)
		return fail(err, 400, "conflicting Content-Length fields: send exactly one");
	req->content_length = n;
	return 0;
}

static int set_transfer_encoding(const char *value, struct sl_http_request *req,
				 struct sl_http_error *err)
{
	if (req->chunked || strcasecmp(value, "chunked") != 0)
		return fail(err, 501, "Transfer-Encoding '%.60s' is not supported: use chunked "
			    "or Content-Length", value);
	req->chunked = true;
	return 0;
}

static int copy_value(const char *name, const char *value, char *out, size_t cap,
		      struct sl_http_error *err)
{
	size_t n = strlen(value);

	if (n >= cap)
		return fail(err, 431, "%s field longer than %zu bytes", name, cap - 1);
	memcpy(out, value, n + 1);
	return 0;
}

/* Apply one field (name and trimmed value, both NUL-terminated). */
static int apply_field(const char *name, const char *value, struct sl_http_request *req,
		       struct sl_http_error *err)
{
	if (strcasecmp(name, "Content-Length") == 0)
		return set_content_length(value, req, err);
	if (strcasecmp(name, "Transfer-Encoding") == 0)
		return set_transfer_encoding(value, req, err);
	if (strcasecmp(name, "Host") == 0) {
		if (req->has_host)
			return fail(err, 400, "more than one Host field: send exactly one");
		req->has_host = true;
		return 0;
	}
	if (strcasecmp(name, "Expect") == 0) {
		if (strcasecmp(value, "100-continue") != 0)
			return fail(err, 417, "Expect '%.60s' is not supported: only 100-continue is",
				    value);
		req->expect_continue = true;
		return 0;
	}
	if (strcasecmp(name, "Connection") == 0) {
		if (list_has(value, "close"))
			req->keep_alive = false;
		else if (list_has(value, "keep-alive"))
			req->keep_alive = true;
		return 0;
	}
	if (strcasecmp(name, "Authorization") == 0)
		return copy_value("Authorization", value, req->authorization,
				  sizeof(req->authorization), err);
	if (strcasecmp(name, "Content-Type") == 0)
		return copy_value("Content-Type", value, req->content_type,
				  sizeof(req->content_type), err);
	return 0;
}

/* One "name: value" line of len bytes (no CRLF). */
static int parse_field(const char *line, size_t len, struct sl_http_request *req,
		       struct sl_http_error *err)
{
	char name[64], value[SL_HTTP_MAX_AUTH + SL_HTTP_MAX_CONTENT_TYPE];
	const char *colon = memchr(line, ':', len);
	size_t nlen, vstart, vend;

	if (line[0] == ' ' || line[0] == '\t')
		return fail(err, 400, "folded header field line: send each field on one line");
	if (!colon || colon == line)
		return fail(err, 400, "invalid header field line without a name and ':'");
	nlen = (size_t)(colon - line);
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((uint8_t)line[i]))
			return fail(err, 400, "invalid character in header field name '%.*s'",
				    (int)(nlen < 40 ? nlen : 40), line);
	vstart = nlen + 1;
	while (vstart < len && (line[vstart] == ' ' || line[vstart] == '\t'))
		vstart++;
	vend = len;
	while (vend > vstart && (line[vend - 1] == ' ' || line[vend - 1] == '\t'))
		vend--;
	for (size_t i = vstart; i < vend; i++)
		if (!is_field_char((uint8_t)line[i]))
			return fail(err, 400, "invalid character in header field '%.*s'",
				    (int)(nlen < 40 ? nlen : 40), line);
	if (nlen >= sizeof(name))
		return 0;	/* not one the API reads */
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	if (vend - vstart >= sizeof(value))
		return strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Content-Type") == 0
			       ? fail(err, 431, "%s field too long", name) : 0;
	memcpy(value, line + vstart, vend - vstart);
	value[vend - vstart] = '\0';
	return apply_field(name, value, req, err);
}

int sl_http_parse_head(const uint8_t *in, size_t len, struct sl_http_request *req,
		       struct sl_http_error *err)
{
	const char *p = (const char *)in, *end = p + len;
	unsigned nfields = 0;
	bool first = true;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	while (p < end) {
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (!cr || !lf || lf != cr + 1 || lf < cr)
			return fail(err, 400, "bare CR or LF in the request head: end lines with CRLF");
		n = (size_t)(cr - p);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			if (p[i] == '\0')
				return fail(err, 400, "NUL byte in the request head");
		if (first) {
			if (parse_request_line(p, n, req, err) < 0)
				return -1;
			first = false;
		} else {
			if (++nfields > SL_HTTP_MAX_FIELDS)
				return fail(err, 431, "more than %d header fields", SL_HTTP_MAX_FIELDS);
			if (parse_field(p, n, req, err) < 0)
				return -1;
		}
		p = lf + 1;
	}
	if (first)
		return fail(err, 400, "missing request line");
	if (req->chunked && req->content_length >= 0)
		return fail(err, 400, "both Transfer-Encoding and Content-Length given: send one");
	if (req->chunked && req->minor == 0)
		return fail(err, 400, "Transfer-Encoding in an HTTP/1.0 request: use Content-Length");
	if (req->minor == 1 && !req->has_host)
		return fail(err, 400, "missing Host field: HTTP/1.1 requests must send one");
	return 0;
}

/* Chunked decoding. */

enum {
	CH_SIZE = 0,	/* hex digits of a chunk size */
	CH_EXT,		/* chunk extension up to CR */
	CH_SIZE_LF,	/* LF after the size line */
	CH_DATA,
	CH_DATA_CR,	/* CR after chunk data */
	CH_DATA_LF,
	CH_TRAILER,	/* start of a trailer line or the final CRLF */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END_LF,	/* LF of the final empty line */
	CH_DONE,
};

/* Maximum bytes of a chunk extension or a trailer line. */
#define MAX_CHUNK_LINE 4096

void sl_http_chunked_begin(struct sl_http_chunked *c, uint64_t max_size)
{
	memset(c, 0, sizeof(*c));
	c->max_size = max_size;
}

static int hex_value(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (uint8_t)tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* One byte of the framing (everything but chunk data); returns 0 or -1. */
static int chunk_byte(struct sl_http_chunked *c, uint8_t ch, struct sl_http_error *err)
{
	int h;

	switch (c->state) {
	case CH_SIZE:
		h = hex_value(ch);
		if (h >= 0) {
			if (c->chunk_left >> 60)
				return fail(err, 413, "chunk size too large");
			c->chunk_left = c->chunk_left * 16 + (unsigned)h;
			c->digits++;
			return 0;
		}
		if (c->digits == 0)
			return fail(err, 400, "invalid chunk size: expected hex digits");
		if (ch == ';' || ch == ' ' || ch == '\t') {
			c->state = CH_EXT;
			c->line_len = 0;
			return 0;
		}
		if (ch != '\r')
			return fail(err, 400, "invalid character after the chunk size");
		c->state = CH_SIZE_LF;
		return 0;
	case CH_EXT:
		if (ch == '\r') {
			c->state = CH_SIZE_LF;
			return 0;
		}
		if (ch == '\n' || ++c->line_len > MAX_CHUNK_LINE)
			return fail(err, 400, "invalid chunk extension");
		return 0;
	case CH_SIZE_LF:
		if (ch != '\n')
			return fail(err, 400, "chunk size line must end with CRLF");
		if (c->size + c->chunk_left > c->max_size)
			return fail(err, 413, "request body larger than %llu bytes",
				    (unsigned long long)c->max_size);
		c->state = c->chunk_left ? CH_DATA : CH_TRAILER;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return fail(err, 400, "chunk data longer than its size: expected CRLF");
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return fail(err, 400, "chunk data must end with CRLF");
		c->state = CH_SIZE;
		c->digits = 0;
		return 0;
	case CH_TRAILER:
		if (ch == '\r') {
			c->state = CH_END_LF;
			return 0;
		}
		c->state = CH_TRAILER_LINE;
		c->line_len = 1;
		return ch == '\n' ? fail(err, 400, "bare LF in the chunked trailer") : 0;
	case CH_TRAILER_LINE:
		if (ch == '\r') {
			c->state = CH_TRAILER_LF;
			return 0;
		}
		if (ch == '\n' || ++c->line_len > MAX_CHUNK_LINE)
			return fail(err, 400, "invalid trailer field line");
		return 0;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return fail(err, 400, "trailer field line must end with CRLF");
		c->state = CH_TRAILER;
		return 0;
	case CH_END_LF:
		if (ch != '\n')
			return fail(err, 400, "chunked body must end with CRLF");
		c->state = CH_DONE;
		return 0;
	}
	return fail(err, 400, "chunked decoder in an invalid state");
}

long sl_http_chunked_decode(struct sl_http_chunked *c, const uint8_t *in, size_t len,
			    struct sl_buf *out, bool *done, struct sl_http_error *err)
{
	size_t pos = 0;

	*done = false;
	while (pos < len && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t n = len - pos;

			if (n > c->chunk_left)
				n = (size_t)c->chunk_left;
			sl_buf_append(out, in + pos, n);
			pos += n;
			c->chunk_left -= n;
			c->size += n;
			if (c->chunk_left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if (chunk_byte(c, in[pos], err) < 0)
			return -1;
		pos++;
	}
	*done = c->state == CH_DONE;
	return (long)pos;
}

/* Media types. */

int sl_http_media_type(const char *value, char *type, size_t type_len)
{
	const char *p = value, *slash = NULL;
	size_t n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
		if (*p == '/' && !slash)
			slash = p;
		else if (!is_tchar((uint8_t)*p))
			return -1;
		if (n + 1 >= type_len)
			return -1;
		type[n++] = (char)tolower((uint8_t)*p);
	}
	type[n] = '\0';
	return slash && n > 2 && type[0] != '/' && type[n - 1] != '/' ? 0 : -1;
}

/* Copy a quoted-string starting after its opening quote; returns the end or NULL. */
static const char *unquote(const char *p, char *out, size_t out_len)
{
	size_t n = 0;

	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (n + 1 >= out_len)
			return NULL;
		out[n++] = *p;
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

int sl_http_media_param(const char *value, const char *name, char *out, size_t out_len)
{
	const char *p = strchr(value, ';');
	size_t nlen = strlen(name);

	while (p) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *eq = strchr(p, '=');

		if (!eq)
			return -1;
		bool match = (size_t)(eq - p) == nlen && strncasecmp(p, name, nlen) == 0;

		p = eq + 1;
		if (*p == '"') {
			char tmp[256];
			const char *end = unquote(p + 1, match ? out : tmp, match ? out_len : sizeof(tmp));

			if (!end)
				return -1;
			if (match)
				return 0;
			p = strchr(end, ';');
			continue;
		}
		const char *e = p;

		while (*e && *e != ';' && *e != ' ' && *e != '\t')
			e++;
		if (match) {
			if ((size_t)(e - p) + 1 > out_len || e == p)
				return -1;
			memcpy(out, p, (size_t)(e - p));
			out[e - p] = '\0';
			return 0;
		}
		p = strchr(e, ';');
	}
	return -1;
}

const char *sl_http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 411, "Length Required" }, { 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" }, { 417, "Expectation Failed" },
		{ 422, "Unprocessable Content" }, { 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 503, "Service Unavailable" }, { 505, "HTTP Version Not Supported" },
		{ 507, "Insufficient Storage" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Error";
}
