/*
 * dataplane/accept.c - the accept steps shared by the SMTP and HTTP
 * injection paths. Contract in accept.h.
 */
#include "dataplane/accept.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ctl/config/config_smtp.h"
#include "dataplane/bodyhash.h"

uint64_t sl_accept_random(void)
{
	static __thread uint64_t state;

	if (!state && (getrandom(&state, sizeof(state), 0) != sizeof(state) || !state))
		state = (uint64_t)time(NULL) | 1;
	/* xorshift64*: unique-looking Message-ID parts, not a secret. */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 2685821657736338717ull;
}

void sl_accept_date(int64_t t, char *buf, size_t len)
{
	time_t now = (time_t)t;
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

struct prefix {
	char *p;
	size_t len;
};

static void prefix_add(struct prefix *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void prefix_add(struct prefix *b, const char *fmt, ...)
{
	size_t room = SL_ACCEPT_PREFIX_MAX - b->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < room ? (size_t)n : room - 1;
}

size_t sl_accept_prefix(char *buf, const struct sl_accept_source *src,
			const struct sl_smtp_headers *h)
{
	struct prefix b = { buf, 0 };
	time_t now = time(NULL);
	char date[64];

	sl_accept_date(now, date, sizeof(date));
	buf[0] = '\0';
	prefix_add(&b, "Received: from %.200s ([%s])\r\n\tby %.200s (sluice) with %s",
		   src->helo && src->helo[0] ? src->helo : "unknown", src->client, src->host,
		   src->protocol);
	if (src->tls_version)
		prefix_add(&b, "\r\n\t(version=%s cipher=%s)", src->tls_version, src->tls_cipher);
	if (src->for_rcpt)
		prefix_add(&b, "\r\n\tfor <%.256s>", src->for_rcpt);
	prefix_add(&b, "; %s\r\n", date);
	if (!h->has_message_id)
		prefix_add(&b, "Message-ID: <%" PRIx64 ".%016" PRIx64 "@%.200s>\r\n",
			   (uint64_t)now, sl_accept_random(), src->host);
	if (!h->has_date)
		prefix_add(&b, "Date: %s\r\n", date);
	return b.len;
}

int sl_accept_body_hash(struct sl_dkim_body *hasher, unsigned mask, const uint8_t *body,
			size_t len, uint8_t out[64], struct sl_dkim_err *err)
{
	struct sl_dkim_bodyhash bh;

	memset(out, 0, SL_BODYHASH_PACKED_SIZE);
	if (!mask)
		return 0;
	if (sl_dkim_body_init(hasher, mask, err) < 0)
		return -1;
	sl_dkim_body_update(hasher, body, len);
	if (sl_dkim_body_final(hasher, &bh, err) < 0)
		return -1;
	sl_bodyhash_pack(&bh, out);
	return 0;
}

unsigned sl_accept_body_mask(const struct sl_config_smtp *c)
{
	unsigned mask = 0;

	for (size_t i = 0; i < c->dkim_body_hashes.n; i++)
		mask |= strcmp(c->dkim_body_hashes.v[i], "simple") == 0 ? SL_DKIM_BODY_SIMPLE
									 : SL_DKIM_BODY_RELAXED;
	return mask;
}
