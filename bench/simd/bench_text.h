// bench/simd/bench_text.h - generated mail text for the SIMD benchmarks.
#ifndef SLUICE_BENCH_SIMD_TEXT_H
#define SLUICE_BENCH_SIMD_TEXT_H

#include <cstdint>
#include <vector>

// LEN bytes of plain-text mail with CRLF line ends, the same for a seed:
// words of 2-9 letters, single spaces (1 in 16 doubled, 1 in 64 a tab),
// lines of 60-76 bytes, an empty line after every eighth line.
inline std::vector<uint8_t> bench_mail_text(size_t len, uint64_t seed)
{
	std::vector<uint8_t> t;
	size_t col = 0, lines = 0;

	t.reserve(len + 128);
	auto next = [&seed]() {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		return (unsigned)(seed >> 33);
	};
	while (t.size() < len) {
		unsigned word = 2 + next() % 8, r = next();

		for (unsigned i = 0; i < word; i++)
			t.push_back((uint8_t)('a' + next() % 26));
		col += word;
		if (col >= 60 + next() % 17) {
			t.push_back('\r');
			t.push_back('\n');
			col = 0;
			if (++lines % 8 == 0) {
				t.push_back('\r');
				t.push_back('\n');
			}
			continue;
		}
		t.push_back(r % 64 == 0 ? '\t' : ' ');
		if (r % 16 == 1)
			t.push_back(' ');
		col += 1;
	}
	t.resize(len);
	return t;
}

#endif
