#!/usr/bin/env bash
# sluice-ctld's two links to sluiced, with stand-ins for sluiced built
# from the real dataplane/ctllink code: the snapshot link (received by
# link_probe, across restarts of either side) and the shared counters
# (written by shm_writer, read back through /metrics, status, top and
# queue summary).
. "$(dirname "$0")/../lib.sh"

T=$(make_tmpdir)
TOOLS=$(dirname "$0")/ctl_tools
LIBS="$BUILD/lib/libsluice_ctllink.a $BUILD/lib/libsluice_throttle.a $BUILD/lib/libsluice_common.a"
for tool in shm_writer link_probe; do
	if ! cc -I"$TOP" -D_GNU_SOURCE -std=gnu17 -Wall -Werror -o "$T/$tool" "$TOOLS/$tool.c" $LIBS \
		-ljansson -lpthread -lrt; then
		not_ok "building $tool"
		finish
	fi
done

PORT=$(free_port)
SHM=/sluice-ctltest-$$
cat >"$T/sluice.yaml" <<YAML
ctl:
  socket: $T/ctl.sock
  link_socket: $T/link.sock
  state: $T/state.json
metrics:
  listen: 127.0.0.1:$PORT
  shm: $SHM
keys:
  dir: $T/keys
YAML
export SLUICE_CTL_SOCKET=$T/ctl.sock

: >"$T/writer.out"
"$T/shm_writer" "$SHM" >"$T/writer.out" 2>&1 &
WRITER=$!
on_exit_kill $WRITER
for _ in $(seq 50); do grep -q ready "$T/writer.out" && break; sleep 0.1; done

start_ctld() {
	"$BIN/sluice-ctld" -c "$T/sluice.yaml" 2>>"$T/ctld.log" &
	CTLD=$!
	on_exit_kill $CTLD
	wait_port "$PORT" 10
}
start_probe() {
	: >"$T/probe.out"
	"$T/link_probe" "$T/link.sock" >"$T/probe.out" 2>"$T/probe.log" &
	PROBE=$!
	on_exit_kill $PROBE
}
# wait_snapshots N: until the probe printed at least N snapshots.
wait_snapshots() {
	for _ in $(seq 100); do
		[[ $(grep -c '^snapshot' "$T/probe.out") -ge $1 ]] && return 0
		sleep 0.1
	done
	return 1
}
last_snapshot() { grep '^snapshot' "$T/probe.out" | tail -1; }
metric() { grep -E "^$1 " "$T/metrics" | awk '{print $2}'; }

start_ctld
"$BIN/sluicectl" keys generate example.com s1 --bits 1024 >/dev/null
"$BIN/sluicectl" keys generate example.com e1 --algorithm ed25519 >/dev/null
"$BIN/sluicectl" queue suspend paused.test >/dev/null

# Snapshot link: the probe connects and receives the current state.
start_probe
check "probe got a snapshot" wait_snapshots 1
check_eq "snapshot contents" "keys=2 signers=1 suspensions=1 actions=0 rules=4" \
	"$(last_snapshot | cut -d' ' -f3-)"
check_eq "status shows sluiced connected" "True" \
	"$("$BIN/sluicectl" status --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["sluiced"]["connected"])')"

# A change is pushed at once.
"$BIN/sluicectl" queue bounce gone.test >/dev/null
check "change pushed" wait_snapshots 2
check_eq "pushed snapshot has the action" "actions=1" "$(last_snapshot | awk '{print $6}')"
gen_before=$(last_snapshot | awk '{print $2}')

# Restart sluice-ctld: the probe keeps its snapshot, reconnects and gets
# a newer generation with the same state (kept in the state file).
kill $CTLD
wait $CTLD 2>/dev/null
check "probe survives ctld stop" kill -0 $PROBE
start_ctld
check "resync after ctld restart" wait_snapshots 3
gen_after=$(last_snapshot | awk '{print $2}')
check "generation grows across restart" test "$gen_after" -gt "$gen_before"
check_eq "state kept across restart" "keys=2 signers=1 suspensions=1 actions=1 rules=4" \
	"$(last_snapshot | cut -d' ' -f3-)"

# Restart the receiver: it gets the current snapshot on connect.
kill $PROBE
wait $PROBE 2>/dev/null
start_probe
check "new receiver gets snapshot" wait_snapshots 1
check_eq "new receiver state" "keys=2 signers=1 suspensions=1 actions=1 rules=4" \
	"$(last_snapshot | cut -d' ' -f3-)"
check "new receiver generation" test "$(last_snapshot | awk '{print $2}')" -gt "$gen_after"

# Metrics: the values shm_writer put in shared memory.
$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics', timeout=10).read().decode())" >"$T/metrics"
check_eq "metrics up" "1" "$(metric sluice_up)"
check_eq "metrics injected" "100" "$(metric sluice_messages_injected_total)"
check_eq "metrics delivered" "80" "$(metric sluice_recipients_delivered_total)"
check_eq "metrics deferred" "7" "$(metric sluice_recipients_deferred_total)"
check_eq "metrics bounced" "3" "$(metric sluice_recipients_bounced_total)"
check_eq "metrics throttled" "11" "$(metric sluice_throttled_attempts_total)"
check_eq "metrics rsa signatures" "80" "$(metric 'sluice_dkim_signatures_total\{algorithm="rsa-sha256"\}')"
check_eq "metrics ed25519 signatures" "80" "$(metric 'sluice_dkim_signatures_total\{algorithm="ed25519-sha256"\}')"
check_eq "metrics connections" "5" "$(metric sluice_connections_open)"
check_eq "metrics flush count" "3" "$(metric sluice_spool_flush_seconds_count)"
check_eq "metrics flush bucket 250us" "2" "$(metric 'sluice_spool_flush_seconds_bucket\{le="0.00025"\}')"
check_eq "metrics flush bucket inf" "3" "$(metric 'sluice_spool_flush_seconds_bucket\{le="\+Inf"\}')"
check_eq "metrics queue depth" "120" "$(metric 'sluice_queue_depth\{destination="big.test"\}')"
check_eq "metrics suspended" "1" "$(metric 'sluice_destination_suspended\{destination="gmail.com"\}')"
check_eq "metrics not suspended" "0" "$(metric 'sluice_destination_suspended\{destination="big.test"\}')"
code=$($PY -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://127.0.0.1:$PORT/other', timeout=10)
except urllib.error.HTTPError as e:
    print(e.code)")
check_eq "other path is 404" "404" "$code"

# The same counters through the ctl socket.
"$BIN/sluicectl" status --json >"$T/status.json"
check_eq "status counters" "100 80 7 3 5" \
	"$($PY -c "import json; c=json.load(open('$T/status.json'))['counters']; print(c['injected'], c['delivered'], c['deferred'], c['bounced'], c['connections'])")"
"$BIN/sluicectl" queue summary --json >"$T/summary.json"
check_eq "summary order and states" "big.test:active gmail.com:suspended small.test:active paused.test:suspended" \
	"$($PY -c "import json; print(' '.join(d['domain']+':'+d['state'] for d in json.load(open('$T/summary.json'))['destinations']))")"
check_eq "summary backoff reason" "gmail-rate-limited" \
	"$($PY -c "import json; print([d['reason'] for d in json.load(open('$T/summary.json'))['destinations'] if d['domain']=='gmail.com'][0])")"
"$BIN/sluicectl" queue summary >"$T/summary.txt"
check "summary table row" grep -qE '^big.test +120 active' "$T/summary.txt"
"$BIN/sluicectl" top --iterations 2 --json >"$T/top.json"
check_eq "top workers and first destination" "2 big.test" \
	"$($PY -c "import json; d=json.loads(open('$T/top.json').read().splitlines()[-1]); print(len(d['workers']), d['destinations'][0]['domain'])")"
"$BIN/sluicectl" top --iterations 2 >"$T/top.txt"
check "top table has a worker row" grep -qE '^1 +0\.0 +0\.0 +1 ' "$T/top.txt"

# Without sluiced, sluice_up is 0.
kill $WRITER
wait $WRITER 2>/dev/null
$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics', timeout=10).read().decode())" >"$T/metrics"
check_eq "metrics down without sluiced" "0" "$(metric sluice_up)"
finish
