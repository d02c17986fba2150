/*
 * ctl/cmd_dkim.c - "sluicectl dkim sign|verify|keygen", offline DKIM.
 *
 *   sign    reads a message on stdin, writes it to stdout with one
 *           DKIM-Signature field per --key in front, in CRLF line ends.
 *   verify  reads a message on stdin, prints one line per signature:
 *           "STATUS d=DOMAIN s=SELECTOR a=ALGORITHM: REASON".
 *   keygen  writes a new private key (mode 0600) and prints its DNS TXT
 *           record as "NAME TXT-VALUE", the line format --dns-file reads.
 *
 * Input files may use LF line ends; they are read as CRLF. Bad input (a
 * header line without a colon, a line over 998 octets, a NUL byte, an
 * unreadable or malformed key) exits 2 with a message naming the problem
 * and the line. verify exits 0 when at least one signature passes, 1
 * otherwise.
 *
 * verify without --dns-file queries the system resolver (res_query).
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/dkim.h"
#include "ctl/sluicectl.h"

#define MAX_KEYS 16
#define INPUT_MAX (1024UL * 1024 * 1024)

static void dkim_usage(FILE *out)
{
	fprintf(out,
		"usage:\n"
		"  sluicectl dkim sign --domain D --selector S --key FILE [--key FILE ...]\n"
		"                      [--expire SECONDS] [--identity I] [--headers LIST]\n"
		"                      [--canon simple|relaxed[/simple|relaxed]] < in > out\n"
		"      One signature per --key; a --domain or --selector before a --key\n"
		"      applies to that key and the ones after it. --expire sets x= to the\n"
		"      signing time plus SECONDS. --headers is a colon-separated h= list\n"
		"      used as given (default: the standard list, with From, To, Cc,\n"
		"      Subject and Date over-signed). --canon defaults to relaxed/relaxed.\n"
		"  sluicectl dkim verify [--dns-file FILE] < in\n"
		"      Prints one line per signature. FILE has lines \"NAME TXT-VALUE\".\n"
		"      Exit 0 when at least one signature passes, 1 otherwise.\n"
		"  sluicectl dkim keygen --algorithm rsa|ed25519 [--bits N] --domain D\n"
		"                        --selector S --out DIR\n"
		"      Writes DIR/S.D.pem (mode 0600, RSA default 2048 bits) and prints the\n"
		"      DNS record \"S._domainkey.D v=DKIM1; k=...; p=...\".\n");
}

/* ---- input ---- */

static int read_all(FILE *in, uint8_t **data, size_t *len)
{
	size_t cap = 65536, n = 0, got;
	uint8_t *buf = malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	while ((got = fread(buf + n, 1, cap - n, in)) > 0) {
		n += got;
		if (n == cap) {
			if (cap >= INPUT_MAX) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(in)) {
		free(buf);
		return -EIO;
	}
	*data = buf;
	*len = n;
	return 0;
}

/* Copy msg with every CRLF, bare LF and bare CR turned into CRLF. */
static uint8_t *to_crlf(const uint8_t *msg, size_t len, size_t *out_len)
{
	uint8_t *out = malloc(2 * len + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		if (msg[i] == '\r') {
			*o++ = '\r';
			*o++ = '\n';
			if (i + 1 < len && msg[i + 1] == '\n')
				i++;
		} else if (msg[i] == '\n') {
			*o++ = '\r';
			*o++ = '\n';
		} else {
			*o++ = msg[i];
		}
	}
	*out_len = (size_t)(o - out);
	return out;
}

static int read_message(uint8_t **msg, size_t *len, int check)
{
	struct sl_dkim_err err = { { 0 } };
	uint8_t *raw;
	size_t raw_len;
	int rc = read_all(stdin, &raw, &raw_len);

	if (rc) {
		fprintf(stderr, "sluicectl dkim: reading the message from stdin failed: %s\n",
			strerror(-rc));
		return SL_CTL_EXIT_USAGE;
	}
	if (check && sl_dkim_check_message(raw, raw_len, NULL, &err) < 0) {
		fprintf(stderr, "sluicectl dkim: invalid message on stdin: %s\n", err.msg);
		free(raw);
		return SL_CTL_EXIT_USAGE;
	}
	*msg = to_crlf(raw, raw_len, len);
	free(raw);
	if (!*msg) {
		fprintf(stderr, "sluicectl dkim: out of memory\n");
		return SL_CTL_EXIT_FAIL;
	}
	return SL_CTL_EXIT_OK;
}

/* ---- sign ---- */

static int parse_canon(const char *s, struct sl_dkim_signer *sg)
{
	const char *slash = strchr(s, '/');
	size_t hn = slash ? (size_t)(slash - s) : strlen(s);

	if (hn == 7 && strncmp(s, "relaxed", 7) == 0)
		sg->header_canon = SL_DKIM_RELAXED;
	else if (hn == 6 && strncmp(s, "simple", 6) == 0)
		sg->header_canon = SL_DKIM_SIMPLE;
	else
		return -1;
	sg->body_canon = SL_DKIM_SIMPLE;
	if (!slash)
		return 0;
	if (strcmp(slash + 1, "relaxed") == 0)
		sg->body_canon = SL_DKIM_RELAXED;
	else if (strcmp(slash + 1, "simple") != 0)
		return -1;
	return 0;
}

static int parse_seconds(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || end == s || n == 0 || n > UINT32_MAX || s[0] == '-')
		return -1;
	*v = (uint32_t)n;
	return 0;
}

struct sign_opts {
	struct sl_dkim_signer signers[MAX_KEYS];
	const char *key_paths[MAX_KEYS];
	struct sl_dkim_key *keys[MAX_KEYS];
	size_t n;
};

static int sign_parse(int argc, char **argv, struct sign_opts *o)
{
	static const struct option longopts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "expire", required_argument, NULL, 'x' },
		{ "identity", required_argument, NULL, 'i' },
		{ "headers", required_argument, NULL, 'H' },
		{ "canon", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_dkim_signer cur = { .header_canon = SL_DKIM_RELAXED,
				      .body_canon = SL_DKIM_RELAXED };
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': cur.domain = optarg; break;
		case 's': cur.selector = optarg; break;
		case 'i': cur.identity = optarg; break;
		case 'H': cur.headers = optarg; break;
		case 'x':
			if (parse_seconds(optarg, &cur.expire) < 0) {
				fprintf(stderr, "sluicectl dkim sign: invalid --expire \"%s\": "
					"give a positive number of seconds\n", optarg);
				return -1;
			}
			break;
		case 'c':
			if (parse_canon(optarg, &cur) < 0) {
				fprintf(stderr, "sluicectl dkim sign: invalid --canon \"%s\": use "
					"simple or relaxed, optionally /simple or /relaxed\n", optarg);
				return -1;
			}
			break;
		case 'k':
			if (o->n == MAX_KEYS) {
				fprintf(stderr, "sluicectl dkim sign: at most %d --key options\n",
					MAX_KEYS);
				return -1;
			}
			o->key_paths[o->n] = optarg;
			o->signers[o->n++] = cur;
			break;
		case 'h':
			dkim_usage(stdout);
			exit(SL_CTL_EXIT_OK);
		default:
			dkim_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluicectl dkim sign: unexpected argument \"%s\" (the message is read "
			"from stdin)\n", argv[optind]);
		return -1;
	}
	if (o->n == 0) {
		fprintf(stderr, "sluicectl dkim sign: missing --key\n");
		return -1;
	}
	/* Options given after the last --key apply to keys that lack them. */
	for (i = 0; i < o->n; i++) {
		struct sl_dkim_signer *s = &o->signers[i];

		if (!s->domain)
			s->domain = cur.domain;
		if (!s->selector)
			s->selector = cur.selector;
		if (!s->identity)
			s->identity = cur.identity;
		if (!s->headers)
			s->headers = cur.headers;
		if (!s->expire)
			s->expire = cur.expire;
		if (!s->domain || !s->selector) {
			fprintf(stderr, "sluicectl dkim sign: --key %s needs a --domain and a "
				"--selector\n", o->key_paths[i]);
			return -1;
		}
	}
	return 0;
}

static int sign_load_keys(struct sign_opts *o)
{
	struct sl_dkim_err err = { { 0 } };
	size_t i;

	for (i = 0; i < o->n; i++) {
		if (sl_dkim_key_load_file(o->key_paths[i], &o->keys[i], &err) < 0) {
			fprintf(stderr, "sluicectl dkim sign: invalid key: %s\n", err.msg);
			return -1;
		}
		o->signers[i].key = o->keys[i];
	}
	return 0;
}

static int write_all(const void *p, size_t n)
{
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int cmd_sign(int argc, char **argv)
{
	struct sign_opts o;
	struct sl_dkim_err err = { { 0 } };
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_out out = { 0 };
	uint8_t *msg = NULL;
	size_t len, hend, body, i;
	unsigned mask = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	if (sign_parse(argc, argv, &o) < 0)
		return SL_CTL_EXIT_USAGE;
	rc = SL_CTL_EXIT_USAGE;
	if (sign_load_keys(&o) < 0)
		goto out;
	rc = read_message(&msg, &len, 1);
	if (rc != SL_CTL_EXIT_OK)
		goto out;
	rc = SL_CTL_EXIT_USAGE;
	hend = sl_dkim_header_end(msg, len, &body);
	for (i = 0; i < o.n; i++)
		mask |= o.signers[i].body_canon == SL_DKIM_RELAXED ? SL_DKIM_BODY_RELAXED
								   : SL_DKIM_BODY_SIMPLE;
	if (sl_dkim_body_hash(msg + body, len - body, mask, &bh, &err) < 0 ||
	    sl_dkim_sign(o.signers, o.n, msg, hend, &bh, (int64_t)time(NULL), &out, &err) < 0) {
		fprintf(stderr, "sluicectl dkim sign: %s\n", err.msg);
		goto out;
	}
	if (write_all(out.data, out.len) < 0 || write_all(msg, len) < 0 || fflush(stdout)) {
		fprintf(stderr, "sluicectl dkim sign: writing to stdout failed: %s\n",
			strerror(errno));
		rc = SL_CTL_EXIT_FAIL;
		goto out;
	}
	rc = SL_CTL_EXIT_OK;
out:
	for (i = 0; i < o.n; i++)
		sl_dkim_key_free(o.keys[i]);
	sl_dkim_out_free(&out);
	sl_dkim_thread_cleanup();
	free(msg);
	return rc;
}

/* ---- verify ---- */

struct dns_file {
	char *text;
	size_t len;
};

/* Strip a trailing dot and compare names case-insensitively. */
static int name_eq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);

	if (an && a[an - 1] == '.')
		an--;
	if (bn && b[bn - 1] == '.')
		bn--;
	return an == bn && strncasecmp(a, b, an) == 0;
}

/* Value of one line: quoted strings concatenated, or the rest as is. */
static int dns_value(const char *p, const char *eol, char *txt, size_t cap)
{
	size_t n = 0;

	if (!memchr(p, '"', (size_t)(eol - p))) {
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		while (eol > p && (eol[-1] == ' ' || eol[-1] == '\t' || eol[-1] == '\r'))
			eol--;
		if ((size_t)(eol - p) >= cap)
			return -EMSGSIZE;
		memcpy(txt, p, (size_t)(eol - p));
		return (int)(eol - p);
	}
	while ((p = memchr(p, '"', (size_t)(eol - p))) != NULL) {
		const char *q = memchr(p + 1, '"', (size_t)(eol - p - 1));

		if (!q)
			return -EINVAL;
		if (n + (size_t)(q - p - 1) >= cap)
			return -EMSGSIZE;
		memcpy(txt + n, p + 1, (size_t)(q - p - 1));
		n += (size_t)(q - p - 1);
		p = q + 1;
	}
	return (int)n;
}

static int dns_from_file(void *arg, const char *name, char *txt, size_t cap)
{
	const struct dns_file *df = arg;
	const char *p = df->text, *end = df->text + df->len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *q = p;

		if (!eol)
			eol = end;
		while (q < eol && *q != ' ' && *q != '\t')
			q++;
		if (q > p && *p != '#' && name_eq(p, (size_t)(q - p), name))
			return dns_value(q, eol, txt, cap);
		p = eol < end ? eol + 1 : end;
	}
	return -ENOENT;
}

static int dns_from_resolver(void *arg, const char *name, char *txt, size_t cap)
{
	unsigned char answer[NS_MAXMSG];
	ns_msg handle;
	ns_rr rr;
	int len, i;
	size_t n = 0;

	(void)arg;
	len = res_query(name, ns_c_in, ns_t_txt, answer, sizeof(answer));
	if (len < 0)
		return h_errno == HOST_NOT_FOUND || h_errno == NO_DATA ? -ENOENT : -EAGAIN;
	if (ns_initparse(answer, len, &handle) < 0)
		return -EAGAIN;
	for (i = 0; i < ns_msg_count(handle, ns_s_an); i++) {
		const unsigned char *rd, *rend;

		if (ns_parserr(&handle, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt)
			continue;
		rd = ns_rr_rdata(rr);
		rend = rd + ns_rr_rdlen(rr);
		while (rd < rend) {
			size_t sl = *rd++;

			if (sl > (size_t)(rend - rd) || n + sl >= cap)
				return -EMSGSIZE;
			memcpy(txt + n, rd, sl);
			n += sl;
			rd += sl;
		}
		return (int)n;
	}
	return -ENOENT;
}

static int load_text_file(const char *path, struct dns_file *df)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	int rc;

	if (!f)
		return -errno;
	rc = read_all(f, &data, &df->len);
	fclose(f);
	if (rc)
		return rc;
	df->text = (char *)data;
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dns-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_dkim_result res[32];
	struct sl_dkim_err err = { { 0 } };
	struct dns_file df = { 0 };
	const char *dns_path = NULL;
	uint8_t *msg = NULL;
	size_t len, count = 0, i;
	int c, rc, passed = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'f') {
			dns_path = optarg;
		} else if (c == 'h') {
			dkim_usage(stdout);
			return SL_CTL_EXIT_OK;
		} else {
			dkim_usage(stderr);
			return SL_CTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluicectl dkim verify: unexpected argument \"%s\"\n",
			argv[optind]);
		return SL_CTL_EXIT_USAGE;
	}
	if (dns_path && (rc = load_text_file(dns_path, &df)) < 0) {
		fprintf(stderr, "sluicectl dkim verify: cannot read --dns-file %s: %s\n",
			dns_path, strerror(-rc));
		return SL_CTL_EXIT_USAGE;
	}
	rc = read_message(&msg, &len, 0);
	if (rc != SL_CTL_EXIT_OK)
		goto out;
	if (sl_dkim_verify(msg, len, dns_path ? dns_from_file : dns_from_resolver, &df,
			   (int64_t)time(NULL), res, 32, &count, &err) < 0) {
		struct sl_dkim_err syntax;

		/* The syntax check's message names the line, so prefer it. */
		if (sl_dkim_check_message(msg, len, NULL, &syntax) < 0)
			err = syntax;
		fprintf(stderr, "sluicectl dkim verify: invalid message: %s\n", err.msg);
		rc = SL_CTL_EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < count && i < 32; i++) {
		printf("%s d=%s s=%s a=%s: %s\n", sl_dkim_status_name(res[i].status),
		       res[i].domain, res[i].selector, res[i].algorithm, res[i].reason);
		passed |= res[i].status == SL_DKIM_PASS;
	}
	if (count == 0)
		printf("none: the message has no DKIM-Signature header field\n");
	rc = passed ? SL_CTL_EXIT_OK : SL_CTL_EXIT_FAIL;
out:
	free(df.text);
	free(msg);
	return rc;
}

/* ---- keygen ---- */

static int cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "algorithm", required_argument, NULL, 'a' },
		{ "bits", required_argument, NULL, 'b' },
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *alg = NULL, *domain = NULL, *selector = NULL, *dir = NULL;
	struct sl_dkim_err err = { { 0 } };
	struct sl_dkim_key *key = NULL;
	enum sl_dkim_keytype type;
	char path[4096], record[4096];
	size_t dlen;
	int c, bits = 2048, n, rc;
	uint32_t v;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': alg = optarg; break;
		case 'd': domain = optarg; break;
		case 's': selector = optarg; break;
		case 'o': dir = optarg; break;
		case 'b':
			if (parse_seconds(optarg, &v) < 0 || v > 16384) {
				fprintf(stderr, "sluicectl dkim keygen: invalid --bits \"%s\"\n",
					optarg);
				return SL_CTL_EXIT_USAGE;
			}
			bits = (int)v;
			break;
		case 'h':
			dkim_usage(stdout);
			return SL_CTL_EXIT_OK;
		default:
			dkim_usage(stderr);
			return SL_CTL_EXIT_USAGE;
		}
	}
	if (!alg || !domain || !selector || !dir || optind < argc) {
		fprintf(stderr, "sluicectl dkim keygen: --algorithm, --domain, --selector and "
			"--out are required\n");
		return SL_CTL_EXIT_USAGE;
	}
	if (strcmp(alg, "rsa") == 0) {
		type = SL_DKIM_KEY_RSA;
	} else if (strcmp(alg, "ed25519") == 0) {
		type = SL_DKIM_KEY_ED25519;
	} else {
		fprintf(stderr, "sluicectl dkim keygen: invalid --algorithm \"%s\": use rsa or "
			"ed25519\n", alg);
		return SL_CTL_EXIT_USAGE;
	}
	if (strchr(domain, '/') || strchr(selector, '/')) {
		fprintf(stderr, "sluicectl dkim keygen: --domain and --selector must not "
			"contain '/'\n");
		return SL_CTL_EXIT_USAGE;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "sluicectl dkim keygen: cannot create %s: %s\n", dir,
			strerror(errno));
		return SL_CTL_EXIT_USAGE;
	}
	dlen = strlen(dir);
	while (dlen > 0 && dir[dlen - 1] == '/')
		dlen--;                       /* "keys/" gives keys/s1.example.com.pem */
	n = snprintf(path, sizeof(path), "%.*s/%s.%s.pem", (int)dlen, dir, selector, domain);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "sluicectl dkim keygen: output path too long\n");
		return SL_CTL_EXIT_USAGE;
	}
	if (sl_dkim_key_generate(type, bits, &key, &err) < 0) {
		fprintf(stderr, "sluicectl dkim keygen: %s\n", err.msg);
		return SL_CTL_EXIT_USAGE;
	}
	rc = sl_dkim_key_write_pem(key, path, &err);
	if (rc == 0)
		rc = sl_dkim_key_dns_record(key, record, sizeof(record), &err);
	if (rc < 0) {
		fprintf(stderr, "sluicectl dkim keygen: %s\n", err.msg);
		sl_dkim_key_free(key);
		/* An existing file or a bad --out folder is an input error. */
		return rc == -EEXIST || rc == -ENOENT || rc == -EACCES || rc == -ENOTDIR
			       ? SL_CTL_EXIT_USAGE : SL_CTL_EXIT_FAIL;
	}
	printf("%s._domainkey.%s %s\n", selector, domain, record);
	fprintf(stderr, "sluicectl dkim keygen: wrote %s\n", path);
	sl_dkim_key_free(key);
	return SL_CTL_EXIT_OK;
}

int sl_ctl_cmd_dkim(int argc, char **argv)
{
	if (argc < 2) {
		dkim_usage(stderr);
		return SL_CTL_EXIT_USAGE;
	}
	optind = 1;
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		dkim_usage(stdout);
		return SL_CTL_EXIT_OK;
	}
	fprintf(stderr, "sluicectl dkim: unknown subcommand \"%s\": use sign, verify or keygen\n",
		argv[1]);
	dkim_usage(stderr);
	return SL_CTL_EXIT_USAGE;
}
