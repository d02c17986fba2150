#!/usr/bin/env bash
# Opportunistic STARTTLS with a receiver whose TLS is broken. A real
# Postfix smtpd on loopback offers STARTTLS but accepts only TLS 1.0 and
# 1.1 (smtpd_tls_protocols). sluiced's client requires TLS 1.2 or later,
# so every handshake fails with a protocol version alert. sluiced
# must deliver every message in plaintext at once on a new connection.
# retry_initial is 10 minutes here, so a deferral would not be retried
# within the test. sluiced must remember the host so that the second
# batch goes plaintext without a handshake, and record the fallback in
# the accounting log and in sluice_tls_fallbacks_total. One connection at a
# time makes the order definite: the first connection fails its
# handshake and the plaintext retry delivers the first message; the
# batch-1 connections have closed (idle_timeout 1s) before batch 2, whose
# new connections skip STARTTLS because the host is remembered.
# Last, mail for a domain in delivery.tls_required goes to the same host:
# sluiced must try TLS although the host is remembered, and defer the
# recipient with a reason that says TLS is required, without plaintext.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

command -v postfix >/dev/null || { echo "postfix not installed"; exit 77; }
dir=$(make_tmpdir)
chmod 0755 "$dir"    # Postfix daemons run as user postfix
port=$(free_port)
pf_port=$(free_port)
metrics_port=$(free_port)
pf=$dir/postfix
mkdir -p "$pf/conf"
sluiced_make_cert "$pf/conf"
postfix_start "$pf" "$pf_port" mx.broken-tls.test "broken-tls.test, secure.test" \
	"smtpd_tls_cert_file = $pf/conf/cert.pem
smtpd_tls_key_file = $pf/conf/key.pem
smtpd_tls_security_level = may
smtpd_tls_protocols = <=TLSv1.1
smtpd_tls_mandatory_protocols = <=TLSv1.1
smtpd_tls_loglevel = 1" || finish

delivery_keys "$dir" a.test
delivery_config "$dir" "$port" "  routes: ['broken-tls.test 127.0.0.1:$pf_port', 'secure.test 127.0.0.1:$pf_port']
  tls_required: [secure.test]
  retry_initial: 10m
  retry_max: 20m
  starttls_failure_ttl: 1h
  max_connections: 1
  idle_timeout: 1s
ctl:
  socket: $dir/ctl.sock
  link_socket: $dir/link.sock
  state: $dir/state.json
metrics:
  listen: 127.0.0.1:$metrics_port
  shm: /sluice-tlsfallback-$$
keys:
  dir: $dir/ctlkeys"
"$BIN/sluice-ctld" -c "$dir/sluice.yaml" 2>>"$dir/ctld.log" &
on_exit_kill $!
wait_port "$metrics_port" 10 || not_ok "sluice-ctld serves metrics"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }

metric() {
	$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics', timeout=10).read().decode())" |
		grep -E "^$1 " | awk '{print $2}'
}
# handshakes: failed TLS handshakes that Postfix logged.
handshakes() { grep -c 'SSL_accept error' "$pf/maillog" 2>/dev/null || true; }
# starttls_sessions: sessions in which the client sent STARTTLS, from
# the "disconnect from ... starttls=0/1" lines of Postfix's smtpd.
starttls_sessions() { grep -c 'disconnect from .* starttls=' "$pf/maillog" 2>/dev/null || true; }
# wait_sessions_ended: until every session Postfix accepted has ended.
wait_sessions_ended() {
	local deadline=$((SECONDS + 30))
	while [[ $SECONDS -lt $deadline ]]; do
		[[ $(grep -c ' connect from' "$pf/maillog") -eq $(grep -c ' disconnect from' "$pf/maillog") ]] &&
			return 0
		sleep 0.2
	done
	return 1
}
# held: messages Postfix received (all are put on hold).
held() { find "$pf/queue/hold" -type f 2>/dev/null | wc -l; }
wait_held() {
	local want=$1 deadline=$((SECONDS + 30))
	while [[ $(held) -lt $want && $SECONDS -lt $deadline ]]; do sleep 0.2; done
}
# acct_values FIELD FIRST: the set of FIELD values in records FIRST.. (1-based).
acct_values() {
	$PY - "$dir/acct.jsonl" "$1" "$2" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[3]) - 1:]
print(" ".join(sorted({str(json.loads(l)[sys.argv[2]]) for l in lines})))
PY
}

# Batch 1: 4 messages with 2 recipients each.
mkdir "$dir/batch1" "$dir/batch2"
$PY "$TOP/tests/delivery/make_messages.py" "$dir/batch1" a.test 4
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$dir/batch1" bounce@a.test r1@broken-tls.test,r2@broken-tls.test)
check_eq "batch 1 accepted" 4 "$sent"
delivery_wait "$dir" 8 30
check_eq "batch 1: every recipient delivered at once" 8 "$(acct_count "$dir" delivered)"
check_eq "batch 1: nothing deferred" 0 "$(acct_count "$dir" deferred)"
wait_held 4
check_eq "batch 1: postfix received every message" 4 "$(held)"
check_eq "batch 1: accounting tls is none" "none" "$(acct_values tls 1)"
check_eq "batch 1: cipher is null" "None" "$(acct_values cipher 1)"
check_eq "batch 1: the first message went on the plaintext retry" "retry" \
	"$(head -2 "$dir/acct.jsonl" | $PY -c 'import json,sys; print(" ".join(sorted({json.loads(l)["tls_fallback"] for l in sys.stdin})))')"
check_eq "batch 1: every record names the fallback" "" \
	"$(acct_values tls_fallback 1 | sed -e 's/remembered//; s/retry//; s/ //g')"
check "batch 1: the record gives the TLS failure" \
	grep -q '"tls_failure":"TLS handshake failed: [^"]*version' "$dir/acct.jsonl"
wait_sessions_ended || not_ok "batch 1: postfix sessions end"
failed1=$(handshakes)
starttls1=$(starttls_sessions)
check_eq "batch 1: every STARTTLS session failed its handshake" "$failed1" "$starttls1"
check_eq "batch 1: postfix saw one failed handshake" 1 "$failed1"
check_eq "sluice_tls_fallbacks_total equals postfix's failed handshakes" "$failed1" \
	"$(metric sluice_tls_fallbacks_total)"
check_eq "sluiced counts the fallback as no delivery failure" 0 \
	"$(metric sluice_recipients_deferred_total)"

# Batch 2 to the same host: no handshake, plaintext from the start.
lines1=$(wc -l <"$dir/acct.jsonl")
$PY "$TOP/tests/delivery/make_messages.py" "$dir/batch2" a.test 4
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$dir/batch2" bounce@a.test r1@broken-tls.test,r2@broken-tls.test)
check_eq "batch 2 accepted" 4 "$sent"
delivery_wait "$dir" 16 30
check_eq "batch 2: every recipient delivered" 16 "$(acct_count "$dir" delivered)"
wait_held 8
check_eq "batch 2: postfix received every message" 8 "$(held)"
check_eq "batch 2: plaintext because the host is remembered" "remembered" \
	"$(acct_values tls_fallback $((lines1 + 1)))"
check_eq "batch 2: accounting tls is none" "none" "$(acct_values tls $((lines1 + 1)))"
wait_sessions_ended || not_ok "batch 2: postfix sessions end"
check_eq "batch 2: no new handshake at postfix" "$failed1" "$(handshakes)"
check_eq "batch 2: no STARTTLS sent" "$starttls1" "$(starttls_sessions)"
check_eq "batch 2: no new fallback counted" "$failed1" "$(metric sluice_tls_fallbacks_total)"

# A domain that requires TLS: a handshake again, then a deferral.
mkdir "$dir/secure"
$PY "$TOP/tests/delivery/make_messages.py" "$dir/secure" a.test 1
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$dir/secure" bounce@a.test r1@secure.test)
check_eq "tls_required message accepted" 1 "$sent"
deadline=$((SECONDS + 30))
while [[ $(acct_count "$dir" deferred) -lt 1 && $SECONDS -lt $deadline ]]; do sleep 0.2; done
check_eq "tls_required: the recipient is deferred" 1 "$(acct_count "$dir" deferred recipient=r1@secure.test)"
check_eq "tls_required: nothing delivered in plaintext" 0 "$(acct_count "$dir" delivered recipient=r1@secure.test)"
reply=$($PY -c 'import json,sys; print([json.loads(l)["reply"] for l in open(sys.argv[1]) if json.loads(l)["status"] == "deferred"][0])' "$dir/acct.jsonl")
check "tls_required: the reason names the requirement ($reply)" \
	grep -q 'TLS is required for secure.test but STARTTLS with .* failed: TLS handshake failed' <<<"$reply"
wait_sessions_ended || not_ok "tls_required: postfix sessions end"
check_eq "tls_required: TLS tried although the host is remembered" $((failed1 + 1)) "$(handshakes)"
check_eq "tls_required: postfix received nothing more" 8 "$(held)"
check_eq "tls_required: no fallback counted" "$failed1" "$(metric sluice_tls_fallbacks_total)"
check "postfix logged no TLS session" bash -c "! grep -q 'TLS connection established' '$pf/maillog'"
postfix -c "$pf/conf" stop >/dev/null 2>&1
finish
