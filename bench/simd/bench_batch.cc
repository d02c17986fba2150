// bench/simd/bench_batch.cc - DKIM signing of 20 KB messages with Ed25519,
// in batches against one message at a time, in the same run.
//
// Each message: a 7-field header block (about 330 bytes) and a 20 KiB
// plain-text body. Two measurements, each over a batch of BATCH messages,
// reported as messages per second:
//   BM_dkim_one_at_a_time/BATCH  per message sl_dkim_body_hash (relaxed)
//                                then sl_dkim_sign
//   BM_dkim_batch/BATCH          sl_dkim_body_hash_batch over the batch,
//                                then sl_dkim_sign_batch
// and the same pair for signing only, with body hashes stored beforehand
// (BM_dkim_sign_only_*), which is what a delivery attempt does.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "crypto/dkim.h"
#include "crypto/simd/dkim_batch.h"
}

#include "bench/simd/bench_text.h"

namespace {

struct corpus {
	struct sl_dkim_key *key = nullptr;
	struct sl_dkim_signer signer {};
	std::vector<std::string> headers;
	std::vector<std::vector<uint8_t>> bodies;
	std::vector<struct sl_dkim_bodyhash> stored;
};

corpus &messages()
{
	static corpus c;

	if (c.key != nullptr)
		return c;
	if (sl_dkim_key_generate(SL_DKIM_KEY_ED25519, 0, &c.key, nullptr) != 0)
		std::abort();
	c.signer.key = c.key;
	c.signer.domain = "example.com";
	c.signer.selector = "bench";
	c.signer.header_canon = SL_DKIM_RELAXED;
	c.signer.body_canon = SL_DKIM_RELAXED;
	for (int i = 0; i < 64; i++) {
		char h[512];

		snprintf(h, sizeof(h),
			 "From: Sender <news@example.com>\r\n"
			 "To: reader%d@example.net\r\n"
			 "Subject: Weekly letter number %d\r\n"
			 "Date: Fri, 04 Dec 2026 20:00:%02d +0000\r\n"
			 "Message-ID: <bench.%d@example.com>\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n",
			 i, i, i % 60, i);
		c.headers.emplace_back(h);
		c.bodies.push_back(bench_mail_text(20 * 1024, 100 + (uint64_t)i));
		struct sl_dkim_bodyhash bh;
		sl_dkim_body_hash(c.bodies.back().data(), c.bodies.back().size(), SL_DKIM_BODY_RELAXED,
				  &bh, nullptr);
		c.stored.push_back(bh);
	}
	return c;
}

void one_at_a_time(benchmark::State &state, bool hash_body)
{
	corpus &c = messages();
	size_t batch = (size_t)state.range(0);
	struct sl_dkim_out out {};

	for (auto _ : state) {
		for (size_t i = 0; i < batch; i++) {
			struct sl_dkim_bodyhash bh = c.stored[i];

			if (hash_body)
				sl_dkim_body_hash(c.bodies[i].data(), c.bodies[i].size(),
						  SL_DKIM_BODY_RELAXED, &bh, nullptr);
			if (sl_dkim_sign(&c.signer, 1, c.headers[i].data(), c.headers[i].size(), &bh,
					 1796400000, &out, nullptr) != 0)
				state.SkipWithError("sl_dkim_sign failed");
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)batch);
	sl_dkim_out_free(&out);
}

void batched(benchmark::State &state, bool hash_body)
{
	corpus &c = messages();
	size_t batch = (size_t)state.range(0);
	std::vector<struct sl_dkim_body_item> items(batch);
	std::vector<struct sl_dkim_job> jobs(batch);
	std::vector<struct sl_dkim_out> outs(batch);
	struct sl_dkim_body_batch scratch {};

	for (size_t i = 0; i < batch; i++) {
		items[i].body = c.bodies[i].data();
		items[i].len = c.bodies[i].size();
		items[i].hash = c.stored[i];
		outs[i] = sl_dkim_out{};
		jobs[i].headers = c.headers[i].data();
		jobs[i].hlen = c.headers[i].size();
		jobs[i].bh = &items[i].hash;
		jobs[i].out = &outs[i];
	}
	for (auto _ : state) {
		if (hash_body &&
		    sl_dkim_body_hash_batch(&scratch, items.data(), batch, SL_DKIM_BODY_RELAXED, nullptr) != 0)
			state.SkipWithError("sl_dkim_body_hash_batch failed");
		if (sl_dkim_sign_batch(&c.signer, 1, jobs.data(), batch, 1796400000) != 0)
			state.SkipWithError("sl_dkim_sign_batch failed");
	}
	state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)batch);
	for (auto &o : outs)
		sl_dkim_out_free(&o);
	sl_dkim_body_batch_free(&scratch);
}

void BM_dkim_one_at_a_time(benchmark::State &state) { one_at_a_time(state, true); }
void BM_dkim_batch(benchmark::State &state) { batched(state, true); }
void BM_dkim_sign_only_one_at_a_time(benchmark::State &state) { one_at_a_time(state, false); }
void BM_dkim_sign_only_batch(benchmark::State &state) { batched(state, false); }

}  // namespace

BENCHMARK(BM_dkim_one_at_a_time)->Arg(16)->Arg(64);
BENCHMARK(BM_dkim_batch)->Arg(16)->Arg(64);
BENCHMARK(BM_dkim_sign_only_one_at_a_time)->Arg(16)->Arg(64);
BENCHMARK(BM_dkim_sign_only_batch)->Arg(16)->Arg(64);
