# Shell helpers shared by the benchmark scripts. Source it after setting
# PY (a Python 3 interpreter) and BENCH_NAME (the prefix of messages).

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT: wait up to 10 s until 127.0.0.1:PORT accepts connections.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$BENCH_NAME: nothing listens on port $1" >&2
	return 1
}

# cpu_ticks PID...: user+system ticks of the processes; with -c also the
# reaped children of the first one.
cpu_ticks() {
	local total=0 with_children=0 pid stat
	if [[ $1 == -c ]]; then with_children=1; shift; fi
	for pid in "$@"; do
		stat=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null) || continue
		set -- $stat
		total=$((total + ${12} + ${13}))
		if [[ $with_children -eq 1 ]]; then
			total=$((total + ${14} + ${15}))
			with_children=0
		fi
	done
	echo "$total"
}
