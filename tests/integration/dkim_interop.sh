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
# RFC 5322 messages, and 7 messages have no From header: sluicectl must
# reject these 9 with exit status 2. That leaves 52 messages to sign.
#
# Forward: sluicectl signs each of them in five modes (RSA-1024,
# RSA-2048, Ed25519, RSA-2048 plus Ed25519, all relaxed/relaxed, and the
# dual case again with simple/simple) and dkimpy, Mail::DKIM and OpenDKIM
# ("opendkim -t" with TestPublicKeys) must each pass every signature.
# Mail::DKIM 1.20230212 (Debian 12) predates ed25519-sha256, so it checks
# the RSA signatures only. OpenDKIM checks no signature of 3 messages,
# listed with the reasons at OPENDKIM_SKIPS.
# Reverse: dkimpy and OpenDKIM sign the same messages with RSA-2048 and
# with Ed25519, and "sluicectl dkim verify --dns-file" must pass each.
# A copy with a changed body and a copy with a changed From header must
# fail with every verifier. Last, the sanitizer build of sluicectl signs
# and verifies all 61 files without a sanitizer report.
#
# Each verifier runs once over all files of a mode. TAP lines carry the
# counts (passed/total); "#" lines list the files behind a failed count.
. "$(dirname "$0")/../lib.sh"

HERE=$TOP/tests/dkim
SLUICECTL=$BIN/sluicectl
DOMAIN=interop.sluice.test

for tool in "$SLUICECTL" opendkim perl openssl stdbuf; do
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
# with openssl and not by sluicectl, so that a wrong record from keygen
# fails the keygen check.
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

# make_key NAME ALGORITHM [BITS]: create $KEYS/NAME.pem with "sluicectl
# dkim keygen" for selector NAME, check the record it prints, and publish
# the record in $DNS.
make_key() {
	local name=$1 algorithm=$2 out=$KEYS/$1 record args
	args=(--algorithm "$algorithm" --domain "$DOMAIN" --selector "$name" --out "$out")
	[[ -n "${3:-}" ]] && args+=(--bits "$3")
	mkdir -m 0700 "$out"
	record=$("$SLUICECTL" dkim keygen "${args[@]}" 2>/dev/null)
	if [[ ! -f "$out/$name.$DOMAIN.pem" ]]; then
		not_ok "keygen $name writes $name.$DOMAIN.pem"
		return 1
	fi
	mv "$out/$name.$DOMAIN.pem" "$KEYS/$name.pem"
	rmdir "$out"
	check_eq "keygen $name record" \
		"$name._domainkey.$DOMAIN $(dns_value "$KEYS/$name.pem")" "$record"
	echo "$name._domainkey.$DOMAIN $(dns_value "$KEYS/$name.pem")" >>"$DNS"
}

# Forward modes: the selectors of each signature, and the canonicalization.
declare -A MODE_KEYS=(
	[rsa1024]="r1024"
	[rsa2048]="r2048"
	[ed25519]="ed"
	[dual]="r2048 ed"
	[dual-simple]="r2048 ed"
)
declare -A MODE_CANON=([dual-simple]=simple/simple)
MODES="rsa1024 rsa2048 ed25519 dual dual-simple"

# sign_forward MODE OUT_DIR FILE...: sign every file with sluicectl.
sign_forward() {
	local mode=$1 out=$2 f args sel
	shift 2
	mkdir -p "$out"
	args=(--domain "$DOMAIN" --canon "${MODE_CANON[$mode]:-relaxed/relaxed}")
	for sel in ${MODE_KEYS[$mode]}; do
		args+=(--selector "$sel" --key "$KEYS/$sel.pem")
	done
	for f in "$@"; do
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
# check that every file has EXPECTED_STATUS (all-pass, all-fail or
# missing) for the signatures of $DOMAIN with the given selectors. The
# files that do not are listed as "#" lines.
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
check_eq "corpus malformed messages" "py-msg_19.txt py-msg_35.txt" \
	"$(cd "$WORK/corpus/malformed" && echo *)"
# sluicectl, dkimpy and OpenDKIM sign only messages with a From header
# (RFC 6376 section 5.4 requires From to be signed).
SIGNABLE=() NOFROM=()
for f in "$WORK/corpus/valid"/*; do
	if grep -qi '^from:' "$f"; then SIGNABLE+=("$f"); else NOFROM+=("$f"); fi
done
NSIGN=${#SIGNABLE[@]}
check_eq "corpus messages with From" 52 "$NSIGN"
check_eq "corpus messages without From" 7 "${#NOFROM[@]}"

# The OpenDKIM 2.11 filter checks no signature of a message whose From has
# no address with a domain (it reports "bad message/signature format"):
# msg_05.txt ("From: foo") and msg_43.txt ("From: MAILER DAEMON <>"). It
# stops at the end of the header of test.message.baddomain, whose other
# signature has the invalid d=legitimate.com(.attacker.com. It neither
# verifies nor signs these 3.
OPENDKIM_SKIPS=" py-msg_05.txt py-msg_43.txt dkimpy-test.message.baddomain "

make_key r1024 rsa 1024
make_key r2048 rsa 2048
make_key ed ed25519
make_key rr2048 rsa 2048
make_key red ed25519

# count_rejects NAME FILE...: one check that "sluicectl dkim sign" exits
# with status 2 (invalid input) for every file.
count_rejects() {
	local name=$1 f n=0
	shift
	for f in "$@"; do
		"$SLUICECTL" dkim sign --domain "$DOMAIN" --selector r2048 \
			--key "$KEYS/r2048.pem" <"$f" >/dev/null 2>>"$WORK/reject.err"
		if [[ $? -eq 2 ]]; then n=$((n + 1)); else echo "#   ${f##*/} not rejected"; fi
	done
	check_eq "$name: $n/$#" "$#" "$n"
}
count_rejects "sign rejects message without header" "$WORK/corpus/malformed"/*
count_rejects "sign rejects message without From" "${NOFROM[@]}"

# Forward: sluicectl signs, three verifiers check.
for mode in $MODES; do
	sign_forward "$mode" "$WORK/fwd/$mode" "${SIGNABLE[@]}"
	signed=("$WORK/fwd/$mode"/*)
	check_eq "sluicectl signs $mode: ${#signed[@]}/$NSIGN" "$NSIGN" "${#signed[@]}"
	for verifier in dkimpy maildkim opendkim; do
		sels=$(selectors_for "$verifier" "$mode")
		if [[ -z "$sels" ]]; then
			echo "# $verifier: no ed25519-sha256 in Mail::DKIM 1.20230212, $mode not checked"
			continue
		fi
		verify_with "$verifier" "$WORK/fwd/$mode.$verifier" "${signed[@]}"
		count_status "$verifier verifies sluicectl $mode" all-pass \
			"$WORK/fwd/$mode.$verifier" "$sels" $(without_skips "$verifier" "${signed[@]}")
	done
done
skipped=($(only_skips "$WORK/fwd/dual"/*))
check_eq "opendkim known exceptions" 3 "${#skipped[@]}"
count_status "opendkim checks no signature of known messages" missing \
	"$WORK/fwd/dual.opendkim" r2048,ed "${skipped[@]}"

# Forward tampering, on the two dual modes so that both algorithms and
# both canonicalizations are covered.
for mode in dual dual-simple; do
	for change in body header; do
		$PY "$HERE/corpus.py" tamper "$change" "$WORK/fwd/$mode" "$WORK/fwd/$mode-$change"
		changed=("$WORK/fwd/$mode-$change"/*)
		for verifier in dkimpy maildkim opendkim; do
			verify_with "$verifier" "$WORK/fwd/$mode-$change.$verifier" "${changed[@]}"
			count_status "$verifier rejects $mode $change change" all-fail \
				"$WORK/fwd/$mode-$change.$verifier" "$(selectors_for "$verifier" "$mode")" \
				$(without_skips "$verifier" "${changed[@]}")
		done
	done
done

# Reverse: dkimpy and OpenDKIM sign, sluicectl verifies.
# NOTE: OpenDKIM 2.11.0~beta2 makes ed25519-sha256 signatures with
# simple header canonicalization that fail verification in OpenDKIM
# itself, dkimpy and sluice alike for most messages, so its Ed25519
# case uses relaxed/simple.
REVERSE="dkimpy:rsa-sha256:relaxed/relaxed:rr2048 dkimpy:ed25519-sha256:simple/simple:red
         opendkim:rsa-sha256:simple/relaxed:rr2048 opendkim:ed25519-sha256:relaxed/simple:red"
for spec in $REVERSE; do
	IFS=: read -r signer alg canon sel <<<"$spec"
	name=$signer-${alg%%-*}
	out=$WORK/rev/$name
	mkdir -p "$out"
	if [[ $signer == dkimpy ]]; then
		$PY "$HERE/dkimpy_tool.py" sign "$alg" "$canon" "$DOMAIN" "$sel" \
			"$KEYS/$sel.pem" "$out" "${SIGNABLE[@]}" 2>>"$WORK/sign.err"
	else
		$PY "$HERE/opendkim_tool.py" sign "$alg" "$canon" "$DOMAIN" "$sel" \
			"$KEYS/$sel.pem" "$WORK/opendkim" "$out" "${SIGNABLE[@]}" 2>>"$WORK/sign.err"
	fi
	signed=("$out"/*)
	want=$NSIGN
	[[ $signer == opendkim ]] && want=$((NSIGN - 3))
	check_eq "$signer signs with $alg $canon: ${#signed[@]}/$NSIGN" "$want" "${#signed[@]}"
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

# The sanitizer build of sluicectl ("make test" builds it) signs and
# verifies every corpus file once. An AddressSanitizer or
# UndefinedBehaviorSanitizer report, or an exit status other than 0 (signed,
# verified) or 2 (input rejected), fails the file.
ASAN_SLUICECTL=$BUILD/asan/bin/sluicectl
if [[ -x "$ASAN_SLUICECTL" ]]; then
	all=("$WORK/corpus/malformed"/* "$WORK/corpus/valid"/*)
	clean=0
	for f in "${all[@]}"; do
		"$ASAN_SLUICECTL" dkim sign --domain "$DOMAIN" --selector r2048 \
			--key "$KEYS/r2048.pem" --selector ed --key "$KEYS/ed.pem" \
			<"$f" >"$WORK/asan.out" 2>"$WORK/asan.err"
		sign_status=$?
		verify_status=0
		if [[ $sign_status -eq 0 ]]; then
			"$ASAN_SLUICECTL" dkim verify --dns-file "$DNS" <"$WORK/asan.out" \
				>/dev/null 2>>"$WORK/asan.err"
			verify_status=$?
		fi
		if [[ $sign_status -ne 0 && $sign_status -ne 2 ]] || [[ $verify_status -ne 0 ]] ||
			grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$WORK/asan.err"; then
			echo "#   ${f##*/}: sign exit $sign_status, verify exit $verify_status"
			grep -m3 -E 'ERROR|runtime error' "$WORK/asan.err" | sed 's/^/#     /'
		else
			clean=$((clean + 1))
		fi
	done
	check_eq "asan sluicectl on corpus: $clean/${#all[@]}" "${#all[@]}" "$clean"
else
	echo "# $ASAN_SLUICECTL is not built; sanitizer pass skipped"
fi

wipe_keys
finish
