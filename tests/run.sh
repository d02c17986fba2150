#!/usr/bin/env bash
# Run every sluice test and print one closing line "N passed, N failed".
#
# 1. Each cmocka unit test in $BUILD/tests, with TAP output, then the same
#    test built with AddressSanitizer and UndefinedBehaviorSanitizer in
#    $BUILD/asan/tests.
# 2. Each tests/integration/*.sh script. A script reports its checks as TAP
#    lines ("ok - NAME" or "not ok - NAME"); a script that prints none
#    counts as one check, passed when it exits 0. A script that prints
#    "ok" lines but exits non-zero gets one more failed check for the exit.
#    Exit status 77 means skipped, which is counted apart.
#
# TESTS=PATTERN runs only the tests whose name contains PATTERN.
# Logs of every test go to $BUILD/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"
passed=0 failed=0 skipped=0
failures=()

# count_tap NAME LOG STATUS: add the TAP results of one run to the totals.
count_tap() {
	local name=$1 log=$2 status=$3 ok not_ok
	ok=$(grep -cE '^ok ' "$log" || true)
	not_ok=$(grep -cE '^not ok ' "$log" || true)
	if [[ $status -eq 77 && $not_ok -eq 0 ]]; then
		skipped=$((skipped + 1))
		echo "SKIP $name"
		return
	fi
	if [[ $ok -eq 0 && $not_ok -eq 0 ]]; then
		if [[ $status -eq 0 ]]; then ok=1; else not_ok=1; fi
	elif [[ $status -ne 0 && $not_ok -eq 0 ]]; then
		not_ok=1
	fi
	passed=$((passed + ok))
	failed=$((failed + not_ok))
	if [[ $not_ok -gt 0 ]]; then
		failures+=("$name")
		echo "FAIL $name ($ok passed, $not_ok failed, exit $status; log $log)"
		grep -E '^not ok ' "$log" | head -20 | sed 's/^/     /'
	else
		echo "PASS $name ($ok)"
	fi
}

run_one() {
	local name=$1
	shift
	[[ -n "${TESTS:-}" && "$name" != *"$TESTS"* ]] && return
	local log=$LOGS/${name//\//_}.log status
	"$@" >"$log" 2>&1
	status=$?
	count_tap "$name" "$log" "$status"
}

export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$BUILD"/tests/*; do
	[[ -x "$t" && -f "$t" ]] && run_one "unit/$(basename "$t")" "$t"
done
for t in "$BUILD"/asan/tests/*; do
	[[ -x "$t" && -f "$t" ]] && run_one "asan/$(basename "$t")" "$t"
done
for t in tests/integration/*.sh; do
	[[ -f "$t" ]] && run_one "integration/$(basename "$t" .sh)" bash "$t"
done

echo
if [[ ${#failures[@]} -gt 0 ]]; then
	echo "failed: ${failures[*]}"
fi
[[ $skipped -gt 0 ]] && echo "skipped: $skipped"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
