#!/usr/bin/env bash
# MTA-STS (RFC 8461) against real servers. They run in a network
# namespace that this test creates, so the policy server listens on
# port 443 and the exchangers on port 25 without touching the host:
#   dnsmasq on 127.0.0.1:53   MX, A and _mta-sts TXT records
#   policy server 127.0.0.4   HTTPS, certificate for mta-sts.DOMAIN
#   Postfix smtpd 127.0.0.2   STARTTLS, certificate for the MX names
#   Postfix smtpd 127.0.0.3   STARTTLS, certificate for wrong.example
# Every certificate comes from a CA made here, which is sluiced's
# mta_sts_ca_file. Domains and expected outcomes:
#   badcert.test    enforce, MX on .3: deferred 4.7.5, nothing sent,
#                   no plaintext retry
#   enforce.test    enforce, MX on .2: delivered over verified TLS
#   notlisted.test  enforce, mx: pattern does not match its MX: deferred
#   testing.test    testing, MX on .3: delivered, failure recorded
#   plain.test      no TXT record: opportunistic delivery, no policy
#   nopolicy.test   TXT record, but the policy file is missing (404):
#                   opportunistic delivery, no policy
#   none.test       mode none: opportunistic delivery, no policy
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

command -v postfix >/dev/null || { echo "postfix not installed"; exit 77; }
[[ -x /usr/sbin/dnsmasq ]] || { echo "dnsmasq not installed"; exit 77; }
ns=sluice-mtasts-$$
ip netns add "$ns" || { not_ok "ip netns add $ns"; finish; }
on_exit_netns "$ns"
# in_ns runs a command in the namespace. Background processes start with
# "ip netns exec" itself, which execs the command, so that $! is its PID.
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up

dir=$(make_tmpdir)
chmod 0755 "$dir"    # Postfix daemons run as user postfix
# The namespace is private to this test, so fixed ports cannot collide.
port=2525
metrics_port=9100

# in_ns_wait_port HOST PORT: until HOST:PORT accepts in the namespace.
in_ns_wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Certificates: a CA, then leaf certificates signed by it.
pki=$dir/pki
mkdir -m 0700 "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=sluice test CA $$" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
leaf() {   # leaf NAME SAN-LIST
	openssl req -newkey rsa:2048 -nodes -subj "/CN=${2%%,*}" -keyout "$pki/$1.key" \
		-out "$pki/$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\n' "$(sed 's/\([^,]*\)/DNS:\1/g' <<<"$2")" >"$pki/$1.ext"
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
		-CAcreateserial -days 1 -extfile "$pki/$1.ext" -out "$pki/$1.pem" 2>/dev/null
}
leaf mx mx.enforce.test,mx.notlisted.test
leaf wrong wrong.example
leaf policy mta-sts.badcert.test,mta-sts.enforce.test,mta-sts.notlisted.test,mta-sts.testing.test,mta-sts.nopolicy.test,mta-sts.none.test
check "test certificates made" test -s "$pki/mx.pem" -a -s "$pki/wrong.pem" -a -s "$pki/policy.pem"
chmod 0644 "$pki"/*.pem
chmod 0755 "$pki"

# DNS.
txt() { printf -- '--txt-record=_mta-sts.%s,v=STSv1; id=%s;' "$1" "$2"; }
ip netns exec "$ns" /usr/sbin/dnsmasq --keep-in-foreground --port=53 --listen-address=127.0.0.1 \
	--bind-interfaces --no-resolv --no-hosts --pid-file= --local=/test/ --local-ttl=60 \
	--host-record=mx.enforce.test,127.0.0.2 --host-record=mx.notlisted.test,127.0.0.2 \
	--host-record=mx.badcert.test,127.0.0.3 --host-record=mx.testing.test,127.0.0.3 \
	--host-record=mx.plain.test,127.0.0.3 \
	--mx-host=enforce.test,mx.enforce.test,10 --mx-host=notlisted.test,mx.notlisted.test,10 \
	--mx-host=badcert.test,mx.badcert.test,10 --mx-host=testing.test,mx.testing.test,10 \
	--mx-host=plain.test,mx.plain.test,10 \
	--host-record=mx.nopolicy.test,127.0.0.3 --mx-host=nopolicy.test,mx.nopolicy.test,10 \
	--host-record=mx.none.test,127.0.0.3 --mx-host=none.test,mx.none.test,10 \
	--host-record=mta-sts.nopolicy.test,127.0.0.4 --host-record=mta-sts.none.test,127.0.0.4 \
	--host-record=mta-sts.enforce.test,127.0.0.4 --host-record=mta-sts.notlisted.test,127.0.0.4 \
	--host-record=mta-sts.badcert.test,127.0.0.4 --host-record=mta-sts.testing.test,127.0.0.4 \
	"$(txt enforce.test e1)" "$(txt notlisted.test n1)" "$(txt badcert.test b1)" \
	"$(txt testing.test t1)" "$(txt nopolicy.test p1)" "$(txt none.test z1)" \
	2>"$dir/dnsmasq.log" &
on_exit_kill $!

# Policies.
mkdir "$dir/policies"
policy() {   # policy DOMAIN MODE MX...
	local domain=$1 mode=$2 mx
	shift 2
	{
		printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
		for mx in "$@"; do printf 'mx: %s\r\n' "$mx"; done
		printf 'max_age: 86400\r\n'
	} >"$dir/policies/mta-sts.$domain.txt"
}
policy enforce.test enforce mx.enforce.test '*.backup.test'
policy badcert.test enforce mx.badcert.test
policy notlisted.test enforce mx.other.test
policy testing.test testing '*.testing.test'
policy none.test none
ip netns exec "$ns" "$PY" "$TOP/tests/delivery/sts_policy_server.py" --listen 127.0.0.4 --port 443 \
	--cert "$pki/policy.pem" --key "$pki/policy.key" --dir "$dir/policies" \
	2>"$dir/policy_server.log" &
on_exit_kill $!

# Postfix with two smtpd listeners on port 25.
pf=$dir/postfix
mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
chown postfix "$pf/data"
cat >"$pf/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.sts.test
mydestination =
relay_domains = enforce.test, notlisted.test, badcert.test, testing.test, plain.test,
	nopolicy.test, none.test
mynetworks = 127.0.0.0/8
inet_interfaces = all
inet_protocols = ipv4
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_client_restrictions = check_client_access static:HOLD
smtpd_peername_lookup = no
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
biff = no
CF
{
	sed -e 's/^\(smtp\s\+inet\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
		-e 's/^\([a-z]\+\s\+unix\(-dgram\)\?\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
		-e '/^smtp\s\+inet/d' /etc/postfix/master.cf
	echo "127.0.0.2:25 inet n - n - - smtpd -o smtpd_tls_cert_file=$pki/mx.pem -o smtpd_tls_key_file=$pki/mx.key"
	echo "127.0.0.3:25 inet n - n - - smtpd -o smtpd_tls_cert_file=$pki/wrong.pem -o smtpd_tls_key_file=$pki/wrong.key"
} >"$pf/conf/master.cf"
if ! in_ns postfix -c "$pf/conf" start >"$dir/postfix.start" 2>&1; then
	not_ok "postfix starts: $(tail -1 "$dir/postfix.start")"
	finish
fi
on_exit_kill "$(tr -d ' ' <"$pf/queue/pid/master.pid")"
in_ns_wait_port 127.0.0.2 25 || not_ok "postfix listens on 127.0.0.2:25"
in_ns_wait_port 127.0.0.3 25 || not_ok "postfix listens on 127.0.0.3:25"
in_ns_wait_port 127.0.0.4 443 || not_ok "policy server listens on 127.0.0.4:443"

delivery_keys "$dir" a.test
delivery_config "$dir" "$port" "  resolver: 127.0.0.1:53
  resolver_timeout: 1s
  mx_port: 25
  mta_sts_ca_file: $pki/ca.pem
  retry_initial: 10m
  retry_max: 20m
  idle_timeout: 1s
ctl:
  socket: $dir/ctl.sock
  link_socket: $dir/link.sock
  state: $dir/state.json
metrics:
  listen: 127.0.0.1:$metrics_port
  shm: /sluice-mtasts-$$
keys:
  dir: $dir/ctlkeys"
ip netns exec "$ns" "$BIN/sluice-ctld" -c "$dir/sluice.yaml" 2>>"$dir/ctld.log" &
on_exit_kill $!
in_ns_wait_port 127.0.0.1 "$metrics_port" || not_ok "sluice-ctld serves metrics"
ip netns exec "$ns" "$BIN/sluiced" -c "$dir/sluice.yaml" >>"$dir/sluiced.stderr" 2>&1 &
on_exit_kill $!
in_ns_wait_port 127.0.0.1 "$port" || { not_ok "sluiced starts"; finish; }

metric() {
	in_ns "$PY" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics', timeout=10).read().decode())" |
		grep -E "^$1 " | awk '{print $2}'
}
# send DOMAIN: one message to u@DOMAIN; prints 1 when sluiced took it.
send() {
	mkdir -p "$dir/msg-$1"
	$PY "$TOP/tests/delivery/make_messages.py" "$dir/msg-$1" a.test 1
	in_ns "$PY" "$TOP/tests/delivery/send.py" "$port" "$dir/msg-$1" bounce@a.test "u@$1"
}
# field RECIPIENT STATUS FIELD: FIELD of the first record of RECIPIENT with STATUS.
field() {
	$PY - "$dir/acct.jsonl" "$@" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["recipient"] == sys.argv[2] and r["status"] == sys.argv[3]:
        print(r[sys.argv[4]])
        break
PY
}
wait_record() {   # wait_record RECIPIENT STATUS
	local deadline=$((SECONDS + 30))
	while [[ $(acct_count "$dir" "$2" "recipient=$1") -lt 1 && $SECONDS -lt $deadline ]]; do
		sleep 0.2
	done
}
# held DOMAIN: messages Postfix holds for u@DOMAIN.
held() {
	local n=0 f
	for f in $(find "$pf/queue/hold" -type f 2>/dev/null); do
		grep -aq "u@$1" "$f" && n=$((n + 1))
	done
	echo "$n"
}

# 1. Enforce with a certificate for the wrong name, alone, so that every
# session Postfix logs until then is one of its attempts.
check_eq "badcert: message accepted" 1 "$(send badcert.test)"
wait_record u@badcert.test deferred
check_eq "badcert: deferred" 1 "$(acct_count "$dir" deferred recipient=u@badcert.test)"
check_eq "badcert: enhanced code 4.7.5" 4.7.5 "$(field u@badcert.test deferred enhanced)"
reply=$(field u@badcert.test deferred reply)
check "badcert: reason names domain, MX and cause ($reply)" grep -q \
	'MTA-STS policy of badcert.test (enforce): no verified TLS session with mx.badcert.test (127.0.0.3:25): certificate verification failed: hostname mismatch' <<<"$reply"
check_eq "badcert: accounting mta_sts" enforce "$(field u@badcert.test deferred mta_sts)"
check "badcert: accounting mta_sts_failure" grep -q 'hostname mismatch' \
	<<<"$(field u@badcert.test deferred mta_sts_failure)"
check_eq "badcert: nothing delivered" 0 "$(acct_count "$dir" delivered recipient=u@badcert.test)"
# smtp_sessions: sessions at Postfix that sent EHLO (the port probes
# above sent nothing).
smtp_sessions() { grep ' disconnect from .* ehlo=' "$pf/maillog" 2>/dev/null; }
deadline=$((SECONDS + 20))
while [[ $(smtp_sessions | wc -l) -lt 1 && $SECONDS -lt $deadline ]]; do sleep 0.2; done
check_eq "badcert: one session at postfix" 1 "$(smtp_sessions | wc -l)"
check_eq "badcert: the session sent STARTTLS" 1 "$(smtp_sessions | grep -c 'starttls=')"
check_eq "badcert: no MAIL command reached postfix" 0 "$(smtp_sessions | grep -c ' mail=')"
check_eq "badcert: postfix holds nothing" 0 "$(held badcert.test)"
check_eq "badcert: no plaintext fallback counted" 0 "$(metric sluice_tls_fallbacks_total)"

# 2. The other domains.
for d in enforce.test notlisted.test testing.test plain.test nopolicy.test none.test; do
	check_eq "$d: message accepted" 1 "$(send $d)"
done
wait_record u@enforce.test delivered
wait_record u@testing.test delivered
wait_record u@plain.test delivered
wait_record u@nopolicy.test delivered
wait_record u@none.test delivered
wait_record u@notlisted.test deferred

check_eq "enforce: delivered" 1 "$(acct_count "$dir" delivered recipient=u@enforce.test)"
check_eq "enforce: accounting mta_sts" enforce "$(field u@enforce.test delivered mta_sts)"
check_eq "enforce: no policy failure" None "$(field u@enforce.test delivered mta_sts_failure)"
check_eq "enforce: over TLS" TLSv1.3 "$(field u@enforce.test delivered tls)"
check_eq "enforce: postfix holds it" 1 "$(held enforce.test)"

check_eq "notlisted: deferred with 4.7.5" 4.7.5 "$(field u@notlisted.test deferred enhanced)"
reply=$(field u@notlisted.test deferred reply)
check "notlisted: reason names the MX ($reply)" grep -q \
	"MTA-STS policy of notlisted.test (enforce): no MX host matches the policy's mx patterns (MX: mx.notlisted.test)" <<<"$reply"
check_eq "notlisted: accounting mta_sts" enforce "$(field u@notlisted.test deferred mta_sts)"
check_eq "notlisted: postfix holds nothing" 0 "$(held notlisted.test)"

check_eq "testing: delivered" 1 "$(acct_count "$dir" delivered recipient=u@testing.test)"
check_eq "testing: accounting mta_sts" testing "$(field u@testing.test delivered mta_sts)"
check "testing: failure recorded" grep -q 'certificate verification failed for mx.testing.test: hostname mismatch' \
	<<<"$(field u@testing.test delivered mta_sts_failure)"
check_eq "testing: postfix holds it" 1 "$(held testing.test)"

check_eq "no TXT: delivered" 1 "$(acct_count "$dir" delivered recipient=u@plain.test)"
check_eq "no TXT: no policy recorded" None "$(field u@plain.test delivered mta_sts)"
check_eq "no TXT: opportunistic TLS" TLSv1.3 "$(field u@plain.test delivered tls)"
check_eq "no TXT: postfix holds it" 1 "$(held plain.test)"

for d in nopolicy none; do
	check_eq "$d: delivered" 1 "$(acct_count "$dir" delivered recipient=u@$d.test)"
	check_eq "$d: no policy recorded" None "$(field u@$d.test delivered mta_sts)"
	check_eq "$d: opportunistic TLS" TLSv1.3 "$(field u@$d.test delivered tls)"
done
check_eq "nopolicy: the fetch got 404" 1 "$(grep -c '^mta-sts.nopolicy.test .* 404$' "$dir/policies/requests.log")"
check "nopolicy: sluiced logs the failed fetch" grep -q \
	'policy of nopolicy.test (id=p1) not fetched: HTTP status 404' "$dir/sluiced.log"

# badcert (1), notlisted (1) and testing (1) failed their policies.
check_eq "sluice_mta_sts_failures_total" 3 "$(metric sluice_mta_sts_failures_total)"
check_eq "each policy fetched once" 5 "$(grep -c ' 200$' "$dir/policies/requests.log")"
check_eq "no policy request for plain.test" 0 "$(grep -c plain "$dir/policies/requests.log")"

in_ns postfix -c "$pf/conf" stop >/dev/null 2>&1
finish
