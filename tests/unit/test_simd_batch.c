/*
 * Unit tests for the batch DKIM API: sl_dkim_body_hash_batch against
 * sl_dkim_body_hash on every SIMD path and batch size around the lane
 * counts, and sl_dkim_sign_batch against sl_dkim_sign (Ed25519 and RSA
 * signatures are deterministic, so the fields must be byte-identical).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dkim.h"
#include "crypto/simd/dkim_batch.h"
#include "tests/unit/simd_testlib.h"

#define MAX_BODIES 40

static void random_body(struct test_rng *rng, uint8_t *p, size_t len)
{
	static const char alphabet[] = "abcdefgh  \t\r\n\r\n.=";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)alphabet[rng_below(rng, sizeof(alphabet) - 1)];
}

static void body_batch_matches_single(void **state)
{
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	enum sl_simd_path before = sl_simd_current();
	static const size_t counts[] = { 1, 2, 5, 8, 16, 17, 33, MAX_BODIES };
	struct sl_dkim_body_batch scratch = { 0 };
	struct sl_dkim_body_item items[MAX_BODIES];
	uint8_t *bodies[MAX_BODIES];
	struct test_rng rng;

	(void)state;
	rng_seed(&rng, 21);
	for (size_t i = 0; i < MAX_BODIES; i++) {
		size_t len = i % 7 == 0 ? rng_below(&rng, 3) : rng_below(&rng, 30000);

		bodies[i] = malloc(len + 1);
		assert_non_null(bodies[i]);
		random_body(&rng, bodies[i], len);
		items[i].body = bodies[i];
		items[i].len = len;
	}
	for (size_t pi = 0; pi < npaths; pi++) {
		assert_int_equal(sl_simd_force(paths[pi]), 0);
		for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
			unsigned mask = ci % 3 == 0 ? SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED
				      : ci % 3 == 1 ? SL_DKIM_BODY_RELAXED : SL_DKIM_BODY_SIMPLE;

			assert_int_equal(sl_dkim_body_hash_batch(&scratch, items, counts[ci], mask, NULL), 0);
			for (size_t i = 0; i < counts[ci]; i++) {
				struct sl_dkim_bodyhash want;

				assert_int_equal(sl_dkim_body_hash(items[i].body, items[i].len, mask, &want,
								   NULL), 0);
				assert_int_equal(items[i].hash.mask, want.mask);
				assert_memory_equal(items[i].hash.simple, want.simple, 32);
				assert_memory_equal(items[i].hash.relaxed, want.relaxed, 32);
			}
		}
	}
	assert_int_not_equal(sl_dkim_body_hash_batch(&scratch, items, 1, 0, NULL), 0);
	sl_simd_force(before);
	sl_dkim_body_batch_free(&scratch);
	for (size_t i = 0; i < MAX_BODIES; i++)
		free(bodies[i]);
}

static void sign_batch_matches_single(void **state)
{
	enum sl_dkim_keytype types[] = { SL_DKIM_KEY_ED25519, SL_DKIM_KEY_RSA };
	struct sl_dkim_job jobs[20];
	struct sl_dkim_out outs[20], want = { 0 };
	struct sl_dkim_bodyhash bh[20];
	char headers[20][400];
	struct test_rng rng;

	(void)state;
	rng_seed(&rng, 22);
	memset(outs, 0, sizeof(outs));
	for (size_t i = 0; i < 20; i++) {
		char body[64];

		snprintf(headers[i], sizeof(headers[i]),
			 "From: a@example.com\r\nTo: b%zu@example.net\r\nSubject:  test\t%zu \r\n"
			 "Date: Fri, 04 Dec 2026 20:00:00 +0000\r\n", i, i * 7);
		snprintf(body, sizeof(body), "body %zu\r\n", i);
		assert_int_equal(sl_dkim_body_hash(body, strlen(body),
						   SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &bh[i], NULL), 0);
	}
	for (size_t t = 0; t < 2; t++) {
		struct sl_dkim_key *key = NULL;
		struct sl_dkim_signer signers[2] = {
			{ .domain = "example.com", .selector = "s1", .header_canon = SL_DKIM_RELAXED,
			  .body_canon = SL_DKIM_RELAXED, .expire = 3600 },
			{ .domain = "example.com", .selector = "s2", .header_canon = SL_DKIM_SIMPLE,
			  .body_canon = SL_DKIM_SIMPLE },
		};

		assert_int_equal(sl_dkim_key_generate(types[t], 1024, &key, NULL), 0);
		signers[0].key = key;
		signers[1].key = key;
		for (size_t i = 0; i < 20; i++) {
			jobs[i].headers = headers[i];
			jobs[i].hlen = strlen(headers[i]);
			jobs[i].bh = &bh[i];
			jobs[i].out = &outs[i];
		}
		assert_int_equal(sl_dkim_sign_batch(signers, 2, jobs, 20, 1796400000), 0);
		for (size_t i = 0; i < 20; i++) {
			assert_int_equal(jobs[i].rc, 0);
			assert_int_equal(sl_dkim_sign(signers, 2, headers[i], strlen(headers[i]), &bh[i],
						      1796400000, &want, NULL), 0);
			assert_int_equal(outs[i].len, want.len);
			assert_memory_equal(outs[i].data, want.data, want.len);
		}
		sl_dkim_key_free(key);
	}
	for (size_t i = 0; i < 20; i++)
		sl_dkim_out_free(&outs[i]);
	sl_dkim_out_free(&want);
	sl_dkim_thread_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(body_batch_matches_single),
		cmocka_unit_test(sign_batch_matches_single),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
