#!/usr/bin/env bash
# STARTTLS to a real Postfix smtpd on loopback (its own configuration and
# queue folders): sluiced delivers over TLS and its accounting log records
# the TLS version and cipher; Postfix logs the TLS session and holds the
# messages it received. tls.test is in delivery.tls_required, which a
# working STARTTLS satisfies.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

command -v postfix >/dev/null || { echo "postfix not installed"; exit 77; }
dir=$(make_tmpdir)
chmod 0755 "$dir"    # Postfix daemons run as user postfix
port=$(free_port)
pf_port=$(free_port)
pf=$dir/postfix
mkdir -p "$pf/conf"
sluiced_make_cert "$pf/conf"
postfix_start "$pf" "$pf_port" mx.tls.test tls.test "smtpd_tls_cert_file = $pf/conf/cert.pem
smtpd_tls_key_file = $pf/conf/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1" || finish

delivery_keys "$dir" a.test
delivery_config "$dir" "$port" "  routes: ['tls.test 127.0.0.1:$pf_port']
  tls_required: [tls.test]"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }

mkdir "$dir/orig"
$PY "$TOP/tests/delivery/make_messages.py" "$dir/orig" a.test 5
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$dir/orig" bounce@a.test r1@tls.test,r2@tls.test)
check_eq "messages accepted" 5 "$sent"
delivery_wait "$dir" 10 60
check_eq "every recipient delivered" 10 "$(acct_count "$dir" delivered)"
tls=$($PY -c 'import json,sys; print(" ".join(sorted({json.loads(l)["tls"] for l in open(sys.argv[1])})))' "$dir/acct.jsonl")
check "accounting records TLS ($tls)" test "${tls#TLSv1.}" != "$tls"
cipher=$($PY -c 'import json,sys; print([json.loads(l)["cipher"] for l in open(sys.argv[1])][0])' "$dir/acct.jsonl")
check "accounting records the cipher ($cipher)" test -n "$cipher" -a "$cipher" != None
check "postfix logged the TLS session" grep -q 'TLS connection established from' "$pf/maillog"
check_eq "postfix holds every message" 5 "$(find "$pf/queue/hold" -type f | wc -l)"
postfix -c "$pf/conf" stop >/dev/null 2>&1
finish
