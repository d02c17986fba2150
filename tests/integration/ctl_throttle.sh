#!/usr/bin/env bash
# Throttle rules from sluice-ctld enforced by sluiced's delivery engine:
#  - a 10 messages/s rule on slow.test holds 100 messages for at least
#    9 seconds (99 intervals of 100 ms after the first message);
#  - an aiosmtpd server for busy.test answers its first RCPT with a
#    Gmail-style "421 4.7.28 ... rate limited" reply; the backoff rule
#    suspends busy.test (visible in "sluicectl queue summary"), and
#    delivery resumes when the 4 s suspension ends;
#  - an operator suspension ("queue suspend") holds delivery and
#    "queue resume" releases it;
#  - "queue bounce" bounces the deferred mail of a domain whose server
#    port is closed.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

[[ -x /usr/sbin/smtp-sink ]] || { echo "smtp-sink missing: run make deps"; exit 77; }
$PY -c "import aiosmtpd" 2>/dev/null || { echo "python3-aiosmtpd missing: run make deps"; exit 77; }

T=$(make_tmpdir)
chmod 0711 "$T"
SMTP=$(free_port)
SINK=$(free_port)
BUSY=$(free_port)
METRICS=$(free_port)
CLOSED=$(free_port)   # nothing listens here
RATE_COUNT=100
BUSY_COUNT=6
cat >"$T/rules.yaml" <<YAML
rules:
  - name: slow-test
    domain: slow.test
    rate: 10/s
  - name: busy-test
    domain: busy.test
    backoff:
      - name: busy-rate-limited
        code: 421
        enhanced: 4.7.28
        pattern: "rate limited"
        action: suspend
        duration: 4s
YAML
{ sluiced_yaml_base "$T" "$SMTP"; cat; } >"$T/sluice.yaml" <<YAML
delivery:
  enabled: true
  routes: ['slow.test 127.0.0.1:$SINK', 'held.test 127.0.0.1:$SINK', 'busy.test 127.0.0.1:$BUSY', 'gone.test 127.0.0.1:$CLOSED',
           'shop.test 127.0.0.1:$SINK']
  # Bounce notices go to shop.test above; no lookup leaves loopback.
  resolver: 127.0.0.1:$CLOSED
  accounting_log: $T/accounting.jsonl
  retry_initial: 1s
  retry_max: 1s
ctl:
  socket: $T/ctl.sock
  link_socket: $T/link.sock
  state: $T/state.json
metrics:
  listen: 127.0.0.1:$METRICS
  shm: /sluice-ctlthrottle-$$
keys:
  dir: $T/keys
throttle:
  providers: none
  rules_file: $T/rules.yaml
YAML
export SLUICE_CTL_SOCKET=$T/ctl.sock
CTL="$BIN/sluicectl"

metric() {
	$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$METRICS/metrics', timeout=10).read().decode())" |
		grep -E "^$1 " | awk '{print $2}'
}
# send DOMAIN FIRST LAST: one message per number, each to one recipient.
send() {
	$PY - "$SMTP" "$1" "$2" "$3" <<'PYEOF'
import smtplib, sys
port, domain, first, last = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(first, last + 1):
        s.sendmail("news@shop.test", ["user%d@%s" % (i, domain)],
                   "From: news@shop.test\r\nTo: user%d@%s\r\nSubject: throttle %d\r\n\r\nhello %d\r\n"
                   % (i, domain, i, i))
PYEOF
}
# accounted STATUS DOMAIN: accounting records with this status and domain.
accounted() {
	$PY - "$T/accounting.jsonl" "$1" "$2" <<'PYEOF'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("status") == sys.argv[2] and sys.argv[3] in json.dumps(r):
            n += 1
except FileNotFoundError:
    pass
print(n)
PYEOF
}
# wait_delivered DOMAIN COUNT TENTHS: poll the accounting log.
wait_delivered() {
	for _ in $(seq "$3"); do
		[[ $(accounted delivered "@$1") -ge $2 ]] && return 0
		sleep 0.1
	done
	return 1
}
# summary_state DOMAIN: the state column of "sluicectl queue summary".
summary_state() {
	"$CTL" queue summary --json | $PY -c "
import json, sys
for d in json.load(sys.stdin)['destinations']:
    if d['domain'] == sys.argv[1]:
        print(d['state'])" "$1"
}

/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK" 64 2>"$T/sink.log" &
on_exit_kill $!
# busy.test: the first RCPT gets a rate-limit reply, every later one 250.
$PY - "$BUSY" "$T/busy.log" <<'PYEOF' &
import asyncio, sys
from aiosmtpd.controller import Controller

class Handler:
    def __init__(self):
        self.rcpts = 0
    async def handle_RCPT(self, server, session, envelope, address, options):
        self.rcpts += 1
        with open(sys.argv[2], "a") as log:
            log.write("rcpt %d %s\n" % (self.rcpts, address))
        if self.rcpts == 1:
            return ("421 4.7.28 Our system has detected an unusual rate of unsolicited mail; "
                    "you have been temporarily rate limited")
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
try:
    asyncio.get_event_loop().run_until_complete(asyncio.sleep(120))
finally:
    controller.stop()
PYEOF
on_exit_kill $!
wait_port "$SINK" 10 || { not_ok "smtp-sink starts"; finish; }
wait_port "$BUSY" 10 || { not_ok "aiosmtpd server starts"; finish; }
"$BIN/sluice-ctld" -c "$T/sluice.yaml" 2>>"$T/ctld.log" &
on_exit_kill $!
wait_port "$METRICS" 10 || { not_ok "sluice-ctld starts"; finish; }
sluiced_start "$T/sluice.yaml" "$SMTP" || { not_ok "sluiced starts"; finish; }
for _ in $(seq 100); do
	grep -q "ctl: using snapshot" "$T/sluiced.log" && break
	sleep 0.1
done

# Rate: 100 messages at 10/s take at least 9.9 s after the first one.
start=$(date +%s.%N)
send slow.test 1 $RATE_COUNT
check_eq "rate campaign injected" "0" "$?"
wait_delivered slow.test $RATE_COUNT 400
end=$(date +%s.%N)
check_eq "rate campaign delivered" "$RATE_COUNT" "$(accounted delivered @slow.test)"
elapsed=$($PY -c "print(int(($end - $start) * 10))")
check "100 messages at 10/s take 9 s or more" test "$elapsed" -ge 90
throttled=$(metric sluice_throttled_attempts_total)
check "throttled attempts counted" test "${throttled:-0}" -gt 0

# Backoff: the first reply suspends busy.test for 4 s.
send busy.test 1 $BUSY_COUNT
check_eq "busy campaign injected" "0" "$?"
state=""
for _ in $(seq 40); do
	state=$(summary_state busy.test)
	[[ $state == suspended ]] && break
	sleep 0.1
done
check_eq "busy.test suspended by backoff rule" "suspended" "$state"
check_eq "rate-limit reply deferred one recipient" "1" "$(accounted deferred @busy.test)"
wait_delivered busy.test $BUSY_COUNT 200
check_eq "busy.test delivered after suspension" "$BUSY_COUNT" "$(accounted delivered @busy.test)"
# The published end of a suspension is rounded up to a whole second.
for _ in $(seq 30); do
	state=$(summary_state busy.test)
	[[ $state == active ]] && break
	sleep 0.1
done
check_eq "busy.test active again" "active" "$state"

# Operator suspension and resume.
"$CTL" queue suspend held.test >/dev/null
check_eq "queue suspend accepted" "0" "$?"
sleep 1
send held.test 1 3
check_eq "held campaign injected" "0" "$?"
sleep 2
check_eq "suspended domain not delivered" "0" "$(accounted delivered @held.test)"
check_eq "held.test shown suspended" "suspended" "$(summary_state held.test)"
"$CTL" queue resume held.test >/dev/null
check_eq "queue resume accepted" "0" "$?"
wait_delivered held.test 3 100
check_eq "held.test delivered after resume" "3" "$(accounted delivered @held.test)"

# Bounce: gone.test's port is closed, so its mail is deferred until the
# operator bounces it.
send gone.test 1 2
check_eq "gone campaign injected" "0" "$?"
for _ in $(seq 50); do
	[[ $(accounted deferred @gone.test) -ge 2 ]] && break
	sleep 0.1
done
check "gone.test deferred" test "$(accounted deferred @gone.test)" -ge 2
"$CTL" queue bounce gone.test >/dev/null
check_eq "queue bounce accepted" "0" "$?"
for _ in $(seq 50); do
	[[ $(accounted bounced @gone.test) -ge 2 ]] && break
	sleep 0.1
done
check_eq "gone.test bounced by operator" "2" "$(accounted bounced @gone.test)"
check_eq "gone.test nothing delivered" "0" "$(accounted delivered @gone.test)"
finish
