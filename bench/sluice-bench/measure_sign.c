/*
 * bench/sluice-bench/measure_sign.c - the "signing" section.
 *
 * raw: OpenSSL 3 signing and verifying a SHA-256 digest, as DKIM does:
 *   RSA PKCS#1 v1.5 with EVP_PKEY_sign/EVP_PKEY_verify, Ed25519 with
 *   EVP_DigestSign/EVP_DigestVerify over the 32-byte digest (RFC 8463).
 *   Measured on one thread pinned to the last usable CPU ("per core"),
 *   then on one pinned thread per usable CPU at once ("all cores").
 * dkim: sluice's whole DKIM path for one 20 KB message on one pinned
 *   thread: find the header end, hash the relaxed body, hash the header
 *   fields and sign (sl_dkim_body_hash + sl_dkim_sign); and the batch path
 *   of 16 messages (sl_dkim_body_hash_batch + sl_dkim_sign_batch), which
 *   is how sluiced's workers sign. Ed25519 signatures there come from
 *   sluice's own code, not from OpenSSL.
 *
 * Keys are generated in memory at start and never written to disk; their
 * PEM copies are wiped after loading.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "bench/sluice-bench/bench.h"
#include "bench/sluice-bench/threads.h"
#include "crypto/dkim.h"
#include "crypto/simd/dkim_batch.h"

#define DKIM_MESSAGE_BYTES 20480
#define DKIM_BATCH 16
#define MAX_CPUS 1024

struct alg {
	const char *name;          /* report key: rsa1024, rsa2048, rsa3072, ed25519 */
	const char *keytype;       /* EVP_PKEY_Q_keygen type */
	int bits;
};

static const struct alg algs[] = {
	{ "rsa1024", "RSA", 1024 },
	{ "rsa2048", "RSA", 2048 },
	{ "rsa3072", "RSA", 3072 },
	{ "ed25519", "ED25519", 0 },
};

/* ---- raw OpenSSL ---- */

struct raw_shared {
	EVP_PKEY *pkey;
	bool ed25519;
	bool verify;
	unsigned char sig[512];    /* a valid signature of digest, for verify */
	size_t siglen;
};

static const unsigned char digest[32] = "sluice-bench digest of headers.";

struct raw_state {
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *mctx;
	unsigned char sig[512];
};

static int raw_setup(struct sl_bench_loop *l)
{
	const struct raw_shared *sh = l->shared;
	struct raw_state *st = calloc(1, sizeof(*st));
	int ok;

	l->state = st;
	if (!st)
		return -ENOMEM;
	if (sh->ed25519) {
		st->mctx = EVP_MD_CTX_new();
		ok = st->mctx && (sh->verify
			? EVP_DigestVerifyInit(st->mctx, NULL, NULL, NULL, sh->pkey)
			: EVP_DigestSignInit(st->mctx, NULL, NULL, NULL, sh->pkey)) == 1;
	} else {
		st->pctx = EVP_PKEY_CTX_new(sh->pkey, NULL);
		ok = st->pctx &&
		     (sh->verify ? EVP_PKEY_verify_init(st->pctx) : EVP_PKEY_sign_init(st->pctx)) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(st->pctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(st->pctx, EVP_sha256()) == 1;
	}
	if (!ok) {
		snprintf(l->err, sizeof(l->err), "OpenSSL %s set-up failed",
			 sh->verify ? "verify" : "sign");
		return -EPROTO;
	}
	return 0;
}

static int64_t raw_op(struct sl_bench_loop *l)
{
	const struct raw_shared *sh = l->shared;
	struct raw_state *st = l->state;
	size_t len = sizeof(st->sig);
	int ok;

	if (sh->ed25519)
		ok = sh->verify ? EVP_DigestVerify(st->mctx, sh->sig, sh->siglen, digest, 32)
				: EVP_DigestSign(st->mctx, st->sig, &len, digest, 32);
	else
		ok = sh->verify ? EVP_PKEY_verify(st->pctx, sh->sig, sh->siglen, digest, 32)
				: EVP_PKEY_sign(st->pctx, st->sig, &len, digest, 32);
	if (ok != 1) {
		snprintf(l->err, sizeof(l->err), "OpenSSL %s failed",
			 sh->verify ? "EVP verify" : "EVP sign");
		return -EPROTO;
	}
	return 1;
}

static void raw_teardown(struct sl_bench_loop *l)
{
	struct raw_state *st = l->state;

	if (!st)
		return;
	EVP_PKEY_CTX_free(st->pctx);
	EVP_MD_CTX_free(st->mctx);
	free(st);
	l->state = NULL;
}

/* Make one signature in this thread for the verify runs. */
static int make_signature(struct raw_shared *sh, char *err, size_t errlen)
{
	struct sl_bench_loop l = { .shared = sh };
	bool verify = sh->verify;
	int rc;

	sh->verify = false;
	rc = raw_setup(&l);
	if (rc == 0) {
		struct raw_state *st = l.state;

		rc = raw_op(&l) < 0 ? -EPROTO : 0;
		sh->siglen = sizeof(sh->sig);
		memcpy(sh->sig, st->sig, sizeof(sh->sig));
		sh->siglen = sh->ed25519 ? 64 : (size_t)EVP_PKEY_get_size(sh->pkey);
	}
	raw_teardown(&l);
	sh->verify = verify;
	if (rc)
		snprintf(err, errlen, "OpenSSL could not make a test signature: %s", l.err);
	return rc;
}

static int measure_raw(EVP_PKEY *pkey, const struct alg *a, const int *cpus, unsigned ncpus,
		       double seconds, json_t *entry, char *err, size_t errlen)
{
	static const char *const keys[2][2] = {
		{ "sign_per_s_core", "sign_per_s_all" },
		{ "verify_per_s_core", "verify_per_s_all" },
	};
	struct raw_shared sh = { .pkey = pkey, .ed25519 = a->bits == 0 };
	struct sl_bench_loop proto = {
		.shared = &sh, .setup = raw_setup, .op = raw_op, .teardown = raw_teardown,
	};
	double rate;
	int rc;

	if ((rc = make_signature(&sh, err, errlen)) < 0)
		return rc;
	for (int verify = 0; verify < 2; verify++) {
		sh.verify = verify;
		rc = sl_bench_run_pinned(&proto, &cpus[ncpus - 1], 1, seconds, &rate, err, errlen);
		if (rc < 0)
			return rc;
		json_object_set_new(entry, keys[verify][0], json_real(rate));
		rc = sl_bench_run_pinned(&proto, cpus, ncpus, seconds, &rate, err, errlen);
		if (rc < 0)
			return rc;
		json_object_set_new(entry, keys[verify][1], json_real(rate));
	}
	return 0;
}

/* ---- sluice's DKIM path ---- */

struct dkim_shared {
	struct sl_dkim_signer signer;
	const uint8_t *msg;
	size_t len;
	bool batch;
};

struct dkim_state {
	struct sl_dkim_out out[DKIM_BATCH];
	struct sl_dkim_body_batch bodies;
	struct sl_dkim_body_item items[DKIM_BATCH];
	struct sl_dkim_bodyhash hashes[DKIM_BATCH];
	struct sl_dkim_job jobs[DKIM_BATCH];
};

static int dkim_setup(struct sl_bench_loop *l)
{
	l->state = calloc(1, sizeof(struct dkim_state));
	return l->state ? 0 : -ENOMEM;
}

static int64_t dkim_op_one(struct sl_bench_loop *l)
{
	const struct dkim_shared *sh = l->shared;
	struct dkim_state *st = l->state;
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err e;
	size_t body;
	size_t hlen = sl_dkim_header_end(sh->msg, sh->len, &body);
	int rc = sl_dkim_body_hash(sh->msg + body, sh->len - body, SL_DKIM_BODY_RELAXED, &bh, &e);

	if (rc == 0)
		rc = sl_dkim_sign(&sh->signer, 1, sh->msg, hlen, &bh, 1700000000, &st->out[0], &e);
	if (rc < 0) {
		snprintf(l->err, sizeof(l->err), "DKIM signing failed: %s", e.msg);
		return rc;
	}
	return 1;
}

static int64_t dkim_op_batch(struct sl_bench_loop *l)
{
	const struct dkim_shared *sh = l->shared;
	struct dkim_state *st = l->state;
	struct sl_dkim_err e;
	size_t body;
	size_t hlen = sl_dkim_header_end(sh->msg, sh->len, &body);
	int rc;

	for (unsigned i = 0; i < DKIM_BATCH; i++) {
		st->items[i].body = sh->msg + body;
		st->items[i].len = sh->len - body;
	}
	rc = sl_dkim_body_hash_batch(&st->bodies, st->items, DKIM_BATCH, SL_DKIM_BODY_RELAXED, &e);
	if (rc < 0) {
		snprintf(l->err, sizeof(l->err), "DKIM batch body hash failed: %s", e.msg);
		return rc;
	}
	for (unsigned i = 0; i < DKIM_BATCH; i++) {
		st->hashes[i] = st->items[i].hash;
		st->jobs[i] = (struct sl_dkim_job){
			.headers = sh->msg, .hlen = hlen, .bh = &st->hashes[i], .out = &st->out[i],
		};
	}
	rc = sl_dkim_sign_batch(&sh->signer, 1, st->jobs, DKIM_BATCH, 1700000000);
	if (rc < 0) {
		snprintf(l->err, sizeof(l->err), "DKIM batch signing failed: %s", st->jobs[0].err.msg);
		return rc;
	}
	return DKIM_BATCH;
}

static void dkim_teardown(struct sl_bench_loop *l)
{
	struct dkim_state *st = l->state;

	if (st) {
		for (unsigned i = 0; i < DKIM_BATCH; i++)
			sl_dkim_out_free(&st->out[i]);
		sl_dkim_body_batch_free(&st->bodies);
		free(st);
	}
	l->state = NULL;
	sl_dkim_thread_cleanup();
}

/* A newsletter-style message of exactly len bytes: 12 header fields and a
 * body of 72-column text lines. */
static uint8_t *make_message(size_t len)
{
	static const char headers[] =
		"From: News <news@bench.example>\r\n"
		"To: reader@dest.example\r\n"
		"Subject: Weekly offers for our readers\r\n"
		"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
		"Message-ID: <20261204100000.1@bench.example>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"List-Unsubscribe: <mailto:unsub@bench.example>\r\n"
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
		"Feedback-ID: c1:campaign:bench\r\n"
		"Reply-To: help@bench.example\r\n"
		"\r\n";
	static const char words[] = "the quick brown fox jumps over the lazy dog  ";
	uint8_t *m = malloc(len);
	size_t pos = sizeof(headers) - 1, col = 0;

	if (!m)
		return NULL;
	memcpy(m, headers, pos);
	for (size_t i = 0; pos < len; i++) {
		if (col == 72 || pos + 2 >= len) {
			m[pos++] = '\r';
			if (pos < len)
				m[pos++] = '\n';
			col = 0;
			continue;
		}
		m[pos++] = (uint8_t)words[i % (sizeof(words) - 1)];
		col++;
	}
	return m;
}

static int load_dkim_key(EVP_PKEY *pkey, struct sl_dkim_key **key, char *err, size_t errlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long len;
	struct sl_dkim_err e;
	int rc = -EPROTO;

	if (bio && PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
		len = BIO_get_mem_data(bio, &pem);
		rc = sl_dkim_key_load_mem(pem, (size_t)len, key, &e);
		OPENSSL_cleanse(pem, (size_t)len);
		if (rc < 0)
			snprintf(err, errlen, "loading the generated key into sluice failed: %s", e.msg);
	} else {
		snprintf(err, errlen, "writing the generated key as PEM failed");
	}
	BIO_free(bio);
	return rc;
}

static int measure_dkim(EVP_PKEY *pkey, const uint8_t *msg, const int *cpus, unsigned ncpus,
			double seconds, json_t *entry, char *err, size_t errlen)
{
	struct sl_dkim_key *key = NULL;
	struct dkim_shared sh = {
		.signer = { .domain = "bench.example", .selector = "s1",
			    .header_canon = SL_DKIM_RELAXED, .body_canon = SL_DKIM_RELAXED },
		.msg = msg, .len = DKIM_MESSAGE_BYTES,
	};
	struct sl_bench_loop proto = {
		.shared = &sh, .setup = dkim_setup, .op = dkim_op_one, .teardown = dkim_teardown,
	};
	double rate;
	int rc = load_dkim_key(pkey, &key, err, errlen);

	if (rc < 0)
		return rc;
	sh.signer.key = key;
	rc = sl_bench_run_pinned(&proto, &cpus[ncpus - 1], 1, seconds, &rate, err, errlen);
	if (rc == 0) {
		json_object_set_new(entry, "dkim_per_s_core", json_real(rate));
		proto.op = dkim_op_batch;
		rc = sl_bench_run_pinned(&proto, &cpus[ncpus - 1], 1, seconds, &rate, err, errlen);
	}
	if (rc == 0)
		json_object_set_new(entry, "dkim_batch_per_s_core", json_real(rate));
	sl_dkim_key_free(key);
	return rc;
}

json_t *sl_bench_measure_signing(const struct sl_bench_options *opt, char *err, size_t errlen)
{
	static int cpus[MAX_CPUS];
	unsigned ncpus = sl_bench_cpus(cpus, MAX_CPUS);
	uint8_t *msg = make_message(DKIM_MESSAGE_BYTES);
	json_t *section = json_object();
	json_t *list = json_array();
	int rc = msg ? 0 : -ENOMEM;

	json_object_set_new(section, "threads_all", json_integer(ncpus));
	json_object_set_new(section, "dkim_message_bytes", json_integer(DKIM_MESSAGE_BYTES));
	json_object_set_new(section, "dkim_batch", json_integer(DKIM_BATCH));
	json_object_set_new(section, "algorithms", list);
	for (size_t i = 0; rc == 0 && i < sizeof(algs) / sizeof(algs[0]); i++) {
		const struct alg *a = &algs[i];
		EVP_PKEY *pkey = a->bits ? EVP_PKEY_Q_keygen(NULL, NULL, a->keytype, (size_t)a->bits)
					 : EVP_PKEY_Q_keygen(NULL, NULL, a->keytype);
		json_t *entry = json_object();

		fprintf(stderr, "sluice-bench: signing %s\n", a->name);
		json_object_set_new(entry, "algorithm", json_string(a->name));
		json_array_append_new(list, entry);
		if (!pkey) {
			snprintf(err, errlen, "OpenSSL could not generate a %s key", a->name);
			rc = -EPROTO;
			break;
		}
		rc = measure_raw(pkey, a, cpus, ncpus, opt->seconds, entry, err, errlen);
		if (rc == 0)
			rc = measure_dkim(pkey, msg, cpus, ncpus, opt->seconds, entry, err, errlen);
		EVP_PKEY_free(pkey);
		if (sl_bench_stop)
			rc = -EINTR;
	}
	free(msg);
	if (rc < 0) {
		json_decref(section);
		return NULL;
	}
	return section;
}
