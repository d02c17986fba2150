#!/usr/bin/env bash
# sluiced with real SMTP clients: swaks without and with STARTTLS (and AUTH
# from an address that may not relay), then Postfix's smtp-source with
# 1,000 concurrent sessions. Every message read back from the spool must be
# the sent bytes with only Received (and Message-ID, Date) put in front.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

command -v swaks >/dev/null && command -v smtp-source >/dev/null || {
	echo "swaks or smtp-source missing: run make deps"; exit 77; }

dir=$(make_tmpdir)
port=$(free_port)
sluiced_make_cert "$dir"
printf 'alice:secret\n' >"$dir/users"
chmod 600 "$dir/users"
# 1,000 sessions need more than 1,000 descriptors in sluiced and in
# smtp-source each.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cat >"$dir/sluice.yaml" <<YAML
sluiced:
  workers: 2
  cpus: [0, 1]
  log_file: $dir/sluiced.log
smtp:
  listen: ['127.0.0.1:$port']
  hostname: mx.test
  max_sessions: 1100
  max_sessions_per_client: 1100
  relay_networks: [127.0.0.1/32]
  tls_certificate: $dir/cert.pem
  tls_key: $dir/key.pem
  auth_users_file: $dir/users
spool:
  paths: [$dir/spool]
YAML

# The message file: no Message-ID or Date, and lines that start with a dot
# (the clients dot-stuff them on the wire).
cat >"$dir/message.txt" <<'MSG'
From: Sender <sender@example.com>
To: Receiver <receiver@example.net>
Subject: sluice client test

first line
.a line that starts with a dot
..two dots
last line
MSG

# What goes over the wire: swaks 20201014 and smtp-source 3.7 both send
# CRLF "." CRLF after the file's last line end, so the content gains an
# empty last line.
{ cat "$dir/message.txt"; echo; } >"$dir/message.wire"

# stop_and_dump NAME: stop sluiced, dump the spool into $dir/NAME.
stop_and_dump() {
	kill -TERM "$SLUICED_PID"
	wait "$SLUICED_PID"
	check_eq "$1: sluiced stops cleanly" 0 $?
	mkdir -p "$dir/$1"
	"$BIN/sluice-spool-dump" -c "$dir/sluice.yaml" -o "$dir/$1" >"$dir/$1.list"
	check_eq "$1: spool dump succeeds" 0 $?
}

sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }

swaks_send() {
	swaks --server 127.0.0.1 --port "$port" --helo client.test --from sender@example.com \
		--to receiver@example.net --data "$dir/message.txt" "$@" >>"$dir/swaks.out" 2>&1
}
swaks_send
check_eq "swaks plain gets 250" 0 $?
swaks_send --tls
check_eq "swaks STARTTLS gets 250" 0 $?
swaks_send --tls --local-interface 127.0.0.3 --auth PLAIN --auth-user alice --auth-password secret
check_eq "swaks AUTH PLAIN over TLS gets 250" 0 $?
swaks_send --local-interface 127.0.0.3
check_eq "swaks unauthenticated relay is refused at MAIL" 23 $?
check_eq "swaks saw three queued replies" 3 "$(grep -c '<~  250 2.0.0 Ok: queued as\|<-  250 2.0.0 Ok: queued as' "$dir/swaks.out")"
check "the AUTH session is logged with its user" grep -q 'queued id=.*user=alice' "$dir/sluiced.log"

stop_and_dump swaks
$PY "$TOP/tests/smtp/check_spool.py" "$dir/swaks" "$dir/message.wire" 3 >"$dir/swaks.check"
check_eq "swaks messages are byte-identical in the spool" 0 $?
check "one message was received with ESMTPSA" grep -q 'with ESMTPSA' "$dir"/swaks/*.eml

# 1,000 concurrent sessions, 3,000 messages.
rm -rf "$dir/spool"
: >"$dir/sluiced.log"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced restarts"; finish; }
smtp-source -s 1000 -m 3000 -d -M client.test -f sender@example.com -t receiver@example.net \
	-F "$dir/message.txt" "127.0.0.1:$port" >"$dir/source.out" 2>&1
check_eq "smtp-source with 1000 sessions exits 0" 0 $?
check_eq "3000 messages logged as queued" 3000 "$(grep -c ' queued id=' "$dir/sluiced.log")"
stop_and_dump source
check_eq "3000 messages in the spool" 3000 "$(wc -l <"$dir/source.list")"
$PY "$TOP/tests/smtp/check_spool.py" "$dir/source" "$dir/message.wire" 3000 >"$dir/source.check"
check_eq "smtp-source messages are byte-identical in the spool" 0 $?
finish
