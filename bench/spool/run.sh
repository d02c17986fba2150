#!/usr/bin/env bash
# bench-spool: spool appends against fio on the same folder, recovery time
# and index size.
#
# For each message size (4 KiB, 32 KiB) and shard count (1, 2), fio writes
# blocks of that size with the io_uring engine, 16 writes in flight and one
# fdatasync per 16 writes, one job per shard, to new files in the bench
# folder. spool_bench then appends messages of that size in the same
# folder with group commits of up to 16 records and 64 appends in flight
# per shard. The ratio is spool appends/s over fio writes/s.
# Then spool_bench fills a shard with RECOVERY_COUNT (1,000,000) messages
# of 1 KiB and times sl_spool_open() with the files out of the page cache.
#
# Ends with: bench-spool: F of fio, recovery-1M S s, index B bytes/msg
# where F is the lowest of the four ratios.
. "$(dirname "$0")/../../tests/lib.sh"

FIO_RUNTIME=${FIO_RUNTIME:-4}
MIN_TIME=${BENCH_MIN_TIME:-3}
RECOVERY_COUNT=${RECOVERY_COUNT:-1000000}
BENCH=$BUILD/bench/spool_bench
work=$(make_tmpdir)
# make_tmpdir runs in a command substitution (a subshell), so its cleanup
# registration is lost: register the folder again in this shell.
on_exit_remove "$work"
results=$work/results.txt

# fio_run BS JOBS: print "writes_per_s bytes_per_s".
fio_run() {
	rm -f "$work"/fio.*
	fio --name=fio --directory="$work" --size=2G --bs="$1" --rw=write \
		--ioengine=io_uring --iodepth=16 --fdatasync=16 --numjobs="$2" \
		--runtime="$FIO_RUNTIME" --time_based --group_reporting \
		--output-format=json 2>/dev/null |
		$PY -c 'import json, sys
w = json.load(sys.stdin)["jobs"][0]["write"]
print(round(w["iops"]), round(w["bw_bytes"]))'
	rm -f "$work"/fio.*
}

# spool_run FILTER: Google Benchmark JSON of the matching benchmarks.
spool_run() {
	SPOOL_BENCH_DIR=$work "$BENCH" --benchmark_filter="$1" \
		--benchmark_min_time="$MIN_TIME" --benchmark_format=json 2>/dev/null
}

echo "bench-spool: folder $work"
for size in 4096 32768; do
	for shards in 1 2; do
		read -r fio_iops fio_bw < <(fio_run "$size" "$shards")
		spool_run "BM_Append/size:$size/shards:$shards/flush:0/" >"$work/append-$size-$shards.json"
		echo "append $size $shards $fio_iops $fio_bw $work/append-$size-$shards.json" >>"$results"
	done
done
spool_run 'BM_Append/size:4096/shards:1/flush:[12]/|BM_Read' >"$work/other.json"
"$BENCH" --recovery "$work/recovery" "$RECOVERY_COUNT" >"$work/recovery.txt"

$PY - "$results" "$work/other.json" "$work/recovery.txt" <<'EOF'
import json, sys

rows, ratios = [], []
for line in open(sys.argv[1]):
    _, size, shards, fio_iops, fio_bw, path = line.split()
    b = json.load(open(path))["benchmarks"][0]
    rate = b["appends_per_s"]
    ratio = rate / float(fio_iops)
    ratios.append(ratio)
    rows.append((int(size), int(shards), rate, b["bytes_per_second"] / 1e6,
                 b["flush_p50_us"], b["flush_p99_us"], int(fio_iops),
                 int(fio_bw) / 1e6, ratio))

print()
print("| message | shards | spool appends/s | spool MB/s | flush p50 | flush p99 "
      "| fio writes/s | fio MB/s | spool/fio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print("| %d KiB | %d | %.0f | %.1f | %.0f us | %.0f us | %d | %.1f | %.2f |" %
          (r[0] // 1024, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]))

print()
print("| other run | result |")
print("| --- | --- |")
modes = {"flush:1": "RWF_DSYNC", "flush:2": "O_DSYNC"}
for b in json.load(open(sys.argv[2]))["benchmarks"]:
    name = b["name"]
    if name.startswith("BM_Append"):
        mode = modes[name.split("/")[3]]
        print("| 4 KiB appends, 1 shard, %s | %.0f appends/s, flush p50 %.0f us, p99 %.0f us |" %
              (mode, b["appends_per_s"], b["flush_p50_us"], b["flush_p99_us"]))
    else:
        kind = "O_DIRECT" if "direct:1" in name else "page cache"
        print("| 32 KiB reads, 16 in flight, %s | %.0f reads/s, %.0f MB/s |" %
              (kind, b["items_per_second"], b["bytes_per_second"] / 1e6))

rec = dict(l.strip().split("=", 1) for l in open(sys.argv[3]) if "=" in l)
print()
for k, v in rec.items():
    print("%s: %s" % (k, v))
print()
print("bench-spool: %.2f of fio, recovery-1M %s s, index %s bytes/msg" %
      (min(ratios), rec["recovery_cold_seconds"], rec["index_bytes_per_msg"]))
EOF
