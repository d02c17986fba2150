#!/usr/bin/env bash
# A small campaign through sluiced into Postfix's smtp-sink while
# sluice-ctld runs, is restarted mid-campaign, and serves metrics: every
# message is delivered, and the delivered, deferred and injected counters
# in /metrics equal the accounting log of the same run. Each message is
# signed with an RSA and an Ed25519 key, and the signature counters equal
# the signatures the accounting log lists.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

[[ -x /usr/sbin/smtp-sink ]] || { echo "smtp-sink missing: run make deps"; exit 77; }

T=$(make_tmpdir)
chmod 0711 "$T"
SMTP=$(free_port)
SINK=$(free_port)
METRICS=$(free_port)
COUNT=40
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$T/ed.pem" 2>/dev/null
{ sluiced_yaml_base "$T" "$SMTP"; cat; } >"$T/sluice.yaml" <<YAML
delivery:
  enabled: true
  routes: ['sink.test 127.0.0.1:$SINK']
  accounting_log: $T/accounting.jsonl
  retry_initial: 1s
  retry_max: 2s
signing:
  keys: ['shop.test rsa $T/rsa.pem', 'shop.test ed $T/ed.pem']
ctl:
  socket: $T/ctl.sock
  link_socket: $T/link.sock
  state: $T/state.json
metrics:
  listen: 127.0.0.1:$METRICS
  shm: /sluice-ctlcampaign-$$
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
metric() {
	$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$METRICS/metrics', timeout=10).read().decode())" |
		grep -E "^$1 " | awk '{print $2}'
}
# send FIRST LAST: one message per number, each to one recipient.
send() {
	$PY - "$SMTP" "$1" "$2" <<'PYEOF'
import smtplib, sys
port, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(first, last + 1):
        s.sendmail("news@shop.test", ["user%d@sink.test" % i],
                   "From: news@shop.test\r\nTo: user%d@sink.test\r\nSubject: campaign %d\r\n\r\nhello %d\r\n" % (i, i, i))
PYEOF
}
accounted() { # STATUS: accounting records with this status
	$PY - "$T/accounting.jsonl" "$1" <<'PYEOF'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        if json.loads(line).get("status") == sys.argv[2]:
            n += 1
except FileNotFoundError:
    pass
print(n)
PYEOF
}
signed() { # SELECTOR: signatures with this selector in the accounting log
	$PY - "$T/accounting.jsonl" "$1" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    n += sum(1 for d in json.loads(line).get("dkim") or [] if d.startswith("s=%s " % sys.argv[2]))
print(n)
PYEOF
}

/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK" 64 2>"$T/sink.log" &
on_exit_kill $!
wait_port "$SINK" 10 || { not_ok "smtp-sink starts"; finish; }
start_ctld
sluiced_start "$T/sluice.yaml" "$SMTP" || { not_ok "sluiced starts"; finish; }

send 1 20
check_eq "first half injected" "0" "$?"
# Restart sluice-ctld mid-campaign; sluiced keeps delivering.
kill $CTLD
wait $CTLD 2>/dev/null
send 21 $COUNT
check_eq "second half injected without ctld" "0" "$?"
start_ctld

for _ in $(seq 600); do
	[[ $(accounted delivered) -ge $COUNT ]] && break
	sleep 0.1
done
delivered=$(accounted delivered)
check_eq "every message delivered" "$COUNT" "$delivered"
check_eq "metrics injected" "$COUNT" "$(metric sluice_messages_injected_total)"
check_eq "metrics delivered equals accounting" "$delivered" "$(metric sluice_recipients_delivered_total)"
check_eq "metrics deferred equals accounting" "$(accounted deferred)" "$(metric sluice_recipients_deferred_total)"
check_eq "metrics bounced equals accounting" "$(accounted bounced)" "$(metric sluice_recipients_bounced_total)"
# Every attempt signs anew, so a deferred attempt adds its signatures too.
rsa_signed=$(signed rsa)
check "every message signed with rsa" test "$rsa_signed" -ge "$COUNT"
check_eq "every message signed with ed25519" "$rsa_signed" "$(signed ed)"
check_eq "metrics rsa signatures equal accounting" "$rsa_signed" \
	"$(metric 'sluice_dkim_signatures_total\{algorithm="rsa-sha256"\}')"
check_eq "metrics ed25519 signatures equal accounting" "$(signed ed)" \
	"$(metric 'sluice_dkim_signatures_total\{algorithm="ed25519-sha256"\}')"
flushes=$(metric sluice_spool_flush_seconds_count)
check "metrics spool flushes counted" test "${flushes:-0}" -gt 0
conns=$(metric sluice_connections_open)
check "metrics connections not negative" test "${conns:--1}" -ge 0
# sluiced reconnects within its retry interval and its log thread writes
# the line a moment later, so the second link may follow the deliveries.
for _ in $(seq 100); do
	[[ $(grep -c 'ctl link: connected to' "$T/sluiced.log") -ge 2 ]] && break
	sleep 0.1
done
check_eq "sluiced linked to both ctld runs" "2" "$(grep -c 'ctl link: connected to' "$T/sluiced.log")"
finish
