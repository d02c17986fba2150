// bench/dkim/bench_dkim.cc - DKIM signing speed of sluice_crypto against
// libopendkim, on the same messages, keys and core.
//
// Benchmarks (Google Benchmark, one thread; "make bench-dkim" pins the
// process to one core with taskset):
//   Canon/{simple,relaxed}/SIZE      body canonicalization only, MB/s
//   BodyHash/{simple,relaxed}/SIZE   canonicalization plus SHA-256, MB/s
//                                    (SIZE is the whole message; the
//                                    rates count body bytes)
//   Sign/sluice/ALG/SIZE             sluice's whole signing path for one
//                                    message: find the header end, hash
//                                    the body, build and sign the header
//   Sign/sluice-stored/ALG/SIZE      the send-time part alone: header
//                                    hash and signature from a body hash
//                                    computed once before the loop
//   Sign/opendkim/ALG/SIZE           libopendkim 2.11 signing the same
//                                    message: dkim_sign, dkim_header per
//                                    field, dkim_eoh, dkim_body, dkim_eom,
//                                    dkim_getsighdr_d, dkim_free
// ALG is rsa1024, rsa2048, ed25519 or dual (RSA-2048 plus Ed25519 on one
// message), SIZE is 2, 20 or 200 KB. Signing uses relaxed/relaxed and,
// for both libraries, sluice's default h= list with From, To, Cc, Subject
// and Date over-signed, so that both hash the same header fields.
//
// libopendkim takes the private key as PEM text and parses it in every
// dkim_sign call, as the opendkim filter does for every message. That
// cost is part of what it measures. Its "dual" case makes one handle per
// signature, each hashing the message again, which is how libopendkim
// makes two signatures.
//
// The keys are generated at start-up with OpenSSL and never written to
// disk; their PEM copies are wiped at exit.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "crypto/dkim.h"
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
// libopendkim's C header spells the C99 boolean type as _Bool, which C++
// calls bool; the two have the same size and representation in GCC.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
}

namespace {

const char kDomain[] = "bench.sluice.test";
const int64_t kNow = 1700000000;

enum Alg { kRsa1024, kRsa2048, kEd25519, kDual };
const char *const kAlgNames[] = {"rsa1024", "rsa2048", "ed25519", "dual"};

struct Key {
	struct sl_dkim_key *sluice = nullptr;
	std::string pem;  // PKCS#8 PEM text for libopendkim
};

Key g_rsa1024, g_rsa2048, g_ed25519;
DKIM_LIB *g_odkim = nullptr;

[[noreturn]] void die(const char *what, const char *detail)
{
	std::fprintf(stderr, "bench_dkim: %s: %s\n", what, detail);
	std::exit(1);
}

// Generate a key with OpenSSL, keep its PKCS#8 PEM text for libopendkim
// and load the same text into sluice.
Key make_key(const char *type, int bits)
{
	EVP_PKEY *pkey = bits != 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, size_t(bits))
				   : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
	if (pkey == nullptr)
		die("EVP_PKEY_Q_keygen", type);
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == nullptr ||
	    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1)
		die("PEM_write_bio_PrivateKey", type);
	char *pem = nullptr;
	long len = BIO_get_mem_data(bio, &pem);
	Key k;
	k.pem.assign(pem, size_t(len));
	OPENSSL_cleanse(pem, size_t(len));
	BIO_free(bio);
	EVP_PKEY_free(pkey);

	struct sl_dkim_err err = {};
	if (sl_dkim_key_load_mem(k.pem.data(), k.pem.size(), &k.sluice, &err) != 0)
		die("sl_dkim_key_load_mem", err.msg);
	return k;
}

// A marketing-style message of about `size` bytes: the usual headers and
// a text body of 72-column lines.
std::string make_message(size_t size)
{
	std::string m =
		"Return-Path: <bounce-42@bench.sluice.test>\r\n"
		"Received: from injector.bench.sluice.test (injector [192.0.2.10])\r\n"
		"\tby mta.bench.sluice.test with ESMTP id 4F2A1B3C; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"From: \"Bench Store\" <news@bench.sluice.test>\r\n"
		"To: \"Jane Doe\" <jane.doe@example.org>\r\n"
		"Subject: Your November offers, Jane\r\n"
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"Message-ID: <20231114221320.4F2A1B3C@bench.sluice.test>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"List-Unsubscribe: <https://bench.sluice.test/u/4F2A1B3C>,\r\n"
		" <mailto:unsubscribe-4F2A1B3C@bench.sluice.test>\r\n"
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
		"Feedback-ID: nov23:offers:bench\r\n"
		"\r\n";
	const char line[] =
		"Dear Jane, this month's selection has  twenty offers picked for you. \r\n";
	while (m.size() < size)
		m += line;
	return m;
}

const std::string &message(size_t kb)
{
	static std::string m2 = make_message(2 * 1024);
	static std::string m20 = make_message(20 * 1024);
	static std::string m200 = make_message(200 * 1024);
	if (kb == 2)
		return m2;
	if (kb == 20)
		return m20;
	return m200;
}

std::vector<struct sl_dkim_signer> signers_for(Alg alg)
{
	struct sl_dkim_signer s = {};
	s.domain = kDomain;
	s.header_canon = SL_DKIM_RELAXED;
	s.body_canon = SL_DKIM_RELAXED;
	std::vector<struct sl_dkim_signer> v;
	switch (alg) {
	case kRsa1024:
		s.key = g_rsa1024.sluice, s.selector = "r1024", v.push_back(s);
		break;
	case kRsa2048:
		s.key = g_rsa2048.sluice, s.selector = "r2048", v.push_back(s);
		break;
	case kEd25519:
		s.key = g_ed25519.sluice, s.selector = "ed", v.push_back(s);
		break;
	case kDual:
		s.key = g_rsa2048.sluice, s.selector = "r2048", v.push_back(s);
		s.key = g_ed25519.sluice, s.selector = "ed", v.push_back(s);
		break;
	}
	return v;
}

void set_bytes(benchmark::State &state, size_t len)
{
	state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(len));
}

// ---- canonicalization and body hash ----

void BM_Canon(benchmark::State &state, int relaxed_arg, int kb)
{
	const bool relaxed = relaxed_arg != 0;
	const std::string &m = message(size_t(kb));
	size_t body_off;
	sl_dkim_header_end((const uint8_t *)m.data(), m.size(), &body_off);
	const uint8_t *body = (const uint8_t *)m.data() + body_off;
	const size_t len = m.size() - body_off;
	struct sl_sink sink;
	sl_sink_init(&sink, nullptr);
	for (auto _ : state) {
		struct sl_canon_body st;
		sl_canon_body_init(&st);
		sink.mem_len = 0;
		sink.total = 0;
		sink.n = 0;
		if (relaxed) {
			sl_canon_active->body_relaxed(&st, &sink, body, len);
			sl_canon_body_relaxed_end(&st, &sink);
		} else {
			sl_canon_active->body_simple(&st, &sink, body, len);
			sl_canon_body_simple_end(&st, &sink);
		}
		sl_sink_flush(&sink);
		benchmark::DoNotOptimize(sink.mem);
	}
	sl_sink_free(&sink);
	set_bytes(state, len);
}

void BM_BodyHash(benchmark::State &state, int relaxed_arg, int kb)
{
	const unsigned mask = relaxed_arg ? SL_DKIM_BODY_RELAXED : SL_DKIM_BODY_SIMPLE;
	const std::string &m = message(size_t(kb));
	size_t body_off;
	sl_dkim_header_end((const uint8_t *)m.data(), m.size(), &body_off);
	const size_t len = m.size() - body_off;
	struct sl_dkim_body b = {};
	struct sl_dkim_bodyhash bh;
	struct sl_dkim_err err = {};
	for (auto _ : state) {
		if (sl_dkim_body_init(&b, mask, &err) != 0)
			die("sl_dkim_body_init", err.msg);
		sl_dkim_body_update(&b, m.data() + body_off, len);
		if (sl_dkim_body_final(&b, &bh, &err) != 0)
			die("sl_dkim_body_final", err.msg);
		benchmark::DoNotOptimize(bh);
	}
	sl_dkim_body_free(&b);
	set_bytes(state, len);
}

// ---- whole signing path ----

void BM_Sluice(benchmark::State &state, int alg_arg, int kb)
{
	const Alg alg = Alg(alg_arg);
	const std::string &m = message(size_t(kb));
	const auto signers = signers_for(alg);
	struct sl_dkim_out out = {};
	struct sl_dkim_err err = {};
	struct sl_dkim_bodyhash bh;
	for (auto _ : state) {
		size_t body_off;
		size_t hlen = sl_dkim_header_end((const uint8_t *)m.data(), m.size(), &body_off);
		if (sl_dkim_body_hash(m.data() + body_off, m.size() - body_off,
				      SL_DKIM_BODY_RELAXED, &bh, &err) != 0)
			die("sl_dkim_body_hash", err.msg);
		if (sl_dkim_sign(signers.data(), signers.size(), m.data(), hlen, &bh, kNow,
				 &out, &err) != 0)
			die("sl_dkim_sign", err.msg);
		benchmark::DoNotOptimize(out.data);
	}
	sl_dkim_out_free(&out);
	state.SetItemsProcessed(state.iterations());
	set_bytes(state, m.size());
}

// Send-time path: the body hash was stored at accept time, so each
// delivery attempt only hashes the header fields and signs.
void BM_SluiceStored(benchmark::State &state, int alg_arg, int kb)
{
	const Alg alg = Alg(alg_arg);
	const std::string &m = message(size_t(kb));
	const auto signers = signers_for(alg);
	struct sl_dkim_out out = {};
	struct sl_dkim_err err = {};
	struct sl_dkim_bodyhash bh;
	size_t body_off;
	size_t hlen = sl_dkim_header_end((const uint8_t *)m.data(), m.size(), &body_off);
	if (sl_dkim_body_hash(m.data() + body_off, m.size() - body_off, SL_DKIM_BODY_RELAXED,
			      &bh, &err) != 0)
		die("sl_dkim_body_hash", err.msg);
	for (auto _ : state) {
		if (sl_dkim_sign(signers.data(), signers.size(), m.data(), hlen, &bh, kNow,
				 &out, &err) != 0)
			die("sl_dkim_sign", err.msg);
		benchmark::DoNotOptimize(out.data);
	}
	sl_dkim_out_free(&out);
	state.SetItemsProcessed(state.iterations());
}

// Sign m with one libopendkim handle; returns the header length.
size_t odkim_sign_one(const std::string &m, const Key &key, const char *selector,
		      dkim_alg_t alg, std::vector<u_char> &scratch)
{
	DKIM_STAT st;
	DKIM *d = dkim_sign(g_odkim, (const u_char *)"bench", nullptr,
			    (dkim_sigkey_t)key.pem.c_str(), (const u_char *)selector,
			    (const u_char *)kDomain, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
			    alg, -1, &st);
	if (d == nullptr)
		die("dkim_sign", dkim_getresultstr(st));

	// Feed each header field (with its folded lines, without the final
	// CRLF), then the body, as the opendkim filter does.
	size_t body_off;
	size_t hlen = sl_dkim_header_end((const uint8_t *)m.data(), m.size(), &body_off);
	size_t pos = 0;
	while (pos < hlen) {
		size_t end = pos;
		for (;;) {
			size_t eol = m.find("\r\n", end);
			end = eol + 2;
			if (end >= hlen || (m[end] != ' ' && m[end] != '\t')) {
				scratch.assign(m.begin() + pos, m.begin() + eol);
				break;
			}
		}
		if (dkim_header(d, scratch.data(), scratch.size()) != DKIM_STAT_OK)
			die("dkim_header", dkim_geterror(d));
		pos = end;
	}
	if (dkim_eoh(d) != DKIM_STAT_OK)
		die("dkim_eoh", dkim_geterror(d));
	if (dkim_body(d, (u_char *)m.data() + body_off, m.size() - body_off) != DKIM_STAT_OK)
		die("dkim_body", dkim_geterror(d));
	if (dkim_eom(d, nullptr) != DKIM_STAT_OK)
		die("dkim_eom", dkim_geterror(d));
	u_char *hdr = nullptr;
	size_t len = 0;
	if (dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr, &len) != DKIM_STAT_OK)
		die("dkim_getsighdr_d", dkim_geterror(d));
	benchmark::DoNotOptimize(hdr);
	dkim_free(d);
	return len;
}

void BM_OpenDKIM(benchmark::State &state, int alg_arg, int kb)
{
	const Alg alg = Alg(alg_arg);
	const std::string &m = message(size_t(kb));
	std::vector<u_char> scratch;
	for (auto _ : state) {
		switch (alg) {
		case kRsa1024:
			odkim_sign_one(m, g_rsa1024, "r1024", DKIM_SIGN_RSASHA256, scratch);
			break;
		case kRsa2048:
			odkim_sign_one(m, g_rsa2048, "r2048", DKIM_SIGN_RSASHA256, scratch);
			break;
		case kEd25519:
			odkim_sign_one(m, g_ed25519, "ed", DKIM_SIGN_ED25519SHA256, scratch);
			break;
		case kDual:
			odkim_sign_one(m, g_rsa2048, "r2048", DKIM_SIGN_RSASHA256, scratch);
			odkim_sign_one(m, g_ed25519, "ed", DKIM_SIGN_ED25519SHA256, scratch);
			break;
		}
	}
	state.SetItemsProcessed(state.iterations());
	set_bytes(state, m.size());
}

// libopendkim takes header lists as NULL-terminated arrays of names, with
// the option length set to the size of a pointer.
const char *g_sign_headers[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post",
	"feedback-id", nullptr,
};
const char *g_oversign_headers[] = {"from", "to", "cc", "subject", "date", nullptr};

void setup()
{
	g_rsa1024 = make_key("RSA", 1024);
	g_rsa2048 = make_key("RSA", 2048);
	g_ed25519 = make_key("ED25519", 0);

	g_odkim = dkim_init(nullptr, nullptr);
	if (g_odkim == nullptr)
		die("dkim_init", "failed");
	uint64_t fixed = uint64_t(kNow);
	if (dkim_options(g_odkim, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed,
			 sizeof fixed) != DKIM_STAT_OK ||
	    dkim_options(g_odkim, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, g_sign_headers,
			 sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_options(g_odkim, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
			 g_oversign_headers, sizeof(char **)) != DKIM_STAT_OK)
		die("dkim_options", "failed");
}

void teardown()
{
	for (Key *k : {&g_rsa1024, &g_rsa2048, &g_ed25519}) {
		OPENSSL_cleanse(&k->pem[0], k->pem.size());
		sl_dkim_key_free(k->sluice);
	}
	dkim_close(g_odkim);
	sl_dkim_thread_cleanup();
}

}  // namespace

// Register every benchmark under the names the report script reads:
// Canon/MODE/SIZE, BodyHash/MODE/SIZE, Sign/LIBRARY/ALG/SIZE.
static void register_all()
{
	const char *const modes[] = {"simple", "relaxed"};
	for (int kb : {2, 20, 200}) {
		std::string size = std::to_string(kb) + "KB";
		for (int relaxed = 0; relaxed <= 1; relaxed++) {
			benchmark::RegisterBenchmark(
				("Canon/" + std::string(modes[relaxed]) + "/" + size).c_str(),
				BM_Canon, relaxed, kb);
			benchmark::RegisterBenchmark(
				("BodyHash/" + std::string(modes[relaxed]) + "/" + size).c_str(),
				BM_BodyHash, relaxed, kb);
		}
		for (int alg = kRsa1024; alg <= kDual; alg++) {
			benchmark::RegisterBenchmark(
				("Sign/sluice/" + std::string(kAlgNames[alg]) + "/" + size).c_str(),
				BM_Sluice, alg, kb);
			benchmark::RegisterBenchmark(
				("Sign/sluice-stored/" + std::string(kAlgNames[alg]) + "/" + size).c_str(),
				BM_SluiceStored, alg, kb);
			benchmark::RegisterBenchmark(
				("Sign/opendkim/" + std::string(kAlgNames[alg]) + "/" + size).c_str(),
				BM_OpenDKIM, alg, kb);
		}
	}
}

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;
	setup();
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	teardown();
	return 0;
}
