#!/usr/bin/env bash
# sluiced's SMTP server against the dialogue scripts in tests/smtp/: every
# verb, pipelining, BDAT, STARTTLS with injected plaintext, AUTH, size and
# line limits, bad syntax, smuggling, relay refusal and session limits.
# Then a clean SIGTERM stop, one log line per accepted message and no
# password in the log.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/smtp/sluiced.sh"

dir=$(make_tmpdir)
port=$(free_port)
sluiced_make_cert "$dir"
printf 'alice:secret\n' >"$dir/users"
chmod 600 "$dir/users"
cat >"$dir/sluice.yaml" <<YAML
sluiced:
  workers: 1
  log_file: $dir/sluiced.log
smtp:
  listen: ['127.0.0.1:$port']
  hostname: mx.test
  max_message_size: 64k
  max_recipients: 5
  max_command_line: 512
  max_errors: 10
  idle_timeout: 2s
  max_sessions: 64
  max_sessions_per_client: 4
  relay_networks: [127.0.0.1/32]
  tls_certificate: $dir/cert.pem
  tls_key: $dir/key.pem
  auth_users_file: $dir/users
spool:
  paths: [$dir/spool]
YAML

sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }
$PY "$TOP/tests/smtp/dialogue.py" 127.0.0.1 "$port" "$TOP"/tests/smtp/*.dlg

# wait_log PATTERN: wait up to 5 s for PATTERN in the current log file.
wait_log() {
	for _ in $(seq 50); do
		grep -q "$1" "$dir/sluiced.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
mv "$dir/sluiced.log" "$dir/sluiced.log.1"
kill -HUP "$SLUICED_PID"
check "SIGHUP reopens the log file" wait_log 'log reopened'
kill -USR1 "$SLUICED_PID"
check "SIGUSR1 logs allocator statistics" wait_log 'malloc_stats: '

kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
check_eq "sluiced exits 0 on SIGTERM" 0 $?
check_eq "one log line per accepted message" 8 "$(cat "$dir"/sluiced.log* | grep -c ' queued id=')"
check "rejected commands are logged" grep -q 'reject client=127.0.0.3 helo=client.test command=MAIL reply="550 5.7.1' "$dir/sluiced.log.1"
check "no password in the log" bash -c "! cat '$dir'/sluiced.log* | grep -q -e secret -e c2VjcmV0 -e AGFsaWNlAHNlY3JldA"
check "the log says it stopped" grep -q 'info sluiced\[[0-9]*\]: stopped' "$dir/sluiced.log"
finish
