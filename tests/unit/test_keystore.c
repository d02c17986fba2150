/*
 * Unit tests for ctl/keystore: file modes, generate and import, listing,
 * rotation with overlap and retirement, DNS records and name checks.
 * Keys are RSA-1024 or Ed25519 to keep the test fast.
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
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/keystore.h"

#define NOW 1800000000

struct fixture {
	char dir[64];
	struct sl_keystore ks;
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char base[] = "/tmp/sluice-keystore-test.XXXXXX";

	if (!f || !mkdtemp(base))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/keys", base);
	if (sl_keystore_open(&f->ks, f->dir, f->err, sizeof(f->err)) != 0)
		return -1;
	f->ks.overlap_s = 3600;
	f->ks.retire_after_s = 7 * 86400;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	/* The folder is below /tmp and was made by setup(). */
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(f->dir) - 5), f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void generate_sets_modes(void **state)
{
	struct fixture *f = *state;
	struct sl_key_spec rsa = { "rsa", 1024 };
	struct sl_key_entry k;
	char path[512];

	assert_int_equal(mode_of(f->dir), 0700);
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "s1", rsa, NOW, &k, f->err, sizeof(f->err)), 0);
	assert_string_equal(k.algorithm, "rsa");
	assert_int_equal(k.bits, 1024);
	assert_int_equal(k.state, SL_KEY_ACTIVE);
	assert_int_equal(k.created, NOW);
	snprintf(path, sizeof(path), "%s/example.com", f->dir);
	assert_int_equal(mode_of(path), 0700);
	sl_keystore_key_path(&f->ks, "example.com", "s1", path, sizeof(path));
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/example.com/s1.meta", f->dir);
	assert_int_equal(mode_of(path), 0600);
}

static void generate_checks_arguments(void **state)
{
	struct fixture *f = *state;
	struct sl_key_spec rsa = { "rsa", 1024 }, big = { "rsa", 8192 }, dsa = { "dsa", 1024 };

	assert_int_equal(sl_keystore_generate(&f->ks, "../etc", "s1", rsa, NOW, NULL, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "domain \"../etc\": invalid"));
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "a/b", rsa, NOW, NULL, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "selector \"a/b\": invalid"));
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "s1", big, NOW, NULL, f->err, sizeof(f->err)), -ERANGE);
	assert_non_null(strstr(f->err, "1024 to 4096"));
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "s1", dsa, NOW, NULL, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "allowed values are rsa, ed25519"));
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "s1", rsa, NOW, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "s1", rsa, NOW, NULL, f->err, sizeof(f->err)), -EEXIST);
}

static void import_and_list(void **state)
{
	struct fixture *f = *state;
	struct sl_key_spec ed = { "ed25519", 0 };
	struct sl_key_entry k, *keys;
	char path[512], pem[4096];
	size_t n;
	FILE *in;

	assert_int_equal(sl_keystore_generate(&f->ks, "b.example", "ed1", ed, NOW, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(k.bits, 256);
	/* Import a copy of that key's PEM under another domain. */
	sl_keystore_key_path(&f->ks, "b.example", "ed1", path, sizeof(path));
	in = fopen(path, "r");
	assert_non_null(in);
	n = fread(pem, 1, sizeof(pem), in);
	fclose(in);
	assert_int_equal(sl_keystore_import(&f->ks, "a.example", "imp", pem, n, NOW + 1, &k, f->err, sizeof(f->err)), 0);
	assert_string_equal(k.algorithm, "ed25519");
	assert_int_equal(sl_keystore_import(&f->ks, "a.example", "bad", "not a key", 9, NOW, NULL, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "pem: not a usable private key"));

	assert_int_equal(sl_keystore_list(&f->ks, &keys, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0].domain, "a.example");
	assert_string_equal(keys[0].selector, "imp");
	assert_int_equal(keys[0].created, NOW + 1);
	assert_string_equal(keys[1].domain, "b.example");
	free(keys);
}

static void rotate_with_overlap(void **state)
{
	struct fixture *f = *state;
	struct sl_key_spec rsa = { "rsa", 1024 }, same = { NULL, 0 };
	struct sl_key_entry k, old, fresh;
	char dns[SL_KEY_DNS_MAX], path[512];

	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "old", rsa, NOW, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(sl_keystore_rotate(&f->ks, "example.com", NULL, same, false, NOW + 60, &k, f->err, sizeof(f->err)), 0);
	/* 1800000060 is 2027-01-15 08:01:00 UTC. */
	assert_string_equal(k.selector, "s202701150801");
	assert_int_equal(k.state, SL_KEY_PENDING);
	assert_int_equal(k.bits, 1024);
	assert_int_equal(k.activate_at, NOW + 60 + 3600);

	/* Before the overlap ends nothing changes. */
	assert_int_equal(sl_keystore_tick(&f->ks, NOW + 120), 0);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "old", &old, f->err, sizeof(f->err)), 0);
	assert_int_equal(old.state, SL_KEY_ACTIVE);

	/* After it, the new key signs and the old one is retiring. */
	assert_int_equal(sl_keystore_tick(&f->ks, NOW + 3700), 1);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", k.selector, &fresh, f->err, sizeof(f->err)), 0);
	assert_int_equal(fresh.state, SL_KEY_ACTIVE);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "old", &old, f->err, sizeof(f->err)), 0);
	assert_int_equal(old.state, SL_KEY_RETIRING);
	assert_int_equal(old.retire_at, NOW + 3700 + 7 * 86400);
	assert_int_equal(sl_keystore_dns(&f->ks, &old, dns, sizeof(dns), f->err, sizeof(f->err)), 0);
	assert_true(strncmp(dns, "v=DKIM1; k=rsa; p=MI", 20) == 0);

	/* A week later it is retired and its private key is gone. */
	assert_int_equal(sl_keystore_tick(&f->ks, NOW + 3700 + 7 * 86400), 1);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "old", &old, f->err, sizeof(f->err)), 0);
	assert_int_equal(old.state, SL_KEY_RETIRED);
	sl_keystore_key_path(&f->ks, "example.com", "old", path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(sl_keystore_dns(&f->ks, &old, dns, sizeof(dns), f->err, sizeof(f->err)), 0);
	assert_string_equal(dns, "v=DKIM1; k=rsa; p=");
}

static void rotate_on_command(void **state)
{
	struct fixture *f = *state;
	struct sl_key_spec rsa = { "rsa", 1024 }, ed = { "ed25519", 0 }, same = { NULL, 0 };
	struct sl_key_entry k, e;

	assert_int_equal(sl_keystore_rotate(&f->ks, "none.example", NULL, same, false, NOW, NULL, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "no active key to rotate"));
	assert_int_equal(sl_keystore_switch(&f->ks, "example.com", NOW, f->err, sizeof(f->err)), -ENOENT);

	/* Dual signing: an RSA and an Ed25519 key, both active. */
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "r1", rsa, NOW, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(sl_keystore_generate(&f->ks, "example.com", "e1", ed, NOW, NULL, f->err, sizeof(f->err)), 0);
	/* With two algorithms active, rotate needs an explicit algorithm. */
	assert_int_equal(sl_keystore_rotate(&f->ks, "example.com", "x", same, false, NOW, NULL, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "algorithm: missing"));
	/* Rotating the Ed25519 key leaves the RSA key active. */
	assert_int_equal(sl_keystore_rotate(&f->ks, "example.com", "e2", ed, false, NOW, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(sl_keystore_switch(&f->ks, "example.com", NOW + 5, f->err, sizeof(f->err)), 0);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "e2", &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e.state, SL_KEY_ACTIVE);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "e1", &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e.state, SL_KEY_RETIRING);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "r1", &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e.state, SL_KEY_ACTIVE);

	/* --now switches at creation. */
	assert_int_equal(sl_keystore_rotate(&f->ks, "example.com", "r2", rsa, true, NOW + 9, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(k.state, SL_KEY_ACTIVE);
	assert_int_equal(sl_keystore_find(&f->ks, "example.com", "r1", &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e.state, SL_KEY_RETIRING);

	/* Explicit retire, twice. */
	assert_int_equal(sl_keystore_retire(&f->ks, "example.com", "r1", NOW + 10, f->err, sizeof(f->err)), 0);
	assert_int_equal(sl_keystore_retire(&f->ks, "example.com", "r1", NOW + 10, f->err, sizeof(f->err)), -EALREADY);
	assert_int_equal(sl_keystore_retire(&f->ks, "example.com", "nope", NOW + 10, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "not found"));
}

static void dns_name_rules(void **state)
{
	(void)state;
	assert_true(sl_dns_name_valid("example.com", SL_DOMAIN_MAX));
	assert_true(sl_dns_name_valid("s2026-01", SL_SELECTOR_MAX));
	assert_false(sl_dns_name_valid("", SL_DOMAIN_MAX));
	assert_false(sl_dns_name_valid("a..b", SL_DOMAIN_MAX));
	assert_false(sl_dns_name_valid(".a", SL_DOMAIN_MAX));
	assert_false(sl_dns_name_valid("a/b", SL_DOMAIN_MAX));
	assert_false(sl_dns_name_valid("a b", SL_DOMAIN_MAX));
	assert_false(sl_dns_name_valid("-a", SL_DOMAIN_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(generate_sets_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(generate_checks_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(import_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(rotate_with_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(rotate_on_command, setup, teardown),
		cmocka_unit_test(dns_name_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
