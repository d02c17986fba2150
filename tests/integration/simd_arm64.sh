#!/usr/bin/env bash
# Cross-build the SIMD crypto code, Ed25519 signing and their unit tests for arm64 with
# aarch64-linux-gnu-gcc, then run each test under qemu-aarch64-static with
# every arm64 path forced in turn (SLUICE_SIMD=sha2, neon, scalar).
#
# "-cpu max" makes qemu report the Advanced SIMD and SHA-2 instructions in
# AT_HWCAP. SLUICE_SIMD_REQUIRE=neon,sha2 makes a test fail if either path
# is missing, so the arm64 kernels cannot be skipped without a failure.
. "$(dirname "$0")/../lib.sh"

QEMU=qemu-aarch64-static
SYSROOT=/usr/aarch64-linux-gnu
OUT=$BUILD/aarch64

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v $QEMU >/dev/null; then
	not_ok "arm64 cross tools present (run make deps: gcc-aarch64-linux-gnu, qemu-user-static)"
	finish
fi

log=$(make_tmpdir)/build.log
if make -C "$TOP" --no-print-directory BUILD="$BUILD" simd-aarch64 >"$log" 2>&1; then
	ok "cross build for arm64"
else
	not_ok "cross build for arm64 (log below)"
	sed 's/^/# /' "$log" | tail -30
	finish
fi

tests=("$OUT"/tests/test_simd_*)
check_eq "arm64 unit tests built" yes "$([[ -x ${tests[0]} ]] && echo yes || echo no)"

for t in "${tests[@]}"; do
	name=$(basename "$t")
	machine=$(LC_ALL=C readelf -h "$t" | sed -n 's/^ *Machine: *//p')
	check_eq "$name is an AArch64 binary" "AArch64" "$machine"
	for path in sha2 neon scalar; do
		out=$(SLUICE_SIMD=$path SLUICE_SIMD_REQUIRE=neon,sha2 CMOCKA_MESSAGE_OUTPUT=TAP \
			$QEMU -cpu max -L "$SYSROOT" "$t" 2>&1)
		status=$?
		if [[ $status -eq 0 ]] && ! grep -q '^not ok' <<<"$out"; then
			ok "$name under qemu with SLUICE_SIMD=$path"
		else
			not_ok "$name under qemu with SLUICE_SIMD=$path (exit $status)"
			grep -E '^not ok|error|fail' <<<"$out" | head -10 | sed 's/^/# /'
		fi
		chosen=$(grep -o 'simd: path=[a-z0-9]*' <<<"$out" | head -1)
		check_eq "$name dispatch picks $path when forced" "simd: path=$path" "$chosen"
	done
done

# Ed25519 signing has no SIMD path; its 64-bit limb arithmetic with
# 128-bit products is checked on arm64 once, against the cross-built
# OpenSSL, as on x86-64.
t=$OUT/tests/test_ed25519
out=$(CMOCKA_MESSAGE_OUTPUT=TAP $QEMU -cpu max -L "$SYSROOT" "$t" 2>&1)
status=$?
if [[ $status -eq 0 ]] && ! grep -q '^not ok' <<<"$out"; then
	ok "test_ed25519 under qemu"
else
	not_ok "test_ed25519 under qemu (exit $status)"
	grep -E '^not ok|error|fail' <<<"$out" | head -10 | sed 's/^/# /'
fi
check_eq "test_ed25519 ran its 10 tests on arm64" 10 "$(grep -c '^ok' <<<"$out")"
finish
