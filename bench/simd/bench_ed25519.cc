// bench/simd/bench_ed25519.cc - Ed25519 signatures of 32-byte digests (what
// a DKIM signature signs): sluice's crypto/ed25519.c against OpenSSL's
// EVP_DigestSign in the same run.
//
//   BM_ed25519_openssl          EVP_DigestSign on one context made once,
//                               as `openssl speed ed25519` calls it
//   BM_ed25519_sluice/N         sl_ed25519_sign_batch over N digests
//                               (N = 1 is one message at a time)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include <openssl/evp.h>

extern "C" {
#include "crypto/ed25519.h"
}

namespace {

const uint8_t seed[32] = { 0x42, 0x13, 0x37 };

void BM_ed25519_openssl(benchmark::State &state)
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, 32);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t digest[32] = { 1 }, sig[64];

	if (!pkey || !m || EVP_DigestSignInit_ex(m, nullptr, nullptr, nullptr, nullptr, pkey, nullptr) != 1)
		std::abort();
	for (auto _ : state) {
		size_t len = sizeof(sig);

		digest[0]++;
		if (EVP_DigestSign(m, sig, &len, digest, sizeof(digest)) != 1)
			state.SkipWithError("EVP_DigestSign failed");
		benchmark::DoNotOptimize(sig);
	}
	state.SetItemsProcessed(state.iterations());
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pkey);
}

void BM_ed25519_sluice(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	struct sl_ed25519_key key;
	uint8_t digests[64][32], sigs[64][64];
	const uint8_t *msgs[64];
	size_t lens[64];

	if (sl_ed25519_expand(&key, seed) != 0)
		std::abort();
	for (size_t i = 0; i < n; i++) {
		memset(digests[i], (int)i, 32);
		msgs[i] = digests[i];
		lens[i] = 32;
	}
	for (auto _ : state) {
		digests[0][0]++;
		if (sl_ed25519_sign_batch(&key, msgs, lens, n, sigs) != 0)
			state.SkipWithError("sl_ed25519_sign_batch failed");
		benchmark::DoNotOptimize(sigs);
	}
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)n);
	sl_ed25519_wipe(&key);
}

}  // namespace

BENCHMARK(BM_ed25519_openssl);
BENCHMARK(BM_ed25519_sluice)->Arg(1)->Arg(8)->Arg(32)->Arg(64);
