/*
 * dataplane/smtp_parse.c - see smtp_parse.h for the contract.
 */
#include "dataplane/smtp_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sl_smtp_split(const char *line, size_t len, char *verb, size_t verb_len, const char **args)
{
	size_t i = 0, v = 0;

	for (size_t k = 0; k < len; k++) {
		unsigned char ch = (unsigned char)line[k];

		if (ch < 0x20 && ch != '\t')
			return -EINVAL;
		if (ch == 0x7f)
			return -EINVAL;
	}
	while (i < len && line[i] != ' ') {
		if (v + 1 < verb_len)
			verb[v++] = (char)toupper((unsigned char)line[i]);
		i++;
	}
	verb[v] = '\0';
	*args = line + (i < len ? i + 1 : len);
	return 0;
}

/* Address syntax (RFC 5321 4.1.2), with UTF-8 allowed under SMTPUTF8. */

static bool atext(unsigned char ch, bool utf8_ok)
{
	if (ch >= 0x80)
		return utf8_ok;
	return isalnum(ch) || strchr("!#$%&'*+-/=?^_`{|}~", ch);
}

static bool local_part_valid(const char *s, size_t len, bool utf8_ok)
{
	if (len == 0 || len > 64)
		return false;
	if (s[0] == '"') {
		if (len < 2 || s[len - 1] != '"')
			return false;
		for (size_t i = 1; i + 1 < len; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (ch == '\\' && i + 2 < len) {
				i++;
				continue;
			}
			if (ch < 0x20 || ch == '"' || ch == 0x7f || (ch >= 0x80 && !utf8_ok))
				return false;
		}
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (i == 0 || i + 1 == len || s[i + 1] == '.')
				return false;
		} else if (!atext((unsigned char)s[i], utf8_ok)) {
			return false;
		}
	}
	return true;
}

static bool domain_valid(const char *s, size_t len, bool utf8_ok)
{
	size_t label = 0;

	if (len == 0 || len > 255)
		return false;
	if (s[0] == '[')
		return len > 2 && s[len - 1] == ']';	/* address literal */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum(ch) || (ch == '-' && label > 0) || (ch >= 0x80 && utf8_ok)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

bool sl_smtp_address_valid(const char *addr, bool utf8_ok, bool allow_postmaster)
{
	const char *at = strrchr(addr, '@');

	if (!at)
		return allow_postmaster && strcasecmp(addr, "postmaster") == 0;
	return local_part_valid(addr, (size_t)(at - addr), utf8_ok) &&
	       domain_valid(at + 1, strlen(at + 1), utf8_ok);
}

/*
 * Parse "<path>" at *s into out (without brackets and without an old
 * source route "@a,@b:"); *s moves past it. Returns 0 or -EINVAL.
 */
static int parse_path(const char **s, char *out)
{
	const char *p = *s, *end, *start;
	size_t len;

	while (*p == ' ')	/* "MAIL FROM: <a@b>" is common, so accept it */
		p++;
	if (*p != '<')
		return -EINVAL;
	p++;
	end = p;
	while (*end && *end != '>') {
		if (*end == '"') {	/* a quoted local part may contain '>' */
			end++;
			while (*end && *end != '"')
				end += (*end == '\\' && end[1]) ? 2 : 1;
			if (!*end)
				return -EINVAL;
		}
		end++;
	}
	if (*end != '>')
		return -EINVAL;
	start = p;
	if (*start == '@') {
		const char *colon = memchr(start, ':', (size_t)(end - start));

		if (!colon)
			return -EINVAL;
		start = colon + 1;
	}
	len = (size_t)(end - start);
	if (len > SL_SMTP_MAX_PATH)
		return -E2BIG;
	memcpy(out, start, len);
	out[len] = '\0';
	*s = end + 1;
	return 0;
}

/* xtext (RFC 3461 4): printable ASCII except '+' and '=', or "+HH". */
static bool xtext_valid(const char *s)
{
	for (; *s; s++) {
		if (*s == '+') {
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
				return false;
			s += 2;
		} else if (*s < 33 || *s > 126 || *s == '=') {
			return false;
		}
	}
	return true;
}

/* Iterate "KEY[=VALUE]" parameters separated by spaces. */
static bool next_param(const char **s, char *key, size_t key_len, char *value, size_t value_len,
		       bool *too_long)
{
	const char *p = *s, *kend, *end;
	size_t klen, vlen;

	while (*p == ' ')
		p++;
	if (!*p)
		return false;
	end = strchr(p, ' ');
	if (!end)
		end = p + strlen(p);
	kend = memchr(p, '=', (size_t)(end - p));
	klen = (size_t)((kend ? kend : end) - p);
	vlen = kend ? (size_t)(end - kend - 1) : 0;
	*too_long = klen >= key_len || vlen >= value_len;
	if (!*too_long) {
		for (size_t i = 0; i < klen; i++)
			key[i] = (char)toupper((unsigned char)p[i]);
		key[klen] = '\0';
		if (kend)
			memcpy(value, kend + 1, vlen);
		value[vlen] = '\0';
	}
	*s = end;
	return true;
}

static const struct sl_smtp_error ERR_PARAM = { "555 5.5.4 Unsupported or invalid parameter" };

static int mail_param(struct sl_smtp_mail *mail, const char *key, const char *value,
		      struct sl_smtp_error *err)
{
	char *end;

	if (!strcmp(key, "SIZE")) {
		if (!isdigit((unsigned char)value[0]))
			goto bad;
		mail->size = strtoull(value, &end, 10);
		if (*end)
			goto bad;
	} else if (!strcmp(key, "BODY")) {
		if (!strcasecmp(value, "8BITMIME"))
			mail->body = SL_SMTP_BODY_8BITMIME;
		else if (!strcasecmp(value, "7BIT"))
			mail->body = SL_SMTP_BODY_7BIT;
		else
			goto bad;
	} else if (!strcmp(key, "SMTPUTF8")) {
		if (*value)
			goto bad;
		mail->smtputf8 = true;
	} else if (!strcmp(key, "RET")) {
		if (!strcasecmp(value, "FULL"))
			mail->ret = SL_SMTP_RET_FULL;
		else if (!strcasecmp(value, "HDRS"))
			mail->ret = SL_SMTP_RET_HDRS;
		else
			goto bad;
	} else if (!strcmp(key, "ENVID")) {
		if (!*value || !xtext_valid(value))
			goto bad;
		strcpy(mail->envid, value);
	} else if (!strcmp(key, "AUTH")) {
		/* RFC 4954 5: accepted and ignored, the session's identity counts. */
	} else {
		goto bad;
	}
	return 0;
bad:
	*err = ERR_PARAM;
	return -EINVAL;
}

int sl_smtp_parse_mail(const char *args, bool utf8_ok, struct sl_smtp_mail *mail,
		       struct sl_smtp_error *err)
{
	char key[16], value[SL_SMTP_MAX_ENVID + 1];
	bool too_long;
	int rc;

	memset(mail, 0, sizeof(*mail));
	if (strncasecmp(args, "FROM:", 5) != 0) {
		err->reply = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -EINVAL;
	}
	args += 5;
	rc = parse_path(&args, mail->addr);
	if (rc < 0) {
		err->reply = rc == -E2BIG ? "501 5.1.7 Sender address too long"
					  : "501 5.1.7 Bad sender address syntax";
		return -EINVAL;
	}
	if (*args && *args != ' ') {
		err->reply = "501 5.1.7 Bad sender address syntax";
		return -EINVAL;
	}
	while (next_param(&args, key, sizeof(key), value, sizeof(value), &too_long)) {
		if (too_long) {
			*err = ERR_PARAM;
			return -EINVAL;
		}
		if (mail_param(mail, key, value, err) < 0)
			return -EINVAL;
	}
	if (mail->addr[0] && !sl_smtp_address_valid(mail->addr, utf8_ok && mail->smtputf8, false)) {
		err->reply = "501 5.1.7 Bad sender address syntax";
		return -EINVAL;
	}
	return 0;
}

static int notify_param(const char *value, uint8_t *notify)
{
	char copy[64], *tok, *save;

	if (strlen(value) >= sizeof(copy) || !*value)
		return -EINVAL;
	strcpy(copy, value);
	*notify = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(tok, "NEVER"))
			*notify |= SL_SMTP_NOTIFY_NEVER;
		else if (!strcasecmp(tok, "SUCCESS"))
			*notify |= SL_SMTP_NOTIFY_SUCCESS;
		else if (!strcasecmp(tok, "FAILURE"))
			*notify |= SL_SMTP_NOTIFY_FAILURE;
		else if (!strcasecmp(tok, "DELAY"))
			*notify |= SL_SMTP_NOTIFY_DELAY;
		else
			return -EINVAL;
	}
	/* NEVER excludes the others (RFC 3461 4.1). */
	if ((*notify & SL_SMTP_NOTIFY_NEVER) && *notify != SL_SMTP_NOTIFY_NEVER)
		return -EINVAL;
	return 0;
}

int sl_smtp_parse_rcpt(const char *args, bool utf8_ok, struct sl_smtp_rcpt *rcpt,
		       struct sl_smtp_error *err)
{
	char key[16], value[SL_SMTP_MAX_ORCPT + 1];
	bool too_long;
	int rc;

	memset(rcpt, 0, sizeof(*rcpt));
	if (strncasecmp(args, "TO:", 3) != 0) {
		err->reply = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -EINVAL;
	}
	args += 3;
	rc = parse_path(&args, rcpt->addr);
	if (rc < 0 || (*args && *args != ' ')) {
		err->reply = rc == -E2BIG ? "501 5.1.3 Recipient address too long"
					  : "501 5.1.3 Bad recipient address syntax";
		return -EINVAL;
	}
	while (next_param(&args, key, sizeof(key), value, sizeof(value), &too_long)) {
		if (too_long)
			goto bad;
		if (!strcmp(key, "NOTIFY")) {
			if (notify_param(value, &rcpt->notify) < 0)
				goto bad;
		} else if (!strcmp(key, "ORCPT")) {
			/* addr-type ";" xtext, for example rfc822;user+40example.com */
			const char *semi = strchr(value, ';');

			if (!semi || semi == value || !xtext_valid(semi + 1) || !semi[1])
				goto bad;
			strcpy(rcpt->orcpt, value);
		} else {
			goto bad;
		}
	}
	if (!sl_smtp_address_valid(rcpt->addr, utf8_ok, true)) {
		err->reply = "501 5.1.3 Bad recipient address syntax";
		return -EINVAL;
	}
	return 0;
bad:
	*err = ERR_PARAM;
	return -EINVAL;
}

/* Content scanner states. */
enum {
	ST_LINE_START = 0,  /* at the first byte of a line */
	ST_DOT,             /* a line started with "." */
	ST_DOT_CR,          /* the line so far is ".\r" */
	ST_MID,             /* inside a line */
	ST_CR,              /* inside a line, after "\r" */
};

void sl_smtp_data_begin(struct sl_smtp_data *d, uint64_t max_size, bool dot_mode)
{
	memset(d, 0, sizeof(*d));
	d->max_size = max_size;
	d->dot_mode = dot_mode;
}

/* Keep one content byte: count it, check the size, store it while valid. */
static inline void keep(struct sl_smtp_data *d, struct sl_buf *out, uint8_t ch)
{
	d->size++;
	if (d->size > d->max_size)
		d->flags |= SL_SMTP_DATA_TOO_BIG;
	if (!d->flags)
		out->p[out->len++] = ch;
}

static inline void end_line(struct sl_smtp_data *d)
{
	if (d->line_len > SL_SMTP_MAX_TEXT_LINE)
		d->flags |= SL_SMTP_DATA_LONG_LINE;
	d->line_len = 0;
}

/* One byte inside a line (ST_MID semantics). */
static inline int mid_byte(struct sl_smtp_data *d, struct sl_buf *out, uint8_t ch)
{
	if (ch == '\r')
		return ST_CR;
	if (ch == '\n')
		d->flags |= SL_SMTP_DATA_BARE_LF;
	d->line_len++;
	keep(d, out, ch);
	return ST_MID;
}

/*
 * Fast path inside a line: take the run of bytes up to the next CR with
 * memchr, check it for a bare LF, and copy it in one piece. Returns the
 * length of the run (at least 1; in[0] is neither CR nor LF).
 */
static size_t scan_run(struct sl_smtp_data *d, const uint8_t *in, size_t len, struct sl_buf *out)
{
	const uint8_t *cr = memchr(in, '\r', len);
	size_t run = cr ? (size_t)(cr - in) : len;

	if (memchr(in, '\n', run))
		d->flags |= SL_SMTP_DATA_BARE_LF;
	d->line_len += run;
	d->size += run;
	if (d->size > d->max_size)
		d->flags |= SL_SMTP_DATA_TOO_BIG;
	if (!d->flags) {
		memcpy(out->p + out->len, in, run);
		out->len += run;
	}
	return run;
}

size_t sl_smtp_data_scan(struct sl_smtp_data *d, const uint8_t *in, size_t len,
			 struct sl_buf *out, bool *done)
{
	size_t i;

	*done = false;
	/* Output never exceeds input plus a held "\r" or ".\r". */
	sl_buf_reserve(out, len + 4);
	for (i = 0; i < len; i++) {
		uint8_t ch = in[i];

		switch (d->state) {
		case ST_LINE_START:
			if (ch == '.' && d->dot_mode) {
				d->line_len++;
				d->state = ST_DOT;
				break;
			}
			d->state = mid_byte(d, out, ch);
			break;
		case ST_DOT:
			if (ch == '\r') {
				d->state = ST_DOT_CR;
				break;
			}
			/* Unstuff: the leading dot is dropped, the rest is content. */
			d->state = mid_byte(d, out, ch);
			break;
		case ST_DOT_CR:
			if (ch == '\n') {
				d->state = ST_LINE_START;
				*done = true;
				return i + 1;
			}
			/* ".\r" followed by something else: a bare CR. */
			d->flags |= SL_SMTP_DATA_BARE_CR;
			d->state = mid_byte(d, out, ch);
			break;
		case ST_MID:
			if (ch != '\r' && ch != '\n') {
				i += scan_run(d, in + i, len - i, out) - 1;
				break;
			}
			d->state = mid_byte(d, out, ch);
			break;
		case ST_CR:
			if (ch == '\n') {
				keep(d, out, '\r');
				keep(d, out, '\n');
				end_line(d);
				d->state = ST_LINE_START;
				break;
			}
			d->flags |= SL_SMTP_DATA_BARE_CR;
			d->line_len++;
			keep(d, out, '\r');
			d->state = mid_byte(d, out, ch);
			break;
		}
	}
	return i;
}

void sl_smtp_data_end(struct sl_smtp_data *d)
{
	/* BDAT content must end with CRLF; a held "\r" is a bare CR. */
	if (d->state == ST_CR || d->state == ST_DOT_CR)
		d->flags |= SL_SMTP_DATA_BARE_CR;
	end_line(d);
}

int sl_smtp_headers_scan(const uint8_t *msg, size_t len, struct sl_smtp_headers *h)
{
	size_t pos = 0;
	unsigned line = 0;

	memset(h, 0, sizeof(*h));
	while (pos < len) {
		const uint8_t *eol = memchr(msg + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - msg) + 1 : len;
		const uint8_t *p = msg + pos;
		size_t n = end - pos, name = 0;

		line++;
		if (n == 2 && p[0] == '\r' && p[1] == '\n') {
			h->header_len = end;
			return 0;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			if (line == 1)
				goto bad;
		} else {
			while (name < n && p[name] != ':' && p[name] >= 33 && p[name] <= 126)
				name++;
			if (name == 0 || name == n || p[name] != ':')
				goto bad;
			if (name == 4 && !strncasecmp((const char *)p, "Date", 4))
				h->has_date = true;
			else if (name == 10 && !strncasecmp((const char *)p, "Message-ID", 10))
				h->has_message_id = true;
			else if (name == 4 && !strncasecmp((const char *)p, "From", 4))
				h->has_from = true;
		}
		pos = end;
	}
	/* No empty line: the whole message is the header block, the body is empty. */
	h->header_len = len;
	return 0;
bad:
	h->bad_line = line;
	return -EBADMSG;
}
