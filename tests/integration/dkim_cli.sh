#!/usr/bin/env bash
# sluicectl dkim: keygen, sign and verify round trips, with dkimpy as an
# independent verifier of a few sluicectl signatures, then bad input.
# Each bad-input case checks the exact exit status and that the message
# names the problem, and the line where there is one. Everything runs
# offline on files in a private temporary folder.
. "$(dirname "$0")/../lib.sh"

CTL=$BIN/sluicectl
T=$(make_tmpdir)
chmod 700 "$T"

# run NAME EXPECTED_STATUS PATTERN CMD...: one check on status and stderr.
run() {
	local name=$1 want=$2 pattern=$3 status
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	status=$?
	if [[ $status -ne $want ]]; then
		not_ok "$name: exit $status, expected $want ($(head -c 300 "$T/err"))"
	elif [[ -n "$pattern" ]] && ! grep -qE -- "$pattern" "$T/err"; then
		not_ok "$name: message '$(head -c 300 "$T/err")' lacks /$pattern/"
	else
		ok "$name"
	fi
}

# refute NAME COMMAND...: one check that passes when COMMAND fails.
refute() {
	local name=$1
	shift
	if "$@"; then not_ok "$name"; else ok "$name"; fi
}

# dkimpy_verify FILE DNSFILE: exit 0 when dkimpy verifies every signature.
dkimpy_verify() {
	$PY - "$1" "$2" <<'PYEOF'
import sys, dkim
msg = open(sys.argv[1], 'rb').read()
dns = {}
for line in open(sys.argv[2]):
    name, value = line.rstrip('\n').split(' ', 1)
    dns[name + '.'] = value.encode()
def lookup(name, timeout=5):
    return dns.get(name.decode())
def verify(d, i):
    try:
        return d.verify(idx=i, dnsfunc=lookup)
    except dkim.DKIMException:
        return False
d = dkim.DKIM(msg)
count = len([h for h in d.headers if h[0].lower() == b'dkim-signature'])
ok = count > 0 and all(verify(d, i) for i in range(count))
sys.exit(0 if ok else 1)
PYEOF
}

MSG="From: Alice <alice@example.com>
To: bob@example.net
Subject: Offline test
Date: Fri, 04 Dec 2026 10:00:00 +0000
Message-ID: <cli-1@example.com>

Hello Bob,  this body
has  whitespace   and a trailing blank line.

"
printf '%s' "$MSG" >"$T/lf.eml"
printf '%s' "$MSG" | sed 's/$/\r/' >"$T/crlf.eml"

# ---- keygen ----
run "keygen rsa exits 0" 0 "" "$CTL" dkim keygen --algorithm rsa --bits 2048 \
	--domain example.com --selector r1 --out "$T/keys"
cp "$T/out" "$T/dns"
check "keygen rsa prints the DNS record" \
	grep -qE '^r1\._domainkey\.example\.com v=DKIM1; k=rsa; p=MII' "$T/dns"
check_eq "keygen key file mode 0600" 600 "$(stat -c %a "$T/keys/r1.example.com.pem")"
run "keygen ed25519 exits 0" 0 "" "$CTL" dkim keygen --algorithm ed25519 \
	--domain example.com --selector e1 --out "$T/keys/"
cat "$T/out" >>"$T/dns"
check_eq "keygen path has no double slash" \
	"sluicectl dkim keygen: wrote $T/keys/e1.example.com.pem" "$(cat "$T/err")"
check "keygen ed25519 record has 32-byte p=" \
	grep -qE '^e1\._domainkey\.example\.com v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$' "$T/dns"
run "keygen existing file exits 2" 2 "exists" "$CTL" dkim keygen --algorithm ed25519 \
	--domain example.com --selector e1 --out "$T/keys"
run "keygen 512 bits exits 2" 2 "512" "$CTL" dkim keygen --algorithm rsa --bits 512 \
	--domain example.com --selector small --out "$T/keys"
run "keygen unknown algorithm exits 2" 2 "dsa" "$CTL" dkim keygen --algorithm dsa \
	--domain example.com --selector x --out "$T/keys"

RSA=$T/keys/r1.example.com.pem
ED=$T/keys/e1.example.com.pem

# ---- sign and verify ----
run "sign rsa+ed25519 exits 0" 0 "" "$CTL" dkim sign --domain example.com \
	--selector r1 --key "$RSA" --selector e1 --key "$ED" --expire 3600 <"$T/crlf.eml"
cp "$T/out" "$T/dual.eml"
check_eq "sign adds two signatures" 2 "$(grep -c '^DKIM-Signature:' "$T/dual.eml")"
run "verify dual exits 0" 0 "" "$CTL" dkim verify --dns-file "$T/dns" <"$T/dual.eml"
check_eq "verify prints two pass lines" 2 "$(grep -c '^pass d=example.com' "$T/out")"
check "dkimpy verifies the dual signature" dkimpy_verify "$T/dual.eml" "$T/dns"
t=$(tr -d '\r\n' <"$T/dual.eml" | grep -oE ' t=[0-9]+' | head -1 | cut -d= -f2)
x=$(tr -d '\r\n' <"$T/dual.eml" | grep -oE ' x=[0-9]+' | head -1 | cut -d= -f2)
check_eq "x= is t= plus --expire" 3600 "$((x - t))"
check "no l= tag" bash -c "! tr -d '\r\n' <'$T/dual.eml' | grep -q ' l='"
check "signature lines under 78 columns" \
	bash -c "awk '/^DKIM-Signature:/{s=1} /^From:/{s=0} s && length(\$0) > 78 {exit 1}' '$T/dual.eml'"

sed 's/this body/that body/' "$T/dual.eml" >"$T/tampered.eml"
run "verify tampered body exits 1" 1 "" "$CTL" dkim verify --dns-file "$T/dns" <"$T/tampered.eml"
check_eq "tampered body reported as fail" 2 "$(grep -c '^fail .*body hash mismatch' "$T/out")"
refute "dkimpy rejects the tampered body" dkimpy_verify "$T/tampered.eml" "$T/dns"
sed 's/^Subject: Offline test/Subject: Changed/' "$T/dual.eml" >"$T/tampered2.eml"
run "verify tampered subject exits 1" 1 "" "$CTL" dkim verify --dns-file "$T/dns" <"$T/tampered2.eml"
check_eq "tampered subject reported as fail" 2 "$(grep -c '^fail .*did not verify' "$T/out")"

run "sign simple/simple exits 0" 0 "" "$CTL" dkim sign --canon simple/simple \
	--domain example.com --selector r1 --key "$RSA" <"$T/crlf.eml"
cp "$T/out" "$T/simple.eml"
check "dkimpy verifies simple/simple" dkimpy_verify "$T/simple.eml" "$T/dns"

run "sign with identity exits 0" 0 "" "$CTL" dkim sign --domain example.com \
	--selector e1 --key "$ED" --identity news@mail.example.com <"$T/crlf.eml"
cp "$T/out" "$T/ident.eml"
check "dkimpy verifies i= in a subdomain" dkimpy_verify "$T/ident.eml" "$T/dns"

run "verify without signature exits 1" 1 "" "$CTL" dkim verify --dns-file "$T/dns" <"$T/crlf.eml"
check "verify without signature says none" grep -q '^none:' "$T/out"
run "verify unknown selector exits 1" 1 "" "$CTL" dkim verify --dns-file /dev/null <"$T/dual.eml"
check_eq "unknown selector is permerror" 2 "$(grep -c '^permerror .*no key record' "$T/out")"

# ---- LF files and headers-only messages ----
run "sign LF file exits 0" 0 "" "$CTL" dkim sign --domain example.com --selector r1 \
	--key "$RSA" <"$T/lf.eml"
cp "$T/out" "$T/lf-signed.eml"
check "LF input is written with CRLF" bash -c "! grep -q \$'[^\\r]\$' '$T/lf-signed.eml'"
run "verify signed LF file exits 0" 0 "" "$CTL" dkim verify --dns-file "$T/dns" <"$T/lf-signed.eml"
tr -d '\r' <"$T/lf-signed.eml" >"$T/lf-again.eml"
run "verify LF copy of signed file exits 0" 0 "" "$CTL" dkim verify --dns-file "$T/dns" \
	<"$T/lf-again.eml"
check "dkimpy verifies the LF-input signature" dkimpy_verify "$T/lf-signed.eml" "$T/dns"

printf 'From: a@example.com\nSubject: no body\n' >"$T/headers-only.eml"
run "sign headers-only exits 0" 0 "" "$CTL" dkim sign --domain example.com --selector e1 \
	--key "$ED" --selector r1 --key "$RSA" <"$T/headers-only.eml"
cp "$T/out" "$T/headers-only-signed.eml"
check "headers-only uses the empty-body hash" \
	grep -q 'bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "$T/headers-only-signed.eml"
run "verify headers-only exits 0" 0 "" "$CTL" dkim verify --dns-file "$T/dns" \
	<"$T/headers-only-signed.eml"
check "dkimpy verifies headers-only" dkimpy_verify "$T/headers-only-signed.eml" "$T/dns"

# ---- bad input ----
SIGN=("$CTL" dkim sign --domain example.com --selector r1 --key "$RSA")

printf 'From: a@example.com\nTo: b@example.net\nthis line has no colon\n\nbody\n' >"$T/nocolon.eml"
run "header without colon exits 2" 2 "line 3: header line has no colon" "${SIGN[@]}" <"$T/nocolon.eml"

{ printf 'From: a@example.com\nSubject: long\n\nshort line\n'; head -c 999 /dev/zero | tr '\0' 'x'; printf '\n'; } >"$T/long.eml"
run "line over 998 octets exits 2" 2 "line 5: line is 999 octets" "${SIGN[@]}" <"$T/long.eml"
{ printf 'From: a@example.com\nSubject: '; head -c 989 /dev/zero | tr '\0' 'y'; printf '\n\nok\n'; } >"$T/998.eml"
run "line of exactly 998 octets signs" 0 "" "${SIGN[@]}" <"$T/998.eml"

printf 'From: a@example.com\n\nline two\nnul \0 here\n' >"$T/nul.eml"
run "NUL byte exits 2" 2 "line 4: NUL byte" "${SIGN[@]}" <"$T/nul.eml"
printf 'From: a\0b@example.com\n\nx\n' >"$T/nul-header.eml"
run "NUL byte in header exits 2" 2 "line 1: NUL byte" "${SIGN[@]}" <"$T/nul-header.eml"

printf ' folded first\nFrom: a@example.com\n\nx\n' >"$T/fold1.eml"
run "continuation on line 1 exits 2" 2 "line 1:" "${SIGN[@]}" <"$T/fold1.eml"

printf 'To: b@example.net\n\nx\n' >"$T/nofrom.eml"
run "message without From exits 2" 2 "no From" "${SIGN[@]}" <"$T/nofrom.eml"

run "missing key file exits 2" 2 "$T/missing.pem" "$CTL" dkim sign --domain example.com \
	--selector r1 --key "$T/missing.pem" <"$T/crlf.eml"
mkdir -p "$T/dir.pem"
run "unreadable key (a folder) exits 2" 2 "dir.pem: not a regular file" "$CTL" dkim sign \
	--domain example.com --selector r1 --key "$T/dir.pem" <"$T/crlf.eml"
{ sed -n '1,2p' "$RSA"; echo 'this is #not base64!'; sed -n '3,$p' "$RSA"; } >"$T/bad.pem"
run "malformed key exits 2 naming line 3" 2 "bad.pem: line 3: invalid character" "$CTL" dkim \
	sign --domain example.com --selector r1 --key "$T/bad.pem" <"$T/crlf.eml"
head -n 5 "$RSA" >"$T/cut.pem"
run "truncated key exits 2 naming line 5" 2 "cut.pem: line 5: PEM block has no END" "$CTL" \
	dkim sign --domain example.com --selector r1 --key "$T/cut.pem" <"$T/crlf.eml"
sed 's/^MII/MIJ/' "$RSA" >"$T/corrupt.pem"
run "corrupt key data exits 2" 2 "malformed private key" "$CTL" dkim sign \
	--domain example.com --selector r1 --key "$T/corrupt.pem" <"$T/crlf.eml"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
run "wrong key type (EC) exits 2" 2 "key type EC is not supported" "$CTL" dkim sign \
	--domain example.com --selector r1 --key "$T/ec.pem" <"$T/crlf.eml"
openssl pkey -in "$RSA" -pubout -out "$T/pub.pem" 2>/dev/null
run "public key file exits 2" 2 "line 1: this is a public key" "$CTL" dkim sign \
	--domain example.com --selector r1 --key "$T/pub.pem" <"$T/crlf.eml"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:768 -out "$T/small.pem" 2>/dev/null
run "RSA key under 1024 bits exits 2" 2 "768 bits" "$CTL" dkim sign \
	--domain example.com --selector r1 --key "$T/small.pem" <"$T/crlf.eml"

run "verify header without colon exits 2" 2 "line 3: header line has no colon" "$CTL" dkim \
	verify --dns-file "$T/dns" <"$T/nocolon.eml"

# ---- usage ----
run "sign without key exits 2" 2 "missing --key" "$CTL" dkim sign --domain example.com \
	--selector r1 <"$T/crlf.eml"
run "sign without selector exits 2" 2 "selector" "$CTL" dkim sign --domain example.com \
	--key "$RSA" <"$T/crlf.eml"
run "identity outside domain exits 2" 2 "not in domain" "${SIGN[@]}" \
	--identity a@example.org <"$T/crlf.eml"
run "invalid expire exits 2" 2 "expire" "${SIGN[@]}" --expire soon <"$T/crlf.eml"
run "unknown dkim subcommand exits 2" 2 "unknown subcommand" "$CTL" dkim frobnicate
run "unknown command exits 2" 2 "unknown command" "$CTL" frobnicate
run "verify unreadable dns file exits 2" 2 "dns-file" "$CTL" dkim verify \
	--dns-file "$T/none.txt" <"$T/dual.eml"

finish
