#!/usr/bin/env bash
# DKIM interop on real messages: sluice against dkimpy, Mail::DKIM and
# OpenDKIM, in both directions, with DNS answered from a local file.
#
# Corpus (tests/dkim/corpus.py collect): the 47 msg_*.txt of Debian's
# libpython3.11-testsuite, SpamAssassin's sample-spam.txt and
# sample-nonspam.txt, and the 12 messages of dkimpy's test data
# (python3-dkim 1.1.4 ships them under dkim/tests/data). A leading mbox
# "From " line is dropped. msg_19.txt (a body with no header section) and
# msg_35.txt (a header section with no empty line after it) are not
# RFC 5322 messages: sluicectl must reject them with exit status 2.
#
# Forward: sluicectl signs every valid message in four modes (RSA-1024,
# RSA-2048, Ed25519, RSA-2048 plus Ed25519) and dkimpy, Mail::DKIM and
# OpenDKIM ("opendkim -t" with TestPublicKeys) must each pass every
# signature. Mail::DKIM 1.20230212 (Debian 12) predates ed25519-sha256, so
# it checks the RSA signatures only. Reverse: dkimpy and OpenDKIM sign the
# corpus with RSA-2048 and with Ed25519, and "sluicectl dkim verify
# --dns-file" must pass each. Neither signs the 7 messages without a From
# header, and OpenDKIM checks no signature of 10 messages, listed with the
# reasons at OPENDKIM_SKIPS. Last, a copy with a changed body and a copy
# with a changed From header must fail with every verifier.
#
# Each verifier runs once over all files of a mode. TAP lines carry the
# counts (passed/total); "#" lines list the files behind a failed count.
#
# DKIM_INTEROP_SIGNER=dkimpy signs the forward modes with dkimpy instead of
# sluicectl, to check the harness itself without sluice.
. "$(dirname "$0")/../lib.sh"

HERE=$TOP/tests/dkim
SLUICECTL=$BIN/sluicectl
SIGNER=${DKIM_INTEROP_SIGNER:-sluicectl}
DOMAIN=interop.sluice.test

if [[ "$SIGNER" == sluicectl && ! -x "$SLUICECTL" ]]; then
	echo "# $SLUICECTL is not built; nothing to test"
	exit 77
fi
for tool in opendkim perl openssl stdbuf; do
	command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done

WORK=$(make_tmpdir)
KEYS=$WORK/keys
mkdir -m 0700 "$KEYS" "$WORK/opendkim"
DNS=$WORK/dns.txt
: >"$DNS"

# wipe_keys: overwrite the private keys before the folder is removed.
wipe_keys() { find "$KEYS" -type f -exec shred -u {} + 2>/dev/null; }

# dns_value KEY_FILE: the TXT value of KEY_FILE's public key, made here
# with openssl and not by the signer, so a wrong record from the signer
# shows up as a failed verification.
dns_value() {
	local der
	if openssl pkey -in "$1" -noout -text 2>/dev/null | grep -q '^ED25519'; then
		der=$(openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | base64 -w0)
		echo "v=DKIM1; k=ed25519; p=$der"
	else
		der=$(openssl pkey -in "$1" -pubout -outform DER | base64 -w0)
		echo "v=DKIM1; k=rsa; p=$der"
	fi
}

# make_key NAME ALGORITHM BITS: create $KEYS/NAME.pem for selector NAME and
# publish its record in $DNS.
make_key() {
	local name=$1 algorithm=$2 bits=$3 out=$KEYS/$1 record file
	if [[ "$SIGNER" == sluicectl ]]; then
		mkdir -m 0700 "$out"
		if [[ $algorithm == rsa ]]; then
			record=$("$SLUICECTL" dkim keygen --algorithm rsa --bits "$bits" \
				--domain "$DOMAIN" --selector "$name" --out "$out")
		else
			record=$("$SLUICECTL" dkim keygen --algorithm ed25519 \
				--domain "$DOMAIN" --selector "$name" --out "$out")
		fi
		file=$(grep -l 'PRIVATE KEY' "$out"/* 2>/dev/null | head -1)
		if [[ -z "$file" ]]; then
			not_ok "keygen $name writes a key"
			return 1
		fi
		mv "$file" "$KEYS/$name.pem"
		check_eq "keygen $name record matches key" \
			"$(dns_value "$KEYS/$name.pem" | sed 's/.*p=//')" \
			"$(echo "$record" | tr -d '" \t\n' | sed -n 's/.*p=\([A-Za-z0-9+\/=]*\).*/\1/p')"
	elif [[ $algorithm == rsa ]]; then
		openssl genpkey -algorithm rsa -pkeyopt "rsa_keygen_bits:$bits" \
			-out "$KEYS/$name.pem" 2>/dev/null
	else
		openssl genpkey -algorithm ed25519 -out "$KEYS/$name.pem"
	fi
	chmod 0600 "$KEYS/$name.pem"
	echo "$name._domainkey.$DOMAIN $(dns_value "$KEYS/$name.pem")" >>"$DNS"
}

# Forward modes: name, then selector:algorithm for each signature.
declare -A MODE_KEYS=(
	[rsa1024]="r1024"
	[rsa2048]="r2048"
	[ed25519]="ed"
	[dual]="r2048 ed"
)
MODES="rsa1024 rsa2048 ed25519 dual"

# sign_forward MODE IN_DIR OUT_DIR: sign every message of IN_DIR.
sign_forward() {
	local mode=$1 in=$2 out=$3 f args sel
	mkdir -p "$out"
	if [[ "$SIGNER" == dkimpy ]]; then
		cp "$in"/* "$out"/
		for sel in ${MODE_KEYS[$mode]}; do
			local alg=rsa-sha256
			[[ $sel == ed ]] && alg=ed25519-sha256
			mkdir -p "$out.tmp"
			$PY "$HERE/dkimpy_tool.py" sign "$alg" relaxed/relaxed "$DOMAIN" \
				"$sel" "$KEYS/$sel.pem" "$out.tmp" "$out"/* 2>>"$WORK/sign.err"
			rm -f "$out"/* && mv "$out.tmp"/* "$out"/ && rmdir "$out.tmp"
		done
		return
	fi
	args=(--domain "$DOMAIN")
	for sel in ${MODE_KEYS[$mode]}; do
		args+=(--selector "$sel" --key "$KEYS/$sel.pem")
	done
	for f in "$in"/*; do
		if ! "$SLUICECTL" dkim sign "${args[@]}" <"$f" >"$out/${f##*/}" \
			2>>"$WORK/sign.err"; then
			echo "${f##*/}: sluicectl dkim sign failed" >>"$WORK/sign.err"
			rm -f "$out/${f##*/}"
		fi
	done
}

# verify_with VERIFIER RESULTS FILE...: run one verifier over every file.
verify_with() {
	local verifier=$1 results=$2
	shift 2
	case $verifier in
	dkimpy)   $PY "$HERE/dkimpy_tool.py" verify "$DNS" "$@" ;;
	maildkim) perl "$HERE/maildkim_verify.pl" "$DNS" "$@" ;;
	opendkim) $PY "$HERE/opendkim_tool.py" verify "$WORK/opendkim" "$DNS" "$@" ;;
	sluice)   sluice_verify "$@" ;;
	esac >"$results" 2>>"$WORK/verify.err"
}

# sluice_verify FILE...: "sluicectl dkim verify" per file, its output
# turned into the verifier line format. sluicectl prints one line per
# signature: the result, then d= and s= among its words.
sluice_verify() {
	local f line result d s
	for f in "$@"; do
		"$SLUICECTL" dkim verify --dns-file "$DNS" <"$f" 2>&1 | while IFS= read -r line; do
			result=${line%% *}
			d=$(sed -n 's/.*\bd=\([^ ;,]*\).*/\1/p' <<<"$line")
			s=$(sed -n 's/.*\bs=\([^ ;,]*\).*/\1/p' <<<"$line")
			[[ -n "$d" && -n "$s" ]] || continue
			[[ $result == pass ]] || result=fail
			printf '%s\t%s\t%s\t-\t%s\t%s\n' "$f" "$d" "$s" "$result" "$line"
		done
	done
}

# count_status NAME EXPECTED_STATUS RESULTS SELECTORS FILE...: one TAP
# check that every file has EXPECTED_STATUS (all-pass or all-fail) for
# the signatures of $DOMAIN with the given selectors; lists the others.
count_status() {
	local name=$1 want=$2 results=$3 selectors=$4 total good
	shift 4
	total=$#
	$PY "$HERE/corpus.py" tally "$results" "$DOMAIN" "$selectors" "$@" >"$results.tally"
	good=$(awk -v w="$want" '$2 == w' "$results.tally" | wc -l)
	if [[ $good -eq $total && $total -gt 0 ]]; then
		ok "$name: $good/$total"
	else
		not_ok "$name: $good/$total, expected $total/$total"
		awk -v w="$want" '$2 != w { sub(".*/", "", $1); print "#   " $0 }' "$results.tally" | head -20
	fi
}

# without_skips VERIFIER FILE...: the files, less $OPENDKIM_SKIPS when
# VERIFIER is opendkim.
without_skips() {
	local verifier=$1 f
	shift
	for f in "$@"; do
		[[ $verifier == opendkim && "$OPENDKIM_SKIPS" == *" ${f##*/} "* ]] || echo "$f"
	done
}

# only_skips FILE...: the files named in $OPENDKIM_SKIPS.
only_skips() {
	local f
	for f in "$@"; do
		[[ "$OPENDKIM_SKIPS" == *" ${f##*/} "* ]] && echo "$f"
	done
}

# selectors_for VERIFIER MODE: the selectors VERIFIER checks in MODE,
# empty when it checks none.
selectors_for() {
	local sel out=()
	for sel in ${MODE_KEYS[$2]}; do
		[[ $1 == maildkim && $sel == ed ]] && continue
		out+=("$sel")
	done
	local IFS=,
	echo "${out[*]}"
}

# Corpus.
$PY "$HERE/corpus.py" collect "$WORK/corpus" >"$WORK/corpus.counts"
check_eq "corpus python email messages" 47 "$(awk '$1 == "py" { print $2 }' "$WORK/corpus.counts")"
check_eq "corpus spamassassin samples" 2 "$(awk '$1 == "sa" { print $2 }' "$WORK/corpus.counts")"
check_eq "corpus dkimpy messages" 12 "$(awk '$1 == "dkimpy" { print $2 }' "$WORK/corpus.counts")"
VALID=("$WORK/corpus/valid"/*)
NVALID=${#VALID[@]}
check_eq "corpus valid messages" 59 "$NVALID"
check_eq "corpus malformed messages" "py-msg_19.txt py-msg_35.txt" \
	"$(cd "$WORK/corpus/malformed" && echo *)"
# dkimpy and OpenDKIM sign only messages with a From header.
NFROM=$(grep -lis '^from:' "${VALID[@]}" | wc -l)
check_eq "corpus messages with From" 52 "$NFROM"
# The OpenDKIM 2.11 filter checks no signature of a message whose From
# header is missing or has no address with a domain (it reports "bad
# message/signature format"): the 7 messages without From, msg_05.txt
# ("From: foo") and msg_43.txt ("From: MAILER DAEMON <>"). It stops at the
# end of the header of test.message.baddomain, whose other signature has
# the invalid d=legitimate.com(.attacker.com. It neither verifies nor
# signs these 10.
OPENDKIM_SKIPS=" py-msg_05.txt py-msg_43.txt dkimpy-test.message.baddomain "
for f in "${VALID[@]}"; do
	grep -qi '^from:' "$f" || OPENDKIM_SKIPS+="${f##*/} "
done

if [[ "$SIGNER" == sluicectl ]]; then
	for f in "$WORK/corpus/malformed"/*; do
		"$SLUICECTL" dkim sign --domain "$DOMAIN" --selector x --key /dev/null \
			<"$f" >/dev/null 2>"$WORK/reject.err"
		check_eq "sign rejects ${f##*/}" 2 "$?"
	done
fi

make_key r1024 rsa 1024
make_key r2048 rsa 2048
make_key ed ed25519 0
make_key rr2048 rsa 2048
make_key red ed25519 0

# Forward: the signer signs, three verifiers check.
for mode in $MODES; do
	sign_forward "$mode" "$WORK/corpus/valid" "$WORK/fwd/$mode"
	signed=("$WORK/fwd/$mode"/*)
	want=$NVALID
	[[ "$SIGNER" == dkimpy ]] && want=$NFROM
	check_eq "$SIGNER signs $mode" "$want" "${#signed[@]}"
	for verifier in dkimpy maildkim opendkim; do
		sels=$(selectors_for "$verifier" "$mode")
		if [[ -z "$sels" ]]; then
			echo "# $verifier: no ed25519-sha256 in Mail::DKIM 1.20230212, $mode not checked"
			continue
		fi
		verify_with "$verifier" "$WORK/fwd/$mode.$verifier" "${signed[@]}"
		count_status "$verifier verifies $SIGNER $mode" all-pass \
			"$WORK/fwd/$mode.$verifier" "$sels" $(without_skips "$verifier" "${signed[@]}")
	done
done
skipped=($(only_skips "$WORK/fwd/dual"/*))
if [[ "$SIGNER" == sluicectl ]]; then
	check_eq "opendkim known exceptions" 10 "${#skipped[@]}"
fi
count_status "opendkim checks no signature of known messages" missing \
	"$WORK/fwd/dual.opendkim" r2048,ed "${skipped[@]}"

# Forward tampering, on the dual mode so that both algorithms are covered.
for change in body header; do
	$PY "$HERE/corpus.py" tamper "$change" "$WORK/fwd/dual" "$WORK/fwd/dual-$change"
	changed=("$WORK/fwd/dual-$change"/*)
	for verifier in dkimpy maildkim opendkim; do
		verify_with "$verifier" "$WORK/fwd/dual-$change.$verifier" "${changed[@]}"
		count_status "$verifier rejects $change change" all-fail \
			"$WORK/fwd/dual-$change.$verifier" "$(selectors_for "$verifier" dual)" \
			$(without_skips "$verifier" "${changed[@]}")
	done
done

# Reverse: dkimpy and OpenDKIM sign, sluicectl verifies.
if [[ -x "$SLUICECTL" ]]; then
	REVERSE="dkimpy:rsa-sha256:relaxed/relaxed:rr2048 dkimpy:ed25519-sha256:simple/simple:red
	         opendkim:rsa-sha256:relaxed/simple:rr2048 opendkim:ed25519-sha256:simple/relaxed:red"
	for spec in $REVERSE; do
		IFS=: read -r signer alg canon sel <<<"$spec"
		name=$signer-${alg%%-*}
		out=$WORK/rev/$name
		mkdir -p "$out"
		if [[ $signer == dkimpy ]]; then
			$PY "$HERE/dkimpy_tool.py" sign "$alg" "$canon" "$DOMAIN" "$sel" \
				"$KEYS/$sel.pem" "$out" "${VALID[@]}" 2>>"$WORK/sign.err"
		else
			$PY "$HERE/opendkim_tool.py" sign "$alg" "$canon" "$DOMAIN" "$sel" \
				"$KEYS/$sel.pem" "$WORK/opendkim" "$out" "${VALID[@]}" 2>>"$WORK/sign.err"
		fi
		signed=("$out"/*)
		want=$NFROM
		[[ $signer == opendkim ]] && want=$((NFROM - 3))
		check_eq "$signer signs corpus with $alg" "$want" "${#signed[@]}"
		verify_with sluice "$out.sluice" "${signed[@]}"
		count_status "sluice verifies $name" all-pass "$out.sluice" "$sel" "${signed[@]}"
		for change in body header; do
			$PY "$HERE/corpus.py" tamper "$change" "$out" "$out-$change"
			changed=("$out-$change"/*)
			verify_with sluice "$out-$change.sluice" "${changed[@]}"
			count_status "sluice rejects $name $change change" all-fail \
				"$out-$change.sluice" "$sel" "${changed[@]}"
		done
	done
else
	echo "# $SLUICECTL is not built; reverse direction not checked"
fi

wipe_keys
finish
