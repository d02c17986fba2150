#!/usr/bin/env bash
# sluice-bench end to end. A --quick run with very short phases writes a
# complete report.json (every section, positive numbers), a Markdown
# report and an SVG that parses. compare of a report with itself prints
# ratios of 1.00. Invalid reports and arguments are rejected with the
# documented exit codes. No process or temporary folder is left behind,
# also after Ctrl-C (SIGINT) in the middle of the end-to-end runs.
# Traffic stays on loopback (sluiced, smtp-source and smtp-sink).
. "$(dirname "$0")/../lib.sh"

if ! command -v /usr/sbin/smtp-sink >/dev/null || ! command -v /usr/sbin/smtp-source >/dev/null; then
	echo "# smtp-sink or smtp-source missing: install the Debian package postfix"
	exit 77
fi

dir=$(make_tmpdir)
spool=$dir/spool
mkdir -p "$spool"
BENCH=$BIN/sluice-bench

# leftover_processes: processes whose stdout is a file under $spool (the
# sink, the source and sluiced that sluice-bench starts write there).
leftover_processes() {
	local fd n=0
	for fd in /proc/[0-9]*/fd/1; do
		[[ "$(readlink "$fd" 2>/dev/null)" == "$spool"/* ]] && n=$((n + 1))
	done
	echo "$n"
}

"$BENCH" run --quick --seconds 0.05 --messages 100 --workers 1 --price 0.34 \
	--label test-machine --out "$dir/out" --spool-path "$spool" 2>"$dir/run.err"
check_eq "run exits 0" 0 "$?"

$PY - "$dir/out/report.json" <<'PY'
import json, sys

r = json.load(open(sys.argv[1]))

def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name)

check("schema and version", r["schema"] == "sluice-bench-report" and r["schema_version"] == 1)
check("label from --label", r["label"] == "test-machine")
m = r["machine"]
check("machine facts", m["cores"] > 0 and m["cpus_usable"] > 0 and m["memory_bytes"] > 0
      and m["architecture"] and m["cpu_model"] and m["kernel"]
      and m["openssl"].startswith("OpenSSL") and m["simd_path"])
algs = r["signing"]["algorithms"]
check("four algorithms", [a["algorithm"] for a in algs] == ["rsa1024", "rsa2048", "rsa3072", "ed25519"])
fields = ["sign_per_s_core", "sign_per_s_all", "verify_per_s_core", "verify_per_s_all",
          "dkim_per_s_core", "dkim_batch_per_s_core"]
check("signing rates positive", all(a[f] > 0 for a in algs for f in fields))
paths = [p["path"] for p in r["sha256"]["paths"]]
check("sha256 paths listed", paths[:3] == ["openssl", "sluice-single", "scalar"]
      and m["simd_path"] in paths)
check("sha256 rates positive", all(p["mb_per_s"] > 0 for p in r["sha256"]["paths"]))
s = r["spool"]
check("spool rates positive", s["appends_per_s"] > 0 and s["flushes_per_s"] > 0 and s["mb_per_s"] > 0)
e = r["e2e"]
check("e2e ran", e["status"] == "ok" and len(e["runs"]) == 1)
run = e["runs"][0]
check("e2e one worker, 100 messages", run["workers"] == 1 and run["messages"] == 100)
check("e2e every message delivered", run["delivered"] == 100)
check("e2e rate positive", run["messages_per_s"] > 0)
est = r["estimate"]
check("estimate bound named", est["bound_by"] in ("signing", "end-to-end"))
check("estimate positive", est["messages_per_hour"] > 0 and est["usd_per_million"] > 0)
check("estimate price kept", est["price_usd_per_hour"] == 0.34)
low = min(est["signing_messages_per_hour"], est["e2e_messages_per_hour"])
check("estimate is the lower bound", abs(est["messages_per_hour"] - low) < 1e-6 * low)
PY

md=$dir/out/report.md
for section in "## Machine" "## Signatures" "## SHA-256" "## Spool" "## End to end" "## Estimate"; do
	check "markdown has $section" grep -qx "$section" "$md"
done
check "markdown rsa2048 row" grep -q '^| rsa2048 |' "$md"

svg_parses() {
	$PY -c 'import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
rects = root.findall("{http://www.w3.org/2000/svg}rect")
sys.exit(0 if root.tag == "{http://www.w3.org/2000/svg}svg" and len(rects) > 10 else 1)' "$1"
}
check "report svg parses" svg_parses "$dir/out/report.svg"

"$BENCH" compare "$dir/out/report.json" "$dir/out/report.json" --svg "$dir/compare.svg" \
	>"$dir/compare.md" 2>"$dir/compare.err"
check_eq "compare exits 0" 0 "$?"
check "compare prints ratios" grep -q '(1.00)' "$dir/compare.md"
check_eq "compare ratios all 1.00" 0 "$(grep -o '([0-9.]*)' "$dir/compare.md" | grep -vc '^(1.00)$')"
check "compare svg parses" svg_parses "$dir/compare.svg"

$PY - "$dir/out/report.json" "$dir" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["schema_version"] = 2
json.dump(r, open(sys.argv[2] + "/v2.json", "w"))
r["schema_version"] = 1
del r["spool"]["flushes_per_s"]
json.dump(r, open(sys.argv[2] + "/missing.json", "w"))
PY
"$BENCH" compare "$dir/out/report.json" "$dir/v2.json" >/dev/null 2>"$dir/v2.err"
check_eq "wrong version exits 3" 3 "$?"
check "wrong version names file and field" grep -q "$dir/v2.json: field 'schema_version' must be 1" "$dir/v2.err"
"$BENCH" compare "$dir/missing.json" >/dev/null 2>"$dir/missing.err"
check_eq "missing field exits 3" 3 "$?"
check "missing field named" grep -q "missing.json: field 'spool.flushes_per_s' is missing" "$dir/missing.err"

"$BENCH" run --seconds fast >/dev/null 2>"$dir/args.err"
check_eq "invalid argument exits 2" 2 "$?"
check "invalid argument named" grep -q "invalid --seconds 'fast'" "$dir/args.err"

"$BENCH" run --quick --out /proc/sluice-bench-test >/dev/null 2>"$dir/out.err"
check_eq "unwritable --out exits 2" 2 "$?"
check "unwritable --out named" grep -q "\-\-out '/proc/sluice-bench-test' is not a writable folder" "$dir/out.err"
"$BENCH" run --quick --spool-path "$dir/none" >/dev/null 2>"$dir/spool.err"
check_eq "missing --spool-path exits 2" 2 "$?"
check "missing --spool-path named" grep -q "\-\-spool-path '$dir/none' is not a writable folder" "$dir/spool.err"

check_eq "no process left after run" 0 "$(leftover_processes)"
check_eq "no temporary folder left after run" "" "$(ls -A "$spool")"

# An injector that fails: a stand-in smtp-source found first in PATH exits
# at once, so the run reports the end-to-end part as failed (after 15 s
# without progress) and still writes the rest of the report.
mkdir -p "$dir/fakebin"
printf '#!/bin/sh\necho "smtp-source: fatal: stand-in for the test" >&2\nexit 1\n' \
	>"$dir/fakebin/smtp-source"
chmod +x "$dir/fakebin/smtp-source"
PATH=$dir/fakebin:$PATH "$BENCH" run --quick --seconds 0.05 --messages 50 --workers 1 \
	--out "$dir/fail" --spool-path "$spool" 2>"$dir/fail.err"
check_eq "failed injection exits 1" 1 "$?"
check_eq "failed injection recorded" "failed" \
	"$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["e2e"]["status"])' "$dir/fail/report.json")"
check "failed injection names the cause" grep -q 'smtp-source exited.*stand-in for the test' "$dir/fail.err"
check_eq "estimate bound by signing" "signing" \
	"$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["estimate"]["bound_by"])' "$dir/fail/report.json")"
check_eq "no process left after failure" 0 "$(leftover_processes)"
check_eq "no temporary folder left after failure" "" "$(ls -A "$spool")"

# Ctrl-C during the end-to-end runs: a large message count keeps them busy.
"$BENCH" run --quick --seconds 0.05 --messages 1000000 --workers 1 --out "$dir/int" \
	--spool-path "$spool" 2>"$dir/int.err" &
bench_pid=$!
on_exit_kill "$bench_pid"
for _ in $(seq 600); do
	grep -qs 'end to end: workers=1' "$dir/int.err" && break
	sleep 0.1
done
sleep 0.5
check "sink, sluiced and source seen before Ctrl-C" test "$(leftover_processes)" -ge 2
kill -INT "$bench_pid"
wait "$bench_pid"
check_eq "interrupted run exits 130" 130 "$?"
check "interrupted run says so" grep -q 'interrupted' "$dir/int.err"
check_eq "no process left after Ctrl-C" 0 "$(leftover_processes)"
check_eq "no temporary folder left after Ctrl-C" "" "$(ls -A "$spool")"
check "no report after Ctrl-C" test ! -e "$dir/int/report.json"
finish
