#!/usr/bin/env bash
# BDAT (RFC 3030) into a real Postfix smtpd on loopback: in Debian 12
# (Postfix 3.7) smtpd offers CHUNKING and smtp-sink does not. Postfix
# keeps what it receives in its hold queue, and postcat prints it back.
# The messages, including lines that start with "." and a 1 MB one, must
# arrive byte-identical apart from the added header fields and verify
# with dkimpy. Postfix's
# per-session command counts and the accounting log show BDAT. A second
# sluiced with delivery.chunking: false sends with DATA instead.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

command -v postfix >/dev/null || { echo "postfix not installed"; exit 77; }
dir=$(make_tmpdir)
chmod 0755 "$dir"    # Postfix daemons run as user postfix
pf_port=$(free_port)
pf=$dir/postfix
postfix_start "$pf" "$pf_port" mx.bdat.test bdat.test "message_size_limit = 20000000" || finish

ehlo=$($PY - "$pf_port" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("probe.test")
print("chunking" in s.esmtp_features)
s.quit()
PY
)
check_eq "postfix smtpd offers CHUNKING" True "$ehlo"

# session_counts FROM_LINE: Postfix's per-session command counts summed
# over the "disconnect from" lines of the maillog after line FROM_LINE, as
# "MAIL BDAT DATA". Waits up to 10 s until those sessions have ended.
session_counts() {
	local from=$1 i
	for i in $(seq 100); do
		tail -n +"$((from + 1))" "$pf/maillog" | grep -q 'disconnect from' && break
		sleep 0.1
	done
	tail -n +"$((from + 1))" "$pf/maillog" | $PY -c '
import re, sys
total = {"mail": 0, "bdat": 0, "data": 0}
for line in sys.stdin:
    if "disconnect from" in line:
        for k, v in re.findall(r"\b(mail|bdat|data)=(\d+)", line):
            total[k] += int(v)
print(total["mail"], total["bdat"], total["data"])'
}

# held_messages OUT: each message Postfix holds, as postcat prints it
# (header and body, LF line ends), one file per message in OUT.
held_messages() {
	local out=$1 f
	mkdir -p "$out"
	for f in $(find "$pf/queue/hold" -type f); do
		postcat -c "$pf/conf" -bh "$f" >"$out/$(basename "$f")" 2>/dev/null
	done
}

# Run 1: BDAT, which delivery.chunking allows by default.
one=$dir/one
mkdir -p "$one/orig"
port=$(free_port)
delivery_keys "$one" a.test
delivery_config "$one" "$port" "  routes: ['bdat.test 127.0.0.1:$pf_port']"
sluiced_start "$one/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }
$PY "$TOP/tests/delivery/make_messages.py" "$one/orig" a.test 6
$PY - "$one/orig/mbig" <<'PY'
import sys
head = ("From: <news@a.test>\r\nTo: <reader@a.test>\r\nSubject: one megabyte\r\n"
        "Date: Fri, 04 Dec 2026 12:00:00 +0000\r\nMessage-ID: <mbig@a.test>\r\n\r\n")
lines = []
size = 0
n = 0
while size < 1_000_000:
    line = f".line {n} starts with a dot\r\n" if n % 7 == 0 else f"line {n:06d} of filler text\r\n"
    if n % 1000 == 999:
        line = ".\r\n"
    lines.append(line)
    size += len(line)
    n += 1
open(sys.argv[1], "wb").write((head + "".join(lines)).encode())
PY
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$one/orig" bounce@a.test r1@bdat.test,r2@bdat.test)
check_eq "messages accepted" 7 "$sent"
delivery_wait "$one" 14 30
check_eq "every recipient delivered" 14 "$(acct_count "$one" delivered)"
check_eq "accounting records BDAT" 14 "$(acct_count "$one" delivered transfer=bdat)"
kill "$SLUICED_PID" && wait "$SLUICED_PID" 2>/dev/null
check_eq "postfix holds every message" 7 "$(find "$pf/queue/hold" -type f | wc -l)"
read -r mails bdats datas < <(session_counts 0)
check_eq "postfix counted every MAIL" 7 "$mails"
check "postfix counted BDAT commands ($bdats)" test "$bdats" -ge 7
check_eq "postfix saw no DATA command" 0 "$datas"

held_messages "$one/held"
read -r same total < <($PY "$TOP/tests/delivery/check_sink.py" "$one/orig" "$one/held" 2>"$one/diff.txt")
check_eq "content byte-identical apart from added headers" "7/7" "$same/$total"
read -r passed checked < <($PY "$TOP/tests/demo/verify_sink.py" "$one/dns.txt" "$one/held" 2>"$one/dkimpy.txt")
check_eq "dkimpy verifies the signatures" "7/7" "$passed/$checked"

# Run 2: delivery.chunking: false sends with DATA.
postsuper -c "$pf/conf" -d ALL hold >/dev/null 2>&1
log_lines=$(wc -l <"$pf/maillog")
two=$dir/two
mkdir -p "$two/orig"
port=$(free_port)
delivery_keys "$two" a.test
delivery_config "$two" "$port" "  routes: ['bdat.test 127.0.0.1:$pf_port']
  chunking: false"
sluiced_start "$two/sluice.yaml" "$port" || { not_ok "sluiced starts without chunking"; finish; }
$PY "$TOP/tests/delivery/make_messages.py" "$two/orig" a.test 2
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$two/orig" bounce@a.test r1@bdat.test)
check_eq "messages accepted without chunking" 2 "$sent"
delivery_wait "$two" 2 30
check_eq "accounting records DATA" 2 "$(acct_count "$two" delivered transfer=data)"
kill "$SLUICED_PID" && wait "$SLUICED_PID" 2>/dev/null
read -r mails bdats datas < <(session_counts "$log_lines")
check_eq "postfix counted DATA commands" "2 0 2" "$mails $bdats $datas"
held_messages "$two/held"
read -r same total < <($PY "$TOP/tests/delivery/check_sink.py" "$two/orig" "$two/held" 2>"$two/diff.txt")
check_eq "DATA content byte-identical" "2/2" "$same/$total"
postfix -c "$pf/conf" stop >/dev/null 2>&1
finish
