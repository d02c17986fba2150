#!/usr/bin/env bash
# sluicectl against a running sluice-ctld: every online command, its
# --json form, bad arguments with their exit codes and messages, the key
# store on disk, no private key in any response, and users the ctl
# socket must reject (a throwaway system user made here and removed at
# exit).
. "$(dirname "$0")/../lib.sh"

CTL=$BIN/sluicectl
CTLD=$BIN/sluice-ctld
T=$(make_tmpdir)
# The test user must reach the sockets, so the folder is searchable.
chmod 0711 "$T"
PORT=$(free_port)
OUT=$T/all-output.txt

write_config() { # FILE SOCKET MODE GROUP
	cat >"$1" <<YAML
ctl:
  socket: $2
  socket_mode: "$3"
  socket_group: $4
  link_socket: $T/link-$(basename "$1").sock
  state: $T/state-$(basename "$1").json
  log_level: debug
metrics:
  listen: 127.0.0.1:$(free_port)
  shm: /sluice-ctlcli-$$
keys:
  dir: $T/keys
  overlap: 1h
  retire_after: 48h
throttle:
  rules_file: $T/rules.yaml
YAML
}

cat >"$T/rules.yaml" <<YAML
rules:
  - name: slowdest
    domain: slow.test
    rate: 10/s
YAML

write_config "$T/main.yaml" "$T/ctl.sock" 0660 root
# wait_ctl SOCKET: until sluice-ctld answers a status request on SOCKET
# as root. The socket file exists from bind(), before listen(), so its
# presence alone does not mean that connections are accepted.
wait_ctl() {
	for _ in $(seq 200); do
		SLUICE_CTL_SOCKET=$1 "$CTL" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

"$CTLD" -c "$T/main.yaml" 2>"$T/ctld.log" &
CTLD_PID=$!
on_exit_kill $CTLD_PID
wait_ctl "$T/ctl.sock" || not_ok "sluice-ctld answers on ctl.sock"
export SLUICE_CTL_SOCKET=$T/ctl.sock

# run NAME EXPECTED_STATUS ARGS...: runs sluicectl, keeps its output in
# $T/out and $T/err and in $OUT, and checks the exit status.
run() {
	local name=$1 want=$2 got
	shift 2
	"$CTL" "$@" >"$T/out" 2>"$T/err"
	got=$?
	cat "$T/out" "$T/err" >>"$OUT"
	check_eq "$name exit status" "$want" "$got"
}
jq_py() { $PY -c "import json,sys; d=json.load(open('$T/out')); print($1)"; }

check_eq "ctl socket mode" "660" "$(stat -c %a "$T/ctl.sock")"
check_eq "config check" "0" "$("$CTLD" -c "$T/main.yaml" -t >/dev/null 2>&1; echo $?)"

# status
run "status" 0 status
check "status names sluiced" grep -q "^sluiced      not connected" "$T/out"
run "status json" 0 status --json
check_eq "status json generation" "0" "$(jq_py "d['generation']")"
run "status extra argument" 2 status extra

# keys
run "keys generate rsa" 0 keys generate example.com s1 --bits 1024
check "generate prints record" grep -q '^s1._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p=MI' "$T/out"
run "keys generate ed25519" 0 keys generate example.com e1 --algorithm ed25519 --json
check_eq "generate json algorithm" "ed25519" "$(jq_py "d['key']['algorithm']")"
check_eq "generate json state" "active" "$(jq_py "d['key']['state']")"
check_eq "key file mode" "600" "$(stat -c %a "$T/keys/example.com/s1.pem")"
check_eq "key dir mode" "700" "$(stat -c %a "$T/keys/example.com")"
check_eq "store dir mode" "700" "$(stat -c %a "$T/keys")"
openssl genpkey -algorithm ed25519 -out "$T/import.pem" 2>/dev/null
run "keys import" 0 keys import other.test imp1 --file "$T/import.pem" --json
check_eq "import algorithm" "ed25519" "$(jq_py "d['key']['algorithm']")"
run "keys import missing file option" 2 keys import other.test imp2
run "keys import not a key" 2 keys import other.test imp3 --file "$T/main.yaml"
check "import error names pem" grep -q "pem: not a usable private key" "$T/err"
run "keys rotate ambiguous" 2 keys rotate example.com --selector s2
check "ambiguous rotate names algorithm" grep -q "algorithm: missing: domain example.com has active keys of several algorithms" "$T/err"
run "keys rotate" 0 keys rotate example.com --selector s2 --algorithm rsa --json
check_eq "rotate state pending" "pending" "$(jq_py "d['key']['state']")"
check_eq "rotate keeps bits" "1024" "$(jq_py "d['key']['bits']")"
run "keys rotate switch" 0 keys rotate example.com --switch --json
check_eq "switched new key active" "active" "$(jq_py "[k['state'] for k in d['keys'] if k['selector']=='s2'][0]")"
check_eq "switched old key retiring" "retiring" "$(jq_py "[k['state'] for k in d['keys'] if k['selector']=='s1'][0]")"
check_eq "ed25519 key still active" "active" "$(jq_py "[k['state'] for k in d['keys'] if k['selector']=='e1'][0]")"
run "keys rotate now" 0 keys rotate example.com --algorithm ed25519 --now --json
check_eq "rotate now active" "active" "$(jq_py "d['key']['state']")"
run "keys list" 0 keys list example.com
check_eq "keys list rows" "5" "$(wc -l <"$T/out")"
run "keys list json" 0 keys list --json
check_eq "keys list json count" "5" "$(jq_py "len(d['keys'])")"
run "keys retire" 0 keys retire example.com s1
check_eq "retired key file removed" "no" "$([[ -e $T/keys/example.com/s1.pem ]] && echo yes || echo no)"
run "keys retire again" 1 keys retire example.com s1
run "keys dns" 0 keys dns example.com
check "dns shows revoked record" grep -q '^s1._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p="' "$T/out"
run "keys dns one selector" 0 keys dns example.com s2 --json
check_eq "dns one selector" "s2._domainkey.example.com." "$(jq_py "d['keys'][0]['dns']['name']")"
run "keys dns unknown selector" 2 keys dns example.com nope
run "keys generate bad bits" 2 keys generate example.com s9 --bits 99
check "bad bits message" grep -q "args.bits: invalid value 99: allowed RSA sizes are 1024 to 4096" "$T/err"
run "keys generate bad algorithm" 2 keys generate example.com s9 --algorithm dsa
check "bad algorithm message" grep -q 'args.algorithm: invalid value "dsa": allowed values are rsa, ed25519' "$T/err"
run "keys generate bad domain" 2 keys generate ../etc s9
check "bad domain message" grep -q 'domain "../etc": invalid' "$T/err"
run "keys generate duplicate" 2 keys generate example.com e1 --algorithm ed25519
run "keys generate missing selector" 2 keys generate example.com
run "keys unknown subcommand" 2 keys frobnicate

# throttle
run "throttle show provider" 0 throttle show gmail.com --json
check_eq "gmail resolves to provider" "provider:gmail" "$(jq_py "d['key']")"
check_eq "gmail backoff rule" "gmail-rate-limited" "$(jq_py "d['backoff'][0]['name']")"
run "throttle show by mx" 0 throttle show corp.test --mx aspmx.l.google.com --json
check_eq "mx suffix resolves to provider" "default,gmail" "$(jq_py "','.join(d['rules'])")"
run "throttle show domain rule" 0 throttle show slow.test
check "domain rule rate" grep -q "^rate          10/s" "$T/out"
run "throttle show all" 0 throttle show
check "rule list has yahoo" grep -q "^yahoo " "$T/out"
run "throttle set" 0 throttle set fast --domain fast.test --rate 100/s --connections 4 --source 192.0.2.1
run "throttle show set rule" 0 throttle show fast.test --source 192.0.2.1 --json
check_eq "set rule applies" "100/s" "$(jq_py "d['rate']")"
check_eq "set rule key" "domain:fast.test|192.0.2.1" "$(jq_py "d['key']")"
run "throttle set bad rate" 2 throttle set fast2 --domain fast.test --rate 10/x
check "bad rate names field" grep -q 'args.rule.rate: invalid rate: expected COUNT/s, COUNT/m or COUNT/h' "$T/err"
run "throttle set no match" 2 throttle set fast3 --rate 1/s
check "no match message" grep -q "missing match: give one of default, provider, mx, domain" "$T/err"
run "throttle set backoff json" 0 throttle set --rule '{"name":"b","domain":"b.test","backoff":[{"code":421,"pattern":"slow down","duration":"5m","action":"slow","rate":"1/s"}]}'
run "throttle set bad backoff" 2 throttle set --rule '{"name":"c","domain":"c.test","backoff":[{"code":421,"duration":"5m","action":"stop"}]}'
check "bad action names values" grep -q "allowed values are suspend, slow" "$T/err"
run "throttle unknown subcommand" 2 throttle drop

# queue
run "queue suspend" 0 queue suspend slow.test --duration 10m
run "queue suspend forever" 0 queue suspend stuck.test
run "queue summary" 0 queue summary --json
check_eq "summary lists suspensions" "slow.test:suspended,stuck.test:suspended" \
	"$(jq_py "','.join(sorted(x['domain']+':'+x['state'] for x in d['destinations']))")"
run "queue resume" 0 queue resume stuck.test --json
check_eq "resume reports suspension" "True" "$(jq_py "d['was_suspended']")"
run "queue bounce" 0 queue bounce gone.test --json
check_eq "bounce action" "bounce" "$(jq_py "d['action']")"
run "queue retry" 0 queue retry slow.test
run "queue suspend bad duration" 2 queue suspend slow.test --duration 5x
check "bad duration names field" grep -q "args.duration: invalid duration" "$T/err"
run "queue suspend bad domain" 2 queue suspend 'a b'
run "queue missing domain" 2 queue bounce
run "queue unknown action" 2 queue drain x.test

# top, config reload, status after changes
run "top two screens" 0 top --iterations 2 --json
check_eq "top printed two screens" "2" "$(wc -l <"$T/out")"
run "top bad iterations" 2 top --iterations 0
run "config reload" 0 config reload
sed -i 's/rate: 10\/s/rate: 10\/q/' "$T/rules.yaml"
run "config reload invalid" 1 config reload
check "reload error names file and field" grep -q "main.yaml: throttle: rules\[4\].rate: invalid rate" "$T/err"
sed -i 's/^  retire_after: 48h/  retire_after: 2x/' "$T/main.yaml"
run "config reload bad duration" 1 config reload
check "reload error names line and key" grep -qE "main.yaml:[0-9]+: keys.retire_after" "$T/err"
sed -i 's/rate: 10\/q/rate: 10\/s/' "$T/rules.yaml"
sed -i 's/^  retire_after: 2x/  retire_after: 48h/' "$T/main.yaml"
run "old policy kept" 0 throttle show slow.test --json
check_eq "old rate kept" "10/s" "$(jq_py "d['rate']")"
run "config usage" 2 config
run "status after changes" 0 status --json
check_eq "status counts keys" "2" "$(jq_py "d['keys']['retiring'] + d['keys']['retired']")"

# Raw protocol: unknown command and unknown field.
raw() { $PY - "$T/ctl.sock" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())
PYEOF
}
resp=$(raw '{"command":"keys.wipe","id":7}')
echo "$resp" >>"$OUT"
check "unknown command lists allowed" $PY -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(not(d['ok'] is False and d['id']==7 and 'keys.list' in d['error']['allowed']))" "$resp"
resp=$(raw '{"command":"keys.list","args":{"colour":1}}')
echo "$resp" >>"$OUT"
check "unknown field named" $PY -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(not('args.colour: unknown field' in d['error']['message']))" "$resp"
resp=$(raw 'not json')
check "invalid json rejected" $PY -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(d['ok'] is not False)" "$resp"

# No response carried private key material.
check_eq "no private key in any output" "0" "$(grep -c -e 'PRIVATE KEY' -e 'MII[CE][a-zA-Z0-9+/]\{60\}' "$OUT")"

# Users the socket must reject. A throwaway system user and group.
TUSER=sluicetest$$
if useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$TUSER" 2>/dev/null; then
	trap 'userdel "$TUSER" 2>/dev/null; groupdel "$TUSER" 2>/dev/null; _cleanup' EXIT
	as_user() { setpriv --reuid="$TUSER" --regid="$TUSER" --init-groups "$CTL" "$@"; }

	SLUICE_CTL_SOCKET=$T/ctl.sock as_user status >"$T/out" 2>"$T/err"
	check_eq "other user refused by mode" "1" "$?"
	check "refusal names permission" grep -q "Permission denied" "$T/err"

	# A socket opened up by mistake: the peer credential check still
	# rejects the user.
	write_config "$T/open.yaml" "$T/open.sock" 0666 root
	"$CTLD" -c "$T/open.yaml" 2>"$T/ctld-open.log" &
	on_exit_kill $!
	wait_ctl "$T/open.sock" || not_ok "sluice-ctld answers on open.sock"
	SLUICE_CTL_SOCKET=$T/open.sock as_user status >"$T/out" 2>"$T/err"
	check_eq "other user refused by credentials" "1" "$?"
	check "credential refusal message" grep -q "permission denied: uid $(id -u "$TUSER") is not root" "$T/err"
	check "credential refusal logged" grep -q "rejected peer uid=$(id -u "$TUSER")" "$T/ctld-open.log"

	# Members of the socket group are admitted.
	write_config "$T/group.yaml" "$T/group.sock" 0660 "$TUSER"
	"$CTLD" -c "$T/group.yaml" 2>"$T/ctld-group.log" &
	on_exit_kill $!
	wait_ctl "$T/group.sock" || not_ok "sluice-ctld answers on group.sock"
	check_eq "group socket group" "$TUSER" "$(stat -c %G "$T/group.sock")"
	SLUICE_CTL_SOCKET=$T/group.sock as_user status --json >"$T/out" 2>"$T/err"
	check_eq "group member admitted" "0" "$?"
else
	not_ok "useradd for the refused-user checks failed"
fi

kill $CTLD_PID
wait $CTLD_PID
check_eq "ctld stops cleanly" "0" "$?"
check "ctld logged stop" grep -q "stopped" "$T/ctld.log"
finish
