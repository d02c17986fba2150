#!/usr/bin/env bash
# sluice-ctld with a running sluiced: sluiced connects to the snapshot
# link and acknowledges the current generation, counts injected messages
# in shared memory for /metrics, and both daemons resynchronize after
# either restarts.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

T=$(make_tmpdir)
SMTP=$(free_port)
METRICS=$(free_port)
cat >"$T/sluice.yaml" <<YAML
sluiced:
  workers: 2
  log_file: $T/sluiced.log
smtp:
  listen: ['127.0.0.1:$SMTP']
  hostname: mx.test
  relay_networks: [127.0.0.1/32]
spool:
  paths: [$T/spool]
  # Other programs on a shared test machine may fill the disk for a
  # while; these tests are not about the free-space floor.
  free_floor_percent: 0
ctl:
  socket: $T/ctl.sock
  link_socket: $T/link.sock
  state: $T/state.json
metrics:
  listen: 127.0.0.1:$METRICS
  shm: /sluice-ctlsluiced-$$
keys:
  dir: $T/keys
YAML
export SLUICE_CTL_SOCKET=$T/ctl.sock

start_ctld() {
	"$BIN/sluice-ctld" -c "$T/sluice.yaml" 2>>"$T/ctld.log" &
	CTLD=$!
	on_exit_kill $CTLD
	wait_port "$METRICS" 10
}
status() { "$BIN/sluicectl" status --json; }
# wait_linked PID: until status shows sluiced PID connected with its
# acknowledged generation equal to sluice-ctld's generation.
wait_linked() {
	for _ in $(seq 100); do
		status | $PY -c "
import json, sys
d = json.load(sys.stdin)
s = d['sluiced']
sys.exit(0 if s['connected'] and s['pid'] == $1 and s['acked_generation'] == d['generation'] else 1)" && return 0
		sleep 0.1
	done
	return 1
}
metric() {
	$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$METRICS/metrics', timeout=10).read().decode())" |
		grep -E "^$1 " | awk '{print $2}'
}
send() {
	$PY - "$SMTP" "$1" <<'PYEOF'
import smtplib, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(count):
        s.sendmail("sender@example.com", ["rcpt@example.net"],
                   "From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: %d\r\n\r\nbody\r\n" % i)
PYEOF
}

start_ctld
"$BIN/sluicectl" keys generate example.com s1 --bits 1024 >/dev/null
sluiced_start "$T/sluice.yaml" "$SMTP" || { not_ok "sluiced starts"; finish; }
check "sluiced linked and acknowledged" wait_linked $SLUICED_PID
check "sluiced logged the snapshot" grep -q "ctl: using snapshot generation=[0-9]* keys=1 signers=1" "$T/sluiced.log"

# Counters: messages injected over SMTP show up in /metrics.
check_eq "metrics up" "1" "$(metric sluice_up)"
send 5
check_eq "sent messages accepted" "0" "$?"
check_eq "metrics injected" "5" "$(metric sluice_messages_injected_total)"
check_eq "status injected" "5" "$(status | $PY -c 'import json,sys; print(json.load(sys.stdin)["counters"]["injected"])')"
check_eq "accepted per log" "5" "$(grep -c ' queued id=' "$T/sluiced.log")"

# A change reaches sluiced.
"$BIN/sluicectl" queue suspend paused.test >/dev/null
check "change acknowledged" wait_linked $SLUICED_PID
check "sluiced logged the suspension" grep -q "suspensions=1" "$T/sluiced.log"

# Restart sluice-ctld while sluiced runs.
kill $CTLD
wait $CTLD 2>/dev/null
check "sluiced keeps running without ctld" kill -0 $SLUICED_PID
send 1
check_eq "mail accepted without ctld" "0" "$?"
start_ctld
check "sluiced relinked after ctld restart" wait_linked $SLUICED_PID
check_eq "counters kept across ctld restart" "6" "$(metric sluice_messages_injected_total)"

# Restart sluiced: it receives the current snapshot.
kill $SLUICED_PID
wait $SLUICED_PID 2>/dev/null
sluiced_start "$T/sluice.yaml" "$SMTP" || { not_ok "sluiced restarts"; finish; }
check "new sluiced linked" wait_linked $SLUICED_PID
check_eq "new sluiced got the suspension" "suspensions=1" \
	"$(grep 'ctl: using snapshot' "$T/sluiced.log" | tail -1 | grep -o 'suspensions=[0-9]*')"
check_eq "fresh counters after sluiced restart" "0" "$(metric sluice_messages_injected_total)"
kill $SLUICED_PID
wait $SLUICED_PID
check_eq "sluiced stops cleanly" "0" "$?"
check_eq "sluiced removed its counters" "no" "$([[ -e /dev/shm/sluice-ctlsluiced-$$ ]] && echo yes || echo no)"
finish
