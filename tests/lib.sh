# Shared helpers for integration tests. Source it from a test script:
#   . "$(dirname "$0")/../lib.sh"
#
# Every test reports TAP lines through ok/not_ok/check_eq, registers what it
# starts or creates with on_exit_* so that cleanup runs also on failure, and
# sends traffic only to loopback or to namespaces it created itself.

set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD=$TOP/$BUILD
BIN=$BUILD/bin
# Debian's interpreter, which has python3-dkim and aiosmtpd; a python3
# earlier in PATH (pyenv, venv) lacks them.
PY=/usr/bin/python3
T_FAILED=0
_cleanup_pids=()
_cleanup_netns=()
_cleanup_paths=()

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILED=1; }

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}

# check NAME COMMAND...: one check that passes when COMMAND exits 0.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# One folder per test run below the build tree, made here in the test's
# own shell (not in a $(...) subshell) so that its removal at exit is
# registered. make_tmpdir hands out folders inside it.
mkdir -p "$BUILD/tmp"
T_ROOT=$(mktemp -d "$BUILD/tmp/$(basename "$0" .sh).XXXXXX")
chmod 755 "$T_ROOT"
_cleanup_paths+=("$T_ROOT")

# make_tmpdir: a new private folder inside T_ROOT, removed at exit.
make_tmpdir() {
	mktemp -d "$T_ROOT/d.XXXXXX"
}

on_exit_kill()   { _cleanup_pids+=("$1"); }
on_exit_netns()  { _cleanup_netns+=("$1"); }
on_exit_remove() { _cleanup_paths+=("$1"); }

_cleanup() {
	local pid ns p
	for pid in "${_cleanup_pids[@]}"; do
		kill "$pid" 2>/dev/null && { for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; }
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${_cleanup_netns[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [[ -z "${KEEP_TMP:-}" ]]; then
		for p in "${_cleanup_paths[@]}"; do rm -rf "$p"; done
	fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections.
wait_port() {
	local port=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 10; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# finish: exit status from the checks made so far.
finish() { exit "$T_FAILED"; }
