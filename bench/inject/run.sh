#!/usr/bin/env bash
# bench-inject: accepted messages per second and per CPU-second of the
# server's own processes, sluiced against Postfix (smtpd + cleanup, mail
# held in Postfix's hold queue), measured in the same run on this machine.
#
# Both servers write each message to disk and flush before the 250 reply:
# sluiced through its spool's group commit (fdatasync), Postfix through
# cleanup's fsync of each queue file (its default). Both log one line per
# message to a file. The client is Postfix's smtp-source in both runs.
#
#   MESSAGES  messages per server (default 10000)
#   SESSIONS  concurrent smtp-source sessions (default 20)
#   SIZE      payload bytes per message (default 20000)
#
# CPU is user+system time from /proc: sluiced's process, and for Postfix
# the master plus its children (live ones, and the ones it reaped). The
# latency column is an estimate by Little's law: sessions x wall time /
# messages, because smtp-source reports no per-message times.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD=$PWD/$BUILD
MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-20000}
PY=/usr/bin/python3
TICKS=$(getconf CLK_TCK)

mkdir -p "$BUILD/tmp"
dir=$(mktemp -d "$BUILD/tmp/bench-inject.XXXXXX")
chmod 755 "$dir"	# Postfix daemons run as user postfix
sluiced_pid="" postfix_conf=""
cleanup() {
	[[ -n "$sluiced_pid" ]] && kill "$sluiced_pid" 2>/dev/null && wait "$sluiced_pid" 2>/dev/null
	[[ -n "$postfix_conf" ]] && postfix -c "$postfix_conf" stop >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT

BENCH_NAME=bench-inject
. bench/lib.sh

postfix_ticks() {
	local master=$1
	cpu_ticks -c "$master" $(ps -o pid= --ppid "$master")
}

# run_source PORT: drive one server; prints the wall time in seconds.
run_source() {
	local start end
	start=$(date +%s.%N)
	smtp-source -d -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -M client.test \
		-f sender@example.com -t receiver@example.net "127.0.0.1:$1"
	end=$(date +%s.%N)
	echo "$end - $start" | bc -l
}

# --- sluiced ---
port=$(free_port)
cat >"$dir/sluice.yaml" <<YAML
sluiced:
  log_file: $dir/sluiced.log
smtp:
  listen: ['127.0.0.1:$port']
  hostname: mx.test
  relay_networks: [127.0.0.0/8]
spool:
  paths: [$dir/spool]
YAML
"$BUILD/bin/sluiced" -c "$dir/sluice.yaml" 2>>"$dir/sluiced.stderr" &
sluiced_pid=$!
wait_port "$port"
before=$(cpu_ticks "$sluiced_pid")
s_wall=$(run_source "$port")
s_cpu=$(( $(cpu_ticks "$sluiced_pid") - before ))
s_msgs=$(grep -c ' queued id=' "$dir/sluiced.log" || true)
kill "$sluiced_pid"
wait "$sluiced_pid" || true
sluiced_pid=""

# --- Postfix: smtpd + cleanup, mail held in the hold queue ---
port=$(free_port)
pf=$dir/postfix
mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
chown postfix "$pf/data"
cat >"$pf/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.test
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_client_restrictions = check_client_access static:HOLD
default_process_limit = 100
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
biff = no
CF
# Debian's master.cf without chroot (a fresh queue folder has no chroot
# files), and with the listener on the benchmark port.
sed -e 's/^\(smtp\s\+inet\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
	-e 's/^\([a-z]\+\s\+unix\(-dgram\)\?\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
	-e "s/^smtp\(\s\+inet\)/127.0.0.1:$port\1/" /etc/postfix/master.cf >"$pf/conf/master.cf"
postfix -c "$pf/conf" start >"$dir/postfix.start" 2>&1 || { cat "$dir/postfix.start" >&2; exit 1; }
postfix_conf=$pf/conf
wait_port "$port"
master=$(tr -d ' ' <"$pf/queue/pid/master.pid")
before=$(postfix_ticks "$master")
p_wall=$(run_source "$port")
p_cpu=$(( $(postfix_ticks "$master") - before ))
p_msgs=$(find "$pf/queue/hold" -type f | wc -l)
postfix -c "$pf/conf" stop >/dev/null 2>&1
postfix_conf=""

# --- report ---
$PY - "$s_msgs" "$s_wall" "$s_cpu" "$p_msgs" "$p_wall" "$p_cpu" "$TICKS" "$SESSIONS" "$SIZE" <<'PY'
import sys
sm, sw, sc, pm, pw, pc, ticks, sessions, size = sys.argv[1:]
sm, pm, ticks, sessions = int(sm), int(pm), int(ticks), int(sessions)
sw, pw = float(sw), float(pw)
sc, pc = int(sc) / ticks, int(pc) / ticks
rows = []
for name, m, w, c in (("sluiced", sm, sw, sc), ("postfix", pm, pw, pc)):
    rows.append((name, m, w, m / w, c, m / c if c else float("inf"), sessions * w / m * 1000))
print("| server | messages | wall s | msgs/s | cpu s | msgs/cpu-s | est. latency ms |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    print("| %s | %d | %.2f | %.0f | %.2f | %.0f | %.1f |" % r)
print("payload %s bytes, %d sessions, smtp-source -d" % (size, sessions))
a, b = rows[0][5], rows[1][5]
print("bench-inject: %.1f x postfix per cpu-second (%.0f vs %.0f msgs/cpu-s)" % (a / b, a, b))
PY
