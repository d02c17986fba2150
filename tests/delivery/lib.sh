# Helpers for the delivery tests; source after tests/lib.sh.
#
#   delivery_keys DIR DOMAIN...      RSA-2048 and Ed25519 keys per domain in
#                                    DIR/keys, DNS records in DIR/dns.txt,
#                                    signing key lines in $DELIVERY_KEYS
#   delivery_config DIR PORT EXTRA   write DIR/sluice.yaml: one worker,
#                                    delivery on, short retries, accounting
#                                    in DIR/acct.jsonl, EXTRA appended to the
#                                    delivery section
#   delivery_wait DIR COUNT [SECS]   wait until COUNT final (delivered or
#                                    bounced) records are in DIR/acct.jsonl
#   acct_count DIR STATUS [FIELD=VALUE] count records of that status
#   postfix_start PF PORT HOST DOMAINS [MAIN_CF]
#                                    a private Postfix smtpd on
#                                    127.0.0.1:PORT with its configuration,
#                                    queue and log in PF, relaying DOMAINS
#                                    into its hold queue
. "$TOP/tests/smtp/sluiced.sh"

DELIVERY_KEYS=""

delivery_keys() {
	local dir=$1 domain
	shift
	mkdir -p -m 0700 "$dir/keys"
	: >"$dir/dns.txt"
	for domain in "$@"; do
		"$BIN/sluicectl" dkim keygen --algorithm rsa --domain "$domain" --selector r1 \
			--out "$dir/keys" >>"$dir/dns.txt" 2>/dev/null
		"$BIN/sluicectl" dkim keygen --algorithm ed25519 --domain "$domain" --selector e1 \
			--out "$dir/keys" >>"$dir/dns.txt" 2>/dev/null
		DELIVERY_KEYS+="    - '$domain r1 $dir/keys/r1.$domain.pem'"$'\n'
		DELIVERY_KEYS+="    - '$domain e1 $dir/keys/e1.$domain.pem'"$'\n'
	done
}

delivery_config() {
	local dir=$1 port=$2 extra=${3:-} key defaults=""
	# Short retries unless EXTRA sets its own.
	for key in "retry_initial: 1s" "retry_max: 2s" "retry_jitter_percent: 0" \
		"destination_pause: 1s"; do
		[[ "$extra" == *"${key%%:*}:"* ]] || defaults+="  $key"$'\n'
	done
	cat >"$dir/sluice.yaml" <<YAML
sluiced:
  workers: 1
  cpus: [0]
  log_file: $dir/sluiced.log
  log_level: debug
smtp:
  listen: ['127.0.0.1:$port']
  hostname: mta.sluice.test
  relay_networks: [127.0.0.1/32]
spool:
  paths: [$dir/spool]
delivery:
  enabled: true
  accounting_log: $dir/acct.jsonl
$defaults$extra
signing:
  keys:
${DELIVERY_KEYS:-    []}
YAML
	if [[ -z "$DELIVERY_KEYS" ]]; then
		sed -i 's/^  keys:$/  keys: []/; /^    \[\]$/d' "$dir/sluice.yaml"
	fi
}

# acct_count DIR STATUS [KEY=VALUE]: records with that status (and field).
acct_count() {
	$PY - "$1/acct.jsonl" "$2" "${3:-}" <<'PY'
import json, sys
path, status, cond = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
try:
    for line in open(path):
        r = json.loads(line)
        if r["status"] != status:
            continue
        if cond:
            k, v = cond.split("=", 1)
            if str(r.get(k)) != v:
                continue
        n += 1
except FileNotFoundError:
    pass
print(n)
PY
}

# final_count DIR: delivered plus bounced records.
final_count() {
	$PY -c 'import sys
n = 0
try:
    for line in open(sys.argv[1]):
        n += "\"status\":\"delivered\"" in line or "\"status\":\"bounced\"" in line
except FileNotFoundError:
    pass
print(n)' "$1/acct.jsonl"
}

delivery_wait() {
	local dir=$1 want=$2 limit=${3:-30} deadline
	deadline=$((SECONDS + limit))
	while [[ $SECONDS -lt $deadline ]]; do
		[[ $(final_count "$dir") -ge $want ]] && return 0
		sleep 0.2
	done
	return 1
}

# postfix_start PF PORT HOST DOMAINS [MAIN_CF]: start a Postfix of its own
# (configuration in PF/conf, queue in PF/queue, log in PF/maillog) whose
# smtpd listens on 127.0.0.1:PORT as HOST and keeps the mail it relays for
# DOMAINS in its hold queue, so that postcat can print it back. MAIN_CF
# lines are added to main.cf (TLS settings, for example). The daemons run
# unchrooted as user postfix, so PF's parent must be readable by it.
# Returns 1 after a not_ok line when Postfix does not start.
postfix_start() {
	local pf=$1 port=$2 host=$3 domains=$4 extra=${5:-}
	mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
	chown postfix "$pf/data"
	cat >"$pf/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $host
mydestination =
relay_domains = $domains
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_client_restrictions = check_client_access static:HOLD
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
biff = no
$extra
CF
	sed -e 's/^\(smtp\s\+inet\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
		-e 's/^\([a-z]\+\s\+unix\(-dgram\)\?\s\+\S\+\s\+\S\+\s\+\)y/\1n/' \
		-e "s/^smtp\(\s\+inet\)/127.0.0.1:$port\1/" /etc/postfix/master.cf >"$pf/conf/master.cf"
	if ! postfix -c "$pf/conf" start >"$pf/start.log" 2>&1; then
		not_ok "postfix starts: $(tail -1 "$pf/start.log")"
		return 1
	fi
	wait_port "$port" || not_ok "postfix listens"
	on_exit_kill "$(tr -d ' ' <"$pf/queue/pid/master.pid")"
}
