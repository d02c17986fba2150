#!/usr/bin/env bash
# make demo: a real campaign through sluiced, end to end, on loopback.
#
#  1. DKIM keys (RSA-2048 and Ed25519) for two sending domains; their DNS
#     records go to $OUT/dns.txt (lines "NAME TXT-VALUE").
#  2. dnsmasq on a loopback port serves MX records for $DOMAINS recipient
#     domains, pointing at four mail exchangers on 127.0.0.2-5.
#  3. Postfix's smtp-sink listens on each exchanger and writes every
#     message it receives to $OUT/sink/.
#  4. sluiced starts with the kernel backend, delivery on, the resolver
#     pointed at dnsmasq and the keys in its configuration ($OUT/sluice.yaml).
#  5. $COUNT personalized multipart text and HTML messages, one recipient
#     each, are injected over SMTP (MESSAGES=DIR: every file in DIR to
#     $PER_FILE generated recipients instead).
#  6. The demo waits until the accounting log ($OUT/accounting.jsonl) has
#     a final outcome for every recipient, stops everything it started and
#     verifies every delivered message with dkimpy.
# It ends with
#   demo: injected N, delivered N, deferred N, bounced N, dkim pass N/N, R msgs/s
# and exits 1 unless every recipient was delivered and every signature
# passed. Private keys are shredded at exit.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD=$TOP/$BUILD
BIN=$BUILD/bin
PY=/usr/bin/python3
OUT=$BUILD/demo
COUNT=${DEMO_COUNT:-10000}
DOMAINS=${DEMO_DOMAINS:-40}
PER_FILE=${DEMO_PER_FILE:-3}
SESSIONS=${DEMO_SESSIONS:-8}
WAIT=${DEMO_WAIT:-600}
MESSAGES=${MESSAGES:-}
SENDERS=(shop.example bank.example)
RSA_SELECTOR=rsa2026
ED_SELECTOR=ed2026

pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	find "$OUT/keys" -type f -exec shred -u {} + 2>/dev/null
	rmdir "$OUT/keys" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
	local host=$1 port=$2 i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: nothing listens on $host:$port" >&2
	return 1
}

for tool in "$BIN/sluiced" "$BIN/sluicectl" /usr/sbin/smtp-sink /usr/sbin/dnsmasq; do
	if [[ ! -x "$tool" ]]; then
		echo "demo: $tool not found; run 'make demo' to install and build" >&2
		exit 1
	fi
done
if [[ -n "$MESSAGES" && ! -d "$MESSAGES" ]]; then
	echo "demo: MESSAGES=$MESSAGES is not a folder of message files" >&2
	exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT/spool" "$OUT/sink"
mkdir -m 0700 "$OUT/keys"
chmod 0777 "$OUT/sink"    # smtp-sink writes as nobody

# Sending domains: the two demo brands, or the From: domains of MESSAGES.
if [[ -n "$MESSAGES" ]]; then
	mapfile -t SENDERS < <(for f in "$MESSAGES"/*; do
		[[ -f "$f" ]] && sed -n '/^\r\?$/q; s/^[Ff][Rr][Oo][Mm]:.*@\([A-Za-z0-9.-]*\).*/\1/p' "$f" | head -1
	done | tr 'A-Z' 'a-z' | sort -u | head -20)
	[[ ${#SENDERS[@]} -gt 0 ]] || SENDERS=(sluice.example)
fi

echo "demo: DKIM keys for ${SENDERS[*]}"
: >"$OUT/dns.txt"
key_lines=""
for domain in "${SENDERS[@]}"; do
	"$BIN/sluicectl" dkim keygen --algorithm rsa --bits 2048 --domain "$domain" \
		--selector "$RSA_SELECTOR" --out "$OUT/keys" >>"$OUT/dns.txt" 2>/dev/null
	"$BIN/sluicectl" dkim keygen --algorithm ed25519 --domain "$domain" \
		--selector "$ED_SELECTOR" --out "$OUT/keys" >>"$OUT/dns.txt" 2>/dev/null
	key_lines+="    - '$domain $RSA_SELECTOR $OUT/keys/$RSA_SELECTOR.$domain.pem'"$'\n'
	key_lines+="    - '$domain $ED_SELECTOR $OUT/keys/$ED_SELECTOR.$domain.pem'"$'\n'
done

# Recipient domains and their exchangers, served by dnsmasq.
dns_port=$(free_port)
sink_port=$(free_port)
smtp_port=$(free_port)
rcpt_domains=()
dns_args=()
for i in $(seq 1 4); do
	dns_args+=("--host-record=mx$i.sink.example,127.0.0.$((i + 1))")
done
for i in $(seq -w 1 "$DOMAINS"); do
	domain="customer$i.example"
	rcpt_domains+=("$domain")
	dns_args+=("--mx-host=$domain,mx$((10#$i % 4 + 1)).sink.example,10")
done
/usr/sbin/dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
	--bind-interfaces --no-resolv --no-hosts --pid-file= --local=/example/ \
	--local-ttl=300 "${dns_args[@]}" 2>"$OUT/dnsmasq.log" &
pids+=($!)

echo "demo: $DOMAINS recipient domains, MX on 127.0.0.2-5 port $sink_port (dnsmasq on port $dns_port)"
for i in $(seq 1 4); do
	mkdir -m 0777 "$OUT/sink/mx$i"
	/usr/sbin/smtp-sink -u nobody -m 256 -d "$OUT/sink/mx$i/%M." "127.0.0.$((i + 1)):$sink_port" 256 \
		2>>"$OUT/smtp-sink.log" &
	pids+=($!)
done

cat >"$OUT/sluice.yaml" <<YAML
sluiced:
  workers: 2
  cpus: [0, 1]
  log_file: $OUT/sluiced.log
smtp:
  listen: ['127.0.0.1:$smtp_port']
  hostname: mta.sluice.example
  relay_networks: [127.0.0.1/32]
  max_message_size: 20M
spool:
  paths: [$OUT/spool]
delivery:
  enabled: true
  resolver: 127.0.0.1:$dns_port
  mx_port: $sink_port
  accounting_log: $OUT/accounting.jsonl
  max_connections: 8
  messages_per_connection: 1000
  retry_initial: 5s
  retry_max: 30s
signing:
  keys:
$key_lines  expiry: 4h
YAML

"$BIN/sluiced" -c "$OUT/sluice.yaml" 2>"$OUT/sluiced.stderr" &
sluiced_pid=$!
pids+=($sluiced_pid)
wait_port 127.0.0.1 "$smtp_port" || exit 1
for i in $(seq 1 4); do wait_port "127.0.0.$((i + 1))" "$sink_port" || exit 1; done

start=$(date +%s.%N)
domain_list=$(IFS=,; echo "${rcpt_domains[*]}")
if [[ -n "$MESSAGES" ]]; then
	echo "demo: injecting every file of $MESSAGES to $PER_FILE recipients each"
	injected=$($PY "$TOP/tests/demo/send_campaign.py" 127.0.0.1 "$smtp_port" "$SESSIONS" \
		"$OUT/injected.list" files "$MESSAGES" "$PER_FILE" "$domain_list" | tail -1)
else
	echo "demo: injecting $COUNT personalized messages over SMTP ($SESSIONS sessions)"
	injected=$($PY "$TOP/tests/demo/send_campaign.py" 127.0.0.1 "$smtp_port" "$SESSIONS" \
		"$OUT/injected.list" campaign "$COUNT" "$(IFS=,; echo "${SENDERS[*]}")" \
		"$domain_list" | tail -1)
fi
injected=${injected:-0}
echo "demo: $injected recipients accepted, waiting for delivery"

# outcomes: "DELIVERED DEFERRED BOUNCED" by the last record of each
# recipient in the accounting log.
outcomes() {
	$PY - "$OUT/accounting.jsonl" <<'PY'
import json, sys
last = {}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r["sender"]:          # notices (null sender) are not campaign mail
            last[(r["queue_id"], r["recipient"])] = r["status"]
except FileNotFoundError:
    pass
v = list(last.values())
print(v.count("delivered"), v.count("deferred"), v.count("bounced"))
PY
}

deadline=$((SECONDS + WAIT))
while :; do
	read -r delivered deferred bounced < <(outcomes)
	[[ $((delivered + bounced)) -ge $injected ]] && break
	if [[ $SECONDS -ge $deadline ]]; then
		echo "demo: timed out after $WAIT s waiting for delivery" >&2
		break
	fi
	sleep 1
done
end=$(date +%s.%N)

kill -TERM "$sluiced_pid" 2>/dev/null
wait "$sluiced_pid" 2>/dev/null
cleanup
pids=()
read -r delivered deferred bounced < <(outcomes)
deferred=$((injected - delivered - bounced))

echo "demo: verifying every delivered message with dkimpy"
read -r passed checked < <($PY "$TOP/tests/demo/verify_sink.py" "$OUT/dns.txt" "$OUT/sink" \
	2>"$OUT/dkim-failures.txt")
rate=$($PY -c "print(round($delivered / max($end - $start, 0.001)))")
echo "demo: results in $OUT (sink/, accounting.jsonl, dns.txt, sluice.yaml)"
echo "demo: injected $injected, delivered $delivered, deferred $deferred, bounced $bounced, dkim pass $passed/$checked, $rate msgs/s"
[[ $injected -gt 0 && $delivered -eq $injected && $passed -eq $checked && $checked -gt 0 ]]
