#!/usr/bin/env bash
# bench-smtpc: run bench_smtpc pinned to core $CORE and print, per message
# size, the CPU time per message with DATA and with BDAT and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CORE=${CORE:-1}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
taskset -c "$CORE" "$BUILD/bench/bench_smtpc" --benchmark_format=json \
	--benchmark_repetitions=3 --benchmark_report_aggregates_only=true >"$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
median = {r["run_name"]: r for r in runs if r.get("aggregate_name") == "median"}
print(f"{'size':>9} {'DATA us/msg':>12} {'BDAT us/msg':>12} {'DATA/BDAT':>10} {'BDAT MB/s':>10}")
for size in (20000, 100000, 1000000):
    d = median[f"Transfer/data/{size}"]
    b = median[f"Transfer/bdat/{size}"]
    unit = {"ns": 1e-3, "us": 1, "ms": 1e3}
    dt = d["cpu_time"] * unit[d["time_unit"]]
    bt = b["cpu_time"] * unit[b["time_unit"]]
    print(f"{size:>9} {dt:>12.2f} {bt:>12.2f} {dt / bt:>10.1f} {b['bytes_per_second'] / 1e6:>10.0f}")
PY
