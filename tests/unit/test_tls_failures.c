/*
 * Unit tests for dataplane/tls_failures: the hosts whose STARTTLS failed
 * recently (lookup by address and port, expiry, the bound on entries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/tls_failures.h"

static socklen_t v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	return sizeof(*s);
}

static socklen_t v6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
	return sizeof(*s);
}

#define SA(ss) ((const struct sockaddr *)(ss))

static void found_by_address_and_port(void **state)
{
	struct sl_tls_failures *t = sl_tls_failures_new(16, 1000);
	struct sockaddr_storage a, b, c, d;
	socklen_t la = v4(&a, "192.0.2.1", 25), lb = v4(&b, "192.0.2.1", 587);
	socklen_t lc = v4(&c, "192.0.2.2", 25), ld = v6(&d, "2001:db8::1", 25);
	char why[64];

	(void)state;
	assert_non_null(t);
	sl_tls_failures_note(t, SA(&a), la, "TLS handshake failed: unsupported protocol", 100);
	sl_tls_failures_note(t, SA(&d), ld, "v6 failure", 100);
	assert_true(sl_tls_failures_find(t, SA(&a), la, 200, why, sizeof(why)));
	assert_string_equal(why, "TLS handshake failed: unsupported protocol");
	assert_false(sl_tls_failures_find(t, SA(&b), lb, 200, why, sizeof(why)));
	assert_false(sl_tls_failures_find(t, SA(&c), lc, 200, why, sizeof(why)));
	assert_true(sl_tls_failures_find(t, SA(&d), ld, 200, NULL, 0));
	assert_int_equal(sl_tls_failures_count(t), 2);
	sl_tls_failures_free(t);
}

static void entries_expire(void **state)
{
	struct sl_tls_failures *t = sl_tls_failures_new(16, 1000);
	struct sockaddr_storage a;
	socklen_t la = v4(&a, "192.0.2.1", 25);

	(void)state;
	sl_tls_failures_note(t, SA(&a), la, "first", 100);
	assert_true(sl_tls_failures_find(t, SA(&a), la, 1099, NULL, 0));
	/* ttl_ms after the failure, TLS is tried again. */
	assert_false(sl_tls_failures_find(t, SA(&a), la, 1100, NULL, 0));
	assert_int_equal(sl_tls_failures_count(t), 0);

	/* A new failure starts a new period and replaces the reason. */
	sl_tls_failures_note(t, SA(&a), la, "first", 2000);
	sl_tls_failures_note(t, SA(&a), la, "second", 2500);
	assert_int_equal(sl_tls_failures_count(t), 1);
	char why[16];

	assert_true(sl_tls_failures_find(t, SA(&a), la, 3400, why, sizeof(why)));
	assert_string_equal(why, "second");
	assert_false(sl_tls_failures_find(t, SA(&a), la, 3500, NULL, 0));
	sl_tls_failures_free(t);
}

static void zero_ttl_remembers_nothing(void **state)
{
	struct sl_tls_failures *t = sl_tls_failures_new(4, 0);
	struct sockaddr_storage a;
	socklen_t la = v4(&a, "192.0.2.1", 25);

	(void)state;
	sl_tls_failures_note(t, SA(&a), la, "x", 100);
	assert_false(sl_tls_failures_find(t, SA(&a), la, 100, NULL, 0));
	assert_int_equal(sl_tls_failures_count(t), 0);
	assert_null(sl_tls_failures_new(0, 1000));
	sl_tls_failures_free(t);
}

/* A full table drops expired entries first, then the one that expires
 * soonest, and never contains more than max_hosts. */
static void bounded(void **state)
{
	enum { MAX = 8 };
	struct sl_tls_failures *t = sl_tls_failures_new(MAX, 10000);
	struct sockaddr_storage a;
	socklen_t la;
	char ip[32];

	(void)state;
	for (int i = 0; i < MAX; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		la = v4(&a, ip, 25);
		sl_tls_failures_note(t, SA(&a), la, ip, 1000 + (uint64_t)i);
	}
	assert_int_equal(sl_tls_failures_count(t), MAX);

	/* Full and nothing expired: the oldest (.0) makes room. */
	la = v4(&a, "203.0.113.1", 25);
	sl_tls_failures_note(t, SA(&a), la, "new", 2000);
	assert_int_equal(sl_tls_failures_count(t), MAX);
	assert_true(sl_tls_failures_find(t, SA(&a), la, 2001, NULL, 0));
	la = v4(&a, "198.51.100.0", 25);
	assert_false(sl_tls_failures_find(t, SA(&a), la, 2001, NULL, 0));
	for (int i = 1; i < MAX; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		la = v4(&a, ip, 25);
		assert_true(sl_tls_failures_find(t, SA(&a), la, 2001, NULL, 0));
	}

	/* Later every old entry has expired: one insertion drops them all. */
	la = v4(&a, "203.0.113.2", 25);
	sl_tls_failures_note(t, SA(&a), la, "late", 11500);
	la = v4(&a, "203.0.113.3", 25);
	sl_tls_failures_note(t, SA(&a), la, "late", 11500);
	assert_true(sl_tls_failures_count(t) <= MAX);
	for (int i = 0; i < 400; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 200, i % 200);
		la = v4(&a, ip, (uint16_t)(25 + i % 3));
		sl_tls_failures_note(t, SA(&a), la, ip, 20000 + (uint64_t)i);
		assert_true(sl_tls_failures_count(t) <= MAX);
	}
	/* The MAX most recent ones are all still found. */
	for (int i = 400 - MAX; i < 400; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 200, i % 200);
		la = v4(&a, ip, (uint16_t)(25 + i % 3));
		assert_true(sl_tls_failures_find(t, SA(&a), la, 20400, NULL, 0));
	}
	sl_tls_failures_free(t);
}

/* Many hosts in a large table: deletions inside probe runs keep every
 * other entry reachable. */
static void deletions_keep_entries_reachable(void **state)
{
	enum { N = 2000 };
	struct sl_tls_failures *t = sl_tls_failures_new(N, 1000);
	struct sockaddr_storage a;
	socklen_t la;
	char ip[32];

	(void)state;
	/* Even hosts fail at time 0 (expire at 1000), odd ones at 500. */
	for (int i = 0; i < N; i++) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
		la = v4(&a, ip, 25);
		sl_tls_failures_note(t, SA(&a), la, ip, i % 2 ? 500 : 0);
	}
	assert_int_equal(sl_tls_failures_count(t), N);
	/* At 1000 the even ones are expired; looking them up deletes them. */
	for (int i = 0; i < N; i += 2) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
		la = v4(&a, ip, 25);
		assert_false(sl_tls_failures_find(t, SA(&a), la, 1000, NULL, 0));
	}
	assert_int_equal(sl_tls_failures_count(t), N / 2);
	for (int i = 1; i < N; i += 2) {
		char why[32];

		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
		la = v4(&a, ip, 25);
		assert_true(sl_tls_failures_find(t, SA(&a), la, 1000, why, sizeof(why)));
		assert_string_equal(why, ip);
	}
	sl_tls_failures_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(found_by_address_and_port),
		cmocka_unit_test(entries_expire),
		cmocka_unit_test(zero_ttl_remembers_nothing),
		cmocka_unit_test(bounded),
		cmocka_unit_test(deletions_keep_entries_reachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
