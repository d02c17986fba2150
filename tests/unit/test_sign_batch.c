/*
 * Differential tests of sl_dkim_sign_batch against sl_dkim_sign.
 *
 * Hundreds of generated header blocks (random field counts, repeated and
 * case-changed names, folded lines, odd whitespace, CRLF and bare LF) are
 * signed with random signer sets: 1 to 3 signers with RSA and Ed25519
 * keys, both header canonicalizations, the default and explicit h= lists,
 * with and without i= and x=. Both signature algorithms are deterministic,
 * so every job of every batch must give the same bytes, rc and error
 * message as sl_dkim_sign on that job alone. This runs for batch sizes 1,
 * 2, 7, 16, 17 and 64 under every SIMD path this CPU can run, and a
 * sample of the outputs is verified with sl_dkim_verify.
 *
 * Some messages fail on purpose (no From field, a line without a colon,
 * an h= list over its length limit): they sit in the middle of batches,
 * and the jobs around them must still match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dkim.h"
#include "crypto/simd/cpu.h"
#include "tests/unit/dkim_testlib.h"
#include "tests/unit/simd_testlib.h"

#define NOW 1796400000
#define NMSG 320
#define NCONFIG 10
#define MAX_JOBS 64
#define HDR_CAP 16384

/* Kinds of message that must fail, and a word the error must contain. */
enum bad_kind { GOOD = 0, NO_FROM, NO_COLON, HLIST_TOO_LONG };

static const char *const bad_words[] = { NULL, "no From", "colon", "h= list" };

struct message {
	char headers[HDR_CAP];
	size_t hlen;
	char body[128];
	struct sl_dkim_bodyhash bh;
	enum bad_kind bad;
};

struct config {
	struct sl_dkim_signer s[3];
	size_t n;
	char hlist[3][128];
};

/* Reference output of sl_dkim_sign for one (config, message). */
struct reference {
	struct sl_dkim_out out;
	int rc;
	struct sl_dkim_err err;
};

static struct sl_dkim_key *keys[3];
static char records[3][1024];
static struct dns_entry dns[4];
static struct message *msgs;
static struct config configs[NCONFIG];
static struct reference (*refs)[NMSG];

static const char *const names[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version",
	"Content-Type", "Received", "X-Mailer", "List-Unsubscribe", "X-Custom", "References",
};
static const char *const selectors[] = { "rsa", "ed", "ed2" };

/* ---- generated input ---- */

static void put(struct message *m, const char *s)
{
	size_t n = strlen(s);

	assert_true(m->hlen + n < HDR_CAP);
	memcpy(m->headers + m->hlen, s, n);
	m->hlen += n;
	m->headers[m->hlen] = '\0';
}

/* A name with its case changed at random ("from", "FROM", "From"). */
static void put_name(struct test_rng *rng, struct message *m, const char *name)
{
	char buf[64];
	size_t i, mode = rng_below(rng, 4);

	for (i = 0; name[i] && i + 1 < sizeof(buf); i++) {
		char c = name[i];

		if (mode == 1 && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (mode == 2 && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		buf[i] = c;
	}
	buf[i] = '\0';
	put(m, buf);
}

static const char *random_space(struct test_rng *rng)
{
	static const char *const spaces[] = { "", " ", "  ", "\t", " \t ", "\t\t" };

	return spaces[rng_below(rng, sizeof(spaces) / sizeof(spaces[0]))];
}

/* One field: name, odd whitespace around the colon, words, folds. */
static void put_field(struct test_rng *rng, struct message *m, const char *name, const char *eol)
{
	static const char *const words[] = { "hello", "a@example.com", "<id.1@example.com>",
					     "=?utf-8?q?x?=", "1.0", "text/plain;", "x", "" };
	size_t nwords = rng_below(rng, 6);

	put_name(rng, m, name);
	if (rng_below(rng, 5) == 0)
		put(m, random_space(rng));
	put(m, ":");
	put(m, random_space(rng));
	for (size_t w = 0; w < nwords; w++) {
		if (w > 0 && rng_below(rng, 4) == 0) {
			put(m, eol);
			put(m, rng_below(rng, 2) ? " " : "\t");
		}
		put(m, words[rng_below(rng, sizeof(words) / sizeof(words[0]))]);
		put(m, random_space(rng));
		put(m, w + 1 < nwords ? " " : "");
	}
	put(m, eol);
}

static void make_message(struct test_rng *rng, struct message *m, size_t index)
{
	const char *eol = rng_below(rng, 8) == 0 ? "\n" : "\r\n";
	size_t nfields = 1 + rng_below(rng, 24);
	size_t from_at = rng_below(rng, nfields);

	memset(m, 0, sizeof(*m));
	m->bad = index % 23 == 11 ? NO_FROM : index % 41 == 20 ? NO_COLON
	       : index % 53 == 30 ? HLIST_TOO_LONG : GOOD;
	for (size_t f = 0; f < nfields; f++) {
		if (f == from_at && m->bad != NO_FROM)
			put_field(rng, m, "From", eol);
		else
			put_field(rng, m, names[1 + rng_below(rng, sizeof(names) / sizeof(names[0]) - 1)],
				  eol);
		if (m->bad == NO_COLON && f == nfields / 2) {
			put(m, "this line has none");
			put(m, eol);
		}
	}
	/* 1400 To fields make the default h= list longer than 4096 bytes. */
	for (size_t f = 0; m->bad == HLIST_TOO_LONG && f < 1400; f++) {
		put(m, "To:x");
		put(m, eol);
	}
	snprintf(m->body, sizeof(m->body), "Body %zu\r\n  with \t spaces  \r\n\r\n", index);
	assert_int_equal(sl_dkim_body_hash(m->body, strlen(m->body),
					   SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &m->bh, NULL), 0);
}

/* Signer sets with an h= list that fails every job, each for its own reason. */
#define FIRST_BAD_CONFIG (NCONFIG - 2)

static char long_list[6000], many_list[3000];

static void make_config(struct test_rng *rng, struct config *c, size_t index)
{
	static const char *const lists[] = {
		"From:To:Subject:Received:Received:X-Missing",
		" from : to:cc:date:message-id:x-custom:x-custom:x-custom",
		"From:",
		"Content-Type:From:Reply-To:References:Subject:Subject",
		"Received:RECEIVED:\tFrom\t:received:x-custom:X-CUSTOM:from",
	};

	memset(c, 0, sizeof(*c));
	c->n = 1 + index % 3;
	for (size_t i = 0; i < c->n; i++) {
		struct sl_dkim_signer *s = &c->s[i];
		size_t k = rng_below(rng, 3);

		s->key = keys[k];
		s->domain = "example.com";
		s->selector = selectors[k];
		s->header_canon = rng_below(rng, 2) ? SL_DKIM_RELAXED : SL_DKIM_SIMPLE;
		s->body_canon = rng_below(rng, 2) ? SL_DKIM_RELAXED : SL_DKIM_SIMPLE;
		s->identity = rng_below(rng, 3) == 0 ? "user@mail.example.com" : NULL;
		s->expire = rng_below(rng, 2) ? 3600 : 0;
		if (rng_below(rng, 2)) {
			snprintf(c->hlist[i], sizeof(c->hlist[i]), "%s",
				 lists[rng_below(rng, sizeof(lists) / sizeof(lists[0]))]);
			s->headers = c->hlist[i];
		}
	}
	if (index == FIRST_BAD_CONFIG - 1) {
		/* Many names, most absent, but an h= value under 4096 bytes. */
		size_t len = 0;

		for (size_t k = 0; len + 20 < sizeof(many_list); k++)
			len += (size_t)snprintf(many_list + len, sizeof(many_list) - len, "%sX-M-%zu",
						k ? ":" : "From:To:", k % 290);
		c->s[0].headers = many_list;
	}
	if (index == FIRST_BAD_CONFIG) {
		snprintf(c->hlist[c->n - 1], sizeof(c->hlist[0]), "From:To;Cc:Subject");
		c->s[c->n - 1].headers = c->hlist[c->n - 1];
	}
	if (index == FIRST_BAD_CONFIG + 1) {
		size_t len = 0;

		for (size_t k = 0; len + 40 < sizeof(long_list); k++)
			len += (size_t)snprintf(long_list + len, sizeof(long_list) - len,
						"%sX-Long-Header-Name-%zu", k ? ":" : "From:", k);
		c->s[0].headers = long_list;
	}
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	static const enum sl_dkim_keytype types[3] = { SL_DKIM_KEY_RSA, SL_DKIM_KEY_ED25519,
						       SL_DKIM_KEY_ED25519 };
	struct test_rng rng;

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		if (sl_dkim_key_generate(types[k], 1024, &keys[k], NULL) < 0 ||
		    sl_dkim_key_dns_record(keys[k], records[k], sizeof(records[k]), NULL) < 0)
			return -1;
	}
	dns[0] = (struct dns_entry){ "rsa._domainkey.example.com", records[0] };
	dns[1] = (struct dns_entry){ "ed._domainkey.example.com", records[1] };
	dns[2] = (struct dns_entry){ "ed2._domainkey.example.com", records[2] };
	dns[3] = (struct dns_entry){ NULL, NULL };

	msgs = calloc(NMSG, sizeof(*msgs));
	refs = calloc(NCONFIG, sizeof(*refs));
	if (!msgs || !refs)
		return -1;
	rng_seed(&rng, 6376);
	for (size_t i = 0; i < NMSG; i++)
		make_message(&rng, &msgs[i], i);
	for (size_t c = 0; c < NCONFIG; c++)
		make_config(&rng, &configs[c], c);

	/* The references come from the scalar path, whatever the test forces. */
	if (sl_simd_force(SL_SIMD_SCALAR) < 0)
		return -1;
	for (size_t c = 0; c < NCONFIG; c++) {
		for (size_t i = 0; i < NMSG; i++) {
			struct reference *r = &refs[c][i];

			r->rc = sl_dkim_sign(configs[c].s, configs[c].n, msgs[i].headers, msgs[i].hlen,
					     &msgs[i].bh, NOW, &r->out, &r->err);
		}
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t c = 0; c < NCONFIG; c++)
		for (size_t i = 0; i < NMSG; i++)
			sl_dkim_out_free(&refs[c][i].out);
	free(refs);
	free(msgs);
	for (size_t k = 0; k < 3; k++)
		sl_dkim_key_free(keys[k]);
	sl_dkim_thread_cleanup();
	return 0;
}

/* ---- checks ---- */

static void check_verifies(const struct config *c, const struct message *m,
			   const struct sl_dkim_out *out)
{
	struct sl_dkim_result r[3];
	size_t len = out->len + m->hlen + 2 + strlen(m->body), count = 0;
	char *msg = malloc(len + 1);

	assert_non_null(msg);
	snprintf(msg, len + 1, "%s%s\r\n%s", out->data, m->headers, m->body);
	assert_int_equal(sl_dkim_verify(msg, len, dns_table, dns, NOW + 10, r, 3, &count, NULL), 0);
	assert_int_equal(count, c->n);
	for (size_t i = 0; i < c->n; i++) {
		if (r[i].status != SL_DKIM_PASS)
			fail_msg("signature %zu: %s: %s", i, sl_dkim_status_name(r[i].status),
				 r[i].reason);
	}
	free(msg);
}

/*
 * Sign msgs[first..first+n) (wrapping around) with config c in one batch
 * and compare every job with its reference.
 */
static void check_batch(size_t c, size_t first, size_t n, int verify)
{
	struct sl_dkim_job jobs[MAX_JOBS];
	struct sl_dkim_out outs[MAX_JOBS];
	int want_first = 0, got;

	memset(outs, 0, sizeof(outs));
	for (size_t k = 0; k < n; k++) {
		const struct message *m = &msgs[(first + k) % NMSG];

		memset(&jobs[k], 0, sizeof(jobs[k]));
		jobs[k].headers = m->headers;
		jobs[k].hlen = m->hlen;
		jobs[k].bh = &m->bh;
		jobs[k].out = &outs[k];
		if (want_first == 0)
			want_first = refs[c][(first + k) % NMSG].rc;
	}
	got = sl_dkim_sign_batch(configs[c].s, configs[c].n, jobs, n, NOW);
	assert_int_equal(got, want_first);

	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % NMSG;
		const struct reference *r = &refs[c][i];

		if (jobs[k].rc != r->rc)
			fail_msg("config %zu message %zu: rc %d, sl_dkim_sign gave %d (%s)", c, i,
				 jobs[k].rc, r->rc, jobs[k].err.msg);
		if (r->rc) {
			assert_string_equal(jobs[k].err.msg, r->err.msg);
			assert_int_equal(outs[k].len, 0);
			continue;
		}
		assert_int_equal(outs[k].len, r->out.len);
		assert_memory_equal(outs[k].data, r->out.data, r->out.len);
		if (verify && k == n / 2)
			check_verifies(&configs[c], &msgs[i], &outs[k]);
	}
	for (size_t k = 0; k < n; k++)
		sl_dkim_out_free(&outs[k]);
}

/* ---- tests ---- */

/* The generated input has every kind of failing message, with its cause. */
static void references_cover_failures(void **state)
{
	size_t seen[4] = { 0 };

	(void)state;
	for (size_t c = FIRST_BAD_CONFIG; c < NCONFIG; c++) {
		const char *word = c == FIRST_BAD_CONFIG ? "invalid header name \"To;Cc\""
							 : "h= list is over 4096 characters";
		size_t named = 0;

		for (size_t i = 0; i < NMSG; i++) {
			assert_int_not_equal(refs[c][i].rc, 0);
			named += strstr(refs[c][i].err.msg, word) != NULL;
		}
		if (named < NMSG / 2)
			fail_msg("config %zu: only %zu of %d errors name %s", c, named, NMSG, word);
	}
	for (size_t c = 0; c < FIRST_BAD_CONFIG; c++) {
		for (size_t i = 0; i < NMSG; i++) {
			const struct reference *r = &refs[c][i];
			enum bad_kind bad = msgs[i].bad;

			seen[bad]++;
			if (bad == GOOD) {
				assert_int_equal(r->rc, 0);
				continue;
			}
			if (bad == HLIST_TOO_LONG && configs[c].s[0].headers)
				continue;  /* an explicit h= list stays short */
			assert_int_not_equal(r->rc, 0);
			if (strstr(r->err.msg, bad_words[bad]) == NULL)
				fail_msg("message %zu: error \"%s\" does not name \"%s\"", i, r->err.msg,
					 bad_words[bad]);
		}
	}
	assert_true(seen[GOOD] > FIRST_BAD_CONFIG * NMSG / 2);
	assert_true(seen[NO_FROM] > 0);
	assert_true(seen[NO_COLON] > 0);
	assert_true(seen[HLIST_TOO_LONG] > 0);
}

static void batch_equals_single_every_path(void **state)
{
	static const size_t sizes[] = { 1, 2, 7, 16, 17, 64 };
	enum sl_simd_path paths[SL_SIMD_COUNT];
	size_t npaths = simd_test_paths(paths);
	enum sl_simd_path before = sl_simd_current();

	(void)state;
	for (size_t p = 0; p < npaths; p++) {
		assert_int_equal(sl_simd_force(paths[p]), 0);
		for (size_t c = 0; c < NCONFIG; c++) {
			for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
				size_t n = sizes[z];
				/* Every message once per size on the first path, fewer after. */
				size_t span = p == 0 ? NMSG : 2 * MAX_JOBS;
				size_t start = (c * 37 + z * 11 + p * 101) % NMSG;

				for (size_t done = 0; done < span; done += n)
					check_batch(c, start + done, n, p == 0 && z == 3);
			}
		}
	}
	sl_simd_force(before);
}

/* Sign msgs[0..n) with signers in one batch and compare with sl_dkim_sign. */
static void check_against_single(const struct sl_dkim_signer *signers, size_t nsigners, size_t n)
{
	struct sl_dkim_job jobs[16];
	struct sl_dkim_out outs[16], want = { 0 };
	struct sl_dkim_err err;

	assert_true(n <= 16);
	memset(outs, 0, sizeof(outs));
	for (size_t k = 0; k < n; k++) {
		memset(&jobs[k], 0, sizeof(jobs[k]));
		jobs[k].headers = msgs[k].headers;
		jobs[k].hlen = msgs[k].hlen;
		jobs[k].bh = &msgs[k].bh;
		jobs[k].out = &outs[k];
	}
	sl_dkim_sign_batch(signers, nsigners, jobs, n, NOW);
	for (size_t k = 0; k < n; k++) {
		int rc = sl_dkim_sign(signers, nsigners, msgs[k].headers, msgs[k].hlen, &msgs[k].bh,
				      NOW, &want, &err);

		assert_int_equal(jobs[k].rc, rc);
		if (rc) {
			assert_string_equal(jobs[k].err.msg, err.msg);
			continue;
		}
		assert_int_equal(outs[k].len, want.len);
		assert_memory_equal(outs[k].data, want.data, want.len);
	}
	for (size_t k = 0; k < n; k++)
		sl_dkim_out_free(&outs[k]);
	sl_dkim_out_free(&want);
}

/*
 * The batch keeps its parsed h= lists between calls: a list that changes
 * (default to explicit, another string, the same string edited in place)
 * must be parsed again.
 */
static void hlist_change_between_batches(void **state)
{
	char edited[64];
	struct sl_dkim_signer s[2] = {
		{ .key = keys[1], .domain = "example.com", .selector = "ed",
		  .header_canon = SL_DKIM_RELAXED, .body_canon = SL_DKIM_RELAXED },
		{ .key = keys[0], .domain = "example.com", .selector = "rsa",
		  .headers = "From:To", .header_canon = SL_DKIM_SIMPLE,
		  .body_canon = SL_DKIM_SIMPLE },
	};

	(void)state;
	check_against_single(s, 2, 12);
	s[0].headers = "From:Subject:Subject";
	s[1].headers = NULL;
	check_against_single(s, 2, 12);
	snprintf(edited, sizeof(edited), "From:Subject:Subject");
	s[0].headers = edited;
	check_against_single(s, 2, 12);
	snprintf(edited, sizeof(edited), "From:Received:Date");
	check_against_single(s, 2, 12);
	check_against_single(s, 1, 12);
}

/* An h= list without From fails every job with the same message. */
static void hlist_without_from_fails_all(void **state)
{
	struct sl_dkim_signer s[2] = {
		{ .key = keys[1], .domain = "example.com", .selector = "ed",
		  .header_canon = SL_DKIM_RELAXED, .body_canon = SL_DKIM_RELAXED },
		{ .key = keys[0], .domain = "example.com", .selector = "rsa",
		  .headers = "To:Subject", .header_canon = SL_DKIM_SIMPLE,
		  .body_canon = SL_DKIM_SIMPLE },
	};
	struct sl_dkim_job jobs[5];
	struct sl_dkim_out outs[5];

	(void)state;
	memset(outs, 0, sizeof(outs));
	for (size_t k = 0; k < 5; k++) {
		memset(&jobs[k], 0, sizeof(jobs[k]));
		jobs[k].headers = msgs[k].headers;
		jobs[k].hlen = msgs[k].hlen;
		jobs[k].bh = &msgs[k].bh;
		jobs[k].out = &outs[k];
	}
	assert_int_equal(sl_dkim_sign_batch(s, 2, jobs, 5, NOW), -EINVAL);
	for (size_t k = 0; k < 5; k++) {
		assert_int_equal(jobs[k].rc, -EINVAL);
		assert_non_null(strstr(jobs[k].err.msg, "h= list must include From"));
		assert_int_equal(outs[k].len, 0);
	}
}

/* A signer count out of range fails every job; no jobs is no error. */
static void bad_signer_count_fails_all(void **state)
{
	struct sl_dkim_job jobs[3];
	struct sl_dkim_out outs[3];

	(void)state;
	memset(outs, 0, sizeof(outs));
	for (size_t k = 0; k < 3; k++) {
		memset(&jobs[k], 0, sizeof(jobs[k]));
		jobs[k].headers = msgs[k].headers;
		jobs[k].hlen = msgs[k].hlen;
		jobs[k].bh = &msgs[k].bh;
		jobs[k].out = &outs[k];
	}
	assert_int_equal(sl_dkim_sign_batch(configs[0].s, 0, jobs, 3, NOW), -EINVAL);
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(jobs[k].rc, -EINVAL);
		assert_non_null(strstr(jobs[k].err.msg, "0 signers given"));
	}
	assert_int_equal(sl_dkim_sign_batch(configs[0].s, 1, jobs, 0, NOW), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(references_cover_failures),
		cmocka_unit_test(batch_equals_single_every_path),
		cmocka_unit_test(hlist_change_between_batches),
		cmocka_unit_test(hlist_without_from_fails_all),
		cmocka_unit_test(bad_signer_count_fails_all),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
