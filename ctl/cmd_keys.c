/*
 * ctl/cmd_keys.c - "sluicectl keys": the DKIM key store of sluice-ctld.
 * Private keys never pass through here except on import, where the PEM
 * file is read and sent to sluice-ctld once, and the copy is wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ctl/ctl_client.h"
#include "ctl/sluicectl.h"

static int usage(bool help)
{
	fprintf(help ? stdout : stderr,
		"usage: sluicectl keys list [DOMAIN]\n"
		"       sluicectl keys generate DOMAIN SELECTOR [--algorithm rsa|ed25519] [--bits N]\n"
		"       sluicectl keys import DOMAIN SELECTOR --file KEY.pem\n"
		"       sluicectl keys rotate DOMAIN [--selector S] [--algorithm A] [--bits N] [--now]\n"
		"       sluicectl keys rotate DOMAIN --switch\n"
		"       sluicectl keys retire DOMAIN SELECTOR\n"
		"       sluicectl keys dns [DOMAIN [SELECTOR]]\n"
		"  generate  a new active key (RSA 1024 to 4096 bits, default 2048, or Ed25519)\n"
		"  rotate    a new pending key whose DNS record to publish now; it starts signing\n"
		"            after the configured overlap, at once with --now, or on --switch\n"
		"  retire    stop using a key and delete its private key\n"
		"  dns       the TXT records to publish\n" SL_CTL_COMMON_HELP);
	return help ? SL_CTL_EXIT_OK : SL_CTL_EXIT_USAGE;
}

static void print_dns(json_t *key)
{
	json_t *dns = json_object_get(key, "dns");

	if (!dns)
		return;
	printf("%s IN TXT \"%s\"", json_string_value(json_object_get(dns, "name")),
	       json_string_value(json_object_get(dns, "value")));
	if (strcmp(json_string_value(json_object_get(key, "state")), "retired") == 0)
		printf("   ; retired: empty p= revokes the key");
	printf("\n");
}

static void print_keys(json_t *keys, bool dns)
{
	json_t *k;
	size_t i;

	if (dns) {
		json_array_foreach(keys, i, k)
			print_dns(k);
		return;
	}
	printf("%-30s %-16s %-8s %5s %-21s %-9s %s\n", "domain", "selector", "alg", "bits", "created", "state",
	       "switch/retire at");
	json_array_foreach(keys, i, k) {
		char created[32], at[32];
		json_t *when = json_object_get(k, "activate_at") ?: json_object_get(k, "retire_at");

		printf("%-30s %-16s %-8s %5lld %-21s %-9s %s\n", json_string_value(json_object_get(k, "domain")),
		       json_string_value(json_object_get(k, "selector")),
		       json_string_value(json_object_get(k, "algorithm")),
		       json_integer_value(json_object_get(k, "bits")),
		       sl_ctl_time(json_integer_value(json_object_get(k, "created")), created, sizeof(created)),
		       json_string_value(json_object_get(k, "state")),
		       sl_ctl_time(json_integer_value(when), at, sizeof(at)));
	}
}

/* Reads a PEM file into a JSON string and wipes the local copy. */
static json_t *read_pem(const char *path)
{
	char buf[16384];
	size_t n;
	FILE *f = fopen(path, "re");
	json_t *out;

	if (!f) {
		fprintf(stderr, "sluicectl: open(%s) failed: %s\n", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n == 0 || n == sizeof(buf) - 1) {
		fprintf(stderr, "sluicectl: %s: expected a PEM private key of under 16 KiB\n", path);
		OPENSSL_cleanse(buf, sizeof(buf));
		return NULL;
	}
	out = json_stringn(buf, n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

/* Parses the options after the positional arguments into ARGS. */
static int parse_flags(int argc, char **argv, int first, const char *sub, json_t *args)
{
	bool bad = false;
	int i;

	for (i = first; i < argc && !bad; i++) {
		const char *v;
		char *end;

		if ((v = sl_ctl_flag(argc, argv, &i, "--algorithm", &bad))) {
			json_object_set_new(args, "algorithm", json_string(v));
		} else if (!bad && (v = sl_ctl_flag(argc, argv, &i, "--bits", &bad))) {
			long bits = strtol(v, &end, 10);

			if (*end || bits <= 0) {
				fprintf(stderr, "sluicectl: --bits \"%s\": expected a number of bits (1024 to 4096)\n", v);
				return SL_CTL_EXIT_USAGE;
			}
			json_object_set_new(args, "bits", json_integer(bits));
		} else if (!bad && strcmp(sub, "rotate") == 0 && (v = sl_ctl_flag(argc, argv, &i, "--selector", &bad))) {
			json_object_set_new(args, "selector", json_string(v));
		} else if (!bad && strcmp(sub, "rotate") == 0 && strcmp(argv[i], "--now") == 0) {
			json_object_set_new(args, "now", json_true());
		} else if (!bad && strcmp(sub, "rotate") == 0 && strcmp(argv[i], "--switch") == 0) {
			json_object_set_new(args, "switch", json_true());
		} else if (!bad && strcmp(sub, "import") == 0 && (v = sl_ctl_flag(argc, argv, &i, "--file", &bad))) {
			json_t *pem = read_pem(v);

			if (!pem)
				return SL_CTL_EXIT_FAIL;
			json_object_set_new(args, "pem", pem);
		} else {
			if (!bad)
				fprintf(stderr, "sluicectl: unexpected argument \"%s\" for keys %s\n", argv[i], sub);
			return SL_CTL_EXIT_USAGE;
		}
	}
	return bad ? SL_CTL_EXIT_USAGE : 0;
}

struct keys_sub {
	const char *name;
	int min_pos, max_pos;	/* positional arguments after the subcommand */
	const char *command;
	const char *pos_names[2];
};

static const struct keys_sub subs[] = {
	{ "list", 0, 1, "keys.list", { "domain", NULL } },
	{ "generate", 2, 2, "keys.generate", { "domain", "selector" } },
	{ "import", 2, 2, "keys.import", { "domain", "selector" } },
	{ "rotate", 1, 1, "keys.rotate", { "domain", NULL } },
	{ "retire", 2, 2, "keys.retire", { "domain", "selector" } },
	{ "dns", 0, 2, "keys.dns", { "domain", "selector" } },
};

int sl_ctl_cmd_keys(int argc, char **argv)
{
	struct sl_ctl_opts opts = { 0 };
	const struct keys_sub *sub = NULL;
	json_t *args, *result, *key;
	int i, npos = 0, rc = sl_ctl_options(&argc, argv, &opts);

	if (rc)
		return rc;
	if (opts.help || argc < 2)
		return usage(opts.help);
	for (i = 0; i < (int)(sizeof(subs) / sizeof(subs[0])); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			sub = &subs[i];
	if (!sub) {
		fprintf(stderr, "sluicectl: unknown keys command \"%s\": allowed are list, generate, import, rotate, retire, dns\n",
			argv[1]);
		return SL_CTL_EXIT_USAGE;
	}
	args = json_object();
	while (2 + npos < argc && argv[2 + npos][0] != '-' && npos < sub->max_pos) {
		json_object_set_new(args, sub->pos_names[npos], json_string(argv[2 + npos]));
		npos++;
	}
	if (npos < sub->min_pos || (rc = parse_flags(argc, argv, 2 + npos, sub->name, args))) {
		json_decref(args);
		return rc ? rc : usage(false);
	}
	if (strcmp(sub->name, "import") == 0 && !json_object_get(args, "pem")) {
		fprintf(stderr, "sluicectl: keys import needs --file KEY.pem\n");
		json_decref(args);
		return SL_CTL_EXIT_USAGE;
	}
	rc = sl_ctl_call(&opts, sub->command, args, &result);
	if (rc)
		return rc;
	if (opts.json) {
		sl_ctl_print_json(result);
	} else if ((key = json_object_get(result, "key"))) {
		json_t *one = json_pack("[O]", key);

		print_keys(one, false);
		json_decref(one);
		if (strcmp(sub->name, "retire") != 0 || json_object_get(key, "dns")) {
			printf("\npublish:\n");
			print_dns(key);
		}
	} else {
		print_keys(json_object_get(result, "keys"), strcmp(sub->name, "dns") == 0);
	}
	json_decref(result);
	return SL_CTL_EXIT_OK;
}
