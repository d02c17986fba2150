#!/usr/bin/env bash
# Key rotation under load: sluiced signs with the keys of sluice-ctld's
# snapshot, and "sluicectl keys rotate --now" during a campaign switches
# the selector. Every message smtp-sink received carries a signature that
# verifies with dkimpy under the old or the new selector; none is
# unsigned, and both selectors were used.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

[[ -x /usr/sbin/smtp-sink ]] || { echo "smtp-sink missing: run make deps"; exit 77; }

T=$(make_tmpdir)
chmod 0711 "$T"
SMTP=$(free_port)
SINK=$(free_port)
METRICS=$(free_port)
COUNT=60
mkdir -p "$T/sink"
chmod 0777 "$T/sink"
{ sluiced_yaml_base "$T" "$SMTP"; cat; } >"$T/sluice.yaml" <<YAML
delivery:
  enabled: true
  routes: ['sink.test 127.0.0.1:$SINK']
  accounting_log: $T/accounting.jsonl
  retry_initial: 1s
  retry_max: 1s
ctl:
  socket: $T/ctl.sock
  link_socket: $T/link.sock
  state: $T/state.json
metrics:
  listen: 127.0.0.1:$METRICS
  shm: /sluice-ctlrotation-$$
keys:
  dir: $T/keys
YAML
export SLUICE_CTL_SOCKET=$T/ctl.sock
CTL="$BIN/sluicectl"

# send FIRST LAST: one message per number, each to one recipient.
send() {
	$PY - "$SMTP" "$1" "$2" <<'PYEOF'
import smtplib, sys, time
port, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(first, last + 1):
        s.sendmail("news@shop.test", ["user%d@sink.test" % i],
                   "From: news@shop.test\r\nTo: user%d@sink.test\r\nSubject: rotation %d\r\n\r\nhello %d\r\n"
                   % (i, i, i))
        time.sleep(0.02)
PYEOF
}
delivered() {
	$PY -c 'import json,sys
n = 0
try:
    n = sum(1 for l in open(sys.argv[1]) if json.loads(l).get("status") == "delivered")
except FileNotFoundError:
    pass
print(n)' "$T/accounting.jsonl"
}
# signed_with SELECTOR: delivered records whose signatures include it.
signed_with() {
	$PY -c 'import json,sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("status") == "delivered"
          and any(s.startswith("s=%s " % sys.argv[2]) for s in json.loads(l).get("dkim") or [])))' \
		"$T/accounting.jsonl" "$1"
}

/usr/sbin/smtp-sink -u nobody -d "$T/sink/%M." "127.0.0.1:$SINK" 64 2>"$T/sink.log" &
on_exit_kill $!
wait_port "$SINK" 10 || { not_ok "smtp-sink starts"; finish; }
"$BIN/sluice-ctld" -c "$T/sluice.yaml" 2>>"$T/ctld.log" &
on_exit_kill $!
wait_port "$METRICS" 10 || { not_ok "sluice-ctld starts"; finish; }
"$CTL" keys generate shop.test s1 --bits 1024 >/dev/null
check_eq "first key generated" "0" "$?"
sluiced_start "$T/sluice.yaml" "$SMTP" || { not_ok "sluiced starts"; finish; }
for _ in $(seq 100); do
	grep -q "ctl: using snapshot generation=.* keys=1" "$T/sluiced.log" && break
	sleep 0.1
done

send 1 $((COUNT / 2)) &
SENDER=$!
sleep 0.5
"$CTL" keys rotate shop.test --selector s2 --now >/dev/null
check_eq "key rotated during campaign" "0" "$?"
wait $SENDER
check_eq "first half injected" "0" "$?"
send $((COUNT / 2 + 1)) $COUNT
check_eq "second half injected" "0" "$?"

for _ in $(seq 300); do
	[[ $(delivered) -ge $COUNT ]] && break
	sleep 0.1
done
check_eq "every message delivered" "$COUNT" "$(delivered)"

"$CTL" keys dns shop.test --json |
	$PY -c 'import json,sys
for k in json.load(sys.stdin)["keys"]:
    if "dns" in k:
        print(k["dns"]["name"], k["dns"]["value"])' >"$T/dns.txt"
check_eq "both selectors published" "2" "$(wc -l <"$T/dns.txt")"
read -r passed checked < <($PY "$TOP/tests/demo/verify_sink.py" "$T/dns.txt" "$T/sink" 2>"$T/dkimpy.txt")
check_eq "dkimpy verifies every message" "$COUNT/$COUNT" "$passed/$checked"
old=$(signed_with s1)
new=$(signed_with s2)
check "old selector signed some" test "$old" -gt 0
check "new selector signed some" test "$new" -gt 0
check_eq "every delivery signed" "$COUNT" "$((old + new))"
finish
