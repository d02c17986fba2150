#!/usr/bin/env bash
# bench-e2e: end-to-end delivery, sluiced against Postfix with OpenDKIM as
# its signing milter, both relaying into the same smtp-sink, measured in
# the same run on this machine.
#
# Path measured: SMTP injection (smtp-source -d), DKIM signing (sluiced:
# RSA-2048 plus Ed25519 at send time; OpenDKIM: RSA-2048, because the
# Debian 12 build has no Ed25519 signing configured here), the spool or
# queue flushed to disk, delivery into smtp-sink. Each run ends when the
# sink has counted every message.
#
#   MESSAGES  messages per run (default 5000)
#   SESSIONS  concurrent smtp-source sessions (default 20)
#   SIZES     payload bytes per message (default "20000 100000")
#
# On 2 cores the client and the sink share the CPU with the MTA, so the
# figure that counts is messages per CPU-second of the MTA's own
# processes (user+system time from /proc: sluiced; or Postfix's master,
# its children and the ones it reaped, plus opendkim). The signing limit
# is the raw cost of one RSA-2048 and one Ed25519 signature from
# "openssl speed" in the same run; "S of signing limit" is that cost
# divided by sluiced's CPU time per 20 KB message.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD=$PWD/$BUILD
MESSAGES=${MESSAGES:-5000}
SESSIONS=${SESSIONS:-20}
SIZES=${SIZES:-20000 100000}
PY=/usr/bin/python3
TICKS=$(getconf CLK_TCK)

mkdir -p "$BUILD/tmp"
dir=$(mktemp -d "$BUILD/tmp/bench-e2e.XXXXXX")
chmod 755 "$dir"	# Postfix daemons run as user postfix
pids=() postfix_conf=""
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	[[ -z "$postfix_conf" ]] || postfix -c "$postfix_conf" stop >/dev/null 2>&1 || true
	find "$dir" -name '*.pem' -type f -exec shred -u {} + 2>/dev/null || true
	find "$dir" -name '*.private' -type f -exec shred -u {} + 2>/dev/null || true
	rm -rf "$dir" 2>/dev/null
	return 0
}
trap cleanup EXIT

BENCH_NAME=bench-e2e
. bench/lib.sh

# start_sink PORT LOG: smtp-sink counting messages ("-c" prints mesg=N).
start_sink() {
	smtp-sink -c -u nobody -m 512 "127.0.0.1:$1" 1024 >"$2" 2>&1 &
	pids+=($!)
	wait_port "$1"
}

sink_count() {
	tr '\r' '\n' <"$1" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2
}

# drive PORT SIZE SINKLOG: inject MESSAGES and wait until the sink has
# them all (bounded: 600 s); prints the wall time in seconds.
drive() {
	local start end limit=$((SECONDS + 600))
	start=$(date +%s.%N)
	smtp-source -d -s "$SESSIONS" -m "$MESSAGES" -l "$2" -M client.bench.example \
		-f news@bench.example -t reader@dest.example "127.0.0.1:$1"
	while [[ $(sink_count "$3" || echo 0) -lt $MESSAGES ]]; do
		if [[ $SECONDS -ge $limit ]]; then
			echo "bench-e2e: sink got $(sink_count "$3") of $MESSAGES messages" >&2
			exit 1
		fi
		sleep 0.05
	done
	end=$(date +%s.%N)
	echo "$end - $start" | bc -l
}

mkdir -m 0700 "$dir/keys"
"$BUILD/bin/sluicectl" dkim keygen --algorithm rsa --bits 2048 --domain bench.example \
	--selector rsa --out "$dir/keys" >/dev/null 2>&1
"$BUILD/bin/sluicectl" dkim keygen --algorithm ed25519 --domain bench.example \
	--selector ed --out "$dir/keys" >/dev/null 2>&1

# --- raw signature cost (openssl speed, one core) ---
rsa_per_s=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}')
ed_per_s=$(openssl speed -seconds 3 ed25519 2>/dev/null | awk '/253 bits EdDSA/ {print $7}')

results=()
for size in $SIZES; do
	# --- sluiced ---
	port=$(free_port)
	sink=$(free_port)
	start_sink "$sink" "$dir/sink-s-$size.log"
	cat >"$dir/sluice-$size.yaml" <<YAML
sluiced:
  log_file: $dir/sluiced-$size.log
  log_level: warning
smtp:
  listen: ['127.0.0.1:$port']
  hostname: mta.bench.example
  relay_networks: [127.0.0.0/8]
  max_message_size: 20M
spool:
  paths: [$dir/spool-$size]
delivery:
  enabled: true
  routes: ['* 127.0.0.1:$sink']
  accounting_log: $dir/acct-$size.jsonl
  max_connections: 20
  messages_per_connection: 1000
signing:
  keys:
    - 'bench.example rsa $dir/keys/rsa.bench.example.pem'
    - 'bench.example ed $dir/keys/ed.bench.example.pem'
YAML
	"$BUILD/bin/sluiced" -c "$dir/sluice-$size.yaml" 2>>"$dir/sluiced.stderr" &
	sluiced_pid=$!
	pids+=($sluiced_pid)
	wait_port "$port"
	before=$(cpu_ticks "$sluiced_pid")
	s_wall=$(drive "$port" "$size" "$dir/sink-s-$size.log")
	s_cpu=$(( $(cpu_ticks "$sluiced_pid") - before ))
	s_signed=$(grep -c '"dkim":\["s=rsa d=bench.example","s=ed d=bench.example"\]' \
		"$dir/acct-$size.jsonl" || true)
	kill "$sluiced_pid"
	wait "$sluiced_pid" || true

	# --- Postfix with OpenDKIM ---
	port=$(free_port)
	sink=$(free_port)
	milter=$(free_port)
	start_sink "$sink" "$dir/sink-p-$size.log"
	od=$dir/opendkim-$size
	mkdir -p -m 0700 "$od"
	opendkim-genkey -b 2048 -d bench.example -s odk -D "$od" >/dev/null
	chown -R opendkim:opendkim "$od"
	cat >"$od/opendkim.conf" <<CF
Syslog no
Mode s
Domain bench.example
Selector odk
KeyFile $od/odk.private
Canonicalization relaxed/relaxed
Socket inet:$milter@127.0.0.1
UserID opendkim
PidFile $od/opendkim.pid
CF
	opendkim -f -x "$od/opendkim.conf" 2>"$dir/opendkim-$size.log" &
	opendkim_pid=$!
	pids+=($opendkim_pid)
	wait_port "$milter"
	pf=$dir/postfix-$size
	mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
	chown postfix "$pf/data"
	cat >"$pf/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.bench.example
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost = [127.0.0.1]:$sink
smtpd_milters = inet:127.0.0.1:$milter
non_smtpd_milters = inet:127.0.0.1:$milter
milter_default_action = tempfail
milter_header_checks = regexp:$pf/conf/milter_header_checks
default_destination_concurrency_limit = 50
default_process_limit = 100
message_size_limit = 20971520
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
biff = no
CF
	# Each signature OpenDKIM adds is logged, so the run can count them.
	echo '/^DKIM-Signature:/ WARN dkim-signed' >"$pf/conf/milter_header_checks"
	sed -e 's/^\(smtp\s\+inet\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
		-e 's/^\([a-z]\+\s\+unix\(-dgram\)\?\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
		-e "s/^smtp\(\s\+inet\)/127.0.0.1:$port\1/" /etc/postfix/master.cf >"$pf/conf/master.cf"
	postfix -c "$pf/conf" start >"$dir/postfix.start" 2>&1 || { cat "$dir/postfix.start" >&2; exit 1; }
	postfix_conf=$pf/conf
	wait_port "$port"
	master=$(tr -d ' ' <"$pf/queue/pid/master.pid")
	before=$(( $(cpu_ticks -c "$master" $(ps -o pid= --ppid "$master")) + $(cpu_ticks "$opendkim_pid") ))
	p_wall=$(drive "$port" "$size" "$dir/sink-p-$size.log")
	p_cpu=$(( $(cpu_ticks -c "$master" $(ps -o pid= --ppid "$master")) + $(cpu_ticks "$opendkim_pid") - before ))
	p_signed=$(grep -c 'dkim-signed' "$pf/maillog" || true)
	postfix -c "$pf/conf" stop >/dev/null 2>&1
	postfix_conf=""
	kill "$opendkim_pid" 2>/dev/null || true
	results+=("$size $s_wall $s_cpu $s_signed $p_wall $p_cpu $p_signed")
done

$PY - "$MESSAGES" "$TICKS" "$SESSIONS" "$rsa_per_s" "$ed_per_s" "${results[@]}" <<'PY'
import sys
messages, ticks, sessions = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rsa, ed = float(sys.argv[4]), float(sys.argv[5])
sign_ms = 1000 / rsa + 1000 / ed
print("| size | MTA | wall s | msgs/s | cpu s | msgs/cpu-s | cpu ms/msg | signed |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
summary = {}
for row in sys.argv[6:]:
    size, sw, sc, ss, pw, pc, ps = row.split()
    for name, w, c, signed in (("sluiced", sw, sc, ss), ("postfix+opendkim", pw, pc, ps)):
        w, c = float(w), int(c) / ticks
        print("| %s | %s | %.2f | %.0f | %.2f | %.0f | %.3f | %s |" % (
            size, name, w, messages / w, c, messages / c if c else float("inf"),
            c * 1000 / messages, signed))
        summary[(size, name)] = messages / c if c else float("inf")
print("openssl speed: rsa2048 %.0f signs/s, ed25519 %.0f signs/s: %.3f ms per RSA+Ed25519 pair"
      % (rsa, ed, sign_ms))
print("%d messages per run, %d smtp-source sessions" % (messages, sessions))
size = "20000" if ("20000", "sluiced") in summary else sorted(k[0] for k in summary)[0]
a, b = summary[(size, "sluiced")], summary[(size, "postfix+opendkim")]
cpu_ms = 1000 / a
print("bench-e2e: %.1f x postfix+opendkim per cpu-second (%.0f vs %.0f msgs/cpu-s), "
      "%.2f ms cpu/msg at 20KB, %.0f%% of signing limit" % (a / b, a, b, cpu_ms,
                                                          100 * sign_ms / cpu_ms))
PY
