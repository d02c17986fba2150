#!/usr/bin/env bash
# Run the DKIM signing benchmark and its peers on one core, then print
# the comparison table and the closing "bench-dkim:" line.
#
# 1. "openssl speed -seconds 3 rsa2048" and "... ed25519": the raw
#    signature rate of the OpenSSL that sluice links.
# 2. $BUILD/bench/bench_dkim, $REPETITIONS times (default 3): sluice_crypto
#    and libopendkim signing the same messages, plus canonicalization and
#    body hash throughput.
# 3. The openssl runs of step 1 again.
# Everything runs pinned to core $CORE with taskset, one step after the
# other, and report.py takes the best run of each. Results go to
# $BUILD/bench/dkim/ (raw output and JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CORE=${CORE:-1}
REPETITIONS=${REPETITIONS:-3}
OUT=$BUILD/bench/dkim
mkdir -p "$OUT"

# openssl_speed RUN: both openssl speed measurements, saved as RUN.
openssl_speed() {
	local alg
	for alg in rsa2048 ed25519; do
		taskset -c "$CORE" openssl speed -seconds 3 "$alg" >"$OUT/openssl-$alg-$1.txt" 2>/dev/null
		tail -1 "$OUT/openssl-$alg-$1.txt"
	done
}

echo "bench-dkim: openssl speed on core $CORE"
openssl_speed 1

echo "bench-dkim: $BUILD/bench/bench_dkim on core $CORE, $REPETITIONS repetitions"
taskset -c "$CORE" "$BUILD/bench/bench_dkim" --benchmark_repetitions="$REPETITIONS" \
	--benchmark_out="$OUT/bench_dkim.json" --benchmark_out_format=json >"$OUT/bench_dkim.txt"
grep -E '_median ' "$OUT/bench_dkim.txt" || cat "$OUT/bench_dkim.txt"

echo "bench-dkim: openssl speed on core $CORE again"
openssl_speed 2

/usr/bin/python3 bench/dkim/report.py "$OUT"/openssl-*-[12].txt \
	"$OUT/bench_dkim.json" | tee "$OUT/report.md"
