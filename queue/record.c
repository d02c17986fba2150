/*
 * queue/record.c - spool record encoding, decoding and CRC32C.
 *
 * Public functions (declared in queue/spool_internal.h): sl_crc32c,
 * sl_rec_encode_*, sl_rec_check, sl_rec_decode_*, sl_msg_from_envelope,
 * sl_msg_set_state, sl_msg_free, sl_msg_bytes.
 *
 * CRC32C comes from ISA-L's crc32_iscsi(), which dispatches at run time
 * to the SSE4.2 crc32 and PCLMULQDQ code on x86-64 and to the CRC32C
 * instructions on arm64. crc32_iscsi() neither inverts its input nor its
 * result, so this wrapper applies the standard pre- and post-inversion.
 *
 * An index entry is one allocation: the entry, its recipient array, then
 * the strings (sender, envid, each address and orcpt), NUL-terminated.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>

#include "queue/spool_internal.h"

uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	crc = ~crc;
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;

		crc = crc32_iscsi((unsigned char *)p, chunk, crc);
		p += chunk;
		len -= (size_t)chunk;
	}
	return ~crc;
}

static uint8_t *put(uint8_t *p, const void *v, size_t n)
{
	memcpy(p, v, n);
	return p + n;
}

static uint8_t *put16(uint8_t *p, uint16_t v) { return put(p, &v, 2); }
static uint8_t *put32(uint8_t *p, uint32_t v) { return put(p, &v, 4); }
static uint8_t *put64(uint8_t *p, uint64_t v) { return put(p, &v, 8); }

static void encode_header(uint8_t *buf, uint8_t type, uint32_t meta_len,
			  uint64_t body_len, uint32_t body_crc)
{
	uint8_t *p = buf;
	uint32_t crc;

	memset(buf, 0, SL_REC_HEADER_SIZE);
	p = put32(p, SL_REC_MAGIC);
	p = put32(p, 0);
	p = put32(p, meta_len);
	p = put32(p, body_crc);
	p = put64(p, body_len);
	*p = type;
	crc = sl_crc32c(0, buf + 8, SL_REC_HEADER_SIZE - 8 + meta_len);
	memcpy(buf + 4, &crc, 4);
}

static size_t opt_len(const char *s) { return s ? strlen(s) : 0; }

size_t sl_rec_message_meta_size(const struct sl_spool_message *m)
{
	size_t n = SL_REC_MESSAGE_FIXED + strlen(m->sender) + opt_len(m->envid);

	for (unsigned i = 0; i < m->rcpt_count; i++)
		n += SL_REC_RCPT_FIXED + strlen(m->rcpts[i].address) +
		     opt_len(m->rcpts[i].orcpt);
	return n;
}

static uint8_t *put_string_len(uint8_t *p, const char *s)
{
	return put16(p, s ? (uint16_t)strlen(s) : SL_NO_STRING);
}

static uint8_t *put_string(uint8_t *p, const char *s)
{
	return s ? put(p, s, strlen(s)) : p;
}

void sl_rec_encode_message(uint8_t *buf, const struct sl_spool_message *m,
			   uint64_t body_len, uint32_t body_crc)
{
	size_t meta_len = sl_rec_message_meta_size(m);
	uint8_t *p = buf + SL_REC_HEADER_SIZE;

	p = put64(p, m->id);
	p = put64(p, (uint64_t)m->arrival);
	p = put32(p, m->flags);
	p = put16(p, m->rcpt_count);
	p = put16(p, (uint16_t)strlen(m->sender));
	p = put_string_len(p, m->envid);
	p = put16(p, 0);
	p = put(p, m->bodyhash, SL_SPOOL_BODYHASH_SIZE);
	p = put_string(p, m->sender);
	p = put_string(p, m->envid);
	for (unsigned i = 0; i < m->rcpt_count; i++) {
		const struct sl_spool_rcpt *r = &m->rcpts[i];

		p = put16(p, (uint16_t)strlen(r->address));
		p = put_string_len(p, r->orcpt);
		*p++ = r->notify;
		*p++ = r->state;
		p = put16(p, r->attempts);
		p = put64(p, (uint64_t)r->next_attempt);
		p = put_string(p, r->address);
		p = put_string(p, r->orcpt);
	}
	encode_header(buf, SL_REC_MESSAGE, (uint32_t)meta_len, body_len, body_crc);
}

void sl_rec_encode_segment(uint8_t *buf, const struct sl_rec_segment *s)
{
	uint8_t *p = buf + SL_REC_HEADER_SIZE;

	p = put32(p, s->version);
	p = put32(p, s->shard);
	p = put32(p, s->seq);
	p = put32(p, 0);
	p = put64(p, s->next_id);
	put64(p, (uint64_t)s->created);
	encode_header(buf, SL_REC_SEGMENT, SL_REC_SEGMENT_META, 0, 0);
}

void sl_rec_encode_state(uint8_t *buf, const struct sl_rec_state *s)
{
	uint8_t *p = buf + SL_REC_HEADER_SIZE;

	p = put64(p, s->id);
	p = put32(p, s->rcpt);
	*p++ = s->state;
	*p++ = 0;
	p = put16(p, s->attempts);
	put64(p, (uint64_t)s->next_attempt);
	encode_header(buf, SL_REC_STATE, SL_REC_STATE_META, 0, 0);
}

int sl_rec_check(const uint8_t *rec, uint64_t avail, struct sl_rec_header *h)
{
	int err = sl_rec_check_meta(rec, avail, h);

	if (err)
		return err;
	if (avail < SL_REC_HEADER_SIZE + (uint64_t)h->meta_len + h->body_len)
		return -EAGAIN;
	return 0;
}

int sl_rec_check_meta(const uint8_t *rec, uint64_t avail, struct sl_rec_header *h)
{
	uint32_t crc;

	if (avail < SL_REC_HEADER_SIZE)
		return -EAGAIN;
	memcpy(&h->magic, rec, 4);
	memcpy(&h->header_crc, rec + 4, 4);
	memcpy(&h->meta_len, rec + 8, 4);
	memcpy(&h->body_crc, rec + 12, 4);
	memcpy(&h->body_len, rec + 16, 8);
	h->type = rec[24];
	if (h->magic != SL_REC_MAGIC)
		return -EBADMSG;
	if (h->meta_len > (1u << 30) || h->body_len > (1ull << 40))
		return -EBADMSG;
	if (avail < SL_REC_HEADER_SIZE + (uint64_t)h->meta_len)
		return -EAGAIN;
	crc = sl_crc32c(0, rec + 8, SL_REC_HEADER_SIZE - 8 + h->meta_len);
	if (crc != h->header_crc)
		return -EBADMSG;
	return 0;
}

/* A bounds-checked reader over metadata bytes. */
struct cursor {
	const uint8_t *p;
	const uint8_t *end;
	int bad;
};

static void take(struct cursor *c, void *out, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, c->p, n);
	c->p += n;
}

static uint8_t take8(struct cursor *c) { uint8_t v; take(c, &v, 1); return v; }
static uint16_t take16(struct cursor *c) { uint16_t v; take(c, &v, 2); return v; }
static uint32_t take32(struct cursor *c) { uint32_t v; take(c, &v, 4); return v; }
static uint64_t take64(struct cursor *c) { uint64_t v; take(c, &v, 8); return v; }

int sl_rec_decode_segment(const uint8_t *meta, uint32_t len, struct sl_rec_segment *s)
{
	struct cursor c = { meta, meta + len, 0 };

	s->version = take32(&c);
	s->shard = take32(&c);
	s->seq = take32(&c);
	(void)take32(&c);
	s->next_id = take64(&c);
	s->created = (int64_t)take64(&c);
	return c.bad ? -EBADMSG : 0;
}

int sl_rec_decode_state(const uint8_t *meta, uint32_t len, struct sl_rec_state *s)
{
	struct cursor c = { meta, meta + len, 0 };

	s->id = take64(&c);
	s->rcpt = take32(&c);
	s->state = take8(&c);
	(void)take8(&c);
	s->attempts = take16(&c);
	s->next_attempt = (int64_t)take64(&c);
	if (c.bad || s->state > SL_SPOOL_RCPT_BOUNCED)
		return -EBADMSG;
	return 0;
}

/* Allocate an entry with room for rcpt_count recipients and strings. */
static struct sl_spool_msg *msg_alloc(unsigned rcpt_count, size_t string_bytes)
{
	size_t size = sizeof(struct sl_spool_msg) +
		      rcpt_count * sizeof(struct sl_spool_rcpt) + string_bytes;
	struct sl_spool_msg *msg = calloc(1, size);

	if (msg == NULL)
		return NULL;
	msg->pub.rcpts = (struct sl_spool_rcpt *)(msg + 1);
	msg->pub.rcpt_count = (uint16_t)rcpt_count;
	return msg;
}

static char *copy_string(char **dst, const void *src, size_t len)
{
	char *s = *dst;

	memcpy(s, src, len);
	s[len] = '\0';
	*dst += len + 1;
	return s;
}

static bool is_final(uint8_t state)
{
	return state == SL_SPOOL_RCPT_DELIVERED || state == SL_SPOOL_RCPT_BOUNCED;
}

static void count_pending(struct sl_spool_msg *msg)
{
	unsigned pending = 0;

	for (unsigned i = 0; i < msg->pub.rcpt_count; i++)
		pending += !is_final(msg->pub.rcpts[i].state);
	msg->pub.pending_count = (uint16_t)pending;
}

int sl_rec_decode_message(const uint8_t *meta, uint32_t len, uint64_t body_len,
			  struct sl_spool_msg **out)
{
	struct cursor c = { meta, meta + len, 0 };
	struct sl_spool_msg head = { 0 };
	uint16_t sender_len, envid_len;
	const uint8_t *sender, *envid, *rcpt_start;
	size_t strings;
	struct sl_spool_msg *msg;
	char *sp;

	head.pub.id = take64(&c);
	head.pub.arrival = (int64_t)take64(&c);
	head.pub.flags = take32(&c);
	head.pub.rcpt_count = take16(&c);
	sender_len = take16(&c);
	envid_len = take16(&c);
	(void)take16(&c);
	take(&c, head.pub.bodyhash, SL_SPOOL_BODYHASH_SIZE);
	if (c.bad || head.pub.rcpt_count == 0 || sender_len == SL_NO_STRING)
		return -EBADMSG;
	sender = c.p;
	c.p += sender_len;
	envid = c.p;
	if (envid_len != SL_NO_STRING)
		c.p += envid_len;
	if (c.p > c.end)
		return -EBADMSG;

	/* First pass: validate the recipient list and size the strings. */
	strings = (size_t)sender_len + 1 + (envid_len != SL_NO_STRING ? envid_len + 1u : 0);
	rcpt_start = c.p;
	for (unsigned i = 0; i < head.pub.rcpt_count; i++) {
		uint16_t alen, olen;

		alen = take16(&c);
		olen = take16(&c);
		c.p = c.bad ? c.p : c.p + SL_REC_RCPT_FIXED - 4;
		if (c.bad || c.p > c.end)
			return -EBADMSG;
		c.p += alen + (olen != SL_NO_STRING ? olen : 0);
		if (c.p > c.end)
			return -EBADMSG;
		strings += alen + 1u + (olen != SL_NO_STRING ? olen + 1u : 0);
	}
	if (c.p != c.end)
		return -EBADMSG;

	msg = msg_alloc(head.pub.rcpt_count, strings);
	if (msg == NULL)
		return -ENOMEM;
	struct sl_spool_rcpt *rcpts = msg->pub.rcpts;
	msg->pub = head.pub;
	msg->pub.rcpts = rcpts;
	msg->pub.body_size = body_len;
	sp = (char *)(rcpts + head.pub.rcpt_count);
	msg->pub.sender = copy_string(&sp, sender, sender_len);
	msg->pub.envid = envid_len != SL_NO_STRING ? copy_string(&sp, envid, envid_len) : NULL;

	/* Second pass: copy the recipients. */
	c.p = rcpt_start;
	for (unsigned i = 0; i < head.pub.rcpt_count; i++) {
		struct sl_spool_rcpt *r = &rcpts[i];
		uint16_t alen = take16(&c), olen = take16(&c);

		r->notify = take8(&c);
		r->state = take8(&c);
		r->attempts = take16(&c);
		r->next_attempt = (int64_t)take64(&c);
		r->address = copy_string(&sp, c.p, alen);
		c.p += alen;
		r->orcpt = NULL;
		if (olen != SL_NO_STRING) {
			r->orcpt = copy_string(&sp, c.p, olen);
			c.p += olen;
		}
		if (r->state > SL_SPOOL_RCPT_BOUNCED) {
			free(msg);
			return -EBADMSG;
		}
	}
	count_pending(msg);
	*out = msg;
	return 0;
}

static bool string_ok(const char *s)
{
	return s != NULL && strlen(s) <= SL_SPOOL_MAX_ADDRESS;
}

int sl_msg_from_envelope(const struct sl_spool_envelope *env, uint64_t id,
			 uint64_t body_len, struct sl_spool_msg **out)
{
	size_t strings;
	struct sl_spool_msg *msg;
	char *sp;

	if (env == NULL || !string_ok(env->sender) ||
	    (env->envid != NULL && !string_ok(env->envid)) ||
	    env->rcpt_count == 0 || env->rcpt_count > SL_SPOOL_MAX_RCPTS ||
	    env->rcpts == NULL)
		return -EINVAL;
	strings = strlen(env->sender) + 1 + (env->envid ? strlen(env->envid) + 1 : 0);
	for (unsigned i = 0; i < env->rcpt_count; i++) {
		const struct sl_spool_rcpt *r = &env->rcpts[i];

		if (!string_ok(r->address) || (r->orcpt && !string_ok(r->orcpt)) ||
		    r->state > SL_SPOOL_RCPT_BOUNCED)
			return -EINVAL;
		strings += strlen(r->address) + 1 + (r->orcpt ? strlen(r->orcpt) + 1 : 0);
	}

	msg = msg_alloc(env->rcpt_count, strings);
	if (msg == NULL)
		return -ENOMEM;
	msg->pub.id = id;
	msg->pub.arrival = env->arrival;
	msg->pub.body_size = body_len;
	msg->pub.flags = env->flags;
	memcpy(msg->pub.bodyhash, env->bodyhash, SL_SPOOL_BODYHASH_SIZE);
	sp = (char *)(msg->pub.rcpts + env->rcpt_count);
	msg->pub.sender = copy_string(&sp, env->sender, strlen(env->sender));
	msg->pub.envid = env->envid ? copy_string(&sp, env->envid, strlen(env->envid)) : NULL;
	for (unsigned i = 0; i < env->rcpt_count; i++) {
		const struct sl_spool_rcpt *r = &env->rcpts[i];
		struct sl_spool_rcpt *d = &msg->pub.rcpts[i];

		*d = *r;
		d->address = copy_string(&sp, r->address, strlen(r->address));
		d->orcpt = r->orcpt ? copy_string(&sp, r->orcpt, strlen(r->orcpt)) : NULL;
	}
	count_pending(msg);
	if (msg->pub.pending_count == 0) {
		free(msg);
		return -EINVAL;
	}
	*out = msg;
	return 0;
}

int sl_msg_set_state(struct sl_spool_msg *msg, unsigned rcpt, uint8_t state,
		     uint16_t attempts, int64_t next_attempt)
{
	struct sl_spool_rcpt *r;

	if (rcpt >= msg->pub.rcpt_count || state > SL_SPOOL_RCPT_BOUNCED)
		return -EINVAL;
	r = &msg->pub.rcpts[rcpt];
	if (is_final(r->state) != is_final(state))
		msg->pub.pending_count += is_final(state) ? -1 : 1;
	r->state = state;
	r->attempts = attempts;
	r->next_attempt = next_attempt;
	return 0;
}

size_t sl_msg_bytes(const struct sl_spool_msg *msg)
{
	return malloc_usable_size((void *)msg);
}

void sl_msg_free(struct sl_spool_msg *msg)
{
	free(msg);
}
