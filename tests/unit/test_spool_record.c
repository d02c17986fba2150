/*
 * Unit tests for queue/record.c: CRC32C values, record encoding round
 * trips for every record type, and detection of damaged records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue/spool_internal.h"

static void crc32c_known_values(void **state)
{
	(void)state;
	/* Check value of CRC-32C (Castagnoli) from the CRC catalogue. */
	assert_int_equal(sl_crc32c(0, "123456789", 9), 0xe3069283u);
	/* RFC 3720 appendix B.4: 32 bytes of zeros. */
	uint8_t zeros[32] = { 0 };
	assert_int_equal(sl_crc32c(0, zeros, sizeof(zeros)), 0x8a9136aau);
	/* Incremental use gives the same value as one call. */
	assert_int_equal(sl_crc32c(sl_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static const struct sl_spool_rcpt sample_rcpts[] = {
	{ "a@example.org", NULL, 0, SL_SPOOL_RCPT_PENDING, 0, 0 },
	{ "b@example.net", "rfc822;b@example.net", SL_SPOOL_NOTIFY_FAILURE | SL_SPOOL_NOTIFY_DELAY,
	  SL_SPOOL_RCPT_DEFERRED, 3, 1700000000 },
	{ "c@example.com", NULL, SL_SPOOL_NOTIFY_NEVER, SL_SPOOL_RCPT_DELIVERED, 1, 0 },
};

static struct sl_spool_msg *sample_msg(void)
{
	struct sl_spool_envelope env = {
		.sender = "bounce@sender.example",
		.envid = "ENV-42",
		.flags = SL_SPOOL_F_8BITMIME | SL_SPOOL_F_RET_HDRS,
		.arrival = 1701234567,
		.rcpts = sample_rcpts,
		.rcpt_count = 3,
	};
	struct sl_spool_msg *msg = NULL;

	for (int i = 0; i < SL_SPOOL_BODYHASH_SIZE; i++)
		env.bodyhash[i] = (uint8_t)(i * 7);
	assert_int_equal(sl_msg_from_envelope(&env, 0x0003000000000011ull, 5, &msg), 0);
	return msg;
}

/* Encode msg with a 5-byte body into a fresh buffer. */
static uint8_t *encode_sample(const struct sl_spool_msg *msg, size_t *len)
{
	size_t meta = sl_rec_message_meta_size(&msg->pub);
	size_t total = sl_align8(SL_REC_HEADER_SIZE + meta + 5);
	uint8_t *buf = calloc(1, total);

	sl_rec_encode_message(buf, &msg->pub, 5, sl_crc32c(0, "hello", 5));
	memcpy(buf + SL_REC_HEADER_SIZE + meta, "hello", 5);
	*len = total;
	return buf;
}

static void message_round_trip(void **state)
{
	struct sl_spool_msg *msg = sample_msg(), *back = NULL;
	struct sl_rec_header h;
	size_t len;
	uint8_t *buf = encode_sample(msg, &len);

	(void)state;
	assert_int_equal(msg->pub.pending_count, 2);
	assert_int_equal(sl_rec_check(buf, len, &h), 0);
	assert_int_equal(h.type, SL_REC_MESSAGE);
	assert_int_equal(h.body_len, 5);
	assert_int_equal(h.body_crc, sl_crc32c(0, "hello", 5));
	assert_int_equal(sl_rec_decode_message(buf + SL_REC_HEADER_SIZE, h.meta_len, h.body_len, &back), 0);

	assert_int_equal(back->pub.id, 0x0003000000000011ull);
	assert_int_equal(back->pub.arrival, 1701234567);
	assert_int_equal(back->pub.flags, SL_SPOOL_F_8BITMIME | SL_SPOOL_F_RET_HDRS);
	assert_int_equal(back->pub.body_size, 5);
	assert_string_equal(back->pub.sender, "bounce@sender.example");
	assert_string_equal(back->pub.envid, "ENV-42");
	assert_memory_equal(back->pub.bodyhash, msg->pub.bodyhash, SL_SPOOL_BODYHASH_SIZE);
	assert_int_equal(back->pub.rcpt_count, 3);
	assert_int_equal(back->pub.pending_count, 2);
	assert_string_equal(back->pub.rcpts[0].address, "a@example.org");
	assert_null(back->pub.rcpts[0].orcpt);
	assert_string_equal(back->pub.rcpts[1].orcpt, "rfc822;b@example.net");
	assert_int_equal(back->pub.rcpts[1].notify, SL_SPOOL_NOTIFY_FAILURE | SL_SPOOL_NOTIFY_DELAY);
	assert_int_equal(back->pub.rcpts[1].state, SL_SPOOL_RCPT_DEFERRED);
	assert_int_equal(back->pub.rcpts[1].attempts, 3);
	assert_int_equal(back->pub.rcpts[1].next_attempt, 1700000000);
	assert_int_equal(back->pub.rcpts[2].state, SL_SPOOL_RCPT_DELIVERED);
	sl_msg_free(back);
	sl_msg_free(msg);
	free(buf);
}

static void null_sender_and_no_envid(void **state)
{
	struct sl_spool_rcpt r = { "x@example.org", NULL, 0, 0, 0, 0 };
	struct sl_spool_envelope env = { .sender = "", .rcpts = &r, .rcpt_count = 1 };
	struct sl_spool_msg *msg = NULL, *back = NULL;
	uint8_t buf[256];
	struct sl_rec_header h;

	(void)state;
	assert_int_equal(sl_msg_from_envelope(&env, 1, 0, &msg), 0);
	sl_rec_encode_message(buf, &msg->pub, 0, 0);
	assert_int_equal(sl_rec_check(buf, sizeof(buf), &h), 0);
	assert_int_equal(sl_rec_decode_message(buf + SL_REC_HEADER_SIZE, h.meta_len, 0, &back), 0);
	assert_string_equal(back->pub.sender, "");
	assert_null(back->pub.envid);
	sl_msg_free(back);
	sl_msg_free(msg);
}

static void state_and_segment_round_trip(void **state)
{
	uint8_t buf[SL_REC_HEADER_SIZE + SL_REC_SEGMENT_META];
	struct sl_rec_state st = { 77, 2, SL_SPOOL_RCPT_DEFERRED, 4, 1800000000 }, st2;
	struct sl_rec_segment seg = { SL_SPOOL_FORMAT_VERSION, 3, 9, 1234, 1700000001 }, seg2;
	struct sl_rec_header h;

	(void)state;
	sl_rec_encode_state(buf, &st);
	assert_int_equal(sl_rec_check(buf, SL_REC_HEADER_SIZE + SL_REC_STATE_META, &h), 0);
	assert_int_equal(h.type, SL_REC_STATE);
	assert_int_equal(sl_rec_decode_state(buf + SL_REC_HEADER_SIZE, h.meta_len, &st2), 0);
	assert_int_equal(st2.id, 77);
	assert_int_equal(st2.rcpt, 2);
	assert_int_equal(st2.state, SL_SPOOL_RCPT_DEFERRED);
	assert_int_equal(st2.attempts, 4);
	assert_int_equal(st2.next_attempt, 1800000000);

	sl_rec_encode_segment(buf, &seg);
	assert_int_equal(sl_rec_check(buf, sizeof(buf), &h), 0);
	assert_int_equal(h.type, SL_REC_SEGMENT);
	assert_int_equal(sl_rec_decode_segment(buf + SL_REC_HEADER_SIZE, h.meta_len, &seg2), 0);
	assert_int_equal(seg2.version, SL_SPOOL_FORMAT_VERSION);
	assert_int_equal(seg2.shard, 3);
	assert_int_equal(seg2.seq, 9);
	assert_int_equal(seg2.next_id, 1234);
	assert_int_equal(seg2.created, 1700000001);
}

/* Flipping any single byte of header or metadata fails the check. */
static void header_damage_detected(void **state)
{
	struct sl_spool_msg *msg = sample_msg();
	struct sl_rec_header h;
	size_t len;
	uint8_t *buf = encode_sample(msg, &len);
	size_t covered = SL_REC_HEADER_SIZE + sl_rec_message_meta_size(&msg->pub);

	(void)state;
	for (size_t i = 0; i < covered; i++) {
		buf[i] ^= 0x40;
		assert_int_not_equal(sl_rec_check(buf, len, &h), 0);
		buf[i] ^= 0x40;
	}
	assert_int_equal(sl_rec_check(buf, len, &h), 0);
	sl_msg_free(msg);
	free(buf);
}

static void body_damage_detected(void **state)
{
	struct sl_spool_msg *msg = sample_msg();
	struct sl_rec_header h;
	size_t len;
	uint8_t *buf = encode_sample(msg, &len);
	uint8_t *body = buf + SL_REC_HEADER_SIZE + sl_rec_message_meta_size(&msg->pub);

	(void)state;
	assert_int_equal(sl_rec_check(buf, len, &h), 0);
	body[2] ^= 1;
	/* The header stays valid; the body CRC stored in it no longer matches. */
	assert_int_equal(sl_rec_check(buf, len, &h), 0);
	assert_int_not_equal(sl_crc32c(0, body, 5), h.body_crc);
	sl_msg_free(msg);
	free(buf);
}

static void truncated_record_is_again(void **state)
{
	struct sl_spool_msg *msg = sample_msg();
	struct sl_rec_header h;
	size_t len;
	uint8_t *buf = encode_sample(msg, &len);

	(void)state;
	assert_int_equal(sl_rec_check(buf, 10, &h), -EAGAIN);
	assert_int_equal(sl_rec_check(buf, SL_REC_HEADER_SIZE + 3, &h), -EAGAIN);
	assert_int_equal(sl_rec_check(buf, len - 8, &h), -EAGAIN);
	memset(buf, 0, len);
	assert_int_equal(sl_rec_check(buf, len, &h), -EBADMSG);
	sl_msg_free(msg);
	free(buf);
}

static void invalid_envelopes_rejected(void **state)
{
	struct sl_spool_rcpt r = { "x@example.org", NULL, 0, 0, 0, 0 };
	struct sl_spool_rcpt done = { "x@example.org", NULL, 0, SL_SPOOL_RCPT_DELIVERED, 1, 0 };
	struct sl_spool_envelope env = { .sender = "s@example.org", .rcpts = &r, .rcpt_count = 0 };
	struct sl_spool_msg *msg = NULL;
	char *longaddr = malloc(SL_SPOOL_MAX_ADDRESS + 2);

	(void)state;
	assert_int_equal(sl_msg_from_envelope(&env, 1, 0, &msg), -EINVAL);
	env.rcpt_count = 1;
	env.sender = NULL;
	assert_int_equal(sl_msg_from_envelope(&env, 1, 0, &msg), -EINVAL);
	memset(longaddr, 'a', SL_SPOOL_MAX_ADDRESS + 1);
	longaddr[SL_SPOOL_MAX_ADDRESS + 1] = '\0';
	env.sender = longaddr;
	assert_int_equal(sl_msg_from_envelope(&env, 1, 0, &msg), -EINVAL);
	env.sender = "s@example.org";
	env.rcpts = &done;
	assert_int_equal(sl_msg_from_envelope(&env, 1, 0, &msg), -EINVAL);
	free(longaddr);
}

static void set_state_counts_pending(void **state)
{
	struct sl_spool_msg *msg = sample_msg();

	(void)state;
	assert_int_equal(msg->pub.pending_count, 2);
	assert_int_equal(sl_msg_set_state(msg, 0, SL_SPOOL_RCPT_BOUNCED, 1, 0), 0);
	assert_int_equal(msg->pub.pending_count, 1);
	assert_int_equal(sl_msg_set_state(msg, 1, SL_SPOOL_RCPT_DEFERRED, 4, 99), 0);
	assert_int_equal(msg->pub.pending_count, 1);
	assert_int_equal(sl_msg_set_state(msg, 1, SL_SPOOL_RCPT_DELIVERED, 5, 0), 0);
	assert_int_equal(msg->pub.pending_count, 0);
	assert_int_equal(sl_msg_set_state(msg, 3, SL_SPOOL_RCPT_DELIVERED, 5, 0), -EINVAL);
	sl_msg_free(msg);
}

static void index_insert_find_remove(void **state)
{
	struct sl_index ix;
	enum { N = 5000 };
	struct sl_spool_rcpt r = { "x@example.org", NULL, 0, 0, 0, 0 };
	struct sl_spool_envelope env = { .sender = "", .rcpts = &r, .rcpt_count = 1 };

	(void)state;
	assert_int_equal(sl_index_init(&ix), 0);
	for (uint64_t id = 1; id <= N; id++) {
		struct sl_spool_msg *msg;

		assert_int_equal(sl_msg_from_envelope(&env, id * 3, 0, &msg), 0);
		assert_int_equal(sl_index_insert(&ix, msg), 0);
	}
	assert_int_equal(ix.count, N);
	for (uint64_t id = 1; id <= N; id += 2) {
		struct sl_spool_msg *msg = sl_index_find(&ix, id * 3);

		assert_non_null(msg);
		sl_index_remove(&ix, id * 3);
		sl_msg_free(msg);
	}
	assert_int_equal(ix.count, N / 2);
	for (uint64_t id = 1; id <= N; id++) {
		if (id % 2)
			assert_null(sl_index_find(&ix, id * 3));
		else
			assert_non_null(sl_index_find(&ix, id * 3));
	}
	sl_index_free(&ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_known_values),
		cmocka_unit_test(message_round_trip),
		cmocka_unit_test(null_sender_and_no_envid),
		cmocka_unit_test(state_and_segment_round_trip),
		cmocka_unit_test(header_damage_detected),
		cmocka_unit_test(body_damage_detected),
		cmocka_unit_test(truncated_record_is_again),
		cmocka_unit_test(invalid_envelopes_rejected),
		cmocka_unit_test(set_state_counts_pending),
		cmocka_unit_test(index_insert_find_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
