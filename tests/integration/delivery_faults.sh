#!/usr/bin/env bash
# Delivery against misbehaving servers (tests/delivery/fault_smtpd.py),
# one per recipient domain, all behind static routes of one sluiced:
# temporary failures are retried and delivered, permanent ones bounce with
# an RFC 3464 notice to the sender (never to a null sender), and protocol
# faults (421, disconnects, silence, split replies, extra lines after the
# STARTTLS 220) end only the session they hit.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

dir=$(make_tmpdir)
port=$(free_port)
sluiced_make_cert "$dir"
cat "$dir/cert.pem" "$dir/key.pem" >"$dir/server.pem"

routes=""
# start_fault NAME ARGS...: a fault server for recipient domain NAME.test
start_fault() {
	local name=$1 p
	shift
	p=$(free_port)
	mkdir -p "$dir/recv/$name"
	$PY "$TOP/tests/delivery/fault_smtpd.py" --port "$p" --dir "$dir/recv/$name" "$@" \
		2>>"$dir/fault.log" &
	on_exit_kill $!
	wait_port "$p" || not_ok "fault server $name starts"
	routes+="'$name.test 127.0.0.1:$p', "
}

start_fault senders
start_fault rcpt4xx --rcpt-reply '.=451 4.2.1 mailbox busy, try later'
start_fault data4xx --data-reply '451 4.3.0 queue busy'
start_fault nonstd --rcpt-reply '.=471 4.7.1 greylisted, come back later'
start_fault reject --rcpt-always '.=550 5.1.1 no such user here'
start_fault partial --rcpt-always '^bad@=550 5.1.1 unknown user bad'
start_fault q421 --say-421-after RCPT
start_fault dropdata --close-in-data
start_fault hang --hang-after MAIL
start_fault split --split
start_fault tls --cert "$dir/server.pem" --starttls-extra

delivery_config "$dir" "$port" "  routes: [${routes%, }]
  greeting_timeout: 2s
  command_timeout: 2s
  data_init_timeout: 2s
  data_block_timeout: 2s
  data_end_timeout: 2s"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }

$PY - "$port" <<'PY'
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
def send(sender, rcpts, n):
    c.sendmail(sender, rcpts, (
        f"From: Sender <owner@senders.test>\r\nTo: someone@example.test\r\n"
        f"Subject: fault test {n}\r\nMessage-ID: <f{n}@senders.test>\r\n"
        f"Date: Fri, 04 Dec 2026 12:00:00 +0000\r\n\r\nbody of {n}\r\n.dot\r\n").encode())
for n, d in enumerate(["rcpt4xx", "data4xx", "nonstd", "reject", "q421", "dropdata",
                       "hang", "tls"]):
    send("owner@senders.test", [f"user@{d}.test"], n)
send("owner@senders.test", ["good@partial.test", "bad@partial.test"], 20)
send("owner@senders.test", ["a@split.test", "b@split.test"], 21)
send("", ["nobody@reject.test"], 22)
c.quit()
PY

# 10 recipients delivered, 3 bounced, 2 notices delivered to senders.test.
delivery_wait "$dir" 15 60 || not_ok "every recipient final within 60 s"

for d in rcpt4xx data4xx nonstd q421 dropdata hang; do
	check_eq "$d: deferred first" 1 "$(acct_count "$dir" deferred recipient=user@$d.test)"
	check_eq "$d: delivered on retry" 1 "$(acct_count "$dir" delivered recipient=user@$d.test)"
	check_eq "$d: server received it once" 1 "$(ls "$dir/recv/$d"/*.eml 2>/dev/null | wc -l)"
done
check_eq "non-standard 4xx kept as deferral" "471" \
	"$($PY -c 'import json,sys; print([json.loads(l)["code"] for l in open(sys.argv[1]) if "nonstd" in l][0])' "$dir/acct.jsonl")"
check "hang: deferral names the timeout" grep -q 'timed out waiting for the server' "$dir/acct.jsonl"
check_eq "split replies: both recipients delivered" 2 \
	"$(($(acct_count "$dir" delivered recipient=a@split.test) + $(acct_count "$dir" delivered recipient=b@split.test)))"
check_eq "split replies: one transaction for both" 1 "$(ls "$dir/recv/split"/*.eml | wc -l)"

tls_version=$($PY -c 'import json,sys; print([json.loads(l)["tls"] for l in open(sys.argv[1]) if "tls.test" in l][0])' "$dir/acct.jsonl")
check "STARTTLS with extra lines: delivered over TLS ($tls_version)" test "${tls_version#TLSv1.}" != "$tls_version"
check_eq "STARTTLS: server saw a TLS session" true \
	"$($PY -c 'import json,sys; print(str(json.load(open(sys.argv[1]))["tls"]).lower())' "$dir/recv/tls/1.json")"

check_eq "partial: good recipient delivered" 1 "$(acct_count "$dir" delivered recipient=good@partial.test)"
check_eq "partial: bad recipient bounced" 1 "$(acct_count "$dir" bounced recipient=bad@partial.test)"
check_eq "partial: bad never reached the mailbox" 0 "$(grep -l bad@partial "$dir/recv/partial"/*.json | wc -l)"
check_eq "5xx: bounced at once" 1 "$(acct_count "$dir" bounced recipient=user@reject.test)"
check_eq "5xx to a null sender: bounced" 1 "$(acct_count "$dir" bounced recipient=nobody@reject.test)"

# Notices: one per bounced message with a sender, none for the null sender.
check_eq "two notices delivered to the sender" 2 "$(ls "$dir/recv/senders"/*.eml 2>/dev/null | wc -l)"
notice=$(grep -l 'user@reject.test' "$dir/recv/senders"/*.eml | head -1)
check "notice is multipart/report" grep -q 'Content-Type: multipart/report; report-type=delivery-status' "$notice"
check "notice names the recipient" grep -q 'Final-Recipient: rfc822; user@reject.test' "$notice"
check "notice has Action failed" grep -q 'Action: failed' "$notice"
check "notice has Status 5.1.1" grep -q 'Status: 5.1.1' "$notice"
check "notice has the diagnostic" grep -q 'Diagnostic-Code: smtp; 550 5.1.1 no such user here' "$notice"
check "notice has Reporting-MTA" grep -q 'Reporting-MTA: dns; mta.sluice.test' "$notice"
check "notice quotes the original header" grep -q 'Subject: fault test 3' "$notice"
check_eq "notice went to the envelope sender from <>" "[\"owner@senders.test\"]" \
	"$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d["rcpts"]) if d["from"] == "" else "from=" + d["from"])' "${notice%.eml}.json")"
check_eq "no notice for the null sender's bounce" 0 "$(grep -l 'nobody@reject.test' "$dir/recv/senders"/*.eml | wc -l)"
finish
