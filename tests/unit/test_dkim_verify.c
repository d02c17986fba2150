/*
 * Unit tests for crypto/verify.c, crypto/key.c and the message checks of
 * crypto/message.c: key record rules (revoked p=, k= mismatch, h=, t=s,
 * s=), signature tag rules (expiry, i=, h= without From, rsa-sha1,
 * syntax), RSA keys under 1024 bits, exact b= removal, DNS failures, key
 * loading errors, and random malformed input that must never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/dkim.h"
#include "crypto/internal.h"
#include "tests/unit/dkim_testlib.h"

#define NOW 1760000000

static struct sl_dkim_key *rsa_key, *ed_key;
static char rsa_p[1024], ed_p[128];

static const char *p_value(const char *record)
{
	return strstr(record, "p=") + 2;
}

static int setup(void **state)
{
	struct sl_dkim_err err;
	char rec[1024];

	(void)state;
	if (sl_dkim_key_generate(SL_DKIM_KEY_RSA, 1024, &rsa_key, &err) < 0 ||
	    sl_dkim_key_generate(SL_DKIM_KEY_ED25519, 0, &ed_key, &err) < 0)
		return -1;
	if (sl_dkim_key_dns_record(rsa_key, rec, sizeof(rec), &err) < 0)
		return -1;
	strcpy(rsa_p, p_value(rec));
	if (sl_dkim_key_dns_record(ed_key, rec, sizeof(rec), &err) < 0)
		return -1;
	strcpy(ed_p, p_value(rec));
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

#define HEADERS "From: a@example.com\r\nTo: b@example.net\r\nSubject: test\r\n"
#define BODY "Body line.\r\n"

/*
 * Build a signed message from the tags before bh= (for example
 * "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1; h=from;"),
 * with a correct bh= and a b= made over exactly that field text.
 */
static char *craft(const struct sl_dkim_key *key, const char *tags, const char *hlist,
		   const char *headers, const char *body)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	char field[2048], bh64[48], b64[400], *msg;
	enum sl_dkim_canon hc = strstr(tags, "c=simple") ? SL_DKIM_SIMPLE : SL_DKIM_RELAXED;
	int simple_body = strstr(tags, "/simple") || strstr(tags, "c=simple;") || !strstr(tags, "c=");

	assert_int_equal(sl_dkim_body_hash(body, strlen(body),
					   SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	sl_b64_encode(bh64, simple_body ? bh.simple : bh.relaxed, 32);
	snprintf(field, sizeof(field), "DKIM-Signature: %s bh=%s; b=", tags, bh64);
	if (sl_dkim_sign_field(key, hc, hlist, headers, strlen(headers), field, strlen(field), b64,
			       sizeof(b64), &err) < 0)
		fail_msg("sign_field: %s", err.msg);
	msg = malloc(strlen(field) + strlen(b64) + strlen(headers) + strlen(body) + 8);
	sprintf(msg, "%s%s\r\n%s\r\n%s", field, b64, headers, body);
	return msg;
}

static struct sl_dkim_result check(const char *msg, const char *name, const char *record)
{
	struct dns_entry dns[2] = { { name, record }, { NULL, NULL } };
	size_t n = 0;
	struct sl_dkim_result r = verify_first(msg, dns, NOW, &n);

	assert_int_equal(n, 1);
	return r;
}

static void expect(const char *msg, const char *record, enum sl_dkim_status st,
		   const char *reason_part)
{
	struct sl_dkim_result r = check(msg, "s1._domainkey.example.com", record);

	if (r.status != st || !strstr(r.reason, reason_part))
		fail_msg("expected %s (%s), got %s (%s)", sl_dkim_status_name(st), reason_part,
			 sl_dkim_status_name(r.status), r.reason);
}

#define RSA_TAGS "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1; h=from:to;"
#define ED_TAGS "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=s1; h=from:to;"

static char *record(const char *fmt, const char *p)
{
	static char buf[4][1200];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), fmt, p);
	return b;
}

/* ---- key record ---- */

static void good_rsa_passes(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, record("v=DKIM1; k=rsa; p=%s", rsa_p), SL_DKIM_PASS, "good signature");
	/* k= defaults to rsa. */
	expect(msg, record("p=%s", rsa_p), SL_DKIM_PASS, "good signature");
	free(msg);
}

static void revoked_key(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, "v=DKIM1; k=rsa; p=", SL_DKIM_PERMERROR, "revoked");
	expect(msg, "v=DKIM1; p= ; t=y", SL_DKIM_PERMERROR, "revoked");
	free(msg);
}

static void key_type_mismatch(void **state)
{
	char *ed = craft(ed_key, ED_TAGS, "from:to", HEADERS, BODY);
	char *rsa = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(ed, record("v=DKIM1; k=rsa; p=%s", ed_p), SL_DKIM_PERMERROR, "k=");
	/* Ed25519 needs k=ed25519; the rsa default does not apply. */
	expect(ed, record("v=DKIM1; p=%s", ed_p), SL_DKIM_PERMERROR, "k=");
	expect(rsa, record("v=DKIM1; k=ed25519; p=%s", rsa_p), SL_DKIM_PERMERROR, "k=");
	expect(ed, record("v=DKIM1; k=ed25519; p=%s", ed_p), SL_DKIM_PASS, "good");
	free(ed);
	free(rsa);
}

static void key_hash_list(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, record("v=DKIM1; h=sha1; p=%s", rsa_p), SL_DKIM_PERMERROR, "sha256");
	expect(msg, record("v=DKIM1; h=sha1:sha256; p=%s", rsa_p), SL_DKIM_PASS, "good");
	expect(msg, record("v=DKIM1; h=sha256 ; p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(msg);
}

static void key_service_type(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, record("v=DKIM1; s=tlsrpt; p=%s", rsa_p), SL_DKIM_PERMERROR, "s=");
	expect(msg, record("v=DKIM1; s=email; p=%s", rsa_p), SL_DKIM_PASS, "good");
	expect(msg, record("v=DKIM1; s=*; p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(msg);
}

static void key_version(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, record("v=DKIM2; p=%s", rsa_p), SL_DKIM_PERMERROR, "DKIM1");
	free(msg);
}

/* t=s: the i= domain must be d= itself, not a subdomain. */
static void strict_flag_subdomain(void **state)
{
	char *sub = craft(rsa_key, RSA_TAGS " i=user@mail.example.com;", "from:to", HEADERS, BODY);
	char *same = craft(rsa_key, RSA_TAGS " i=user@example.com;", "from:to", HEADERS, BODY);

	(void)state;
	expect(sub, record("v=DKIM1; t=s; p=%s", rsa_p), SL_DKIM_PERMERROR, "t=s");
	expect(sub, record("v=DKIM1; t=y:s; p=%s", rsa_p), SL_DKIM_PERMERROR, "t=s");
	expect(sub, record("v=DKIM1; t=y; p=%s", rsa_p), SL_DKIM_PASS, "good");
	expect(same, record("v=DKIM1; t=s; p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(sub);
	free(same);
}

static void rsa_under_1024_rejected(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	struct sl_dkim_key key = { .pkey = small, .type = SL_DKIM_KEY_RSA, .bits = 768,
				   .id = UINT64_MAX };
	char p[512], *msg;
	uint8_t *der = NULL;
	int n;

	(void)state;
	assert_non_null(small);
	n = i2d_PUBKEY(small, &der);
	assert_true(n > 0);
	sl_b64_encode(p, der, (size_t)n);
	OPENSSL_free(der);
	msg = craft(&key, RSA_TAGS, "from:to", HEADERS, BODY);
	expect(msg, record("v=DKIM1; p=%s", p), SL_DKIM_PERMERROR, "768 bits");
	free(msg);
	EVP_PKEY_free(small);
}

static void invalid_key_data(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);
	char *ed = craft(ed_key, ED_TAGS, "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, "v=DKIM1; p=AAAA", SL_DKIM_PERMERROR, "not a valid RSA");
	expect(msg, "v=DKIM1; p=!!!", SL_DKIM_PERMERROR, "base64");
	expect(ed, "v=DKIM1; k=ed25519; p=AAAA", SL_DKIM_PERMERROR, "not 32");
	expect(msg, "v=DKIM1; k=rsa", SL_DKIM_PERMERROR, "no p=");
	expect(msg, "v=DKIM1; k=rsa; k=rsa; p=x", SL_DKIM_PERMERROR, "duplicate");
	free(msg);
	free(ed);
}

/* A bare PKCS#1 RSAPublicKey in p= is accepted as well as SPKI. */
static void pkcs1_public_key(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);
	uint8_t *der = NULL;
	char p[512];
	int n = i2d_PublicKey(rsa_key->pkey, &der);

	(void)state;
	assert_true(n > 0);
	sl_b64_encode(p, der, (size_t)n);
	OPENSSL_free(der);
	expect(msg, record("v=DKIM1; p=%s", p), SL_DKIM_PASS, "good");
	free(msg);
}

/* ---- DNS ---- */

static void dns_failures(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);
	struct sl_dkim_result r;

	(void)state;
	r = check(msg, "other._domainkey.example.com", "p=x");
	assert_int_equal(r.status, SL_DKIM_PERMERROR);
	assert_non_null(strstr(r.reason, "no key record"));
	r = check(msg, "s1._domainkey.example.com", NULL);
	assert_int_equal(r.status, SL_DKIM_TEMPERROR);
	free(msg);
}

/* ---- signature tags ---- */

static void expiry(void **state)
{
	char *expired = craft(rsa_key, RSA_TAGS " t=1759990000; x=1759999999;", "from:to", HEADERS,
			      BODY);
	char *valid = craft(rsa_key, RSA_TAGS " t=1759990000; x=1760000001;", "from:to", HEADERS,
			    BODY);
	char *reversed = craft(rsa_key, RSA_TAGS " t=1760000500; x=1760000400;", "from:to",
			       HEADERS, BODY);

	(void)state;
	expect(expired, record("p=%s", rsa_p), SL_DKIM_PERMERROR, "expired");
	expect(valid, record("p=%s", rsa_p), SL_DKIM_PASS, "good");
	expect(reversed, record("p=%s", rsa_p), SL_DKIM_PERMERROR, "before t=");
	free(expired);
	free(valid);
	free(reversed);
}

/* An x= beyond the int64 range is far in the future, not in the past. */
static void expiry_huge_value(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS " x=9999999999999999999;", "from:to", HEADERS, BODY);

	(void)state;
	expect(msg, record("p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(msg);
}

static void long_selector_rejected(void **state)
{
	char tags[512], sel[200], *msg;

	(void)state;
	memset(sel, 's', sizeof(sel) - 1);
	sel[sizeof(sel) - 1] = '\0';
	snprintf(tags, sizeof(tags), "v=1; a=rsa-sha256; d=example.com; s=%s; h=from;", sel);
	msg = craft(rsa_key, tags, "from", HEADERS, BODY);
	expect(msg, record("p=%s", rsa_p), SL_DKIM_PERMERROR, "too long");
	free(msg);
}

static void identity_rules(void **state)
{
	char *outside = craft(rsa_key, RSA_TAGS " i=u@example.org;", "from:to", HEADERS, BODY);
	char *suffix = craft(rsa_key, RSA_TAGS " i=u@badexample.com;", "from:to", HEADERS, BODY);
	char *sub = craft(rsa_key, RSA_TAGS " i=@a.b.example.com;", "from:to", HEADERS, BODY);

	(void)state;
	expect(outside, record("p=%s", rsa_p), SL_DKIM_PERMERROR, "i=");
	expect(suffix, record("p=%s", rsa_p), SL_DKIM_PERMERROR, "i=");
	expect(sub, record("p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(outside);
	free(suffix);
	free(sub);
}

static void signature_tag_errors(void **state)
{
	static const struct {
		const char *tags;
		const char *reason;
	} cases[] = {
		{ "v=1; a=rsa-sha256; d=example.com; s=s1; h=to;", "From" },
		{ "v=2; a=rsa-sha256; d=example.com; s=s1; h=from;", "v=" },
		{ "a=rsa-sha256; d=example.com; s=s1; h=from;", "v=" },
		{ "v=1; a=rsa-sha1; d=example.com; s=s1; h=from;", "rsa-sha1" },
		{ "v=1; a=rsa-md5; d=example.com; s=s1; h=from;", "unknown algorithm" },
		{ "v=1; a=rsa-sha256; s=s1; h=from;", "required tag" },
		{ "v=1; a=rsa-sha256; d=example.com; h=from;", "required tag" },
		{ "v=1; a=rsa-sha256; d=example.com; s=s1;", "required tag" },
		{ "v=1; a=rsa-sha256; d=example.com; d=example.com; s=s1; h=from;", "duplicate" },
		{ "v=1; a=rsa-sha256; c=fancy/simple; d=example.com; s=s1; h=from;", "c=" },
		{ "v=1; a=rsa-sha256; q=http; d=example.com; s=s1; h=from;", "q=" },
		{ "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; t=12x;", "t=" },
		{ "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; l=-1;", "l=" },
		{ "v=1; 9a=x; a=rsa-sha256; d=example.com; s=s1; h=from;", "tag name" },
		{ "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; junk;", "'='" },
		{ "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; i=nobody;", "'@'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *msg = craft(rsa_key, cases[i].tags, "from", HEADERS, BODY);

		expect(msg, record("p=%s", rsa_p), SL_DKIM_PERMERROR, cases[i].reason);
		free(msg);
	}
}

static void tampering_fails(void **state)
{
	char *msg = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY), *p;

	(void)state;
	p = strstr(msg, "Body line.");
	p[0] = 'b';
	expect(msg, record("p=%s", rsa_p), SL_DKIM_FAIL, "body hash");
	p[0] = 'B';
	p = strstr(msg, "To: b@");
	p[4] = 'c';
	expect(msg, record("p=%s", rsa_p), SL_DKIM_FAIL, "did not verify");
	p[4] = 'b';
	/* Subject is not in h=, so it may change. */
	p = strstr(msg, "Subject: test");
	p[9] = 'T';
	expect(msg, record("p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(msg);
}

static void body_length_tag(void **state)
{
	char *msg;

	(void)state;
	/* l=0 covers none of the body, so appended text still passes. */
	msg = craft(rsa_key, RSA_TAGS " l=0;", "from:to", HEADERS, "");
	msg = realloc(msg, strlen(msg) + 32);
	strcat(msg, "appended\r\n");
	expect(msg, record("p=%s", rsa_p), SL_DKIM_PASS, "good");
	free(msg);
	msg = craft(rsa_key, RSA_TAGS " l=99999;", "from:to", HEADERS, BODY);
	expect(msg, record("p=%s", rsa_p), SL_DKIM_PERMERROR, "l=");
	free(msg);
}

/* ---- b= removal ---- */

/* b= not last: only its value is removed, the tags after it stay signed. */
static void b_removed_in_middle(void **state)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	char field[1024], bh64[48], b64[400], msg[4096];

	(void)state;
	assert_int_equal(sl_dkim_body_hash(BODY, strlen(BODY), SL_DKIM_BODY_SIMPLE, &bh, &err), 0);
	sl_b64_encode(bh64, bh.simple, 32);

	/* The field as signed: b= empty, tags after it. */
	snprintf(field, sizeof(field),
		 "DKIM-Signature: v=1; a=ed25519-sha256; b=; c=simple/simple; d=example.com;\r\n"
		 "\ts=s1; h=from:to; bh=%s; x=1760000999", bh64);
	assert_int_equal(sl_dkim_sign_field(ed_key, SL_DKIM_SIMPLE, "from:to", HEADERS,
					    strlen(HEADERS), field, strlen(field), b64, sizeof(b64),
					    &err), 0);

	/* The message: the value after "b=" is folded, and the fold goes with it. */
	snprintf(msg, sizeof(msg),
		 "DKIM-Signature: v=1; a=ed25519-sha256; b=%.40s\r\n\t %s; c=simple/simple; "
		 "d=example.com;\r\n\ts=s1; h=from:to; bh=%s; x=1760000999\r\n%s\r\n%s",
		 b64, b64 + 40, bh64, HEADERS, BODY);
	expect(msg, record("v=DKIM1; k=ed25519; p=%s", ed_p), SL_DKIM_PASS, "good");

	/* The same without the folding inside b= verifies. */
	snprintf(msg, sizeof(msg),
		 "DKIM-Signature: v=1; a=ed25519-sha256; b=%s; c=simple/simple; d=example.com;\r\n"
		 "\ts=s1; h=from:to; bh=%s; x=1760000999\r\n%s\r\n%s",
		 b64, bh64, HEADERS, BODY);
	expect(msg, record("v=DKIM1; k=ed25519; p=%s", ed_p), SL_DKIM_PASS, "good");

	/* Changing a tag after b= breaks the signature. */
	snprintf(msg, sizeof(msg),
		 "DKIM-Signature: v=1; a=ed25519-sha256; b=%s; c=simple/simple; d=example.com;\r\n"
		 "\ts=s1; h=from:to; bh=%s; x=1760000998\r\n%s\r\n%s",
		 b64, bh64, HEADERS, BODY);
	expect(msg, record("v=DKIM1; k=ed25519; p=%s", ed_p), SL_DKIM_FAIL, "did not verify");
}

/* "b=" inside bh= and header values is not mistaken for the b= tag. */
static void b_lookalikes_untouched(void **state)
{
	char *msg = craft(ed_key,
			  "v=1; a=ed25519-sha256; c=simple/simple; d=example.com; s=s1; "
			  "h=from:subject; z=From:b=1|Subject:b=2;",
			  "from:subject", "From: b=a@example.com\r\nSubject: sub b=x;\r\n", BODY);

	(void)state;
	expect(msg, record("v=DKIM1; k=ed25519; p=%s", ed_p), SL_DKIM_PASS, "good");
	free(msg);
}

/* A second signature's b= does not affect the first. */
static void two_signatures_independent(void **state)
{
	char *one = craft(ed_key, ED_TAGS, "from:to", HEADERS, BODY);
	char *two = craft(rsa_key, RSA_TAGS, "from:to", HEADERS, BODY);
	char *both = malloc(strlen(one) + strlen(two));
	struct dns_entry dns[2] = { { "s1._domainkey.example.com", NULL }, { NULL, NULL } };
	struct sl_dkim_result r[4];
	struct sl_dkim_err err;
	const char *end = strstr(two, "\r\nFrom:");
	size_t n;

	(void)state;
	/* Put the RSA field on top of the Ed25519 message. */
	sprintf(both, "%.*s\r\n%s", (int)(end - two), two, one);
	dns[0].txt = record("v=DKIM1; k=ed25519; p=%s", ed_p);
	assert_int_equal(sl_dkim_verify(both, strlen(both), dns_table, dns, NOW, r, 4, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].status, SL_DKIM_PERMERROR);
	assert_int_equal(r[1].status, SL_DKIM_PASS);
	free(one);
	free(two);
	free(both);
}

static void no_signature(void **state)
{
	struct sl_dkim_result r[2];
	struct sl_dkim_err err;
	size_t n = 7;

	(void)state;
	assert_int_equal(sl_dkim_verify(HEADERS "\r\n" BODY, strlen(HEADERS "\r\n" BODY), dns_table,
					NULL, NOW, r, 2, &n, &err), 0);
	assert_int_equal(n, 0);
}

/* ---- key loading ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void key_load_errors(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *msg;
	} cases[] = {
		{ "", -EINVAL, "no PEM BEGIN" },
		{ "hello\n", -EINVAL, "no PEM BEGIN" },
		{ "-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n", -EINVAL, "line 2: PEM block has no END" },
		{ "-----BEGIN PRIVATE KEY-----\nMC4C*QAw\n-----END PRIVATE KEY-----\n", -EINVAL,
		  "line 2: invalid character" },
		{ "\n\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", -EPROTO,
		  "malformed private key" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
		  -ENOTSUP, "line 1: encrypted" },
		{ "x\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", -EINVAL,
		  "line 2: this is a public key" },
		{ "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n", -ENOTSUP,
		  "line 1: unsupported PEM type" },
	};
	struct sl_dkim_key *key;
	struct sl_dkim_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = sl_dkim_key_load_mem(cases[i].text, strlen(cases[i].text), &key, &err);

		if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: expected %d \"%s\", got %d \"%s\"", i, cases[i].rc,
				 cases[i].msg, rc, err.msg);
		assert_null(key);
	}
}

static void key_wrong_type(void **state)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	struct sl_dkim_key *key;
	struct sl_dkim_err err;
	char *pem;
	long len;

	(void)state;
	assert_non_null(ec);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
	len = BIO_get_mem_data(bio, &pem);
	assert_int_equal(sl_dkim_key_load_mem(pem, (size_t)len, &key, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "key type EC is not supported"));
	BIO_free(bio);
	EVP_PKEY_free(ec);
}

static void key_rsa_too_small(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	BIO *bio = BIO_new(BIO_s_mem());
	struct sl_dkim_key *key;
	struct sl_dkim_err err;
	char *pem;
	long len;

	(void)state;
	assert_int_equal(PEM_write_bio_PrivateKey(bio, small, NULL, NULL, 0, NULL, NULL), 1);
	len = BIO_get_mem_data(bio, &pem);
	assert_int_equal(sl_dkim_key_load_mem(pem, (size_t)len, &key, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "768 bits"));
	BIO_free(bio);
	EVP_PKEY_free(small);
	assert_int_equal(sl_dkim_key_generate(SL_DKIM_KEY_RSA, 512, &key, &err), -ERANGE);
	assert_int_equal(sl_dkim_key_generate(SL_DKIM_KEY_RSA, 8192, &key, &err), -ERANGE);
}

/* Write as PKCS#8 (mode 0600), read back as PKCS#8 and as PKCS#1. */
static void key_write_and_reload(void **state)
{
	char dir[] = "/tmp/sluice-dkim-key.XXXXXX", path[64], pkcs1[64];
	struct sl_dkim_key *key = NULL;
	struct sl_dkim_err err;
	struct stat sb;
	char rec1[1024], rec2[1024];
	BIO *bio;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	snprintf(pkcs1, sizeof(pkcs1), "%s/k1.pem", dir);
	assert_int_equal(sl_dkim_key_write_pem(rsa_key, path, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* An existing file is never overwritten. */
	assert_true(sl_dkim_key_write_pem(rsa_key, path, &err) < 0);
	assert_non_null(strstr(err.msg, path));

	assert_int_equal(sl_dkim_key_load_file(path, &key, &err), 0);
	assert_int_equal(sl_dkim_key_bits(key), 1024);
	assert_int_equal(sl_dkim_key_dns_record(key, rec1, sizeof(rec1), &err) > 0, 1);
	assert_int_equal(sl_dkim_key_dns_record(rsa_key, rec2, sizeof(rec2), &err) > 0, 1);
	assert_string_equal(rec1, rec2);
	sl_dkim_key_free(key);

	/* PKCS#1 "RSA PRIVATE KEY". */
	f = fopen(pkcs1, "w");
	assert_non_null(f);
	bio = BIO_new_fp(f, BIO_NOCLOSE);
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, rsa_key->pkey, NULL, NULL, 0,
							      NULL, NULL), 1);
	BIO_free(bio);
	fclose(f);
	assert_int_equal(sl_dkim_key_load_file(pkcs1, &key, &err), 0);
	assert_int_equal(sl_dkim_key_type(key), SL_DKIM_KEY_RSA);
	sl_dkim_key_free(key);

	/* Missing file and malformed file name the path. */
	unlink(path);
	assert_int_equal(sl_dkim_key_load_file(path, &key, &err), -ENOENT);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(write_file(path, "garbage\n"), 0);
	assert_int_equal(sl_dkim_key_load_file(path, &key, &err), -EINVAL);
	assert_non_null(strstr(err.msg, path));
	unlink(path);
	unlink(pkcs1);
	rmdir(dir);
}

static void dns_record_buffer_small(void **state)
{
	struct sl_dkim_err err;
	char small[40];

	(void)state;
	assert_int_equal(sl_dkim_key_dns_record(rsa_key, small, sizeof(small), &err), -ENOSPC);
	assert_string_equal(sl_dkim_key_algorithm(ed_key), "ed25519-sha256");
}

/* ---- message checks ---- */

static void message_checks(void **state)
{
	static const struct {
		const char *msg;
		size_t line;
		const char *reason;
	} cases[] = {
		{ "From: a\r\nno colon here\r\n\r\nbody\r\n", 2, "no colon" },
		{ "From: a\nTo: b\nbroken\n", 3, "no colon" },
		{ " starts folded\r\n", 1, "continuation" },
		{ "From: a\r\n: empty name\r\n", 2, "name" },
		{ "From: a\r\n\r\nline\r\nnul\0here\r\n", 4, "NUL" },
	};
	struct sl_dkim_err err;
	size_t i, line, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].msg);
		if (i == 4)
			len = 27;
		assert_int_equal(sl_dkim_check_message((const uint8_t *)cases[i].msg, len, &line,
						       &err), -EINVAL);
		assert_int_equal(line, cases[i].line);
		if (!strstr(err.msg, cases[i].reason))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].reason);
	}
	assert_int_equal(sl_dkim_check_message((const uint8_t *)"From: a\r\n", 9, &line, &err), 0);
	/* The body may contain lines without a colon. */
	assert_int_equal(sl_dkim_check_message((const uint8_t *)"From: a\n\nno colon\n", 18, &line,
					       &err), 0);
}

static void message_long_line(void **state)
{
	char msg[2100];
	struct sl_dkim_err err;
	size_t line;

	(void)state;
	strcpy(msg, "From: a\r\nSubject: ");
	memset(msg + 18, 'x', 998 - 9);
	strcpy(msg + 18 + 989, "\r\n\r\n");
	/* "Subject: " plus 989 is exactly 998 octets: allowed. */
	assert_int_equal(sl_dkim_check_message((const uint8_t *)msg, strlen(msg), &line, &err), 0);
	strcpy(msg + 18 + 989, "y\r\n\r\n");
	assert_int_equal(sl_dkim_check_message((const uint8_t *)msg, strlen(msg), &line, &err),
			 -EINVAL);
	assert_int_equal(line, 2);
	assert_non_null(strstr(err.msg, "999 octets"));
}

static void header_end_cases(void **state)
{
	size_t body;

	(void)state;
	assert_int_equal(sl_dkim_header_end((const uint8_t *)"A: b\r\n\r\nx", 9, &body), 6);
	assert_int_equal(body, 8);
	assert_int_equal(sl_dkim_header_end((const uint8_t *)"A: b\n\nx", 7, &body), 5);
	assert_int_equal(body, 6);
	assert_int_equal(sl_dkim_header_end((const uint8_t *)"A: b\r\n", 6, &body), 6);
	assert_int_equal(body, 6);
	assert_int_equal(sl_dkim_header_end((const uint8_t *)"\r\nbody", 6, &body), 0);
	assert_int_equal(body, 2);
}

/* ---- robustness ---- */

/* Random edits of a signed message and random key records never crash. */
static void random_malformed_input(void **state)
{
	static const char pool[] = "=;: \t\r\nabvhdsp1/+\0";
	char *base = craft(rsa_key, RSA_TAGS " i=@example.com; t=1; x=9999999999;", "from:to",
			   HEADERS, BODY);
	size_t len = strlen(base);
	char *msg = malloc(len + 64), rec[1200];
	unsigned seed = 4242;
	int round;

	(void)state;
	for (round = 0; round < 4000; round++) {
		struct dns_entry dns[2] = { { "s1._domainkey.example.com", rec }, { NULL, NULL } };
		struct sl_dkim_result r[4];
		struct sl_dkim_err err;
		size_t n, mlen = len, k, edits = 1 + (size_t)(rand_r(&seed) % 6);

		memcpy(msg, base, len);
		for (k = 0; k < edits; k++) {
			size_t at = (size_t)rand_r(&seed) % mlen;

			switch (rand_r(&seed) % 3) {
			case 0:
				msg[at] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
				break;
			case 1:
				mlen = at + 1;
				break;
			default:
				if (mlen + 1 < len + 64) {
					memmove(msg + at + 1, msg + at, mlen - at);
					msg[at] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
					mlen++;
				}
			}
		}
		snprintf(rec, sizeof(rec), "v=DKIM1; p=%s", rsa_p);
		if (round % 2) {
			size_t rl = strlen(rec), at = (size_t)rand_r(&seed) % rl;

			rec[at] = pool[rand_r(&seed) % (sizeof(pool) - 2)];
			if (rand_r(&seed) % 4 == 0)
				rec[at] = '\0';
		}
		n = 0;
		(void)sl_dkim_verify(msg, mlen, dns_table, dns, NOW, r, 4, &n, &err);
		(void)sl_dkim_check_message((const uint8_t *)msg, mlen, NULL, &err);
	}
	free(msg);
	free(base);
}

static void random_key_text(void **state)
{
	static const char pool[] = "-BEGIN PRIVATE KEY END\nAZaz09+/=\r";
	char text[300];
	unsigned seed = 99;
	int round;

	(void)state;
	for (round = 0; round < 2000; round++) {
		struct sl_dkim_key *key = NULL;
		struct sl_dkim_err err;
		size_t len = (size_t)(rand_r(&seed) % sizeof(text)), i;

		for (i = 0; i < len; i++)
			text[i] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
		if (round % 3 == 0 && len > 40) {
			memcpy(text, "-----BEGIN PRIVATE KEY-----\n", 28);
			memcpy(text + len - 12, "\n-----END P", 11);
		}
		if (sl_dkim_key_load_mem(text, len, &key, &err) == 0)
			sl_dkim_key_free(key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_rsa_passes),
		cmocka_unit_test(revoked_key),
		cmocka_unit_test(key_type_mismatch),
		cmocka_unit_test(key_hash_list),
		cmocka_unit_test(key_service_type),
		cmocka_unit_test(key_version),
		cmocka_unit_test(strict_flag_subdomain),
		cmocka_unit_test(rsa_under_1024_rejected),
		cmocka_unit_test(invalid_key_data),
		cmocka_unit_test(pkcs1_public_key),
		cmocka_unit_test(dns_failures),
		cmocka_unit_test(expiry),
		cmocka_unit_test(expiry_huge_value),
		cmocka_unit_test(long_selector_rejected),
		cmocka_unit_test(identity_rules),
		cmocka_unit_test(signature_tag_errors),
		cmocka_unit_test(tampering_fails),
		cmocka_unit_test(body_length_tag),
		cmocka_unit_test(b_removed_in_middle),
		cmocka_unit_test(b_lookalikes_untouched),
		cmocka_unit_test(two_signatures_independent),
		cmocka_unit_test(no_signature),
		cmocka_unit_test(key_load_errors),
		cmocka_unit_test(key_wrong_type),
		cmocka_unit_test(key_rsa_too_small),
		cmocka_unit_test(key_write_and_reload),
		cmocka_unit_test(dns_record_buffer_small),
		cmocka_unit_test(message_checks),
		cmocka_unit_test(message_long_line),
		cmocka_unit_test(header_end_cases),
		cmocka_unit_test(random_malformed_input),
		cmocka_unit_test(random_key_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
