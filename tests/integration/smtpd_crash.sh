#!/usr/bin/env bash
# kill -9 of sluiced during injection, then a restart: every message that
# got a 250 reply is in the spool, byte for byte.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

dir=$(make_tmpdir)
port=$(free_port)
cat >"$dir/sluice.yaml" <<YAML
sluiced:
  workers: 2
  cpus: [0, 1]
  log_file: $dir/sluiced.log
smtp:
  listen: ['127.0.0.1:$port']
  hostname: mx.test
  relay_networks: [127.0.0.1/32]
spool:
  paths: [$dir/spool]
YAML

sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }
: >"$dir/acked"
$PY "$TOP/tests/smtp/inject.py" 127.0.0.1 "$port" 20000 16 "$dir/acked" &
inject=$!
on_exit_kill "$inject"

# Kill once 500 messages are acknowledged (bounded wait: 60 s).
for _ in $(seq 600); do
	[[ $(wc -l <"$dir/acked") -ge 500 ]] && break
	sleep 0.1
done
kill -9 "$SLUICED_PID"
wait "$SLUICED_PID" 2>/dev/null
wait "$inject"
acked=$(wc -l <"$dir/acked")
check "at least 500 messages acknowledged before the kill" test "$acked" -ge 500
check "the kill came before the injection ended" test "$acked" -lt 20000

sluiced_start "$dir/sluice.yaml" "$port"
check_eq "sluiced starts again after kill -9" 0 $?
kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
check_eq "sluiced stops cleanly after recovery" 0 $?

mkdir -p "$dir/dump"
"$BIN/sluice-spool-dump" -c "$dir/sluice.yaml" -o "$dir/dump" >"$dir/dump.list"
check_eq "spool dump succeeds" 0 $?
$PY "$TOP/tests/smtp/check_acked.py" "$dir/acked" "$dir/dump" >"$dir/check.out"
check_eq "every acknowledged message is in the spool" 0 $?
sed 's/^/# /' "$dir/check.out" | tail -3
finish
