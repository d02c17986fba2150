#!/usr/bin/env bash
# sluiced turns off Nagle's algorithm (TCP_NODELAY) on its SMTP listener,
# whose accepted sockets inherit it, and on every outbound delivery
# socket. Without it a pipelined dialogue can wait for a delayed ACK. The
# test watches sluiced's setsockopt calls with strace while it accepts
# one message and delivers it into smtp-sink on loopback.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

command -v strace >/dev/null || { not_ok "strace installed (run make deps)"; finish; }
dir=$(make_tmpdir)
sink_port=$(free_port)
port=$(free_port)
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$sink_port" 64 &
on_exit_kill $!
wait_port "$sink_port" || not_ok "smtp-sink listens"

delivery_config "$dir" "$port" "  routes: ['nodelay.test 127.0.0.1:$sink_port']"
strace -f -qq -e trace=setsockopt -o "$dir/strace.out" "$BIN/sluiced" -c "$dir/sluice.yaml" \
	>>"$dir/sluiced.stderr" 2>&1 &
strace_pid=$!
on_exit_kill "$strace_pid"
for _ in $(seq 50); do
	SLUICED_PID=$(pgrep -P "$strace_pid" | head -1)
	[[ -n "$SLUICED_PID" ]] && break
	sleep 0.1
done
[[ -n "$SLUICED_PID" ]] && on_exit_kill "$SLUICED_PID"
wait_port "$port" 20 || { not_ok "sluiced listens under strace"; finish; }

swaks --server 127.0.0.1 --port "$port" --from sender@sluice.test \
	--to reader@nodelay.test --header "Subject: nodelay" --body "one line" \
	>"$dir/swaks.out" 2>&1
check_eq "swaks message accepted" 0 "$?"
delivery_wait "$dir" 1 20
check_eq "message delivered" 1 "$(acct_count "$dir" delivered)"
kill "$SLUICED_PID" 2>/dev/null
wait "$strace_pid" 2>/dev/null

nodelay=$(grep -cE '(SOL_TCP|IPPROTO_TCP), TCP_NODELAY, \[1\]' "$dir/strace.out")
check "TCP_NODELAY set on the listener and the delivery socket ($nodelay calls)" \
	test "$nodelay" -ge 2
finish
