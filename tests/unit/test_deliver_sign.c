/*
 * Unit tests for dataplane/deliver_sign: batch signing at send time,
 * verified with the DKIM engine's verifier, and isolation of a domain
 * whose key is unavailable.
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
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "crypto/dkim.h"
#include "dataplane/deliver_sign.h"

static char dir[] = "/tmp/sluice-sign-test.XXXXXX";
static char records[3][1024];

static int dns_lookup(void *arg, const char *name, char *txt, size_t cap)
{
	int i = -1;

	(void)arg;
	if (strcmp(name, "rsa._domainkey.a.test") == 0)
		i = 0;
	else if (strcmp(name, "ed._domainkey.a.test") == 0)
		i = 1;
	else if (strcmp(name, "s1._domainkey.b.test") == 0)
		i = 2;
	if (i < 0)
		return -ENOENT;
	snprintf(txt, cap, "%s", records[i]);
	return (int)strlen(txt);
}

static void make_key(enum sl_dkim_keytype type, const char *file, int record)
{
	struct sl_dkim_key *key;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_int_equal(sl_dkim_key_generate(type, 2048, &key, NULL), 0);
	assert_int_equal(sl_dkim_key_write_pem(key, path, NULL), 0);
	assert_true(sl_dkim_key_dns_record(key, records[record], sizeof(records[record]), NULL) > 0);
	sl_dkim_key_free(key);
}

static const char msg_a[] = "From: News <news@A.test>\r\nTo: r@x.test\r\nSubject: hi\r\n"
			    "\r\nhello\r\n";
static const char msg_b[] = "From: b@b.test\r\nTo: r@x.test\r\nSubject: b\r\n\r\nbody b\r\n";
static const char msg_c[] = "From: c@broken.test\r\nSubject: c\r\n\r\nc\r\n";
static const char msg_d[] = "From: d@unsigned.test\r\nSubject: d\r\n\r\nd\r\n";

struct prepared {
	struct sl_sign_item item;
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out;
	const char *msg;
};

static void prepare(struct prepared *p, const char *msg)
{
	size_t body;
	size_t hend = sl_dkim_header_end((const uint8_t *)msg, strlen(msg), &body);

	memset(p, 0, sizeof(*p));
	p->msg = msg;
	assert_int_equal(sl_dkim_body_hash(msg + body, strlen(msg) - body, SL_DKIM_BODY_RELAXED,
					   &p->bh, NULL), 0);
	p->item.headers = msg;
	p->item.hlen = hend;
	p->item.bh = &p->bh;
	p->item.out = &p->out;
}

static void verify_signed(struct prepared *p, unsigned expected, int64_t now)
{
	struct sl_dkim_result res[4];
	size_t count = 0, len = p->out.len + strlen(p->msg);
	char *whole = malloc(len + 1);

	memcpy(whole, p->out.data, p->out.len);
	memcpy(whole + p->out.len, p->msg, strlen(p->msg));
	assert_int_equal(sl_dkim_verify(whole, len, dns_lookup, NULL, now, res, 4, &count, NULL), 0);
	assert_int_equal(count, expected);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(res[i].status, SL_DKIM_PASS);
	free(whole);
}

static void batch_signs_per_domain(void **s)
{
	char lines[4][512];
	const char *v[4];
	char err[256];
	struct prepared p[4];
	int64_t now = (int64_t)time(NULL);

	(void)s;
	assert_non_null(mkdtemp(dir));
	make_key(SL_DKIM_KEY_RSA, "a-rsa.pem", 0);
	make_key(SL_DKIM_KEY_ED25519, "a-ed.pem", 1);
	make_key(SL_DKIM_KEY_RSA, "b.pem", 2);
	snprintf(lines[0], sizeof(lines[0]), "a.test rsa %s/a-rsa.pem", dir);
	snprintf(lines[1], sizeof(lines[1]), "a.test ed %s/a-ed.pem", dir);
	snprintf(lines[2], sizeof(lines[2]), "b.test s1 %s/b.pem", dir);
	snprintf(lines[3], sizeof(lines[3]), "broken.test s1 %s/missing.pem", dir);
	for (int i = 0; i < 4; i++)
		v[i] = lines[i];

	struct sl_sign_table *t = sl_sign_table_load(v, 4, 3600, err, sizeof(err));

	assert_non_null(t);
	struct sl_sign_batch *b = sl_sign_batch_new(t);

	prepare(&p[0], msg_a);
	prepare(&p[1], msg_c);
	prepare(&p[2], msg_b);
	prepare(&p[3], msg_d);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sl_sign_batch_add(b, &p[i].item), 0);
	sl_sign_batch_run(b, now);
	assert_int_equal(sl_sign_batch_size(b), 0);

	assert_int_equal(p[0].item.rc, 0);
	assert_int_equal(p[0].item.signatures, 2);
	assert_string_equal(p[0].item.selectors[0], "s=rsa d=a.test");
	assert_string_equal(p[0].item.selectors[1], "s=ed d=a.test");
	assert_non_null(strstr(p[0].out.data, "x="));
	verify_signed(&p[0], 2, now);

	assert_int_equal(p[1].item.rc, -EAGAIN);
	assert_non_null(strstr(p[1].item.error, "broken.test"));

	assert_int_equal(p[2].item.rc, 0);
	assert_int_equal(p[2].item.signatures, 1);
	verify_signed(&p[2], 1, now);

	assert_int_equal(p[3].item.rc, 0);
	assert_int_equal(p[3].item.signatures, 0);
	assert_int_equal(p[3].out.len, 0);

	/* A retry signs again with a later time; the old x= is gone. */
	sl_sign_batch_add(b, &p[0].item);
	sl_sign_batch_run(b, now + 7200);
	verify_signed(&p[0], 2, now + 7200);

	for (int i = 0; i < 4; i++)
		sl_dkim_out_free(&p[i].out);
	sl_sign_batch_free(b);
	sl_sign_table_free(t);
	sl_dkim_thread_cleanup();
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void from_domain_forms(void **s)
{
	char d[256];

	(void)s;
	assert_int_equal(sl_sign_from_domain("Subject: x\r\nFROM: \"A, B\" <a@Ex.test>\r\n", 40, d,
					     sizeof(d)), 0);
	assert_string_equal(d, "ex.test");
	assert_int_equal(sl_sign_from_domain("From:\r\n a@fold.test\r\n", 22, d, sizeof(d)), 0);
	assert_string_equal(d, "fold.test");
	assert_int_equal(sl_sign_from_domain("To: a@b\r\n", 9, d, sizeof(d)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_signs_per_domain),
		cmocka_unit_test(from_domain_forms),
	};

	sl_log_init("test", SL_LOG_ERR + 0);
	sl_log_level = -1;   /* the missing key's error line is expected */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
