/*
 * dataplane/http_body.c - multipart, JSON and template handling of the
 * HTTP injection API. Contract in http_body.h.
 */
#include "dataplane/http_body.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/smtp_parse.h"

/* Maximum bytes of a display name (From, To) and of a Subject. */
#define MAX_NAME 200
#define MAX_SUBJECT 900
#define MAX_VARIABLE 64

static int fail(struct sl_http_error *err, int status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct sl_http_error *err, int status, const char *field, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Multipart. */

/* Read the header block of one part at p (up to end); returns the data start or NULL. */
static const uint8_t *part_headers(const uint8_t *p, const uint8_t *end, struct sl_http_part *part,
				   struct sl_http_error *err)
{
	strcpy(part->type, "text/plain");
	part->name[0] = '\0';
	part->encoding[0] = '\0';
	for (;;) {
		const uint8_t *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		char line[1024];
		size_t n;

		if (!eol) {
			fail(err, 400, "", "multipart part without the empty line after its header fields");
			return NULL;
		}
		n = (size_t)(eol - p);
		if (n == 0)
			return eol + 2;
		if (n >= sizeof(line)) {
			fail(err, 400, "", "multipart part header field longer than %zu bytes",
			     sizeof(line) - 1);
			return NULL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = eol + 2;

		char *colon = strchr(line, ':'), *value;

		if (!colon) {
			fail(err, 400, "", "invalid multipart part header field '%.60s'", line);
			return NULL;
		}
		*colon = '\0';
		for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
			;
		if (strcasecmp(line, "Content-Type") == 0 &&
		    sl_http_media_type(value, part->type, sizeof(part->type)) < 0) {
			fail(err, 415, "", "invalid Content-Type '%.60s' in a multipart part", value);
			return NULL;
		}
		if (strcasecmp(line, "Content-Transfer-Encoding") == 0) {
			size_t i;

			for (i = 0; value[i] && value[i] != ' ' && i + 1 < sizeof(part->encoding); i++)
				part->encoding[i] = (char)tolower((unsigned char)value[i]);
			part->encoding[i] = '\0';
		}
		if (strcasecmp(line, "Content-Disposition") == 0 &&
		    sl_http_media_param(value, "name", part->name, sizeof(part->name)) < 0)
			part->name[0] = '\0';
	}
}

int sl_http_multipart_split(const uint8_t *body, size_t len, const char *boundary,
			    struct sl_http_part *parts, struct sl_http_error *err)
{
	const uint8_t *end = body + len, *p;
	char delim[80];
	size_t dlen, blen = strlen(boundary);
	int n = 0;

	if (blen == 0 || blen > 70)
		return fail(err, 400, "", "invalid multipart boundary: expected 1 to 70 characters");
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	/* The first delimiter may start the body, without the CRLF before it. */
	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
		p = body + dlen - 2;
	else if ((p = memmem(body, len, delim, dlen)) != NULL)
		p += dlen;
	else
		return fail(err, 400, "", "multipart body without the boundary '%.70s' of its "
			    "Content-Type", boundary);
	for (;;) {
		const uint8_t *data, *next;

		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return n;	/* close delimiter; the epilogue is ignored */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return fail(err, 400, "", "multipart delimiter not followed by CRLF");
		p += 2;
		if (n == SL_HTTP_MAX_PARTS)
			return fail(err, 400, "", "more than %d multipart parts: send one envelope "
				    "and one message", SL_HTTP_MAX_PARTS);
		data = part_headers(p, end, &parts[n], err);
		if (!data)
			return -1;
		next = memmem(data, (size_t)(end - data), delim, dlen);
		if (!next)
			return fail(err, 400, "", "multipart body ends without its close delimiter "
				    "'--%.70s--'", boundary);
		parts[n].data = data;
		parts[n].len = (size_t)(next - data);
		n++;
		p = next + dlen;
	}
}

/* JSON helpers. */

static int json_syntax_error(const json_error_t *je, const char *field, struct sl_http_error *err)
{
	return fail(err, 400, field, "invalid JSON at line %d column %d: %s", je->line,
		    je->column, je->text);
}

/* Check that OBJ has no key outside ALLOWED (NULL-terminated). */
static int check_keys(json_t *obj, const char *const *allowed, const char *where,
		      struct sl_http_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach(obj, key, value) {
		bool known = false;

		for (const char *const *a = allowed; *a && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known)
			return fail(err, 400, key, "unknown field '%.40s' in %s", key, where);
	}
	return 0;
}

/* An optional string member: 0 (then *out is NULL when absent) or -1. */
static int get_string(json_t *obj, const char *key, const char *field, const char **out,
		      struct sl_http_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(err, 400, field, "%s must be a string", field);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return fail(err, 400, field, "%s contains a NUL character", field);
	return 0;
}

static bool has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((uint8_t)*s >= 0x80)
			return true;
	return false;
}

static int check_address(const char *addr, const char *field, bool allow_empty,
			 struct sl_http_error *err)
{
	if (!addr)
		return fail(err, 400, field, "missing %s: give an address such as user@example.com",
			    field);
	if (allow_empty && !*addr)
		return 0;
	if (strlen(addr) > SL_SMTP_MAX_PATH)
		return fail(err, 400, field, "address in %s longer than %d bytes", field,
			    SL_SMTP_MAX_PATH);
	if (!sl_smtp_address_valid(addr, true, false))
		return fail(err, 400, field, "invalid address '%.100s' in %s: expected "
			    "local-part@domain", addr, field);
	return 0;
}

static int parse_document(const uint8_t *text, size_t len, const char *field, json_t **out,
			  struct sl_http_error *err)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);

	if (!root)
		return json_syntax_error(&je, field, err);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, 400, field, "%s must be a JSON object", field);
	}
	*out = root;
	return 0;
}

/* Envelope. */

static int notify_bits(json_t *v, const char *field, uint8_t *out, struct sl_http_error *err)
{
	static const struct {
		const char *name;
		uint8_t bit;
	} names[] = {
		{ "never", SL_SMTP_NOTIFY_NEVER }, { "success", SL_SMTP_NOTIFY_SUCCESS },
		{ "failure", SL_SMTP_NOTIFY_FAILURE }, { "delay", SL_SMTP_NOTIFY_DELAY },
	};
	size_t i;
	json_t *item;

	*out = 0;
	if (!json_is_array(v))
		return fail(err, 400, field, "%s must be an array of \"never\", \"success\", "
			    "\"failure\", \"delay\"", field);
	json_array_foreach(v, i, item) {
		size_t k;

		for (k = 0; k < 4; k++)
			if (json_is_string(item) && strcmp(json_string_value(item), names[k].name) == 0)
				break;
		if (k == 4)
			return fail(err, 400, field, "invalid value in %s: expected \"never\", "
				    "\"success\", \"failure\" or \"delay\"", field);
		*out |= names[k].bit;
	}
	if ((*out & SL_SMTP_NOTIFY_NEVER) && *out != SL_SMTP_NOTIFY_NEVER)
		return fail(err, 400, field, "%s: \"never\" cannot be combined with other values",
			    field);
	return 0;
}

static int envelope_rcpt(json_t *v, unsigned i, struct sl_store_rcpt *r, bool *utf8,
			 struct sl_http_error *err)
{
	static const char *const keys[] = { "address", "notify", "orcpt", NULL };
	char field[48];
	json_t *notify;

	snprintf(field, sizeof(field), "to[%u]", i);
	memset(r, 0, sizeof(*r));
	if (json_is_string(v)) {
		r->addr = json_string_value(v);
	} else if (json_is_object(v)) {
		if (check_keys(v, keys, field, err) < 0 ||
		    get_string(v, "address", field, &r->addr, err) < 0 ||
		    get_string(v, "orcpt", field, &r->orcpt, err) < 0)
			return -1;
		if (r->orcpt && (strlen(r->orcpt) > SL_SMTP_MAX_ORCPT || !strchr(r->orcpt, ';')))
			return fail(err, 400, field, "invalid orcpt in %s: expected TYPE;ADDRESS "
				    "such as rfc822;user@example.com", field);
		notify = json_object_get(v, "notify");
		if (notify && notify_bits(notify, field, &r->notify, err) < 0)
			return -1;
	} else {
		return fail(err, 400, field, "%s must be an address string or an object with "
			    "\"address\"", field);
	}
	if (check_address(r->addr, field, false, err) < 0)
		return -1;
	*utf8 |= has_non_ascii(r->addr);
	return 0;
}

/* ENVID (RFC 3461 4.4), stored as given like SMTP's MAIL ... ENVID=. */
static int check_envid(const char *envid, struct sl_http_error *err)
{
	if (!envid)
		return 0;
	if (!*envid || strlen(envid) > SL_SMTP_MAX_ENVID)
		return fail(err, 400, "envid", "envid must be 1 to %d characters", SL_SMTP_MAX_ENVID);
	for (const char *p = envid; *p; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '+' || *p == '=')
			return fail(err, 400, "envid", "envid may contain printable ASCII except "
				    "space, '+' and '='");
	return 0;
}

static int envelope_options(json_t *root, struct sl_http_envelope *env, struct sl_http_error *err)
{
	const char *ret;

	if (get_string(root, "envid", "envid", &env->envid, err) < 0 ||
	    get_string(root, "ret", "ret", &ret, err) < 0)
		return -1;
	if (check_envid(env->envid, err) < 0)
		return -1;
	if (ret && strcmp(ret, "full") == 0)
		env->flags |= SL_STORE_F_RET_FULL;
	else if (ret && strcmp(ret, "headers") == 0)
		env->flags |= SL_STORE_F_RET_HDRS;
	else if (ret)
		return fail(err, 400, "ret", "invalid ret '%.20s': expected \"full\" or \"headers\"",
			    ret);
	return 0;
}

int sl_http_envelope_parse(const uint8_t *text, size_t len, unsigned max_rcpts,
			   struct sl_http_envelope *env, struct sl_http_error *err)
{
	static const char *const keys[] = { "from", "to", "envid", "ret", NULL };
	bool utf8 = false;
	json_t *root, *to, *v;
	size_t i;

	memset(env, 0, sizeof(*env));
	if (parse_document(text, len, "envelope", &root, err) < 0)
		return -1;
	env->json = root;
	if (check_keys(root, keys, "the envelope", err) < 0 ||
	    get_string(root, "from", "from", &env->from, err) < 0 ||
	    check_address(env->from, "from", true, err) < 0 || envelope_options(root, env, err) < 0)
		goto fail;
	utf8 = has_non_ascii(env->from);
	to = json_object_get(root, "to");
	if (!json_is_array(to) || json_array_size(to) == 0) {
		fail(err, 400, "to", "to must be a non-empty array of recipient addresses");
		goto fail;
	}
	if (json_array_size(to) > max_rcpts) {
		fail(err, 400, "to", "%zu recipients, more than the limit of %u per message: "
		     "split the recipients over several requests", json_array_size(to), max_rcpts);
		goto fail;
	}
	env->rcpts = calloc(json_array_size(to), sizeof(*env->rcpts));
	if (!env->rcpts)
		abort();
	json_array_foreach(to, i, v) {
		if (envelope_rcpt(v, (unsigned)i, &env->rcpts[i], &utf8, err) < 0)
			goto fail;
	}
	env->rcpt_count = (unsigned)json_array_size(to);
	if (utf8)
		env->flags |= SL_STORE_F_SMTPUTF8;
	return 0;
fail:
	sl_http_envelope_free(env);
	return -1;
}

void sl_http_envelope_free(struct sl_http_envelope *env)
{
	free(env->rcpts);
	json_decref(env->json);
	memset(env, 0, sizeof(*env));
}

/* Templates. */

static bool is_variable_char(char c)
{
	return isalnum((uint8_t)c) || c == '_' || c == '.' || c == '-';
}

static int variable_value(const struct sl_http_send_rcpt *r, const char *name, char *num,
			  size_t numlen, const char **out)
{
	json_t *v = r->vars ? json_object_get((json_t *)r->vars, name) : NULL;

	*out = NULL;
	if (v && json_is_string(v))
		*out = json_string_value(v);
	else if (v && json_is_integer(v))
		snprintf(num, numlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (v && json_is_real(v))
		snprintf(num, numlen, "%.17g", json_real_value(v));
	else if (v)
		return -1;
	if (v && !*out)
		*out = num;
	else if (!v && strcmp(name, "email") == 0)
		*out = r->to;
	else if (!v && strcmp(name, "name") == 0)
		*out = r->name;
	return 0;
}

static void append_escaped(struct sl_buf *out, const char *value, enum sl_http_escape escape)
{
	if (escape != SL_HTTP_ESCAPE_HTML) {
		sl_buf_append(out, value, strlen(value));
		return;
	}
	for (const char *p = value; *p; p++) {
		const char *ref = NULL;

		switch (*p) {
		case '&': ref = "&amp;"; break;
		case '<': ref = "&lt;"; break;
		case '>': ref = "&gt;"; break;
		case '"': ref = "&quot;"; break;
		case '\'': ref = "&#39;"; break;
		}
		if (ref)
			sl_buf_append(out, ref, strlen(ref));
		else
			sl_buf_append(out, p, 1);
	}
}

static int substitute(const char *name, const struct sl_http_send_rcpt *r,
		      enum sl_http_escape escape, const char *field, unsigned index,
		      struct sl_buf *out, struct sl_http_error *err)
{
	char num[64], where[48];
	const char *value;

	snprintf(where, sizeof(where), "recipients[%u]", index);
	if (variable_value(r, name, num, sizeof(num), &value) < 0)
		return fail(err, 400, where, "variable '%s' of %s must be a string or a number",
			    name, where);
	if (!value)
		return fail(err, 400, where, "%s uses {{%s}} but %s has no variable '%s': add "
			    "it to its \"vars\"", field, name, where, name);
	if (escape == SL_HTTP_ESCAPE_HEADER)
		for (const char *p = value; *p; p++)
			if ((uint8_t)*p < 0x20 || *p == 0x7f)
				return fail(err, 400, where, "variable '%s' of %s contains a control "
					    "character, which %s cannot hold", name, where, field);
	append_escaped(out, value, escape);
	return 0;
}

int sl_http_template_expand(const char *tpl, const struct sl_http_send_rcpt *r,
			    enum sl_http_escape escape, const char *field, unsigned index,
			    struct sl_buf *out, struct sl_http_error *err)
{
	const char *p = tpl;

	while (*p) {
		if (p[0] == '\\' && p[1] == '{' && p[2] == '{') {
			sl_buf_append(out, "{{", 2);
			p += 3;
			continue;
		}
		if (p[0] != '{' || p[1] != '{') {
			sl_buf_append(out, p++, 1);
			continue;
		}

		const char *close = strstr(p + 2, "}}"), *s = p + 2, *e;
		char name[MAX_VARIABLE + 1];

		if (!close)
			return fail(err, 400, field, "%s: '{{' at offset %zu has no closing '}}' "
				    "(write \\{{ for a literal '{{')", field, (size_t)(p - tpl));
		while (*s == ' ')
			s++;
		for (e = s; e < close && is_variable_char(*e); e++)
			;
		if (e == s || (size_t)(e - s) > MAX_VARIABLE)
			return fail(err, 400, field, "%s: invalid variable name at offset %zu: use "
				    "1 to %d letters, digits, '_', '.', '-'", field,
				    (size_t)(p - tpl), MAX_VARIABLE);
		memcpy(name, s, (size_t)(e - s));
		name[e - s] = '\0';
		while (*e == ' ')
			e++;
		if (e != close)
			return fail(err, 400, field, "%s: invalid character in {{%s...}} at offset "
				    "%zu", field, name, (size_t)(p - tpl));
		if (r && substitute(name, r, escape, field, index, out, err) < 0)
			return -1;
		p = close + 2;
	}
	return 0;
}

/* The JSON form. */

static int check_name(const char *name, const char *field, struct sl_http_error *err)
{
	if (!name)
		return 0;
	if (strlen(name) > MAX_NAME)
		return fail(err, 400, field, "%s longer than %d bytes", field, MAX_NAME);
	for (const char *p = name; *p; p++)
		if ((uint8_t)*p < 0x20 || *p == 0x7f)
			return fail(err, 400, field, "%s contains a control character", field);
	return 0;
}

static int send_rcpt(json_t *v, unsigned i, struct sl_http_send_rcpt *r,
		     struct sl_http_error *err)
{
	static const char *const keys[] = { "to", "name", "vars", NULL };
	char field[48], name_field[64];

	snprintf(field, sizeof(field), "recipients[%u]", i);
	snprintf(name_field, sizeof(name_field), "%s.name", field);
	memset(r, 0, sizeof(*r));
	if (json_is_string(v)) {
		r->to = json_string_value(v);
		return check_address(r->to, field, false, err);
	}
	if (!json_is_object(v))
		return fail(err, 400, field, "%s must be an address string or an object with "
			    "\"to\"", field);
	if (check_keys(v, keys, field, err) < 0 || get_string(v, "to", field, &r->to, err) < 0 ||
	    get_string(v, "name", name_field, &r->name, err) < 0 ||
	    check_name(r->name, name_field, err) < 0)
		return -1;
	r->vars = json_object_get(v, "vars");
	if (r->vars && !json_is_object((json_t *)r->vars))
		return fail(err, 400, field, "%s.vars must be an object of variable names and "
			    "values", field);
	return check_address(r->to, field, false, err);
}

static int send_fields(json_t *root, struct sl_http_send *s, struct sl_http_error *err)
{
	if (get_string(root, "from", "from", &s->from, err) < 0 ||
	    check_address(s->from, "from", false, err) < 0 ||
	    get_string(root, "from_name", "from_name", &s->from_name, err) < 0 ||
	    check_name(s->from_name, "from_name", err) < 0 ||
	    get_string(root, "subject", "subject", &s->subject, err) < 0 ||
	    get_string(root, "text", "text", &s->text, err) < 0 ||
	    get_string(root, "html", "html", &s->html, err) < 0 ||
	    get_string(root, "envid", "envid", &s->envid, err) < 0 ||
	    check_envid(s->envid, err) < 0)
		return -1;
	if (!s->subject)
		return fail(err, 400, "subject", "missing subject");
	if (!s->text && !s->html)
		return fail(err, 400, "text", "missing text and html: give at least one of them");

	/* Syntax only: without a recipient no variable is looked up. */
	struct sl_buf scratch = { 0 };
	int rc = sl_http_template_expand(s->subject, NULL, SL_HTTP_ESCAPE_HEADER, "subject", 0,
					 &scratch, err);

	if (rc == 0 && s->text)
		rc = sl_http_template_expand(s->text, NULL, SL_HTTP_ESCAPE_NONE, "text", 0, &scratch,
					     err);
	if (rc == 0 && s->html)
		rc = sl_http_template_expand(s->html, NULL, SL_HTTP_ESCAPE_HTML, "html", 0, &scratch,
					     err);
	sl_buf_free(&scratch);
	return rc;
}

int sl_http_send_parse(const uint8_t *text, size_t len, unsigned max_rcpts,
		       struct sl_http_send *s, struct sl_http_error *err)
{
	static const char *const keys[] = {
		"from", "from_name", "subject", "text", "html", "envid", "recipients", NULL,
	};
	json_t *root, *list, *v;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (parse_document(text, len, "body", &root, err) < 0)
		return -1;
	s->json = root;
	if (check_keys(root, keys, "the request", err) < 0 || send_fields(root, s, err) < 0)
		goto fail;
	list = json_object_get(root, "recipients");
	if (!json_is_array(list) || json_array_size(list) == 0) {
		fail(err, 400, "recipients", "recipients must be a non-empty array");
		goto fail;
	}
	if (json_array_size(list) > max_rcpts) {
		fail(err, 400, "recipients", "%zu recipients, more than the limit of %u per "
		     "request: split them over several requests", json_array_size(list), max_rcpts);
		goto fail;
	}
	s->rcpts = calloc(json_array_size(list), sizeof(*s->rcpts));
	if (!s->rcpts)
		abort();
	json_array_foreach(list, i, v) {
		if (send_rcpt(v, (unsigned)i, &s->rcpts[i], err) < 0)
			goto fail;
	}
	s->rcpt_count = (unsigned)json_array_size(list);
	return 0;
fail:
	sl_http_send_free(s);
	return -1;
}

void sl_http_send_free(struct sl_http_send *s)
{
	free(s->rcpts);
	json_decref(s->json);
	memset(s, 0, sizeof(*s));
}

/* Building the message. */

static void append_str(struct sl_buf *out, const char *s)
{
	sl_buf_append(out, s, strlen(s));
}

static void base64(struct sl_buf *out, const uint8_t *in, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		char q[4];

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? tab[v & 63] : '=';
		sl_buf_append(out, q, 4);
	}
}

/*
 * RFC 2047 encoded words for non-ASCII TEXT, at most 45 bytes of UTF-8
 * each (60 base64 characters) and never split inside a character,
 * separated by folding white space.
 */
static void encoded_words(struct sl_buf *out, const char *text)
{
	const uint8_t *p = (const uint8_t *)text;
	size_t len = strlen(text);

	while (len) {
		size_t n = len < 45 ? len : 45;

		while (n < len && n > 0 && (p[n] & 0xc0) == 0x80)
			n--;
		append_str(out, "=?UTF-8?B?");
		base64(out, p, n);
		append_str(out, "?=");
		p += n;
		len -= n;
		if (len)
			append_str(out, "\r\n ");
	}
}

/* A display name and address: "Name" <addr>, or the address alone. */
static void mailbox(struct sl_buf *out, const char *name, const char *addr)
{
	if (name && *name) {
		if (has_non_ascii(name)) {
			encoded_words(out, name);
		} else {
			sl_buf_append(out, "\"", 1);
			for (const char *p = name; *p; p++) {
				if (*p == '"' || *p == '\\')
					sl_buf_append(out, "\\", 1);
				sl_buf_append(out, p, 1);
			}
			sl_buf_append(out, "\"", 1);
		}
		append_str(out, " <");
		append_str(out, addr);
		append_str(out, ">");
	} else {
		append_str(out, addr);
	}
}

/*
 * Quoted-printable (RFC 2045 6.7) with CRLF for every LF or CRLF of TEXT
 * and lines of at most 76 characters.
 */
static void quoted_printable(struct sl_buf *out, const char *text, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)text[i];
		bool at_eol = i + 1 == len || text[i + 1] == '\n' ||
			      (text[i + 1] == '\r' && i + 2 < len && text[i + 2] == '\n');
		bool encode;

		if (c == '\r' && i + 1 < len && text[i + 1] == '\n')
			continue;
		if (c == '\n') {
			append_str(out, "\r\n");
			col = 0;
			continue;
		}
		encode = c == '=' || c > 126 || (c < 32 && c != '\t') ||
			 ((c == ' ' || c == '\t') && at_eol) || (c == '.' && col == 0);
		if (col + (encode ? 3 : 1) > 75) {
			append_str(out, "=\r\n");
			col = 0;
		}
		if (encode) {
			char e[3] = { '=', hex[c >> 4], hex[c & 15] };

			sl_buf_append(out, e, 3);
			col += 3;
		} else {
			sl_buf_append(out, &c, 1);
			col++;
		}
	}
	append_str(out, "\r\n");
}

static void text_part(struct sl_buf *out, const char *type, const struct sl_buf *content)
{
	append_str(out, "Content-Type: ");
	append_str(out, type);
	append_str(out, "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	quoted_printable(out, (const char *)content->p, content->len);
}

static int build_subject(const struct sl_http_send *s, unsigned i, struct sl_buf *out,
			 struct sl_http_error *err)
{
	struct sl_buf subject = { 0 };
	int rc = sl_http_template_expand(s->subject, &s->rcpts[i], SL_HTTP_ESCAPE_HEADER,
					 "subject", i, &subject, err);

	if (rc == 0 && subject.len > MAX_SUBJECT)
		rc = fail(err, 400, "subject", "subject for recipients[%u] is %zu bytes after "
			  "substitution, more than %d", i, subject.len, MAX_SUBJECT);
	if (rc == 0) {
		sl_buf_append(&subject, "", 1);
		append_str(out, "Subject: ");
		if (has_non_ascii((const char *)subject.p))
			encoded_words(out, (const char *)subject.p);
		else
			append_str(out, (const char *)subject.p);
		append_str(out, "\r\n");
	}
	sl_buf_free(&subject);
	return rc;
}

int sl_http_send_build(const struct sl_http_send *s, unsigned i, uint64_t boundary_seed,
		       struct sl_buf *out, struct sl_http_error *err)
{
	const struct sl_http_send_rcpt *r = &s->rcpts[i];
	struct sl_buf text = { 0 }, html = { 0 };
	char boundary[64];
	int rc = 0;

	append_str(out, "From: ");
	mailbox(out, s->from_name, s->from);
	append_str(out, "\r\nTo: ");
	mailbox(out, r->name, r->to);
	append_str(out, "\r\n");
	if (build_subject(s, i, out, err) < 0)
		return -1;
	append_str(out, "MIME-Version: 1.0\r\n");
	if (s->text)
		rc = sl_http_template_expand(s->text, r, SL_HTTP_ESCAPE_NONE, "text", i, &text, err);
	if (rc == 0 && s->html)
		rc = sl_http_template_expand(s->html, r, SL_HTTP_ESCAPE_HTML, "html", i, &html, err);
	if (rc == 0 && s->text && s->html) {
		/* "=_" never occurs in quoted-printable, so the boundary cannot either. */
		snprintf(boundary, sizeof(boundary), "=_sluice_%016" PRIx64, boundary_seed);
		append_str(out, "Content-Type: multipart/alternative; boundary=\"");
		append_str(out, boundary);
		append_str(out, "\"\r\n\r\n--");
		append_str(out, boundary);
		append_str(out, "\r\n");
		text_part(out, "text/plain", &text);
		append_str(out, "--");
		append_str(out, boundary);
		append_str(out, "\r\n");
		text_part(out, "text/html", &html);
		append_str(out, "--");
		append_str(out, boundary);
		append_str(out, "--\r\n");
	} else if (rc == 0) {
		text_part(out, s->text ? "text/plain" : "text/html", s->text ? &text : &html);
	}
	sl_buf_free(&text);
	sl_buf_free(&html);
	return rc;
}

/* Line ends. */

bool sl_http_lf_only(const uint8_t *data, size_t len)
{
	return !memchr(data, '\r', len) && memchr(data, '\n', len);
}

void sl_http_crlf(const uint8_t *data, size_t len, struct sl_buf *out)
{
	const uint8_t *p = data, *end = data + len, *lf;

	while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		sl_buf_append(out, p, (size_t)(lf - p));
		sl_buf_append(out, "\r\n", 2);
		p = lf + 1;
	}
	sl_buf_append(out, p, (size_t)(end - p));
}
