#!/usr/bin/env bash
# Delivery through DNS: dnsmasq on a loopback port serves MX records and
# a scripted server listens on the MX port. MX, implicit MX, null MX
# (bounce 5.1.10), NXDOMAIN (bounce 5.1.2), a dead exchanger and a
# sending domain whose DKIM key is missing each affect only their own
# mail.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

[[ -x /usr/sbin/dnsmasq ]] || { echo "dnsmasq not installed"; exit 77; }
dir=$(make_tmpdir)
port=$(free_port)
mx_port=$(free_port)
dns_port=$($PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

/usr/sbin/dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
	--bind-interfaces --no-resolv --no-hosts --pid-file= --local=/test/ --local-ttl=60 \
	--host-record=mx1.good.test,127.0.0.1 --mx-host=good.test,mx1.good.test,10 \
	--mx-host=senders.test,mx1.good.test,10 \
	--host-record=implicit.test,127.0.0.1 \
	--dns-rr=nullmx.test,15,000000 \
	--host-record=mx.dead.test,127.0.0.9 --mx-host=dead.test,mx.dead.test,10 \
	2>"$dir/dnsmasq.log" &
on_exit_kill $!
mkdir -p "$dir/recv"
$PY "$TOP/tests/delivery/fault_smtpd.py" --port "$mx_port" --dir "$dir/recv" 2>"$dir/fault.log" &
on_exit_kill $!
wait_port "$mx_port"

delivery_keys "$dir" a.test
DELIVERY_KEYS+="    - 'b.test r1 $dir/keys/missing.pem'"$'\n'
delivery_config "$dir" "$port" "  resolver: 127.0.0.1:$dns_port
  resolver_timeout: 500ms
  mx_port: $mx_port
  connect_timeout: 1s
  retry_initial: 30s
  retry_max: 60s"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }

$PY - "$port" <<'PY'
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
def send(frm, rcpt, n):
    c.sendmail(f"owner@senders.test", [rcpt], (
        f"From: <{frm}>\r\nTo: <{rcpt}>\r\nSubject: dns test {n}\r\n"
        f"Message-ID: <d{n}@senders.test>\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n"
        f"\r\nbody {n}\r\n").encode())
send("news@a.test", "u@good.test", 1)
send("news@a.test", "u@implicit.test", 2)
send("news@a.test", "u@nullmx.test", 3)
send("news@a.test", "u@nxdomain.test", 4)
send("news@a.test", "u@dead.test", 5)
send("news@b.test", "v@good.test", 6)
c.quit()
PY

# good, implicit and two notices delivered; null MX and NXDOMAIN bounced.
delivery_wait "$dir" 6 30 || not_ok "final outcomes within 30 s"
check_eq "MX: delivered" 1 "$(acct_count "$dir" delivered recipient=u@good.test)"
# The recipient at good.test and both notices to senders.test use mx1.good.test.
check_eq "MX: accounting names the exchanger" 3 "$(acct_count "$dir" delivered mx=mx1.good.test)"
check_eq "implicit MX: delivered" 1 "$(acct_count "$dir" delivered recipient=u@implicit.test)"
check_eq "null MX: bounced with 5.1.10" 1 "$(acct_count "$dir" bounced enhanced=5.1.10)"
check_eq "NXDOMAIN: bounced with 5.1.2" 1 "$(acct_count "$dir" bounced enhanced=5.1.2)"
check_eq "two notices delivered to the sender" 2 \
	"$(grep -l 'report-type=delivery-status' "$dir/recv"/*.eml 2>/dev/null | wc -l)"
check "null MX notice has Status 5.1.10" grep -q 'Status: 5.1.10' "$dir/recv"/*.eml

# The dead exchanger and the missing key only defer their own mail.
for _ in $(seq 50); do
	[[ $(acct_count "$dir" deferred recipient=u@dead.test) -ge 1 && \
	   $(acct_count "$dir" deferred recipient=v@good.test) -ge 1 ]] && break
	sleep 0.2
done
check_eq "dead MX: deferred" 1 "$(acct_count "$dir" deferred recipient=u@dead.test)"
check "dead MX: log names the destination" grep -q 'destination mx:mx.dead.test.* down' "$dir/sluiced.log"
check_eq "missing key: deferred" 1 "$(acct_count "$dir" deferred recipient=v@good.test)"
check "missing key: log names domain and selector" \
	grep -q 'key for domain=b.test selector=r1 .* unavailable' "$dir/sluiced.log"
check_eq "missing key: nothing sent unsigned" 0 "$(grep -l 'dns test 6' "$dir/recv"/*.eml 2>/dev/null | wc -l)"
finish
