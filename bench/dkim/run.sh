#!/usr/bin/env bash
# Run the DKIM signing benchmark and its peers on one core, then print
# the comparison table and the closing "bench-dkim:" line.
#
# 1. "openssl speed -seconds 3 rsa2048" and "... ed25519": the raw
#    signature rate of the OpenSSL that sluice links.
# 2. $BUILD/bench/bench_dkim: sluice_crypto and libopendkim signing the
#    same messages, plus canonicalization and body hash throughput.
# All three run pinned to core $CORE with taskset, one after the other.
# Results go to $BUILD/bench/dkim/ (raw output and JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CORE=${CORE:-1}
OUT=$BUILD/bench/dkim
mkdir -p "$OUT"

echo "bench-dkim: openssl speed on core $CORE"
taskset -c "$CORE" openssl speed -seconds 3 rsa2048 >"$OUT/openssl-rsa2048.txt" 2>/dev/null
taskset -c "$CORE" openssl speed -seconds 3 ed25519 >"$OUT/openssl-ed25519.txt" 2>/dev/null
tail -2 "$OUT/openssl-rsa2048.txt"
tail -2 "$OUT/openssl-ed25519.txt"

echo "bench-dkim: $BUILD/bench/bench_dkim on core $CORE"
taskset -c "$CORE" "$BUILD/bench/bench_dkim" \
	--benchmark_out="$OUT/bench_dkim.json" --benchmark_out_format=json

/usr/bin/python3 bench/dkim/report.py "$OUT/openssl-rsa2048.txt" \
	"$OUT/openssl-ed25519.txt" "$OUT/bench_dkim.json" | tee "$OUT/report.md"
