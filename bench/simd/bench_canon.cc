// bench/simd/bench_canon.cc - DKIM body canonicalization throughput of the
// engine's function table per SIMD path, against its scalar table in the
// same run.
//
// Input: 1 MiB of generated plain-text mail (words of 2-9 letters, single
// spaces with an occasional double space or tab, lines of 60-76 bytes,
// CRLF line ends, an empty line between paragraphs), fed as one chunk into
// a memory sink whose buffer is kept between iterations.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "crypto/canon.h"
#include "crypto/simd/canon_simd.h"
#include "crypto/simd/cpu.h"
}

#include "bench/simd/bench_text.h"

namespace {

const std::vector<uint8_t> &text()
{
	static const std::vector<uint8_t> t = bench_mail_text(1 << 20, 7);
	return t;
}

void run_canon(benchmark::State &state, const struct sl_canon_ops *ops, bool relaxed)
{
	const std::vector<uint8_t> &in = text();
	struct sl_sink sink;

	sl_sink_init(&sink, nullptr);
	for (auto _ : state) {
		struct sl_canon_body st;

		sink.mem_len = 0;
		sink.total = 0;
		sink.n = 0;
		sl_canon_body_init(&st);
		if (relaxed) {
			ops->body_relaxed(&st, &sink, in.data(), in.size());
			sl_canon_body_relaxed_end(&st, &sink);
		} else {
			ops->body_simple(&st, &sink, in.data(), in.size());
			sl_canon_body_simple_end(&st, &sink);
		}
		sl_sink_flush(&sink);
		benchmark::DoNotOptimize(sink.mem);
	}
	state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)in.size());
	state.SetLabel(ops->name);
	sl_sink_free(&sink);
}

// Args: path, relaxed (1) or simple (0). Path scalar runs the engine's
// scalar table, the reference for the ratios.
void BM_canon(benchmark::State &state)
{
	auto path = (enum sl_simd_path)state.range(0);
	const struct sl_canon_ops *ops = sl_canon_ops_for(path);

	if (ops == nullptr) {
		state.SkipWithError("path not supported on this CPU");
		return;
	}
	run_canon(state, ops, state.range(1) != 0);
}

void canon_args(benchmark::internal::Benchmark *b)
{
	for (int relaxed = 1; relaxed >= 0; relaxed--) {
		for (int path = 0; path < SL_SIMD_COUNT; path++)
			b->Args({ path, relaxed });
	}
}

}  // namespace

BENCHMARK(BM_canon)->Apply(canon_args);
