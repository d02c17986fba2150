#!/usr/bin/env bash
# Fleet-wide throttle: two appliances (each a sluiced and a sluice-ctld
# with its own spool, config and ports) share one redis-server on
# loopback (a over TCP, b over the Unix socket) and one rule "fleet.test: 10/s, fleet: true", with fleet size 2:
#  - 100 messages, 50 injected into each appliance at once, take at
#    least 9 s in total (10/s for the two together; one lease of 5 slots
#    may go at once), all arrive, and Redis holds the script's key;
#  - redis-server is stopped mid-run: both appliances report "fallback"
#    (status and metrics), the rest of the mail is still delivered, and
#    at 5/s each (10/s divided by the fleet size) 15 messages per
#    appliance take at least 2.8 s;
#  - redis-server is started again: both appliances return to "leasing"
#    and spend new leases;
#  - redis-server hangs (SIGSTOP): calls time out, both appliances fall
#    back and keep delivering, and lease again after SIGCONT;
#  - the Redis password never appears in a log.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

[[ -x /usr/sbin/smtp-sink ]] || { echo "smtp-sink missing: run make deps"; exit 77; }
command -v redis-server >/dev/null || { echo "redis-server missing: run make deps"; exit 77; }
command -v redis-cli >/dev/null || { echo "redis-cli missing: run make deps"; exit 77; }

T=$(make_tmpdir)
chmod 0711 "$T"
SINK=$(free_port)
RPORT=$(free_port)
PASSWORD="fleet-$$-$RANDOM$RANDOM"
PREFIX="sluicetest$$:"
printf '%s\n' "$PASSWORD" >"$T/redis.password"
chmod 0600 "$T/redis.password"
mkdir -p "$T/redis"
# The password goes in a config file, not on the command line (ps).
cat >"$T/redis/redis.conf" <<CONF
bind 127.0.0.1
port $RPORT
save ""
appendonly no
dir $T/redis
requirepass $PASSWORD
unixsocket $T/redis/redis.sock
unixsocketperm 700
CONF
chmod 0600 "$T/redis/redis.conf"
export REDISCLI_AUTH=$PASSWORD
rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@" 2>/dev/null; }

cat >"$T/rules.yaml" <<YAML
rules:
  - name: fleet-test
    domain: fleet.test
    rate: 10/s
    fleet: true
YAML

# Appliance a reaches Redis over TCP, b over its Unix socket (unless the
# socket path is too long for sun_path in this build tree).
REDIS_A=127.0.0.1:$RPORT
REDIS_B=$T/redis/redis.sock
[[ ${#REDIS_B} -lt 100 ]] || REDIS_B=$REDIS_A

# appliance NAME SMTP-PORT METRICS-PORT REDIS: write NAME's folder and config.
appliance() {
	local d=$T/$1
	mkdir -p "$d"
	cat >"$d/sluice.yaml" <<YAML
sluiced:
  workers: 2
  log_file: $d/sluiced.log
smtp:
  listen: ['127.0.0.1:$2']
  hostname: $1.test
  relay_networks: [127.0.0.1/32]
spool:
  paths: [$d/spool]
  free_floor_percent: 0
delivery:
  enabled: true
  routes: ['fleet.test 127.0.0.1:$SINK']
  resolver: 127.0.0.1:$SINK
  accounting_log: $d/accounting.jsonl
  retry_initial: 1s
  retry_max: 1s
ctl:
  socket: $d/ctl.sock
  link_socket: $d/link.sock
  state: $d/state.json
metrics:
  listen: 127.0.0.1:$3
  shm: /sluice-fleet-$1-$$
keys:
  dir: $d/keys
throttle:
  providers: none
  rules_file: $T/rules.yaml
fleet:
  redis: $4
  password_file: $T/redis.password
  key_prefix: "$PREFIX"
  fleet_size: 2
  lease_size: 5
  lease_time: 1s
  command_timeout: 200ms
  reconnect_min: 100ms
  reconnect_max: 500ms
YAML
}

SMTP_A=$(free_port); METRICS_A=$(free_port)
SMTP_B=$(free_port); METRICS_B=$(free_port)
appliance a "$SMTP_A" "$METRICS_A" "$REDIS_A"
appliance b "$SMTP_B" "$METRICS_B" "$REDIS_B"

# send PORT FIRST LAST: one message per number to userN@fleet.test.
send() {
	$PY - "$1" "$2" "$3" <<'PYEOF'
import smtplib, sys
port, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(first, last + 1):
        s.sendmail("news@shop.test", ["user%d@fleet.test" % i],
                   "From: news@shop.test\r\nTo: user%d@fleet.test\r\nSubject: fleet %d\r\n\r\nhello %d\r\n"
                   % (i, i, i))
PYEOF
}
# delivered NAME: delivered records in NAME's accounting log.
delivered() {
	local n
	n=$(grep -c '"status":"delivered"' "$T/$1/accounting.jsonl" 2>/dev/null)
	echo "${n:-0}"
}
# wait_total COUNT TENTHS: until both logs hold COUNT deliveries together.
wait_total() {
	for _ in $(seq "$2"); do
		[[ $(($(delivered a) + $(delivered b))) -ge $1 ]] && return 0
		sleep 0.1
	done
	return 1
}
# wait_one NAME COUNT TENTHS
wait_one() {
	for _ in $(seq "$3"); do
		[[ $(delivered "$1") -ge $2 ]] && return 0
		sleep 0.1
	done
	return 1
}
# fleet_field NAME FIELD: a field of "sluicectl status --json" .fleet.
fleet_field() {
	SLUICE_CTL_SOCKET=$T/$1/ctl.sock "$BIN/sluicectl" status --json 2>/dev/null |
		$PY -c "import json, sys; print(json.load(sys.stdin).get('fleet', {}).get(sys.argv[1], ''))" "$2"
}
# wait_state NAME STATE TENTHS
wait_state() {
	for _ in $(seq "$3"); do
		[[ $(fleet_field "$1" state) == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}
metric() {
	$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$1/metrics', timeout=10).read().decode())" |
		grep -F "$2 " | awk '{print $2}'
}
now() { date +%s.%N; }
# tenths_since START: tenths of a second from START until now.
tenths_since() { $PY -c "import sys, time; print(int((time.time() - float(sys.argv[1])) * 10))" "$1"; }
start_redis() {
	redis-server "$T/redis/redis.conf" >>"$T/redis/redis.log" 2>&1 &
	REDIS_PID=$!
	on_exit_kill "$REDIS_PID"
	wait_port "$RPORT" 10
}

/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK" 64 2>"$T/sink.log" &
on_exit_kill $!
wait_port "$SINK" 10 || { not_ok "smtp-sink starts"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
for n in a b; do
	"$BIN/sluice-ctld" -c "$T/$n/sluice.yaml" 2>>"$T/$n/ctld.log" &
	on_exit_kill $!
done
wait_port "$METRICS_A" 10 || { not_ok "sluice-ctld a starts"; finish; }
wait_port "$METRICS_B" 10 || { not_ok "sluice-ctld b starts"; finish; }
sluiced_start "$T/a/sluice.yaml" "$SMTP_A" || { not_ok "sluiced a starts"; finish; }
sluiced_start "$T/b/sluice.yaml" "$SMTP_B" || { not_ok "sluiced b starts"; finish; }
for n in a b; do
	for _ in $(seq 100); do
		grep -q "ctl: using snapshot" "$T/$n/sluiced.log" && break
		sleep 0.1
	done
done
wait_state a leasing 50
check_eq "appliance a leasing" "leasing" "$(fleet_field a state)"
wait_state b leasing 50
check_eq "appliance b leasing" "leasing" "$(fleet_field b state)"

shown=$(SLUICE_CTL_SOCKET=$T/a/ctl.sock "$BIN/sluicectl" throttle show fleet.test --json |
	$PY -c "import json, sys; r = json.load(sys.stdin); print(r.get('fleet'), r.get('fleet_key'))")
check_eq "throttle show names the fleet key" "True domain:fleet.test" "$shown"
# throttle set --fleet: validated by sluice-ctld, which names the field.
err=$(SLUICE_CTL_SOCKET=$T/a/ctl.sock "$BIN/sluicectl" throttle set bad-fleet --domain bad.test --fleet true 2>&1)
check_eq "fleet without rate rejected (exit 2)" "2" "$?"
check "fleet without rate error names the field" eval "grep -q 'fleet: only allowed together with rate' <<<\"\$err\""
err=$(SLUICE_CTL_SOCKET=$T/a/ctl.sock "$BIN/sluicectl" throttle set bad-fleet --domain bad.test --rate 1/s --fleet maybe 2>&1)
check_eq "fleet maybe rejected (exit 2)" "2" "$?"
check "fleet maybe error lists the allowed values" eval "grep -q 'fleet: invalid value: allowed values are true, false' <<<\"\$err\""

# Phase 1: 50 messages into each appliance at once.
start=$(now)
send "$SMTP_A" 1 50 &
sender_a=$!
send "$SMTP_B" 51 100 &
sender_b=$!
wait "$sender_a"
check_eq "phase 1 injected into a" "0" "$?"
wait "$sender_b"
check_eq "phase 1 injected into b" "0" "$?"
wait_total 100 300
elapsed=$(tenths_since "$start")
check_eq "phase 1 all 100 delivered" "100" "$(($(delivered a) + $(delivered b)))"
check "phase 1 took 9 s or more for both together" test "$elapsed" -ge 90
echo "# phase 1: 100 messages in $elapsed tenths of a second (a $(delivered a), b $(delivered b))"
check_eq "Redis holds the fleet key" "${PREFIX}gcra:domain:fleet.test" \
	"$(rcli --scan --pattern "${PREFIX}gcra:*")"
# calls NAME: calls of Redis command NAME since redis-server started.
calls() { rcli info commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p"; }
# The first call of each appliance gets NOSCRIPT and falls back to EVAL,
# which caches the script; later calls use EVALSHA.
evals=$(calls eval)
check "script loaded with EVAL after NOSCRIPT" test "${evals:-0}" -ge 1 -a "${evals:-0}" -le 2
check "leases use EVALSHA" test "$(calls evalsha)" -gt 10
ttl=$(rcli pttl "${PREFIX}gcra:domain:fleet.test")
check "fleet key expires by itself" test "${ttl:--1}" -gt 0
check "appliance a spent leases" test "$(fleet_field a slots_spent)" -gt 0
check "appliance b spent leases" test "$(fleet_field b slots_spent)" -gt 0
check "status line shows leasing" eval \
	"SLUICE_CTL_SOCKET=$T/a/ctl.sock $BIN/sluicectl status | grep -q '^fleet  *leasing since'"
check_eq "leasing metric of a" "1" "$(metric "$METRICS_A" 'sluice_fleet_state{state="leasing"}')"

# Phase 2: stop redis-server during a run; delivery goes on at the
# fallback rate.
send "$SMTP_A" 101 110
send "$SMTP_B" 111 120
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
wait_state a fallback 50
check_eq "appliance a in fallback after Redis stopped" "fallback" "$(fleet_field a state)"
wait_state b fallback 50
check_eq "appliance b in fallback after Redis stopped" "fallback" "$(fleet_field b state)"
check_eq "fallback metric of b" "1" "$(metric "$METRICS_B" 'sluice_fleet_state{state="fallback"}')"
check "Redis errors counted" test "$(fleet_field a redis_errors)" -gt 0
wait_total 120 200
check_eq "mail injected around the stop delivered" "120" "$(($(delivered a) + $(delivered b)))"
# 15 more per appliance at 5/s each: 14 intervals of 200 ms at least.
base_a=$(delivered a)
base_b=$(delivered b)
start=$(now)
send "$SMTP_A" 121 135 &
sender_a=$!
send "$SMTP_B" 136 150 &
sender_b=$!
wait "$sender_a"
wait "$sender_b"
wait_one a $((base_a + 15)) 200
elapsed_a=$(tenths_since "$start")
wait_one b $((base_b + 15)) 200
elapsed_b=$(tenths_since "$start")
check_eq "fallback delivered all of a" "$((base_a + 15))" "$(delivered a)"
check_eq "fallback delivered all of b" "$((base_b + 15))" "$(delivered b)"
check "fallback holds a to 5/s (15 in 2.8 s or more)" test "$elapsed_a" -ge 28
check "fallback holds b to 5/s (15 in 2.8 s or more)" test "$elapsed_b" -ge 28
echo "# fallback: a in $elapsed_a, b in $elapsed_b tenths of a second"
check_eq "fallback logged once by a" "1" "$(grep -c 'fleet: Redis .* failed' "$T/a/sluiced.log")"
check_eq "fallback logged once by b" "1" "$(grep -c 'fleet: Redis .* failed' "$T/b/sluiced.log")"

# Phase 3: Redis back; both appliances lease again.
start_redis || not_ok "redis-server restarts"
wait_state a leasing 50
check_eq "appliance a leasing again" "leasing" "$(fleet_field a state)"
wait_state b leasing 50
check_eq "appliance b leasing again" "leasing" "$(fleet_field b state)"
# A lease may arrive before the mail (a key stays in demand for one
# lease time), so the check counts slots spent, not leases.
spent_a=$(fleet_field a slots_spent)
send "$SMTP_A" 151 155
send "$SMTP_B" 156 160
wait_total 160 100
check_eq "after the restart all 160 delivered" "160" "$(($(delivered a) + $(delivered b)))"
# The counters are published up to 100 ms after a change.
for _ in $(seq 20); do
	[[ $(fleet_field a slots_spent) -ge $((spent_a + 5)) ]] && break
	sleep 0.1
done
check "appliance a spends leased slots again" test "$(fleet_field a slots_spent)" -ge $((spent_a + 5))
check_eq "Redis holds the fleet key again" "${PREFIX}gcra:domain:fleet.test" \
	"$(rcli --scan --pattern "${PREFIX}gcra:*")"

# Phase 4: a Redis that stops answering (SIGSTOP) is as good as down:
# calls time out after command_timeout, delivery goes on, and the
# appliances lease again once it answers (SIGCONT).
kill -STOP "$REDIS_PID"
send "$SMTP_A" 161 165
send "$SMTP_B" 166 170
wait_state a fallback 50
check_eq "appliance a in fallback while Redis hangs" "fallback" "$(fleet_field a state)"
wait_state b fallback 50
check_eq "appliance b in fallback while Redis hangs" "fallback" "$(fleet_field b state)"
wait_total 170 100
check_eq "mail sent while Redis hangs delivered" "170" "$(($(delivered a) + $(delivered b)))"
kill -CONT "$REDIS_PID"
wait_state a leasing 50
check_eq "appliance a leasing after Redis resumes" "leasing" "$(fleet_field a state)"
wait_state b leasing 50
check_eq "appliance b leasing after Redis resumes" "leasing" "$(fleet_field b state)"
check_eq "password never logged" "0" "$(cat "$T"/a/*.log "$T"/b/*.log "$T"/*/*.stderr 2>/dev/null | grep -cF "$PASSWORD")"
finish
