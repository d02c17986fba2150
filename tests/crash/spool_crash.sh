#!/usr/bin/env bash
# Spool crash test.
#
# Mode 1: start spool_crash_writer, kill it with SIGKILL after a random
# 50-349 ms, repeat KILLS times (default 50), then recover the spool and
# check every acknowledged message (present and byte-identical unless it
# was made final, recipient states consistent with the log).
# Mode 2: TAIL_ROUNDS times (default 6), let the writer append 150
# messages and exit, then truncate, flip a byte in or zero 4 KiB of the
# newest segment at a random offset, and check that recovery cuts at the
# first damaged record and keeps every record before it.
#
# Prints TAP lines and ends with
#   crash-test: kills N, acknowledged N, lost N, corrupt N
. "$(dirname "$0")/../lib.sh"

KILLS=${KILLS:-50}
TAIL_ROUNDS=${TAIL_ROUNDS:-6}
WRITER=$BIN/spool_crash_writer
work=$(make_tmpdir)
# make_tmpdir runs in a command substitution (a subshell), so its cleanup
# registration is lost: register the folder again in this shell.
on_exit_remove "$work"

# rand32: a random number from bash's 15-bit RANDOM.
rand32() { echo $((RANDOM * 32768 + RANDOM)); }

# field NAME TEXT: the number after NAME in a "check: ..." line.
field() { sed -n "s/.*$1 \([0-9]*\).*/\1/p" <<<"$2"; }

# ---- mode 1: SIGKILL at random moments ----
spool=$work/kill-spool
log=$work/kill.log
: >"$log"
kills=0
for ((i = 1; i <= KILLS; i++)); do
	"$WRITER" write "$spool" "$log" "$(rand32)" 2>>"$work/writer.err" &
	pid=$!
	on_exit_kill "$pid"
	sleep "0.$(printf '%03d' $((RANDOM % 300 + 50)))"
	if kill -KILL "$pid" 2>/dev/null; then
		kills=$((kills + 1))
	fi
	wait "$pid" 2>/dev/null
done
check_eq "writer killed while running each time" "$KILLS" "$kills"

summary=$("$WRITER" check "$spool" "$log" 2>"$work/check.err" | grep '^check:')
acked=$(field acknowledged "$summary")
lost=$(field lost "$summary")
corrupt=$(field corrupt "$summary")
check_eq "kill mode lost messages" 0 "$lost"
check_eq "kill mode corrupt messages" 0 "$corrupt"
check "kill mode acknowledged some messages" test "${acked:-0}" -gt 0
grep -E '^(lost|corrupt):' "$work/check.err" | head -5 >&2

# ---- mode 2: damaged tails ----
spool2=$work/tail-spool
log2=$work/tail.log
: >"$log2"
for ((r = 1; r <= TAIL_ROUNDS; r++)); do
	"$WRITER" write "$spool2" "$log2" "$(rand32)" 150 --no-states 2>>"$work/writer.err"
	seg=$(ls "$spool2"/shard-000/*.seg | tail -1)
	size=$(stat -c %s "$seg")
	cp "$seg" "$work/copy.seg"
	offset=$((64 + $(rand32) % (size - 64)))
	case $((r % 3)) in
	0)	how=truncate
		truncate -s "$offset" "$seg" ;;
	1)	how=flip
		$PY -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))' "$seg" "$offset" ;;
	2)	how=zero
		dd if=/dev/zero of="$seg" bs=1 seek="$offset" count=4096 conv=notrunc status=none ;;
	esac
	out=$("$WRITER" check "$spool2" "$log2" "$work/copy.seg" "$offset" 2>"$work/tail-check.err")
	grep '^X ' <<<"$out" >>"$log2"
	summary=$(grep '^check:' <<<"$out")
	expected=$(sed -n 's/^expected_cut=//p' <<<"$out")
	check_eq "tail $how round $r lost" 0 "$(field lost "$summary")"
	check_eq "tail $how round $r corrupt" 0 "$(field corrupt "$summary")"
	if [[ "$how" == truncate && "$expected" == "$offset" ]] || [[ "$expected" == none ]]; then
		# A cut on a record boundary leaves nothing torn to report.
		check_eq "tail $how round $r no cut logged" 0 "$(grep -c 'torn or corrupt tail' "$work/tail-check.err")"
	else
		check_eq "tail $how round $r cut offset" "$expected" \
			"$(sed -n 's/.*torn or corrupt tail in .* at offset \([0-9]*\) .*/\1/p' "$work/tail-check.err")"
	fi
done
tail_summary=$("$WRITER" check "$spool2" "$log2" 2>/dev/null | grep '^check:')
check_eq "tail mode final lost" 0 "$(field lost "$tail_summary")"
check_eq "tail mode final corrupt" 0 "$(field corrupt "$tail_summary")"

echo "crash-test: kills $kills," \
	"acknowledged $((acked + $(field acknowledged "$tail_summary")))," \
	"lost $((lost + $(field lost "$tail_summary")))," \
	"corrupt $((corrupt + $(field corrupt "$tail_summary")))"
finish
