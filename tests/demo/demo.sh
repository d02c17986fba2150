#!/usr/bin/env bash
# Offline demo of sluice's DKIM signing: no daemon, no network.
#
# 1. "sluicectl dkim keygen" makes an RSA-2048 and an Ed25519 key for each
#    of two sending domains and prints their DNS records, collected in
#    $BUILD/demo/dns.txt (lines "NAME TXT-VALUE").
# 2. tests/demo/campaign.py writes a campaign of $DEMO_COUNT (default 200)
#    personalized multipart text and HTML messages to $BUILD/demo/campaign.
# 3. "sluicectl dkim sign" signs each one with RSA-2048 plus Ed25519 for
#    its sending domain into $BUILD/demo/signed.
# 4. "sluicectl dkim verify" and dkimpy (python3-dkim) check both
#    signatures of every signed message against dns.txt.
# It ends with "demo: signed N, dkim pass N/N (sluicectl), N/N (dkimpy)"
# and exits 1 unless every count is complete. The private keys are
# shredded at exit.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD=$TOP/$BUILD
SLUICECTL=$BUILD/bin/sluicectl
PY=/usr/bin/python3
COUNT=${DEMO_COUNT:-200}
OUT=$BUILD/demo
DOMAINS=(shop.example bank.example)
RSA_SELECTOR=rsa2026
ED_SELECTOR=ed2026

if [[ ! -x "$SLUICECTL" ]]; then
	echo "demo: $SLUICECTL not found; run 'make demo' to build it" >&2
	exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT/campaign" "$OUT/signed"
mkdir -m 0700 "$OUT/keys"
trap 'find "$OUT/keys" -type f -exec shred -u {} + 2>/dev/null; rmdir "$OUT/keys" 2>/dev/null || true' EXIT

echo "demo: keys and DNS records for ${DOMAINS[*]}"
: >"$OUT/dns.txt"
for domain in "${DOMAINS[@]}"; do
	"$SLUICECTL" dkim keygen --algorithm rsa --bits 2048 --domain "$domain" \
		--selector "$RSA_SELECTOR" --out "$OUT/keys" >>"$OUT/dns.txt" 2>/dev/null
	"$SLUICECTL" dkim keygen --algorithm ed25519 --domain "$domain" \
		--selector "$ED_SELECTOR" --out "$OUT/keys" >>"$OUT/dns.txt" 2>/dev/null
done
cut -c1-100 "$OUT/dns.txt" | sed 's/^/  /'

echo "demo: writing $COUNT messages to $OUT/campaign"
$PY "$TOP/tests/demo/campaign.py" "$OUT/campaign" "$COUNT" "${DOMAINS[@]}" >"$OUT/campaign.list"

echo "demo: signing with $RSA_SELECTOR (rsa-sha256) and $ED_SELECTOR (ed25519-sha256)"
signed=0
while read -r file domain; do
	if "$SLUICECTL" dkim sign --domain "$domain" \
		--selector "$RSA_SELECTOR" --key "$OUT/keys/$RSA_SELECTOR.$domain.pem" \
		--selector "$ED_SELECTOR" --key "$OUT/keys/$ED_SELECTOR.$domain.pem" \
		<"$file" >"$OUT/signed/${file##*/}"; then
		signed=$((signed + 1))
	else
		echo "demo: signing ${file##*/} failed" >&2
		rm -f "$OUT/signed/${file##*/}"
	fi
done <"$OUT/campaign.list"

# A message counts as passed when both of its signatures pass.
sluice_pass=0
for file in "$OUT/signed"/*.eml; do
	passes=$("$SLUICECTL" dkim verify --dns-file "$OUT/dns.txt" <"$file" | grep -c '^pass ' || true)
	if [[ $passes -eq 2 ]]; then
		sluice_pass=$((sluice_pass + 1))
	else
		echo "demo: sluicectl: ${file##*/}: $passes of 2 signatures pass" >&2
	fi
done

dkimpy_pass=$($PY "$TOP/tests/dkim/dkimpy_tool.py" verify "$OUT/dns.txt" "$OUT/signed"/*.eml |
	awk -F'\t' '$5 == "pass" { n[$1]++ } END { c = 0; for (f in n) if (n[f] == 2) c++; print c }')

size=$(cat "$OUT/signed"/*.eml | wc -c)
echo "demo: signed messages in $OUT/signed, $((size / signed)) bytes each on average"
echo "demo: example signature header:"
sed -n '1,/^[^ \t]/p' "$OUT/signed/0001.eml" | head -n -1 | sed 's/^/  /'
echo "demo: signed $signed, dkim pass $sluice_pass/$signed (sluicectl), $dkimpy_pass/$signed (dkimpy)"

[[ $signed -eq $COUNT && $sluice_pass -eq $signed && $dkimpy_pass -eq $signed ]]
