/*
 * Unit tests for crypto/sign.c: the default h= list and over-signing,
 * bottom-up header instances, folding under 78 columns, i= and x=, a
 * message of headers only, several signers, the batch entry point and
 * signer errors. Every signature made here is checked with the verifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/dkim.h"
#include "crypto/internal.h"
#include "tests/unit/dkim_testlib.h"

#define NOW 1760000000

static struct sl_dkim_key *rsa_key, *ed_key;
static char rsa_record[1024], ed_record[256];
static struct dns_entry dns[4];

static int setup(void **state)
{
	struct sl_dkim_err err;

	(void)state;
	if (sl_dkim_key_generate(SL_DKIM_KEY_RSA, 2048, &rsa_key, &err) < 0 ||
	    sl_dkim_key_generate(SL_DKIM_KEY_ED25519, 0, &ed_key, &err) < 0)
		return -1;
	if (sl_dkim_key_dns_record(rsa_key, rsa_record, sizeof(rsa_record), &err) < 0 ||
	    sl_dkim_key_dns_record(ed_key, ed_record, sizeof(ed_record), &err) < 0)
		return -1;
	dns[0] = (struct dns_entry){ "rsa._domainkey.example.com", rsa_record };
	dns[1] = (struct dns_entry){ "ed._domainkey.example.com", ed_record };
	dns[2] = (struct dns_entry){ "ed._domainkey.example.org", ed_record };
	dns[3] = (struct dns_entry){ NULL, NULL };
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_dkim_key_free(rsa_key);
	sl_dkim_key_free(ed_key);
	sl_dkim_thread_cleanup();
	return 0;
}

static struct sl_dkim_signer signer(struct sl_dkim_key *key, const char *selector)
{
	struct sl_dkim_signer s;

	memset(&s, 0, sizeof(s));
	s.key = key;
	s.domain = "example.com";
	s.selector = selector;
	s.header_canon = SL_DKIM_RELAXED;
	s.body_canon = SL_DKIM_RELAXED;
	return s;
}

/* Sign headers+body with the signers; returns the whole signed message. */
static char *sign_message(const struct sl_dkim_signer *s, size_t n, const char *headers,
			  const char *body, int expect_rc)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err = { { 0 } };
	char *msg;
	int rc;

	assert_int_equal(sl_dkim_body_hash(body, strlen(body),
					   SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	rc = sl_dkim_sign(s, n, headers, strlen(headers), &bh, NOW, &out, &err);
	if (rc != expect_rc)
		fail_msg("sign returned %d (%s), expected %d", rc, err.msg, expect_rc);
	if (rc) {
		assert_int_equal(out.len, 0);
		sl_dkim_out_free(&out);
		return NULL;
	}
	msg = malloc(out.len + strlen(headers) + strlen(body) + 3);
	sprintf(msg, "%s%s\r\n%s", out.data, headers, body);
	sl_dkim_out_free(&out);
	return msg;
}

/* Value of tag NAME in the first DKIM-Signature, unfolded. */
static void tag_value(const char *msg, const char *name, char *buf, size_t cap)
{
	char key[16];
	const char *p, *end = strstr(msg, "\r\n") ;
	size_t n = 0;

	/* The first field ends at the first line end not followed by a space. */
	while (end && end[2] == ' ')
		end = strstr(end + 2, "\r\n");
	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(msg, key);
	assert_non_null(p);
	assert_true(p < end);
	for (p += strlen(key); p < end && *p != ';'; p++)
		if (*p != '\r' && *p != '\n' && *p != ' ' && n + 1 < cap)
			buf[n++] = *p;
	buf[n] = '\0';
}

static enum sl_dkim_status verify_status(const char *msg, size_t index, char *reason)
{
	struct sl_dkim_result r[8];
	struct sl_dkim_err err;
	size_t n = 0;

	assert_int_equal(sl_dkim_verify(msg, strlen(msg), dns_table, dns, NOW + 10, r, 8, &n,
					&err), 0);
	assert_true(index < n);
	if (reason)
		strcpy(reason, r[index].reason);
	return r[index].status;
}

#define BASIC_HEADERS                                                  \
	"From: Alice <alice@example.com>\r\n"                          \
	"To: bob@example.net\r\n"                                      \
	"Subject: Hello\r\n"                                           \
	"Date: Thu, 04 Dec 2026 10:00:00 +0000\r\n"                    \
	"Message-ID: <m1@example.com>\r\n"                             \
	"X-Mailer: test\r\n"
#define BASIC_BODY "Hello Bob.\r\n"

static void default_h_list_oversigns(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	char *msg = sign_message(&s, 1, BASIC_HEADERS, BASIC_BODY, 0);
	char h[512];

	(void)state;
	tag_value(msg, "h", h, sizeof(h));
	assert_string_equal(h, "From:From:To:To:Cc:Subject:Subject:Date:Date:Message-ID");
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	free(msg);
}

static void default_h_list_counts_instances(void **state)
{
	struct sl_dkim_signer s = signer(ed_key, "ed");
	char *msg = sign_message(&s, 1,
				 "From: a@example.com\r\nTo: x@example.net\r\nTo: y@example.net\r\n"
				 "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
				 "List-Unsubscribe: <mailto:u@example.com>\r\n"
				 "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
				 "Feedback-ID: 1:2:3\r\n",
				 "x\r\n", 0);
	char h[512];

	(void)state;
	tag_value(msg, "h", h, sizeof(h));
	assert_string_equal(h, "From:From:To:To:To:Cc:Subject:Date:MIME-Version:Content-Type:"
			       "List-Unsubscribe:List-Unsubscribe-Post:Feedback-ID");
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	free(msg);
}

/* Adding a second Subject (or a Cc) after signing breaks the signature. */
static void oversigned_header_added_fails(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	char *msg = sign_message(&s, 1, BASIC_HEADERS, BASIC_BODY, 0);
	char *added = malloc(strlen(msg) + 64), *p;
	char reason[200];

	(void)state;
	p = strstr(msg, "From: Alice");
	assert_non_null(p);

	sprintf(added, "%.*sSubject: Win a prize\r\n%s", (int)(p - msg), msg, p);
	assert_int_equal(verify_status(added, 0, reason), SL_DKIM_FAIL);
	assert_string_equal(reason, "signature did not verify");

	sprintf(added, "%.*sCc: eve@example.org\r\n%s", (int)(p - msg), msg, p);
	assert_int_equal(verify_status(added, 0, NULL), SL_DKIM_FAIL);

	/* A field outside h= may be added. */
	sprintf(added, "%.*sReceived: from relay\r\n%s", (int)(p - msg), msg, p);
	assert_int_equal(verify_status(added, 0, NULL), SL_DKIM_PASS);
	free(added);
	free(msg);
}

/* With h=X-Tag, the bottom X-Tag instance is the one signed. */
static void bottom_up_instances(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	const char *headers = "From: a@example.com\r\nX-Tag: top\r\nX-Tag: bottom\r\n";
	char *msg, *p;

	(void)state;
	s.headers = "From:X-Tag";
	msg = sign_message(&s, 1, headers, "b\r\n", 0);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);

	p = strstr(msg, "X-Tag: top");
	memcpy(p, "X-Tag: TOP", 10);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);

	p = strstr(msg, "X-Tag: bottom");
	memcpy(p, "X-Tag: BOTTOM", 13);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_FAIL);
	free(msg);
}

/* h=X-Tag:X-Tag signs both instances, bottom first. */
static void bottom_up_two_instances(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	const char *headers = "From: a@example.com\r\nX-Tag: top\r\nX-Tag: bottom\r\n";
	char *msg, *p;

	(void)state;
	s.headers = "From:X-Tag:X-Tag";
	msg = sign_message(&s, 1, headers, "b\r\n", 0);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);

	/* Swapping the two instances changes the hashed order. */
	p = strstr(msg, "X-Tag: top");
	memcpy(p, "X-Tag: bot", 10);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_FAIL);
	free(msg);
}

/* Duplicate headers in the message are all signed by the default list. */
static void duplicate_headers_signed(void **state)
{
	struct sl_dkim_signer s = signer(ed_key, "ed");
	char *msg = sign_message(&s, 1,
				 "From: a@example.com\r\nTo: one@example.net\r\n"
				 "To: two@example.net\r\n", "b\r\n", 0);
	char *p;

	(void)state;
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	p = strstr(msg, "To: one");
	memcpy(p, "To: ONE", 7);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_FAIL);
	free(msg);
}

static void check_line_widths(const char *sigs)
{
	const char *p = sigs;

	while (*p) {
		const char *eol = strstr(p, "\r\n");

		assert_non_null(eol);
		if ((size_t)(eol - p) >= 78)
			fail_msg("line of %zu characters: %.*s", (size_t)(eol - p), (int)(eol - p), p);
		assert_null(memchr(p, '\n', (size_t)(eol - p)));
		p = eol + 2;
	}
}

/* Every line of the fields, the b= value included, is under 78 columns. */
static void folding_under_78(void **state)
{
	struct sl_dkim_signer s[2] = { signer(rsa_key, "rsa"), signer(ed_key, "ed") };
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;
	char headers[4096];
	size_t n = 0;
	int i;

	(void)state;
	n += (size_t)sprintf(headers, "From: a@example.com\r\n");
	for (i = 0; i < 30; i++)
		n += (size_t)sprintf(headers + n, "To: r%d@example.net\r\n", i);
	s[0].identity = "someone.with.a.long.name@mail.news.example.com";
	s[0].expire = 86400;
	assert_int_equal(sl_dkim_body_hash("x", 1, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(s, 2, headers, n, &bh, NOW, &out, &err), 0);
	check_line_widths(out.data);
	/* Continuation lines start with whitespace; each field ends in CRLF. */
	assert_non_null(strstr(out.data, "\r\n "));
	assert_null(strstr(out.data, "\r\n\r\n"));
	assert_int_equal(strncmp(out.data + out.len - 2, "\r\n", 2), 0);
	sl_dkim_out_free(&out);
}

/* Fold positions for every column where "b=" can land. */
static void folding_all_positions(void **state)
{
	struct sl_dkim_signer s = signer(ed_key, "ed");
	char domain[80], rec_name[128];
	struct dns_entry local[2];
	int len;

	(void)state;
	for (len = 1; len < 60; len++) {
		struct sl_dkim_bodyhash bh;
		struct sl_dkim_out out = { 0 };
		struct sl_dkim_err err;
		struct sl_dkim_result r[2];
		size_t n;
		char *msg;
		const char *headers = "From: a@example.com\r\n";

		memset(domain, 'd', (size_t)len);
		strcpy(domain + len, ".example");
		s.domain = domain;
		snprintf(rec_name, sizeof(rec_name), "ed._domainkey.%s", domain);
		local[0] = (struct dns_entry){ rec_name, ed_record };
		local[1] = (struct dns_entry){ NULL, NULL };
		assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
		assert_int_equal(sl_dkim_sign(&s, 1, headers, strlen(headers), &bh, NOW, &out, &err),
				 0);
		check_line_widths(out.data);
		msg = malloc(out.len + 64);
		sprintf(msg, "%s%s\r\n", out.data, headers);
		assert_int_equal(sl_dkim_verify(msg, strlen(msg), dns_table, local, NOW, r, 2, &n,
						&err), 0);
		assert_int_equal(r[0].status, SL_DKIM_PASS);
		free(msg);
		sl_dkim_out_free(&out);
	}
}

static void identity_and_expiry_tags(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	char *msg, v[128];

	(void)state;
	s.identity = "@news.example.com";
	s.expire = 3600;
	msg = sign_message(&s, 1, BASIC_HEADERS, BASIC_BODY, 0);
	tag_value(msg, "i", v, sizeof(v));
	assert_string_equal(v, "@news.example.com");
	tag_value(msg, "t", v, sizeof(v));
	assert_string_equal(v, "1760000000");
	tag_value(msg, "x", v, sizeof(v));
	assert_string_equal(v, "1760003600");
	assert_null(strstr(msg, " l="));
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	free(msg);
}

static void no_expiry_means_no_x(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	char *msg = sign_message(&s, 1, BASIC_HEADERS, BASIC_BODY, 0);

	(void)state;
	assert_null(strstr(msg, " x="));
	free(msg);
}

static void identity_outside_domain_rejected(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;

	(void)state;
	s.identity = "user@badexample.com";
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(&s, 1, BASIC_HEADERS, strlen(BASIC_HEADERS), &bh, NOW, &out,
				      &err), -EINVAL);
	assert_non_null(strstr(err.msg, "badexample.com"));
	sl_dkim_out_free(&out);
}

/* A message of headers only signs with the empty-body hash. */
static void headers_only_message(void **state)
{
	struct sl_dkim_signer s[2] = { signer(rsa_key, "rsa"), signer(ed_key, "ed") };
	char *msg, bh[64], want[64];
	uint8_t digest[32];

	(void)state;
	s[1].body_canon = SL_DKIM_SIMPLE;
	msg = sign_message(s, 2, BASIC_HEADERS, "", 0);
	tag_value(msg, "bh", bh, sizeof(bh));
	assert_int_equal(EVP_Digest("", 0, digest, NULL, EVP_sha256(), NULL), 1);
	sl_b64_encode(want, digest, 32);
	assert_string_equal(bh, want);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	assert_int_equal(verify_status(msg, 1, NULL), SL_DKIM_PASS);
	free(msg);
}

/* RSA and Ed25519 for two domains on one message; all verify. */
static void several_signers(void **state)
{
	struct sl_dkim_signer s[3] = { signer(rsa_key, "rsa"), signer(ed_key, "ed"),
				       signer(ed_key, "ed") };
	char *msg;
	char bh0[64], reason[200];

	(void)state;
	s[2].domain = "example.org";
	s[2].header_canon = SL_DKIM_SIMPLE;
	msg = sign_message(s, 3, BASIC_HEADERS, BASIC_BODY, 0);
	assert_int_equal(verify_status(msg, 0, reason), SL_DKIM_PASS);
	assert_int_equal(verify_status(msg, 1, reason), SL_DKIM_PASS);
	assert_int_equal(verify_status(msg, 2, reason), SL_DKIM_PASS);
	tag_value(msg, "bh", bh0, sizeof(bh0));
	assert_non_null(strstr(msg, "a=rsa-sha256;"));
	assert_non_null(strstr(msg, "a=ed25519-sha256;"));
	assert_non_null(strstr(msg, "c=simple/relaxed;"));
	free(msg);
}

static void every_canonicalization(void **state)
{
	int hc, bc;

	(void)state;
	for (hc = 0; hc < 2; hc++) {
		for (bc = 0; bc < 2; bc++) {
			struct sl_dkim_signer s = signer(rsa_key, "rsa");
			char *msg;

			s.header_canon = (enum sl_dkim_canon)hc;
			s.body_canon = (enum sl_dkim_canon)bc;
			msg = sign_message(&s, 1,
					   "From:  Alice  <a@example.com> \r\n"
					   "Subject:\r\n  folded  subject\r\n",
					   " body  with\tspace  \r\n\r\n\r\n", 0);
			assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
			free(msg);
		}
	}
}

/* Header values that contain "b=" are signed and left alone. */
static void header_containing_b_equals(void **state)
{
	struct sl_dkim_signer s = signer(ed_key, "ed");
	char *msg;

	(void)state;
	s.header_canon = SL_DKIM_SIMPLE;
	msg = sign_message(&s, 1,
			   "From: a@example.com\r\nSubject: b=abc; bh=xyz; b= tail\r\n",
			   "b=body\r\n", 0);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	free(msg);
}

static void missing_from_rejected(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	char *msg;

	(void)state;
	msg = sign_message(&s, 1, "To: x@example.net\r\nSubject: s\r\n", "b\r\n", -EINVAL);
	assert_null(msg);
	s.headers = "To:Subject";
	msg = sign_message(&s, 1, BASIC_HEADERS, "b\r\n", -EINVAL);
	assert_null(msg);
}

static void missing_body_hash_rejected(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;

	(void)state;
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_SIMPLE, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(&s, 1, BASIC_HEADERS, strlen(BASIC_HEADERS), &bh, NOW, &out,
				      &err), -EINVAL);
	assert_non_null(strstr(err.msg, "relaxed body hash"));
	sl_dkim_out_free(&out);
}

static void invalid_domain_rejected(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;

	(void)state;
	s.domain = "example.com;\r\nX-Injected: 1";
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(&s, 1, BASIC_HEADERS, strlen(BASIC_HEADERS), &bh, NOW, &out,
				      &err), -EINVAL);
	s.domain = "example.com";
	s.selector = "a b";
	assert_int_equal(sl_dkim_sign(&s, 1, BASIC_HEADERS, strlen(BASIC_HEADERS), &bh, NOW, &out,
				      &err), -EINVAL);
	sl_dkim_out_free(&out);
}

/* LF-only header blocks sign; the signature covers the CRLF form. */
static void lf_header_block(void **state)
{
	struct sl_dkim_signer s = signer(rsa_key, "rsa");
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;
	const char *lf = "From: a@example.com\nSubject: hi\n  there\n";
	char msg[2048];

	(void)state;
	s.header_canon = SL_DKIM_SIMPLE;
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(&s, 1, lf, strlen(lf), &bh, NOW, &out, &err), 0);
	snprintf(msg, sizeof(msg), "%sFrom: a@example.com\r\nSubject: hi\r\n  there\r\n\r\n",
		 out.data);
	assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
	sl_dkim_out_free(&out);
}

static void batch_signs_each_job(void **state)
{
	struct sl_dkim_signer s[2] = { signer(rsa_key, "rsa"), signer(ed_key, "ed") };
	struct sl_dkim_job jobs[4];
	struct sl_dkim_out outs[4];
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	const char *headers[4] = { BASIC_HEADERS, "From: b@example.com\r\n",
				   "To: nofrom@example.net\r\n", "From: c@example.com\r\nTo: d\r\n" };
	int i;

	(void)state;
	memset(outs, 0, sizeof(outs));
	assert_int_equal(sl_dkim_body_hash("body\r\n", 6, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	for (i = 0; i < 4; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].headers = headers[i];
		jobs[i].hlen = strlen(headers[i]);
		jobs[i].bh = &bh;
		jobs[i].out = &outs[i];
	}
	assert_int_equal(sl_dkim_sign_batch(s, 2, jobs, 4, NOW), -EINVAL);
	for (i = 0; i < 4; i++) {
		char msg[4096];

		if (i == 2) {
			assert_int_equal(jobs[i].rc, -EINVAL);
			assert_non_null(strstr(jobs[i].err.msg, "From"));
			continue;
		}
		assert_int_equal(jobs[i].rc, 0);
		snprintf(msg, sizeof(msg), "%s%s\r\nbody\r\n", outs[i].data, headers[i]);
		assert_int_equal(verify_status(msg, 0, NULL), SL_DKIM_PASS);
		assert_int_equal(verify_status(msg, 1, NULL), SL_DKIM_PASS);
	}
	for (i = 0; i < 4; i++)
		sl_dkim_out_free(&outs[i]);
}

/* The output buffer is reused: len restarts at 0 for each message. */
static void output_buffer_reused(void **state)
{
	struct sl_dkim_signer s = signer(ed_key, "ed");
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;
	size_t first;

	(void)state;
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(&s, 1, BASIC_HEADERS, strlen(BASIC_HEADERS), &bh, NOW, &out,
				      &err), 0);
	first = out.len;
	assert_int_equal(sl_dkim_sign(&s, 1, BASIC_HEADERS, strlen(BASIC_HEADERS), &bh, NOW, &out,
				      &err), 0);
	assert_int_equal(out.len, first);
	assert_int_equal(strncmp(out.data, "DKIM-Signature: v=1;", 20), 0);
	sl_dkim_out_free(&out);
}

/* Keys freed and replaced never reuse another key's cached context. */
static void key_replacement_signs_with_new_key(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 7; i++) {
		struct sl_dkim_key *key = NULL;
		struct sl_dkim_err err;
		struct sl_dkim_signer s;
		struct dns_entry local[2];
		struct sl_dkim_result r[2];
		char rec[256], *msg;
		size_t n = 0;

		assert_int_equal(sl_dkim_key_generate(i % 2 ? SL_DKIM_KEY_ED25519 : SL_DKIM_KEY_RSA,
						      1024, &key, &err), 0);
		assert_true(sl_dkim_key_dns_record(key, rec, sizeof(rec), &err) > 0);
		s = signer(key, "k");
		msg = sign_message(&s, 1, BASIC_HEADERS, BASIC_BODY, 0);
		local[0] = (struct dns_entry){ "k._domainkey.example.com", rec };
		local[1] = (struct dns_entry){ NULL, NULL };
		assert_int_equal(sl_dkim_verify(msg, strlen(msg), dns_table, local, NOW, r, 2, &n,
						&err), 0);
		assert_int_equal(r[0].status, SL_DKIM_PASS);
		free(msg);
		sl_dkim_key_free(key);
	}
}

/* Random header blocks and h= lists either sign or fail cleanly. */
static void random_headers_never_crash(void **state)
{
	static const char pool[] = "FromToSubject:: \t\r\n;=abc\xc3\xa9";
	struct sl_dkim_signer s[2] = { signer(ed_key, "ed"), signer(rsa_key, "rsa") };
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;
	char headers[400], list[40];
	unsigned seed = 7;
	int round;

	(void)state;
	assert_int_equal(sl_dkim_body_hash("", 0, SL_DKIM_BODY_RELAXED | SL_DKIM_BODY_SIMPLE, &bh,
					   &err), 0);
	for (round = 0; round < 3000; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(headers)), i;
		size_t llen = (size_t)(rand_r(&seed) % (sizeof(list) - 1));
		int rc;

		for (i = 0; i < len; i++)
			headers[i] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
		if (round % 2 && len > 10)
			memcpy(headers, "From: a\r\n", 9);
		for (i = 0; i < llen; i++)
			list[i] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
		list[llen] = '\0';
		s[0].headers = round % 3 ? NULL : list;
		s[1].header_canon = (enum sl_dkim_canon)(round % 2);
		rc = sl_dkim_sign(s, 1 + (size_t)(round % 2 == 0 && round % 7 == 0), headers, len,
				  &bh, NOW, &out, &err);
		if (rc == 0)
			assert_true(out.len > 0);
		else
			assert_true(rc < 0 && err.msg[0] != '\0');
	}
	sl_dkim_out_free(&out);
}

struct thread_job {
	int failures;
	int seed;
};

/* Sign and verify in a loop with the shared keys; count failures. */
static void *sign_thread(void *arg)
{
	struct thread_job *job = arg;
	struct sl_dkim_signer s[2] = { signer(rsa_key, "rsa"), signer(ed_key, "ed") };
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_err err;
	int i;

	for (i = 0; i < 40; i++) {
		char headers[128], msg[4096];
		struct sl_dkim_result r[2];
		size_t n = 0;
		int len = snprintf(headers, sizeof(headers),
				   "From: t%d@example.com\r\nSubject: %d\r\n", job->seed, i);

		if (sl_dkim_body_hash("x\r\n", 3, SL_DKIM_BODY_RELAXED, &bh, &err) < 0 ||
		    sl_dkim_sign(s, 2, headers, (size_t)len, &bh, NOW, &out, &err) < 0) {
			job->failures++;
			continue;
		}
		snprintf(msg, sizeof(msg), "%s%s\r\nx\r\n", out.data, headers);
		if (sl_dkim_verify(msg, strlen(msg), dns_table, dns, NOW, r, 2, &n, &err) < 0 ||
		    n != 2 || r[0].status != SL_DKIM_PASS || r[1].status != SL_DKIM_PASS)
			job->failures++;
	}
	sl_dkim_out_free(&out);
	sl_dkim_thread_cleanup();
	return NULL;
}

/* Threads share keys; each keeps its own digest and signing contexts. */
static void threads_share_keys(void **state)
{
	pthread_t t[4];
	struct thread_job jobs[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		jobs[i] = (struct thread_job){ 0, i };
		assert_int_equal(pthread_create(&t[i], NULL, sign_thread, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(jobs[i].failures, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_h_list_oversigns),
		cmocka_unit_test(default_h_list_counts_instances),
		cmocka_unit_test(oversigned_header_added_fails),
		cmocka_unit_test(bottom_up_instances),
		cmocka_unit_test(bottom_up_two_instances),
		cmocka_unit_test(duplicate_headers_signed),
		cmocka_unit_test(folding_under_78),
		cmocka_unit_test(folding_all_positions),
		cmocka_unit_test(identity_and_expiry_tags),
		cmocka_unit_test(no_expiry_means_no_x),
		cmocka_unit_test(identity_outside_domain_rejected),
		cmocka_unit_test(headers_only_message),
		cmocka_unit_test(several_signers),
		cmocka_unit_test(every_canonicalization),
		cmocka_unit_test(header_containing_b_equals),
		cmocka_unit_test(missing_from_rejected),
		cmocka_unit_test(missing_body_hash_rejected),
		cmocka_unit_test(invalid_domain_rejected),
		cmocka_unit_test(lf_header_block),
		cmocka_unit_test(batch_signs_each_job),
		cmocka_unit_test(output_buffer_reused),
		cmocka_unit_test(key_replacement_signs_with_new_key),
		cmocka_unit_test(random_headers_never_crash),
		cmocka_unit_test(threads_share_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
