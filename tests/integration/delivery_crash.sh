#!/usr/bin/env bash
# kill -9 of sluiced in the middle of a campaign, then a restart: every
# message that got a 250 at injection reaches the sink at least once.
# Delivery is at-least-once, so messages in flight at the kill may arrive
# twice; the test reports how many did.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

dir=$(make_tmpdir)
chmod 0755 "$dir"
port=$(free_port)
sink=$(free_port)
mkdir -m 0777 "$dir/sink"
/usr/sbin/smtp-sink -u nobody -d "$dir/sink/%M." "127.0.0.1:$sink" 256 &
on_exit_kill $!
delivery_keys "$dir" example.com
delivery_config "$dir" "$port" "  routes: ['* 127.0.0.1:$sink']"
sed -i 's/^  workers: 1$/  workers: 2/; s/^  cpus: \[0\]$/  cpus: [0, 1]/' "$dir/sluice.yaml"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }
wait_port "$sink"

: >"$dir/acked"
$PY "$TOP/tests/smtp/inject.py" 127.0.0.1 "$port" 4000 8 "$dir/acked" &
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
before=$(find "$dir/sink" -type f | wc -l)
check "at least 500 messages acknowledged before the kill" test "$acked" -ge 500
check "the kill came before the campaign ended" test "$acked" -lt 4000
echo "# acknowledged $acked, delivered before the kill $before"

sluiced_start "$dir/sluice.yaml" "$port"
check_eq "sluiced starts again after kill -9" 0 $?

# missing: acknowledged messages not in the sink yet; then duplicates.
count_missing() {
	$PY - "$dir/acked" "$dir/sink" <<'PY'
import os, re, sys
acked = {line.split()[0] for line in open(sys.argv[1]) if line.strip()}
seen = {}
for name in os.listdir(sys.argv[2]):
    with open(os.path.join(sys.argv[2], name), "rb") as f:
        m = re.search(rb"^Message-ID: <(\d+)@inject.test>", f.read(), re.M | re.I)
    if m:
        seen[m.group(1).decode()] = seen.get(m.group(1).decode(), 0) + 1
print(len(acked - set(seen)), sum(v - 1 for v in seen.values()))
PY
}
deadline=$((SECONDS + 90))
while :; do
	read -r missing duplicates < <(count_missing)
	[[ $missing -eq 0 || $SECONDS -ge $deadline ]] && break
	sleep 1
done
check_eq "every acknowledged message delivered at least once" 0 "$missing"
echo "# duplicates after the restart: $duplicates"
kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
check_eq "sluiced stops cleanly after recovery" 0 $?
finish
