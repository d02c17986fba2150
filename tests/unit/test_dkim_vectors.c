/*
 * Unit tests with the published DKIM examples.
 *
 * RFC 8463 Appendix A: an Ed25519 key and an RSA key, their DNS records
 * and one message signed with both (relaxed/relaxed). Both signatures must
 * verify, and signing the same field text with the same keys must give
 * the published b= values byte for byte (Ed25519 and RSA PKCS#1 v1.5
 * signatures are deterministic).
 *
 * RFC 6376 Appendix A and C: the example message, its signature and the
 * 1024-bit RSA key pair. The signature text used here (b= starting
 * "AuUoFEfD") verifies with the Appendix C key (dkimpy 1.1.4 agrees), and
 * re-signing the same field text gives the same b= byte for byte. It also
 * covers simple/simple, a Received field folded over three lines and an
 * i= in a subdomain of d=.
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
#include "crypto/internal.h"
#include "tests/unit/dkim_testlib.h"

/* ---- RFC 8463 Appendix A ---- */

/* A.1: the Ed25519 secret key is this 32-byte seed, here as PKCS#8 PEM. */
static const char rfc8463_ed25519_seed_b64[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

static const char rfc8463_rsa_pem[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
	"Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
	"KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
	"AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
	"6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
	"zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
	"6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
	"uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
	"WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
	"WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
	"licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
	"o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
	"uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
	"-----END RSA PRIVATE KEY-----\n";

/* A.2 */
static const struct dns_entry rfc8463_dns[] = {
	{ "brisbane._domainkey.football.example.com",
	  "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" },
	{ "test._domainkey.football.example.com",
	  "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
	  "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM"
	  "3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB" },
	{ NULL, NULL },
};

#define RFC8463_ED_FIELD                                                  \
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"   \
	" d=football.example.com; i=@football.example.com;\r\n"           \
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"         \
	" subject : date : message-id : from : subject : date;\r\n"       \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"           \
	" b="
#define RFC8463_ED_B                                                      \
	"/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"        \
	"Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="
#define RFC8463_RSA_FIELD                                                 \
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"       \
	" d=football.example.com; i=@football.example.com;\r\n"           \
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"   \
	" date : message-id : from : subject : date;\r\n"                 \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"           \
	" b="
#define RFC8463_RSA_B                                                     \
	"F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3"        \
	"DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz"      \
	"dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8="

#define RFC8463_HEADERS                                                   \
	"From: Joe SixPack <joe@football.example.com>\r\n"                \
	"To: Suzie Q <suzie@shopping.example.net>\r\n"                    \
	"Subject: Is dinner ready?\r\n"                                   \
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                 \
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define RFC8463_BODY                                                      \
	"Hi.\r\n"                                                         \
	"\r\n"                                                            \
	"We lost the game.  Are you hungry yet?\r\n"                      \
	"\r\n"                                                            \
	"Joe.\r\n"

/* A.3, with the b= values folded as published. */
static const char rfc8463_message[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	RFC8463_HEADERS
	"\r\n"
	RFC8463_BODY;

#define RFC8463_TIME 1528637909

/* PKCS#8 PEM of an Ed25519 seed: fixed DER prefix, then the 32 bytes. */
static struct sl_dkim_key *ed25519_from_seed(const char *seed_b64)
{
	static const uint8_t prefix[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
					    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
	uint8_t der[48];
	char b64[80], pem[200];
	struct sl_dkim_key *key = NULL;
	struct sl_dkim_err err;

	memcpy(der, prefix, 16);
	assert_int_equal(sl_b64_decode(der + 16, 32, seed_b64, strlen(seed_b64)), 32);
	sl_b64_encode(b64, der, 48);
	snprintf(pem, sizeof(pem), "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n",
		 b64);
	if (sl_dkim_key_load_mem(pem, strlen(pem), &key, &err) != 0)
		fail_msg("load Ed25519 key: %s", err.msg);
	return key;
}

static void rfc8463_both_signatures_verify(void **state)
{
	struct sl_dkim_result r[4];
	struct sl_dkim_err err;
	size_t n = 0;

	(void)state;
	assert_int_equal(sl_dkim_verify(rfc8463_message, strlen(rfc8463_message), dns_table,
					(void *)rfc8463_dns, RFC8463_TIME + 60, r, 4, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].algorithm, "ed25519-sha256");
	assert_string_equal(r[0].reason, "good signature");
	assert_int_equal(r[0].status, SL_DKIM_PASS);
	assert_string_equal(r[1].algorithm, "rsa-sha256");
	assert_string_equal(r[1].reason, "good signature");
	assert_int_equal(r[1].status, SL_DKIM_PASS);
	assert_string_equal(r[0].domain, "football.example.com");
	assert_string_equal(r[0].selector, "brisbane");
}

static void rfc8463_ed25519_exact_b(void **state)
{
	static const char field[] = RFC8463_ED_FIELD;
	struct sl_dkim_key *key = ed25519_from_seed(rfc8463_ed25519_seed_b64);
	struct sl_dkim_err err;
	char b64[200];

	(void)state;
	assert_int_equal(sl_dkim_sign_field(key, SL_DKIM_RELAXED,
					    "from : to : subject : date : message-id : from : "
					    "subject : date",
					    RFC8463_HEADERS, strlen(RFC8463_HEADERS), field,
					    strlen(field), b64, sizeof(b64), &err), 0);
	assert_string_equal(b64, RFC8463_ED_B);
	sl_dkim_key_free(key);
}

static void rfc8463_rsa_exact_b(void **state)
{
	static const char field[] = RFC8463_RSA_FIELD;
	struct sl_dkim_key *key = NULL;
	struct sl_dkim_err err;
	char b64[400];

	(void)state;
	assert_int_equal(sl_dkim_key_load_mem(rfc8463_rsa_pem, strlen(rfc8463_rsa_pem), &key,
					      &err), 0);
	assert_int_equal(sl_dkim_key_type(key), SL_DKIM_KEY_RSA);
	assert_int_equal(sl_dkim_key_bits(key), 1024);
	assert_int_equal(sl_dkim_sign_field(key, SL_DKIM_RELAXED,
					    "from:to:subject:date:message-id:from:subject:date",
					    RFC8463_HEADERS, strlen(RFC8463_HEADERS), field,
					    strlen(field), b64, sizeof(b64), &err), 0);
	assert_string_equal(b64, RFC8463_RSA_B);
	sl_dkim_key_free(key);
}

static void rfc8463_body_hash(void **state)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	char b64[48];

	(void)state;
	assert_int_equal(sl_dkim_body_hash(RFC8463_BODY, strlen(RFC8463_BODY),
					   SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	sl_b64_encode(b64, bh.relaxed, 32);
	assert_string_equal(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
}

static void rfc8463_public_key_record(void **state)
{
	struct sl_dkim_key *key = ed25519_from_seed(rfc8463_ed25519_seed_b64);
	struct sl_dkim_err err;
	char rec[200];

	(void)state;
	assert_int_equal(sl_dkim_key_type(key), SL_DKIM_KEY_ED25519);
	assert_true(sl_dkim_key_dns_record(key, rec, sizeof(rec), &err) > 0);
	assert_string_equal(rec, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	sl_dkim_key_free(key);
}

/* sluice's own field layout with the RFC 8463 keys verifies too. */
static void rfc8463_keys_sign_and_verify(void **state)
{
	struct sl_dkim_key *ed = ed25519_from_seed(rfc8463_ed25519_seed_b64), *rsa = NULL;
	struct sl_dkim_signer s[2];
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	struct sl_dkim_result r[4];
	struct sl_dkim_err err;
	char msg[4096];
	size_t n = 0;

	(void)state;
	assert_int_equal(sl_dkim_key_load_mem(rfc8463_rsa_pem, strlen(rfc8463_rsa_pem), &rsa,
					      &err), 0);
	memset(s, 0, sizeof(s));
	s[0] = (struct sl_dkim_signer){ .key = ed, .domain = "football.example.com",
					.selector = "brisbane", .header_canon = SL_DKIM_RELAXED,
					.body_canon = SL_DKIM_RELAXED };
	s[1] = s[0];
	s[1].key = rsa;
	s[1].selector = "test";
	assert_int_equal(sl_dkim_body_hash(RFC8463_BODY, strlen(RFC8463_BODY),
					   SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	assert_int_equal(sl_dkim_sign(s, 2, RFC8463_HEADERS, strlen(RFC8463_HEADERS), &bh,
				      RFC8463_TIME, &out, &err), 0);
	snprintf(msg, sizeof(msg), "%s%s\r\n%s", out.data, RFC8463_HEADERS, RFC8463_BODY);
	assert_int_equal(sl_dkim_verify(msg, strlen(msg), dns_table, (void *)rfc8463_dns,
					RFC8463_TIME, r, 4, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].status, SL_DKIM_PASS);
	assert_int_equal(r[1].status, SL_DKIM_PASS);
	assert_non_null(strstr(out.data, "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"));
	assert_non_null(strstr(out.data, "t=1528637909;"));
	sl_dkim_out_free(&out);
	sl_dkim_key_free(ed);
	sl_dkim_key_free(rsa);
}

/* ---- RFC 6376 Appendix A and C ---- */

static const char rfc6376_private_pem[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXwIBAAKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFC\n"
	"jxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gb\n"
	"to/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB\n"
	"AoGBALmn+XwWk7akvkUlqb+dOxyLB9i5VBVfje89Teolwc9YJT36BGN/l4e0l6QX\n"
	"/1//6DWUTB3KI6wFcm7TWJcxbS0tcKZX7FsJvUz1SbQnkS54DJck1EZO/BLa5ckJ\n"
	"gAYIaqlA9C0ZwM6i58lLlPadX/rtHb7pWzeNcZHjKrjM461ZAkEA+itss2nRlmyO\n"
	"n1/5yDyCluST4dQfO8kAB3toSEVc7DeFeDhnC1mZdjASZNvdHS4gbLIA1hUGEF9m\n"
	"3hKsGUMMPwJBAPW5v/U+AWTADFCS22t72NUurgzeAbzb1HWMqO4y4+9Hpjk5wvL/\n"
	"eVYizyuce3/fGke7aRYw/ADKygMJdW8H/OcCQQDz5OQb4j2QDpPZc0Nc4QlbvMsj\n"
	"7p7otWRO5xRa6SzXqqV3+F0VpqvDmshEBkoCydaYwc2o6WQ5EBmExeV8124XAkEA\n"
	"qZzGsIxVP+sEVRWZmW6KNFSdVUpk3qzK0Tz/WjQMe5z0UunY9Ax9/4PVhp/j61bf\n"
	"eAYXunajbBSOLlx4D+TunwJBANkPI5S9iylsbLs6NkaMHV6k5ioHBBmgCak95JGX\n"
	"GMot/L2x0IYyMLAz6oLWh2hm7zwtb0CgOrPo1ke44hFYnfc=\n"
	"-----END RSA PRIVATE KEY-----\n";

static const struct dns_entry rfc6376_dns[] = {
	{ "brisbane._domainkey.example.com",
	  "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn"
	  "7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fz"
	  "fVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB" },
	{ NULL, NULL },
};

#define RFC6376_FIELD                                                     \
	"DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n" \
	"      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n" \
	"      h=Received : From : To : Subject : Date : Message-ID;\r\n"   \
	"      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"        \
	"      b="
#define RFC6376_HEADERS                                                   \
	"Received: from client1.football.example.com  [192.0.2.1]\r\n"    \
	"      by submitserver.example.com with SUBMISSION;\r\n"          \
	"      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n"                 \
	"From: Joe SixPack <joe@football.example.com>\r\n"                \
	"To: Suzie Q <suzie@shopping.example.net>\r\n"                    \
	"Subject: Is dinner ready?\r\n"                                   \
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                 \
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define RFC6376_BODY                                                      \
	"Hi.\r\n"                                                         \
	"\r\n"                                                            \
	"We lost the game. Are you hungry yet?\r\n"                       \
	"\r\n"                                                            \
	"Joe.\r\n"

/* A.2 as published. */
static const char rfc6376_message[] =
	RFC6376_FIELD
	"AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n"
	"        4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n"
	"        KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n"
	"        4bmp/YzhwvcubU4=;\r\n"
	RFC6376_HEADERS
	"\r\n"
	RFC6376_BODY;

static void rfc6376_body_hash(void **state)
{
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err;
	char b64[48];

	(void)state;
	assert_int_equal(sl_dkim_body_hash(RFC6376_BODY, strlen(RFC6376_BODY),
					   SL_DKIM_BODY_SIMPLE | SL_DKIM_BODY_RELAXED, &bh, &err), 0);
	sl_b64_encode(b64, bh.simple, 32);
	assert_string_equal(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	/* Relaxed gives the same: no line of this body changes. */
	sl_b64_encode(b64, bh.relaxed, 32);
	assert_string_equal(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
}

/* The published A.2 signature verifies with the Appendix C key. */
static void rfc6376_published_signature_verifies(void **state)
{
	size_t n = 0;
	struct sl_dkim_result r = verify_first(rfc6376_message, rfc6376_dns, 1700000000, &n);

	(void)state;
	assert_int_equal(n, 1);
	assert_string_equal(r.domain, "example.com");
	assert_string_equal(r.selector, "brisbane");
	assert_string_equal(r.algorithm, "rsa-sha256");
	assert_string_equal(r.reason, "good signature");
	assert_int_equal(r.status, SL_DKIM_PASS);
}

/*
 * Re-signing the A.2 field text (its b= value empty, the ";" after it kept)
 * with the Appendix C key gives the published b= again.
 */
static void rfc6376_resigned_same_b(void **state)
{
	static const char field[] = RFC6376_FIELD ";";
	struct sl_dkim_key *key = NULL;
	struct sl_dkim_err err;
	char b64[400], msg[4096];
	size_t n = 0;
	struct sl_dkim_result r;

	(void)state;
	assert_int_equal(sl_dkim_key_load_mem(rfc6376_private_pem, strlen(rfc6376_private_pem),
					      &key, &err), 0);
	assert_int_equal(sl_dkim_sign_field(key, SL_DKIM_SIMPLE,
					    "Received : From : To : Subject : Date : Message-ID",
					    RFC6376_HEADERS, strlen(RFC6376_HEADERS), field,
					    strlen(field), b64, sizeof(b64), &err), 0);
	assert_string_equal(b64, "AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB"
				 "4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut"
				 "KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV"
				 "4bmp/YzhwvcubU4=");
	snprintf(msg, sizeof(msg), "%s%s;\r\n%s\r\n%s", RFC6376_FIELD, b64, RFC6376_HEADERS,
		 RFC6376_BODY);
	r = verify_first(msg, rfc6376_dns, 1700000000, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r.reason, "good signature");
	assert_int_equal(r.status, SL_DKIM_PASS);
	sl_dkim_key_free(key);
}

/* The Appendix C public key is the one derived from its private key. */
static void rfc6376_key_record(void **state)
{
	struct sl_dkim_key *key = NULL;
	struct sl_dkim_err err;
	char rec[400];

	(void)state;
	assert_int_equal(sl_dkim_key_load_mem(rfc6376_private_pem, strlen(rfc6376_private_pem),
					      &key, &err), 0);
	assert_true(sl_dkim_key_dns_record(key, rec, sizeof(rec), &err) > 0);
	assert_non_null(strstr(rfc6376_dns[0].txt, strstr(rec, "p=")));
	sl_dkim_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc8463_both_signatures_verify),
		cmocka_unit_test(rfc8463_ed25519_exact_b),
		cmocka_unit_test(rfc8463_rsa_exact_b),
		cmocka_unit_test(rfc8463_body_hash),
		cmocka_unit_test(rfc8463_public_key_record),
		cmocka_unit_test(rfc8463_keys_sign_and_verify),
		cmocka_unit_test(rfc6376_body_hash),
		cmocka_unit_test(rfc6376_published_signature_verifies),
		cmocka_unit_test(rfc6376_resigned_same_b),
		cmocka_unit_test(rfc6376_key_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
